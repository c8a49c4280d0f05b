"""Runs remembered in headless Chromium, on the demo: each failure group of tonight's run says
"new" or "also in K of the last 20 runs" as the simulator's own runs say; the flaky task is
listed at its true rate; the slow night is badged."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import msgspec
import pytest

from webapp.blaxel import Execution, Task
from webapp.failures.causes import cause_of
from webapp.simulator import data

from .browser import expect

pytestmark = pytest.mark.browser

JOB = "nightly-embeddings"
TONIGHT = "exec-5k-embeddings"
BIG = f"/jobs/{JOB}/executions/{TONIGHT}/tasks"
SLOW_NIGHT = "exec-" + data._digest(f"{JOB}/{data.JOBS_BY_NAME[JOB].slow_run}")[:8]


def simulator_runs() -> list[tuple[str, list[Task]]]:
    """The job's finished runs, newest first, with their tasks: straight from the simulator."""
    anchor = datetime.now(UTC).replace(second=0, microsecond=0)
    runs = [msgspec.convert(run, Execution) for run in data.executions(anchor, JOB, anchor, "")]
    runs = sorted((run for run in runs if run.is_finished), key=lambda r: r.created_at)[::-1]
    return [
        (run.id, [msgspec.convert(t, Task) for t in data.tasks(anchor, JOB, run.id, anchor)])
        for run in runs
    ]


def causes_of(tasks: list[Task]) -> set[tuple[str, str]]:
    return {(c.outcome, c.pattern) for c in map(cause_of, tasks) if c is not None}


OUTCOME_WORDS = {"failed": "Failed", "recovered": "Succeeded after retries", "retried": "Retried"}


def test_tonights_groups_say_new_or_in_how_many_of_the_last_20_runs_as_the_simulator_has_them(
    page, base_url
):
    runs = simulator_runs()
    assert runs[0][0] == TONIGHT
    before = [causes_of(tasks) for _, tasks in runs[1:21]]
    page.goto(base_url + BIG)
    panel = page.locator("#triage")
    # The groups, then the 20 runs before: several requests, each within the scan budget.
    expect(panel).to_have_attribute("aria-busy", "false", timeout=60_000)
    expect(panel.locator(".past-note")).to_contain_text("Compared with the last 20 finished runs")
    if panel.locator(".more-groups").count():
        panel.locator(".more-groups summary").click()
    seen = {}
    for group in panel.locator(".group").all():
        outcome = group.locator(".outcome").text_content().strip()
        pattern = group.locator(".pattern").inner_text()
        seen[(outcome, pattern)] = " ".join(group.locator(".recurrence").inner_text().split())
    expected = {}
    for outcome, pattern in causes_of(runs[0][1]):
        hits = sum((outcome, pattern) in causes for causes in before)
        expected[(OUTCOME_WORDS[outcome], pattern)] = hits
    assert seen.keys() == expected.keys()
    for key, hits in expected.items():
        if hits:
            assert seen[key].startswith(f"recurring also in {hits} of the last 20 runs"), key
        else:
            assert seen[key] == "new", key
    new = [key for key, hits in expected.items() if not hits]
    assert [pattern for _, pattern in new] == [
        "ValueError: tokenizer vocabulary mismatch: model expects ‹n› tokens, got ‹n› after ‹n› "
        "retries"
    ]
    # Each earlier run it was seen in is one click from that run's group.
    recurring = panel.locator(".group", has=page.locator(".tag-recurring")).first
    recurring.locator(".run-mark").first.click()
    expect(page).to_have_url(re.compile(rf"/jobs/{JOB}/executions/exec-\w+/tasks\?cause=\w+"))


def test_the_flaky_task_is_listed_at_its_true_rate_and_the_slow_night_is_badged(page, base_url):
    runs = simulator_runs()[:20]
    page.goto(base_url + f"/jobs/{JOB}/executions")
    panel = page.locator("#job-runs")
    expect(panel).to_have_attribute("aria-busy", "false", timeout=60_000)
    row = panel.locator("tr.flaky").first
    expect(row.locator("th")).to_have_text("task-17")
    present = [tasks for _, tasks in runs if any(t.name == "task-17" for t in tasks)]
    troubled = 0
    for tasks in present:
        task = next(t for t in tasks if t.name == "task-17")
        troubled += task.status == "failed" or cause_of(task) is not None
    rate = row.locator("td.num")
    expect(rate).to_have_text(re.compile(rf"^{troubled} of {len(present)} runs "))
    assert float(rate.get_attribute("data-rate")) == pytest.approx(troubled / len(present), 1e-3)
    # The rows were drawn before the digests existed: a reload shows the badge.
    page.reload()
    slow_row = page.locator("tr.execution", has=page.get_by_role("link", name=SLOW_NIGHT))
    expect(slow_row.locator(".tag-slow")).to_have_text("slower than usual")


@pytest.mark.screenshot
def test_docs_screenshots_of_runs_remembered(browser, base_url, screenshots):
    """For docs/runs.md and the README: tonight's failure groups marked new or recurring, and the
    job's failures over time with its flaky tasks."""
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    page.goto(base_url + BIG)
    panel = page.locator("#triage")
    expect(panel).to_have_attribute("aria-busy", "false", timeout=60_000)
    expect(panel.locator(".tag-new")).to_have_count(1)
    panel.screenshot(path=str(screenshots / "runs-groups.png"))
    page.goto(base_url + f"/jobs/{JOB}/executions")
    runs = page.locator("#job-runs")
    expect(runs).to_have_attribute("aria-busy", "false", timeout=60_000)
    runs.screenshot(path=str(screenshots / "runs-job.png"))
    context.close()
    for name in ("runs-groups", "runs-job"):
        assert (screenshots / f"{name}.png").stat().st_size > 10_000

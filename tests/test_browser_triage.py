"""Triage in headless Chromium: failure groups, one click to any task, stepping through a view,
keeping the person's place."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime

import msgspec
import pytest

from webapp import create_app
from webapp.blaxel import Task
from webapp.failures.causes import cause_of
from webapp.simulator import data

from .browser import CHROMIUM, CHROMIUM_ARGS, expect, serious_violations, serve
from .test_browser import row_names

pytestmark = pytest.mark.browser

BIG = "/jobs/nightly-embeddings/executions/exec-5k-embeddings/tasks"
GROUPS = "/jobs/nightly-embeddings/executions/exec-5k-embeddings/triage"


def simulator_groups() -> Counter:
    """The 5,000 tasks' causes counted straight from the simulator's data, not the app's."""
    anchor = datetime.now(UTC).replace(second=0, microsecond=0)
    tasks = data.tasks(anchor, "nightly-embeddings", "exec-5k-embeddings", anchor)
    causes = (cause_of(msgspec.convert(task, Task)) for task in tasks)
    return Counter((cause.outcome, cause.pattern) for cause in causes if cause is not None)


def shown_groups(panel) -> Counter:
    counted = Counter()
    for link in panel.locator(".group-link").all():
        count = int(link.locator(".group-count").inner_text().replace(",", ""))
        outcome = link.get_attribute("href")  # the link carries the cause; the text the words
        pattern = link.locator(".pattern").inner_text()
        kind = link.locator(".outcome").inner_text().strip().lower()
        counted[(kind, pattern)] = count
        assert "cause=" in outcome
    return counted


OUTCOME_WORDS = {"failed": "failed", "recovered": "succeeded after retries", "retried": "retried"}


def test_failure_groups_of_the_big_execution_match_a_count_of_the_simulators_tasks(page, base_url):
    page.goto(base_url + BIG)
    panel = page.locator("#triage")
    expect(panel.get_by_role("heading", name="Why tasks failed")).to_be_visible()
    # Grouping walks the whole execution over several requests, then stops asking.
    expect(panel).to_have_attribute("aria-busy", "false", timeout=20_000)
    panel.locator(".more-groups summary").click() if panel.locator(".more-groups").count() else None
    expected = {
        (OUTCOME_WORDS[outcome], pattern): count
        for (outcome, pattern), count in simulator_groups().items()
    }
    assert shown_groups(panel) == expected
    failed = sum(count for (kind, _), count in expected.items() if kind == "failed")
    assert failed == 125  # the execution's own failure count
    patterns = [pattern for (kind, pattern) in expected if kind == "failed"]
    assert any("OOMKilled" in p for p in patterns) and any("KeyError" in p for p in patterns)
    assert any("HTTP 503" in p for p in patterns)


def test_a_group_link_lists_exactly_that_groups_tasks_at_once(page, tmp_path):
    """The walk that made the groups lists a group's members, on an app of its own that has
    kept no digest of the run yet."""
    with serve(create_app({"BLAXEL_API_KEY": "", "WEBAPP_DATA_DIR": str(tmp_path)})) as base_url:
        group_link_lists_exactly_that_groups_tasks_at_once(page, base_url)


def test_a_group_link_lists_exactly_that_groups_tasks_after_a_restart(page, tmp_path):
    """After a restart the groups come from the run's kept digest, not a walk: a group's link
    still lists exactly its members at once, without "Scanned 2,000 of 5,000"."""
    config = {"BLAXEL_API_KEY": "", "WEBAPP_DATA_DIR": str(tmp_path)}
    with serve(create_app(config)) as base_url:
        page.goto(base_url + GROUPS)
        expect(page.locator("#triage")).to_have_attribute("aria-busy", "false", timeout=20_000)
    with serve(create_app(config)) as base_url:
        group_link_lists_exactly_that_groups_tasks_at_once(page, base_url)


def group_link_lists_exactly_that_groups_tasks_at_once(page, base_url):
    page.goto(base_url + GROUPS)  # the groups as a page of their own
    expect(page.locator("#triage")).to_have_attribute("aria-busy", "false", timeout=20_000)
    group = page.locator(".group.outcome-failed").first
    count = int(group.locator(".group-count").inner_text())
    pattern = group.locator(".pattern").inner_text()
    group.locator(".group-link").click()
    expect(page).to_have_url(re.compile(r"/tasks\?cause=[0-9a-f]{12}$"))
    expect(page.locator(".cause-hint")).to_contain_text(pattern)
    # The walk that made the groups knows their members: all of them at once, without a scan.
    expect(page.locator("#listing-status .counts")).to_contain_text(
        f"{count} matching tasks loaded, of 5,000 tasks"
    )
    expect(page.locator(".scan-note")).to_have_count(0)
    expect(page.get_by_role("link", name="Load more tasks")).to_have_count(0)
    names = row_names(page)
    assert len(names) == count == len(set(names))
    anchor = datetime.now(UTC).replace(second=0, microsecond=0)
    tasks = data.tasks(anchor, "nightly-embeddings", "exec-5k-embeddings", anchor)
    cause = page.url.rsplit("cause=", 1)[1]
    members = {
        task["metadata"]["name"]
        for task in tasks
        if (found := cause_of(msgspec.convert(task, Task))) is not None and found.id == cause
    }
    assert set(names) == members
    assert set(page.locator("#rows tr.task").evaluate_all("rs => rs.map(r => r.className)")) == {
        "task status-failed"
    }


@pytest.fixture(scope="module")
def browser_with_back_cache(browser):
    """Chromium as people run it: with the back/forward cache that Playwright turns off."""
    cached = browser.browser_type.launch(
        executable_path=CHROMIUM,
        args=CHROMIUM_ARGS,
        ignore_default_args=["--disable-back-forward-cache"],
    )
    yield cached
    cached.close()


def test_a_task_name_opens_its_page_and_back_restores_the_rows_and_place(
    browser_with_back_cache, base_url
):
    page = browser_with_back_cache.new_page()
    page.goto(base_url + BIG + "?sort=name:asc")
    page.get_by_role("link", name="Load more tasks").click()
    expect(page.locator("#rows tr.task")).to_have_count(100)
    row = page.locator("#rows tr.task").nth(80)
    row.scroll_into_view_if_needed()
    scrolled = page.evaluate("window.scrollY")
    name = row.locator("a.task-link").inner_text()
    row.locator("a.task-link").click()
    expect(page.locator(".task-name")).to_have_text(name)
    page.go_back(wait_until="commit")  # a page from the back/forward cache fires no "load"
    expect(page.locator("#rows tr.task")).to_have_count(100)
    assert abs(page.evaluate("window.scrollY") - scrolled) < 50
    page.close()


def test_stepping_through_the_failed_tasks_one_by_one(page, base_url):
    page.goto(base_url + BIG + "?status=failed&sort=name:asc&limit=25")
    names = row_names(page)
    page.get_by_role("link", name=names[0], exact=True).click()
    expect(page.get_by_role("link", name="Back to the failed tasks")).to_be_visible()
    stepped = [page.locator(".task-name").inner_text()]
    for _ in range(4):
        page.locator(".steps .next").click()
        stepped.append(page.locator(".task-name").inner_text())
        expect(page.locator(".badge")).to_have_text(re.compile("failed"))
    assert stepped == names[:5]
    page.locator(".steps .previous").click()
    expect(page.locator(".task-name")).to_have_text(names[3])
    page.get_by_role("link", name="Back to the failed tasks").click()
    page.wait_for_load_state()  # the click waits for the new page to start, not to be read
    assert row_names(page)[:5] == names[:5]


def simulator_failed_newest_first() -> list[str]:
    """The big execution's failed tasks in Blaxel's default order (newest first), straight from
    the simulator's data."""
    return [name for name, status in simulator_failed_first() if status == "failed"]


def test_from_a_failed_tasks_logs_one_key_opens_the_next_failed_tasks_logs(page, base_url):
    """From the failed tasks, a task's logs step to the next and previous failed task's logs by
    `j` and `k` (and by links naming them), across the list's pages, in the simulator's order;
    the steps are in the URL, so a reload keeps them, and typing in the search does not step."""
    expected = simulator_failed_newest_first()
    page.goto(base_url + BIG + "?status=failed&limit=25")
    names = row_names(page)
    assert names == expected[:25]
    page.locator("#rows tr.task").nth(23).locator("a.logs-link").click()
    expect(page.locator("h1")).to_contain_text(expected[23])
    following = page.locator("#steps a[rel='next']")
    expect(following).to_contain_text(f"Next failed task {expected[24]}")
    page.keyboard.press("j")
    expect(page).to_have_url(re.compile(rf"/tasks/{expected[24]}/logs\?"))
    expect(page.locator("h1")).to_contain_text(expected[24])
    page.keyboard.press("j")  # past the list's first page of 25
    expect(page).to_have_url(re.compile(rf"/tasks/{expected[25]}/logs\?"))
    page.reload()
    expect(page.locator("#steps a[rel='prev']")).to_contain_text(
        f"Previous failed task {expected[24]}"
    )
    page.locator("#log-search").fill("jk")
    expect(page).to_have_url(re.compile(rf"/tasks/{expected[25]}/logs\?.*q=jk"))
    # The new search is kept by the step links (and the list's trail by the address).
    expect(following).to_have_attribute("href", re.compile(r"q=jk"))
    expect(page).to_have_url(re.compile(r"status=failed"))
    page.locator("#log-search").press("Escape")
    page.keyboard.press("k")
    expect(page).to_have_url(re.compile(rf"/tasks/{expected[24]}/logs\?.*q=jk"))
    page.get_by_role("link", name=f"Previous failed task {expected[23]}").click()
    expect(page.locator("h1")).to_contain_text(expected[23])
    page.get_by_role("link", name="Back to the failed tasks").click()
    page.wait_for_load_state()  # the click waits for the new page to start, not to be read
    assert row_names(page)[:25] == expected[:25]


def test_from_a_failed_execution_as_it_opens_j_steps_to_the_next_failed_tasks_logs(page, base_url):
    """A failed execution opens failed first: from there too, a failed task's logs step to the
    next failed task's logs by `j`, in the simulator's order."""
    expected = simulator_failed_newest_first()
    page.goto(base_url + BIG)
    expect(page.get_by_label("Sort")).to_have_value("failed")
    assert row_names(page)[:3] == expected[:3]
    page.locator("#rows tr.task").first.locator("a.logs-link").click()
    expect(page.locator("h1")).to_contain_text(expected[0])
    page.keyboard.press("j")
    expect(page).to_have_url(re.compile(rf"/tasks/{expected[1]}/logs\?.*sort=failed"))
    expect(page.locator("#steps a[rel='prev']")).to_contain_text(
        f"Previous failed task {expected[0]}"
    )


def test_on_a_tasks_page_j_and_k_step_through_a_groups_tasks(page, base_url):
    """In a failure group's view, a task's page steps to the group's next task by `j`, back by
    `k`, and its Logs button keeps the group for its logs' own steps."""
    page.goto(base_url + GROUPS)
    expect(page.locator("#triage")).to_have_attribute("aria-busy", "false", timeout=20_000)
    page.locator(".group.outcome-failed .group-link").first.click()
    expect(page).to_have_url(re.compile(r"cause=[0-9a-f]{12}"))
    names = row_names(page)
    page.locator("#rows").get_by_role("link", name=names[0], exact=True).click()
    expect(page.locator(".task-name")).to_have_text(names[0])
    expect(page.locator("#steps a[rel='next']")).to_contain_text(
        f"Next task of this group {names[1]}"
    )
    page.keyboard.press("j")
    expect(page.locator(".task-name")).to_have_text(names[1])
    page.keyboard.press("k")
    expect(page.locator(".task-name")).to_have_text(names[0])
    page.locator(".summary-head a.logs-link").click()
    expect(page.locator("h1")).to_contain_text(names[0])
    page.keyboard.press("j")
    expect(page).to_have_url(re.compile(rf"/tasks/{names[1]}/logs\?.*cause="))


def test_a_failed_tasks_page_leads_with_its_final_error_and_attempts(page, base_url):
    page.goto(base_url + BIG + "?status=failed")
    page.locator("#rows a.task-link").first.click()
    error = page.locator(".final-error .message")
    expect(error).to_contain_text("after 3 retries")
    expect(page.locator(".summary")).to_contain_text("4 of 4 · none left")
    timeline = page.locator(".condition-list > li")
    expect(timeline.first).to_contain_text("BackoffLimitExceeded")  # most recent first


def test_after_load_more_focus_moves_to_the_first_new_row(page, base_url):
    page.goto(base_url + BIG)
    page.get_by_role("link", name="Load more tasks").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#rows tr.task")).to_have_count(100)
    focused = page.evaluate("document.activeElement.textContent")
    assert focused == row_names(page)[50]


def test_the_header_row_stays_in_view_while_the_rows_scroll(page, base_url):
    page.goto(base_url + BIG + "?limit=200")
    page.locator("#rows tr.task").nth(150).scroll_into_view_if_needed()
    header = page.locator("thead th").first.bounding_box()
    assert 0 <= header["y"] < 5


def test_copy_buttons_copy_a_tasks_link_and_name(browser, base_url):
    context = browser.new_context()
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base_url)
    page = context.new_page()
    page.goto(base_url + BIG)
    row = page.locator("#rows tr.task").first
    row.hover()
    row.get_by_role("button", name=re.compile("Copy the link")).click()
    link = page.evaluate("navigator.clipboard.readText()")
    assert link == base_url + row.locator("a.task-link").get_attribute("href")
    row.get_by_role("button", name=re.compile("Copy the name")).click()
    assert (
        page.evaluate("navigator.clipboard.readText()") == row.locator("a.task-link").inner_text()
    )
    context.close()


def test_absolute_local_times_are_one_click_away_and_remembered(browser, base_url):
    context = browser.new_context(timezone_id="Asia/Tokyo", locale="en-GB")
    page = context.new_page()
    page.goto(base_url + BIG)
    created = page.locator("#rows tr.task").first.locator("time").first
    expect(created).to_have_text(re.compile("ago"))
    page.get_by_role("button", name="Times: relative").click()
    expect(created).not_to_have_text(re.compile("ago"))
    utc = datetime.fromisoformat(created.get_attribute("datetime").replace("Z", "+00:00"))
    assert f"{(utc.hour + 9) % 24:02d}:{utc.minute:02d}" in created.inner_text()  # Tokyo time
    page.reload()
    expect(page.locator("#rows tr.task").first.locator("time").first).not_to_have_text(
        re.compile("ago")
    )
    context.close()


def test_without_javascript_the_groups_are_a_plain_list_of_links(browser, base_url):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(base_url + BIG)
    page.get_by_role("link", name="Group the failed and retried tasks by cause").click()
    for _ in range(10):
        more = page.get_by_role("link", name="Group more")
        if not more.is_visible():
            break
        more.click()
    expect(page.locator(".group-link").first).to_be_visible()
    page.locator(".group.outcome-failed .group-link").first.click()
    page.wait_for_load_state()  # the click waits for the new page to start, not to be read
    expect(page.locator("#rows tr.task").first).to_be_visible()
    assert all(
        status == "task status-failed"
        for status in page.locator("#rows tr.task").evaluate_all("rs => rs.map(r => r.className)")
    )
    expect(page.locator("#rows a.task-link").first).to_be_visible()  # the link, to copy
    context.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize(
    "path",
    [
        BIG + "?status=failed",
        GROUPS,
        BIG + "/task-4983?status=failed",
        BIG + "/task-4957/logs?status=failed&at=50:1:",
    ],
)
def test_triage_pages_have_no_serious_accessibility_violations(browser, base_url, scheme, path):
    context = browser.new_context(color_scheme=scheme)
    page = context.new_page()
    page.goto(base_url + path)
    page.wait_for_timeout(500)
    serious = serious_violations(page)
    context.close()
    assert serious == []


def test_triage_holds_up_on_a_360_px_phone(browser, base_url):
    context = browser.new_context(viewport={"width": 360, "height": 800})
    page = context.new_page()
    page.goto(base_url + BIG + "?status=failed")
    # On a phone the groups fold behind one button, so that the rows come first.
    page.get_by_role("button", name=re.compile("Why tasks failed")).click()
    expect(page.locator("#triage .group-link").first).to_be_visible(timeout=20_000)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360
    context.close()


@pytest.mark.screenshot
@pytest.mark.parametrize(
    ("name", "path"),
    [
        ("triage", BIG + "?limit=25"),
        ("task-failed", BIG + "/task-4983?status=failed"),
        ("logs-search", "/jobs/invoice-ocr/executions/exec-320-invoices/logs?q=Traceback"),
    ],
)
def test_docs_screenshots_of_triage(browser, base_url, screenshots, name, path):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.goto(base_url + path)
    if name == "triage":
        expect(page.locator("#triage")).to_have_attribute("aria-busy", "false", timeout=20_000)
    page.screenshot(path=str(screenshots / f"{name}.png"))
    context.close()
    assert (screenshots / f"{name}.png").stat().st_size > 10_000


def simulator_failed_first() -> list[tuple[str, str]]:
    """The big execution's (name, status) failed first, then cancelled, …, newest first in each,
    ranked straight from the simulator's data."""
    anchor = datetime.now(UTC).replace(second=0, microsecond=0)
    tasks = data.tasks(anchor, "nightly-embeddings", "exec-5k-embeddings", anchor)
    rank = {"failed": 0, "cancelled": 1, "running": 2, "pending": 3, "succeeded": 4}
    # Blaxel's newest first: tasks made in the same second come last made first.
    newest = sorted(reversed(tasks), key=lambda task: task["metadata"]["createdAt"], reverse=True)
    ranked = sorted(newest, key=lambda task: rank[task["status"]])
    return [(task["metadata"]["name"], task["status"]) for task in ranked]


def test_a_failed_execution_opens_with_its_failures_first(page, base_url):
    """Opened without an order, the big failed execution lists its 125 failures first, newest
    first; once its tasks are all read the rows are the simulator's failures in that order."""
    page.goto(base_url + BIG)
    expect(page.get_by_label("Sort")).to_have_value("failed")
    expect(page.locator("#rows tr.task.status-failed")).to_have_count(50)
    # Each visit reads further (2,000 tasks a request); the failure groups read the same pages.
    for _ in range(3):
        if not page.locator(".scan-note").count():
            break
        page.locator(".scan-note a").click()
    expect(page.locator(".scan-note")).to_have_count(0)
    expected = simulator_failed_first()
    assert [status for _, status in expected[:175]] == ["failed"] * 125 + ["cancelled"] * 50
    assert row_names(page) == [name for name, _ in expected[:50]]
    page.get_by_label("Sort").select_option("createdAt:desc")
    # A busy machine may take a while over the 5,000 tasks' first page and its counts.
    expect(page).to_have_url(
        re.compile(r"sort=createdAt%3Adesc|sort=createdAt:desc"), timeout=20_000
    )
    expect(page.locator("#rows tr.task.status-succeeded").first).to_be_visible()


def test_a_chosen_group_or_status_brings_the_rows_into_view_and_marks_the_group(page, base_url):
    """After a group's link or a status count, focus is on the rows' heading, scrolled into
    view, and the panel marks the group the rows show."""
    page.set_viewport_size({"width": 1280, "height": 720})
    page.goto(base_url + BIG)
    panel = page.locator("#triage")
    expect(panel).to_have_attribute("aria-busy", "false", timeout=20_000)
    group = panel.locator(".group.outcome-failed").nth(1)
    pattern = group.locator(".pattern").inner_text()
    group.locator(".group-link").click()
    expect(page).to_have_url(re.compile(r"cause=[0-9a-f]{12}"))
    heading = page.get_by_role("heading", name="Tasks in this view")
    expect(heading).to_be_focused()
    expect(page.locator("#listing-status .counts")).to_be_in_viewport()
    expect(page.locator("#rows tr.task").first).to_be_in_viewport()
    chosen = page.locator("#triage .group.chosen")
    expect(chosen).to_have_count(1)
    expect(chosen.locator(".pattern")).to_have_text(pattern)
    expect(chosen.locator(".group-link")).to_have_attribute("aria-current", "true")
    page.goto(base_url + BIG)
    expect(page.get_by_role("heading", name="Tasks in this view")).not_to_be_focused()
    page.locator("#count-link-cancelled").click()
    expect(page).to_have_url(re.compile(r"status=cancelled"))
    expect(page.get_by_role("heading", name="Tasks in this view")).to_be_focused()
    expect(page.locator("#rows tr.task.status-cancelled").first).to_be_in_viewport()

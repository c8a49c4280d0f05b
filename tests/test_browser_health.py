"""Health at a glance in headless Chromium, checked against the simulator's own data: the jobs
page's strips, failing-first order and summary, the executions' status filter, the timeline and
the slowest-first order; without JavaScript, in both themes, at 360 px.

It also takes the docs' screenshots of these pages, into $SCREENSHOTS_DIR when set, else
into a folder of the test run's own.
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from webapp.common.formatting import span

from .browser import demo_server, expect, serious_violations, simulator_at
from .conftest import FakeClock

pytestmark = pytest.mark.browser

NOW = datetime(2026, 11, 28, 9, 1, 0, tzinfo=UTC)
FAILED = {"failed", "timeout"}
UNFINISHED = {"queued", "pending", "running", "cancelling"}
STRAGGLERS = "/jobs/report-render/executions/exec-stragglers/tasks"
BIG = "/jobs/nightly-embeddings/executions/exec-5k-embeddings/tasks"


@pytest.fixture(scope="module")
def base_url():
    with demo_server(FakeClock(NOW)) as url:
        yield url


@pytest.fixture(scope="module")
def simulator():
    """The simulator's own answers, at the same moment as the app's."""
    return simulator_at(NOW)


def runs_of(simulator, job: str) -> list[dict]:
    return simulator(f"/jobs/{job}/executions", limit=100, sort="createdAt:desc")


def last_finished_failed(runs: list[dict]) -> bool:
    finished = [run for run in runs if run["status"] not in UNFINISHED]
    return bool(finished) and finished[0]["status"] in FAILED


def screenshots(tmp_path_factory) -> Path:
    folder = os.environ.get("SCREENSHOTS_DIR")
    path = Path(folder) if folder else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


def test_every_strip_shows_the_jobs_newest_runs_each_square_linking_to_its_execution(
    page, base_url, simulator
):
    page.goto(base_url + "/")
    rows = page.locator("#rows tr.job")
    jobs = [job["metadata"]["name"] for job in simulator("/jobs", limit=200)]
    expect(rows).to_have_count(len(jobs))
    for index in range(len(jobs)):
        rows.nth(index).scroll_into_view_if_needed()  # strips load as rows come into view
    for job in jobs:
        strip = page.locator(f'.recent[data-job="{job}"]')
        expect(strip).to_be_visible()
        runs = runs_of(simulator, job)[:20][::-1]
        squares = strip.locator("a.run")
        expect(squares).to_have_count(len(runs))
        hrefs = squares.evaluate_all("links => links.map(a => a.getAttribute('href'))")
        names = squares.evaluate_all("links => links.map(a => a.getAttribute('aria-label'))")
        assert hrefs == [f"/jobs/{job}/executions/{r['metadata']['id']}/tasks" for r in runs]
        for run, name in zip(runs, names, strict=True):
            assert name.startswith(f"{run['metadata']['id']}: {run['status']}, ")
            started = run["metadata"].get("startedAt")
            assert (f"started {started}" if started else "not started") in name
    # A square leads to its execution.
    orders = page.locator('.recent[data-job="orders-export"] a.run').last
    newest = runs_of(simulator, "orders-export")[0]["metadata"]["id"]
    orders.click()
    expect(page).to_have_url(f"{base_url}/jobs/orders-export/executions/{newest}/tasks")


def test_the_jobs_open_on_what_needs_attention_and_only_failing_agrees(page, base_url, simulator):
    """Failing first (the default), then running, then by last run, as the simulator's runs
    have it; a deployment that failed reads "deploy failed", not a failing run."""
    page.goto(base_url + "/")
    expect(page.get_by_label("Sort")).to_have_value("failing")
    names = page.locator("#rows tr.job th.name > a")
    jobs = [job["metadata"]["name"] for job in simulator("/jobs", limit=200)]
    expect(names).to_have_count(len(jobs))

    def rank(job: str) -> tuple[int, float, str]:
        runs = runs_of(simulator, job)[:20]
        if not runs:
            return (3, 0.0, job)
        group = 0 if last_finished_failed(runs) else 1 if runs[0]["status"] in UNFINISHED else 2
        created = datetime.fromisoformat(runs[0]["metadata"]["createdAt"].replace("Z", "+00:00"))
        return (group, -created.timestamp(), job)

    assert names.all_inner_texts() == sorted(jobs, key=rank)
    deploy_failed = [
        j["metadata"]["name"]
        for j in simulator("/jobs", limit=200)
        if j.get("status", "").lower() == "failed"
    ]
    assert deploy_failed  # the demo has a job whose deployment failed
    for job in deploy_failed:
        row = page.locator("#rows tr.job").filter(
            has=page.get_by_role("link", name=job, exact=True)
        )
        expect(row.locator("td[data-label=Deployment] .badge")).to_have_text(
            re.compile("deploy failed")
        )
    page.get_by_label("only jobs whose last run failed").check()
    expect(page).to_have_url(base_url + "/?only=failing")
    failing = sorted(
        (job for job in jobs if last_finished_failed(runs_of(simulator, job))), key=rank
    )
    expect(names).to_have_text(failing)
    assert "orders-export" in failing and "price-scraper" not in failing


@pytest.mark.parametrize("window", ["24 hours", "3 days", "7 days"])
def test_the_summary_counts_match_a_direct_count_over_the_simulator(
    page, base_url, simulator, window
):
    length = {"24 hours": timedelta(hours=24), "3 days": timedelta(days=3)}
    start = NOW - length.get(window, timedelta(days=7))
    failed = running = failing = 0
    for job in simulator("/jobs", limit=200):
        runs = runs_of(simulator, job["metadata"]["name"])
        failed += sum(
            run["status"] in FAILED
            and datetime.fromisoformat(run["metadata"]["createdAt"]) >= start
            for run in runs
        )
        running += sum(run["status"] in UNFINISHED for run in runs)
        # A deactivated job is counted apart (test_browser_wall.py).
        failing += last_finished_failed(runs) and job["status"] != "DEACTIVATED"
    page.goto(base_url + "/")
    summary = page.locator("#health-summary")
    page.get_by_role("navigation", name="Window").get_by_role("link", name=window).click()
    expect(summary.get_by_role("link", name=window)).to_have_attribute("aria-current", "true")
    expect(summary.locator('[data-count="failed"]')).to_have_text(str(failed))
    expect(summary.locator('[data-count="running"]')).to_have_text(str(running))
    expect(summary.locator('[data-count="failing"]')).to_have_text(str(failing))
    chart = summary.get_by_role("group", name=re.compile("^Failed executions per"))
    expect(chart).to_have_attribute("aria-label", re.compile(f"{failed} in all"))
    if window != "3 days":
        assert "window=" in page.url  # the window is in the address, to share


def test_the_executions_status_filter_lists_exactly_the_matching_runs_across_load_more(
    page, base_url, simulator
):
    expected = [
        run["metadata"]["id"]
        for run in runs_of(simulator, "nightly-embeddings")
        if run["status"] in {"failed", "cancelled"}
    ]
    page.goto(base_url + "/jobs/nightly-embeddings/executions?limit=3")
    page.get_by_label("failed", exact=True).check()
    # One change at a time: a second before the first answers would cancel it (hx-sync).
    expect(page).to_have_url(base_url + "/jobs/nightly-embeddings/executions?status=failed&limit=3")
    page.get_by_label("cancelled", exact=True).check()
    expect(page).to_have_url(
        base_url + "/jobs/nightly-embeddings/executions?status=cancelled,failed&limit=3"
    )
    more = page.get_by_role("link", name="Load more executions")
    rows = page.locator("#rows tr.execution th.name a")
    clicks = 0
    for _ in range(10):
        if not more.count():
            break
        loaded = rows.count()
        more.click()
        clicks += 1
        expect(rows).not_to_have_count(loaded)
    expect(page.locator("#rows tr.end-row")).to_be_visible()
    assert clicks >= 2 and rows.all_inner_texts() == expected


def test_the_executions_chart_says_what_it_shows(page, base_url):
    page.goto(base_url + "/jobs/price-scraper/executions")
    chart = page.locator("#runs-chart")
    expect(chart.get_by_role("img")).to_have_count(2)
    expect(chart.get_by_role("img").first).to_have_attribute(
        "aria-label", re.compile(r"^Run time of the 20 runs listed, oldest to newest")
    )


def test_the_timelines_bars_match_the_tasks_timestamps(browser, base_url, simulator):
    context = browser.new_context(
        timezone_id="Asia/Tokyo", locale="en-GB", viewport={"width": 1400, "height": 900}
    )
    page = context.new_page()
    page.goto(base_url + STRAGGLERS)
    page.get_by_role("link", name="Timeline").click()
    expect(page).to_have_url(base_url + STRAGGLERS + "?view=timeline")
    # The tab opens on the whole execution, not on the list's page.
    expect(page.locator(".timeline-cover")).to_contain_text("Shows 240 of 240 tasks")
    tasks = {t["metadata"]["name"]: t for t in simulator(STRAGGLERS, limit=200)}
    svg = page.locator("svg.timeline-chart")
    start = datetime.fromisoformat(svg.get_attribute("data-start"))
    end = datetime.fromisoformat(svg.get_attribute("data-end"))
    width = svg.evaluate("svg => svg.viewBox.baseVal.width")
    # The runs as drawn: one path per status, its box from the first start to the last end.
    boxes = svg.locator("path.tl-runs").evaluate_all(
        "paths => paths.map(p => { const b = p.getBBox(); return [b.x, b.x + b.width]; })"
    )
    starts = [datetime.fromisoformat(t["metadata"]["startedAt"]) for t in tasks.values()]
    ends = [datetime.fromisoformat(t["metadata"]["completedAt"]) for t in tasks.values()]

    def x(moment: datetime) -> float:
        return (moment - start) / (end - start) * width

    assert min(box[0] for box in boxes) == pytest.approx(x(min(starts)), abs=0.05)
    assert max(box[1] for box in boxes) == pytest.approx(x(max(ends)), abs=0.05)
    # The axis reads in the viewer's time zone: the first tick is 9 hours ahead of UTC.
    tick = svg.locator("text.tl-tick").first
    utc = datetime.fromisoformat(tick.get_attribute("data-at"))
    expect(tick).to_have_text(f"{(utc.hour + 9) % 24:02d}:{utc.minute:02d}")
    expect(page.locator("#timeline-zone")).to_have_text("Times in Asia/Tokyo")
    # Pointing at a bar says which task it is: the longest runs, where their times put them.
    slowest = sorted(tasks.values(), key=run_seconds)[-3:]
    for task in slowest:
        meta = task["metadata"]
        started = datetime.fromisoformat(meta["startedAt"])
        middle = x(started + (datetime.fromisoformat(meta["completedAt"]) - started) / 2)
        lane = lane_of(page, meta["name"])
        point = svg.evaluate(
            """(svg, [x, lane]) => {
                 const height = Number(svg.dataset.laneHeight);
                 const y = Number(svg.dataset.lanesTop) + (lane + 0.5) * height;
                 const p = new DOMPoint(x, y).matrixTransform(svg.getScreenCTM());
                 return [p.x, p.y];
               }""",
            [middle, lane],
        )
        page.mouse.move(*point)
        detail = page.locator("#timeline-detail")
        expect(detail).to_contain_text(f"{meta['name']} · succeeded · ran ")
        expect(detail.get_by_role("link", name=meta["name"])).to_have_attribute(
            "href", f"{STRAGGLERS}/{meta['name']}"
        )
    context.close()


def run_seconds(task: dict) -> float:
    meta = task["metadata"]
    started = datetime.fromisoformat(meta["startedAt"])
    return (datetime.fromisoformat(meta["completedAt"]) - started).total_seconds()


def open_table(page) -> None:
    """The timeline's table, opened: app.js makes it then, from the <noscript> holding it."""
    page.locator("details.timeline-table summary").evaluate(
        "summary => summary.parentElement.open = true"
    )
    expect(page.locator("details.timeline-table table.tl-data")).to_be_visible()


def lane_of(page, name: str) -> int:
    """A task's lane, from 0, as the timeline's table says."""
    open_table(page)
    row = page.locator("table.tl-data tr", has=page.locator(f"th:text-is('{name}')"))
    return int(row.locator("td").first.text_content()) - 1


def test_the_timeline_is_walked_bar_by_bar_from_the_keyboard(page, base_url):
    page.goto(base_url + STRAGGLERS + "?view=timeline")
    detail = page.locator("#timeline-detail")
    page.locator(".timeline-scroll").focus()
    first = detail.get_by_role("link").text_content()
    assert re.fullmatch(r"task-\d+", first)
    page.keyboard.press("ArrowRight")  # the next bar of its lane
    expect(detail.get_by_role("link")).not_to_have_text(first)
    second = detail.get_by_role("link").text_content()
    page.keyboard.press("ArrowDown")  # the lane below
    expect(detail.get_by_role("link")).not_to_have_text(second)
    expect(page.locator("rect.tl-pointed")).not_to_have_attribute("width", "0.00")
    chosen = detail.get_by_role("link").text_content()
    assert lane_of(page, chosen) == lane_of(page, second) + 1
    page.keyboard.press("Enter")
    expect(page).to_have_url(base_url + f"{STRAGGLERS}/{chosen}")
    expect(page.locator("h1")).to_contain_text(chosen)


def test_every_bar_is_reached_and_named_from_the_keyboard_alone(page, base_url, simulator):
    """Without a pointer: ↑ ↓ reach every lane, Home and → every bar of it, and each chosen bar's
    task is named, and linked, in the status line beside the chart."""
    page.goto(base_url + STRAGGLERS + "?view=timeline")
    detail = page.locator("#timeline-detail[role='status']")  # read out as it changes
    page.locator(".timeline-scroll").focus()
    named: set[str] = set()
    link = detail.get_by_role("link")
    for lane in range(8):  # the execution's parallelism
        if lane:
            page.keyboard.press("ArrowDown")
        page.keyboard.press("Home")
        while True:
            name = link.text_content()
            if name in named:
                break
            named.add(name)
            expect(link).to_have_attribute("href", f"{STRAGGLERS}/{name}")
            expect(detail).to_contain_text(f"{name} · succeeded · ran ")
            page.keyboard.press("ArrowRight")
    assert named == {task["metadata"]["name"] for task in simulator(STRAGGLERS, limit=200)}


def test_no_axis_label_runs_past_the_chart(browser, base_url):
    """In the viewer's own words (12-hour times here, wider than the server's), every tick label,
    the last one too, is inside the chart: none is cut."""
    context = browser.new_context(locale="en-US", timezone_id="America/New_York")
    page = context.new_page()
    # Two whose last and first ticks fall right at the chart's edges (996.3 and 0.2 of 1,000).
    edges = ("sbom-scan/executions/exec-ffd1c977", "thumbnail-render/executions/exec-a8634a8e")
    for path in (STRAGGLERS, BIG, *(f"/jobs/{execution}/tasks" for execution in edges)):
        page.goto(base_url + path + "?view=timeline")
        expect(page.locator("#timeline[aria-busy='false']")).to_be_visible(timeout=30_000)
        ticks = page.locator("text.tl-tick")
        expect(ticks.last).to_have_text(re.compile(r"\d\d:\d\d [AP]M"))
        boxes = ticks.evaluate_all(
            """ticks => ticks.map(t => { const b = t.getBBox();
                 return [b.x, b.x + b.width, t.ownerSVGElement.viewBox.baseVal.width]; })"""
        )
        assert len(boxes) >= 4
        assert all(left >= 0 and right <= width for left, right, width in boxes), boxes
    context.close()


def test_the_timeline_reads_the_whole_big_execution_by_itself(page, base_url, simulator):
    """The tab's own link, no `span`: every one of the 5,000 tasks, read on by itself, and the
    sentence of what set the run time, its figures the simulator's."""
    page.goto(base_url + BIG + "?view=timeline")
    expect(page.locator(".timeline-cover")).to_contain_text(
        "Shows 5,000 of 5,000 tasks: the whole execution", timeout=30_000
    )
    open_table(page)
    rows = page.locator("table.tl-data tr:has(td)")
    expect(rows).to_have_count(5000)
    # As many lanes as the execution ran tasks at once.
    lanes = rows.evaluate_all("rows => new Set(rows.map(r => r.cells[1].textContent)).size")
    assert lanes == 50
    tasks = simulator(BIG, limit=200)

    def at(task: dict, field: str) -> datetime:
        return datetime.fromisoformat(task["metadata"][field])

    wait = max(at(task, "startedAt") - at(task, "createdAt") for task in tasks)
    run = max(at(task, "completedAt") for task in tasks) - min(at(t, "createdAt") for t in tasks)
    assert wait > run / 2
    expect(page.locator(".timeline-cause")).to_contain_text(
        f"Tasks waited up to {span(wait.total_seconds())} for a slot at parallelism 50 in a run "
        f"of {span(run.total_seconds())}: the queue, not the tasks, set the run time"
    )


def test_slowest_first_is_really_ordered(page, base_url, simulator):
    tasks = {t["metadata"]["name"]: t for t in simulator(STRAGGLERS, limit=200)}
    page.goto(base_url + STRAGGLERS)
    page.get_by_label("Sort").select_option("duration:desc")
    expect(page).to_have_url(base_url + STRAGGLERS + "?sort=duration:desc")
    page.get_by_role("link", name="Load more tasks").click()
    names = page.locator("#rows tr.task a.task-link")
    expect(names).to_have_count(100)

    def seconds(name: str) -> float:
        meta = tasks[name]["metadata"]
        started = datetime.fromisoformat(meta["startedAt"])
        return (datetime.fromisoformat(meta["completedAt"]) - started).total_seconds()

    durations = [seconds(name) for name in names.all_inner_texts()]
    assert durations == sorted(durations, reverse=True)
    assert durations[0] == max(seconds(name) for name in tasks)


def test_without_javascript_every_view_renders(browser, base_url):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(base_url + "/?sort=createdAt:desc")  # newest first: strips load as rows show
    link = page.locator('tr.job:has(a:text-is("orders-export")) .recent a')
    expect(link).to_have_attribute("href", "/jobs/orders-export/executions")
    page.get_by_role("link", name="Count the failed executions of every job").click()
    expect(page.locator('[data-count="failed"]')).to_be_visible()
    chart = page.get_by_role("group", name=re.compile("^Failed executions per hour"))
    expect(chart).to_be_visible()
    page.goto(base_url + "/")  # failing first, the default: strips in the page itself
    expect(page.locator(".recent a.run").first).to_be_visible()
    page.goto(base_url + "/jobs/price-scraper/executions")
    expect(page.locator("#runs-chart").get_by_role("img")).to_have_count(2)
    page.goto(base_url + STRAGGLERS + "?view=timeline&span=page")
    expect(page.locator("table.tl-data tr:has(td)")).to_have_count(50)
    expect(page.locator("path.tl-runs")).not_to_have_count(0)
    page.get_by_role("link", name="Show the whole execution").click()
    expect(page.locator("table.tl-data tr:has(td)")).to_have_count(240)
    context.close()


PAGES = {
    "jobs": "/",
    "jobs-failing": "/?sort=failing",
    "health": "/health?window=7d",
    "executions": "/jobs/nightly-embeddings/executions?status=failed,timeout",
    "timeline": STRAGGLERS + "?view=timeline&span=all",
    "slowest": STRAGGLERS + "?sort=duration:desc",
    "kiosk": "/kiosk",
    "health-hour": "/health?window=7d&since=2026-11-26T00:00:00Z&until=2026-11-27T00:00:00Z",
    "executions-hour": "/jobs/price-scraper/executions?status=failed,timeout"
    "&since=2026-11-27T00:00:00Z&until=2026-11-28T00:00:00Z",
}


@pytest.mark.parametrize("name", PAGES)
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_no_serious_accessibility_violations(browser, base_url, name, scheme):
    context = browser.new_context(color_scheme=scheme)
    page = context.new_page()
    page.goto(base_url + PAGES[name])
    if name == "jobs":
        expect(page.locator("#health-summary .health-figures")).to_be_visible()
        page.locator("#rows tr.job").nth(4).scroll_into_view_if_needed()
        expect(page.locator(".recent .strip").first).to_be_visible()
    if name == "timeline":
        open_table(page)
    serious = serious_violations(page)
    context.close()
    assert serious == []


@pytest.mark.parametrize("path", ["/", STRAGGLERS + "?view=timeline", PAGES["executions"]])
def test_at_360_px_nothing_spills_sideways_but_the_timeline_scroller(browser, base_url, path):
    context = browser.new_context(viewport={"width": 360, "height": 800})
    page = context.new_page()
    page.goto(base_url + path)
    expect(page.locator("main")).to_be_visible()
    page.wait_for_timeout(300)
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    context.close()


@pytest.mark.screenshot
@pytest.mark.parametrize(
    ("name", "path", "width", "scheme"),
    [
        ("health-jobs", "/", 1400, "light"),
        ("health-jobs-dark", "/?sort=failing", 1400, "dark"),
        ("health-executions", "/jobs/nightly-embeddings/executions", 1400, "light"),
        ("health-timeline", STRAGGLERS + "?view=timeline&span=all", 1400, "light"),
        ("health-timeline-phone", STRAGGLERS + "?view=timeline&span=page", 360, "dark"),
        ("health-kiosk", "/kiosk", 1920, "dark"),
    ],
)
def test_screenshots_of_the_health_pages(
    browser, base_url, tmp_path_factory, name, path, width, scheme
):
    height = {"/": 1300, "/kiosk": 1080}.get(path, 900)
    context = browser.new_context(viewport={"width": width, "height": height}, color_scheme=scheme)
    page = context.new_page()
    page.goto(base_url + path)
    if path == "/":
        expect(page.locator("#health-summary .health-figures")).to_be_visible()
        page.locator("#rows tr.job").nth(8).scroll_into_view_if_needed()
        expect(page.locator(".recent .strip").nth(5)).to_be_visible()
        page.evaluate("window.scrollTo(0, 0)")
    folder = screenshots(tmp_path_factory)
    page.screenshot(path=str(folder / f"{name}.png"))
    context.close()
    assert (folder / f"{name}.png").stat().st_size > 10_000


def test_a_running_executions_timeline_follows_it_without_errors(page, base_url):
    polls: list[str] = []
    page.on("request", lambda request: "view=timeline" in request.url and polls.append(request.url))
    page.goto(base_url + "/jobs/thumbnail-render/executions/exec-slow-thumbnails/tasks")
    page.get_by_role("link", name="Timeline").click()
    expect(page.locator("#execution-summary .live")).to_be_visible()
    expect(page.locator("line.tl-now")).to_have_count(1)  # where now is
    page.wait_for_timeout(11_000)
    assert any("/summary?view=timeline" in url for url in polls)
    assert any("/tasks?view=timeline" in url for url in polls[1:])
    expect(page.locator("path.tl-runs")).not_to_have_count(0)

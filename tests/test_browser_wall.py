"""Health that agrees with itself, and the wall screen, in headless Chromium on the demo, with
figures checked against the simulator's own data: the failing jobs counted and named alike
(deactivated ones apart), bars that are hours of the clock linking to their failed executions,
a live link that leads to a running execution, rows that stop aging once their execution ends,
`refresh=` refreshing the summary without blanking the strips, and the kiosk at 1920 × 1080.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from flask import Flask

from webapp import create_app
from webapp.simulator import create_simulator, live_execution_id

from .browser import demo_server, expect, serve, simulator_at
from .conftest import FakeClock

pytestmark = pytest.mark.browser

# 09:21:16: the summary's first and last bars are cut hours, the others whole hours.
NOW = datetime(2026, 11, 28, 9, 21, 16, tzinfo=UTC)
FAILED = {"failed", "timeout"}
UNFINISHED = {"queued", "pending", "running", "cancelling"}
HEADERS = {"Authorization": "Bearer t", "Blaxel-Version": "2026-04-28"}


@pytest.fixture(scope="module")
def base_url():
    with demo_server(FakeClock(NOW)) as url:
        yield url


@pytest.fixture(scope="module")
def simulator():
    return simulator_at(NOW)


def created(run: dict) -> datetime:
    return datetime.fromisoformat(run["metadata"]["createdAt"])


def runs_by_job(simulator) -> dict[str, list[dict]]:
    return {
        job["metadata"]["name"]: simulator(
            f"/jobs/{job['metadata']['name']}/executions", limit=100, sort="createdAt:desc"
        )
        for job in simulator("/jobs", limit=200)
    }


def last_finished_failed(runs: list[dict]) -> bool:
    finished = [run for run in runs[:20] if run["status"] not in UNFINISHED]
    return bool(finished) and finished[0]["status"] in FAILED


def test_the_failing_count_and_the_list_under_it_name_the_same_jobs_deactivated_apart(
    page, base_url, simulator
):
    """ "N jobs whose last run failed" and the list under it agree with each other and with the
    simulator; a deactivated job whose last run failed is counted and listed apart; the link
    behind the count lists those same N jobs."""
    deactivated = {
        job["metadata"]["name"]
        for job in simulator("/jobs", limit=200)
        if job["status"] == "DEACTIVATED"
    }
    failing = sorted(j for j, runs in runs_by_job(simulator).items() if last_finished_failed(runs))
    active = [job for job in failing if job not in deactivated]
    apart = [job for job in failing if job in deactivated]
    assert active and apart  # the demo has both

    page.goto(base_url + "/")
    summary = page.locator("#health-summary")
    expect(summary.locator('[data-count="failing"]')).to_have_text(str(len(active)))
    expect(summary.locator('[data-count="failing-deactivated"]')).to_have_text(str(len(apart)))
    expect(summary.locator('[data-list="failing"] a')).to_have_text(active)
    expect(summary.locator('[data-list="failing-deactivated"] a')).to_have_text(apart)
    summary.get_by_role("link", name=re.compile("jobs? whose last run failed")).click()
    expect(page).to_have_url(re.compile(r"only=failing"))
    listed = page.locator("#rows tr.job th.name > a")
    expect(listed).to_have_count(len(failing))  # the listing keeps every job, deactivated too
    assert set(active) <= set(listed.all_inner_texts())


def test_the_hourly_bars_are_clock_hours_each_linking_to_that_hours_failed_executions(
    page, base_url, simulator
):
    """Each bar is an hour of the UTC clock (the first and last cut to the window); each bar
    with failures links to exactly the failed executions created in that hour, as the
    simulator has them: one job's listing filtered by time and status, or for several jobs
    the summary page's list."""
    start = NOW - timedelta(days=3)
    runs = runs_by_job(simulator)
    page.goto(base_url + "/")
    chart = page.locator("#health-summary svg.failures-chart")
    # The summary comes after the page (htmx, on load): 09:21:16 three days ago to the hour,
    # 71 hours, to now.
    expect(chart.locator("rect")).to_have_count(73)
    titles = chart.locator("rect title").all_text_contents()
    spans = [re.match(r"(\S+) to (\S+): (\d+) failed", title).groups() for title in titles]
    assert spans[0][:2] == ("2026-11-25T09:21:16Z", "2026-11-25T10:00:00Z")
    assert all(since.endswith(":00:00Z") for since, _, _ in spans[1:])
    assert spans[-1][:2] == ("2026-11-28T09:00:00Z", "2026-11-28T09:21:16Z")
    links = chart.locator("a")
    hrefs = links.evaluate_all("links => links.map(a => a.getAttribute('href'))")
    assert len(hrefs) == sum(int(count) > 0 for *_, count in spans)

    checked_one = checked_several = False
    for href in hrefs:
        since = re.search(r"since=([^&]+)", href).group(1)
        until = re.search(r"until=([^&]+)", href).group(1)
        low, high = datetime.fromisoformat(since), datetime.fromisoformat(until)
        expected = sorted(
            (job, run["metadata"]["id"])
            for job, job_runs in runs.items()
            for run in job_runs
            if run["status"] in FAILED and max(low, start) <= created(run) < high
        )
        assert expected
        page.goto(base_url + href)
        if href.startswith("/jobs/"):
            job = href.split("/")[2]
            ids = page.locator("#rows tr.execution th.name a").all_inner_texts()
            assert sorted((job, run) for run in ids) == expected
            checked_one = True
        else:
            items = page.locator(".health-chosen .chosen-runs li a").all_inner_texts()
            found = sorted(tuple(re.split(r"\s*›\s*", item.strip())) for item in items)
            assert found == expected
            checked_several = True
        if checked_one and checked_several:
            break
    assert checked_one  # the demo's 3 days have hours of one job's failures


@pytest.mark.parametrize("minute", [1, 4])
def test_live_now_links_only_a_running_execution(browser, minute):
    """The demo tour's live stop links the crawl's execution only while it runs (a minute
    into a cycle); between two crawls (four minutes in) it leads to the job instead."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    moment = now.replace(minute=now.minute - now.minute % 5) + timedelta(minutes=minute)
    crawl = live_execution_id(moment)
    client = create_simulator(clock=lambda: moment).test_client()
    status = client.get(f"/v0/jobs/sitemap-crawler/executions/{crawl}", headers=HEADERS).json[
        "status"
    ]
    assert (status in UNFINISHED) == (minute == 1)  # the simulator's crawl as the test expects
    with demo_server(FakeClock(moment)) as url:
        page = browser.new_page()
        page.goto(url + "/")
        first = page.locator("#tour li a").first
        if minute == 1:
            expect(first).to_have_text(re.compile("^Live now"))
            expect(first).to_have_attribute(
                "href", f"/jobs/sitemap-crawler/executions/{crawl}/tasks"
            )
        else:
            expect(page.locator("#tour")).not_to_contain_text("Live now")
            expect(first).to_have_attribute("href", "/jobs/sitemap-crawler/executions")
        page.close()


def test_updated_n_s_ago_stops_once_the_execution_is_final(browser):
    """While the crawl runs, its rows say how long ago they were updated; once the summary
    says it has ended, the rows are fetched a last time and say they are final, and the
    ticking no longer rewrites that."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    clock = FakeClock(now.replace(minute=now.minute - now.minute % 5) + timedelta(minutes=1))
    crawl = live_execution_id(clock())
    with demo_server(clock) as url:
        page = browser.new_page()
        page.goto(f"{url}/jobs/sitemap-crawler/executions/{crawl}/tasks")
        updated = page.locator("#rows-updated")
        expect(updated).to_have_text(re.compile(r"^updated (just now|\d+ s ago)$"))
        clock.advance(240)  # past the end of the crawl
        expect(page.locator("#execution-summary .live")).to_have_count(0, timeout=12_000)
        expect(updated).to_have_text("The execution has ended: these rows are final")
        page.evaluate("listing.tickUpdated()")  # what the 5-second timer runs
        expect(updated).to_have_text("The execution has ended: these rows are final")
        expect(page.locator("#follow-rows")).to_be_hidden()
        page.close()


def test_refresh_refreshes_the_summary_and_never_blanks_the_strips(page, base_url):
    """With `refresh=5`, newest first, the summary is asked again with the rows, and each
    refresh brings the rows with their strips: no strip is ever a placeholder again, and no
    strip is fetched on its own."""
    recent: list[str] = []
    page.on("request", lambda request: "/recent" in request.url and recent.append(request.url))
    page.goto(base_url + "/?sort=createdAt:desc&refresh=5")
    summary = page.locator("#health-summary")
    expect(summary.locator('[data-count="failed"]')).to_be_visible()
    strips = page.locator("#rows .recent")
    expect(page.locator("#rows .recent[data-job]")).to_have_count(strips.count())
    # Count placeholder strips whenever the rows change, from here on.
    page.evaluate(
        """() => {
          window.blanked = 0;
          new MutationObserver(() => {
            window.blanked += document.querySelectorAll('#rows .recent:not([data-job])').length;
          }).observe(document.getElementById('rows'), {childList: true, subtree: true});
        }"""
    )
    with (
        page.expect_response(
            lambda r: "/health?" in r.url and "refresh=5" in r.url, timeout=12_000
        ) as refreshed_summary,
        page.expect_response(
            lambda r: r.url.startswith(base_url + "/?") and "refresh=5" in r.url, timeout=12_000
        ) as refreshed_rows,
    ):
        pass
    assert refreshed_summary.value.ok and refreshed_rows.value.ok
    assert 'class="strip"' in refreshed_rows.value.text()
    assert page.evaluate("window.blanked") == 0
    assert recent == []
    expect(summary.locator(".data-age [data-age]")).to_have_text(re.compile(r"\d+ s old"))


class SwitchedUpstream(httpx.BaseTransport):
    """The simulator, or, once `failing` is set, a Blaxel that answers 503 to everything."""

    def __init__(self, clock) -> None:
        self.inner = httpx.WSGITransport(app=create_simulator(clock=clock))
        self.failing = False

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self.failing:
            return httpx.Response(503, content=b"")
        return self.inner.handle_request(request)


def switched_app(data: Path) -> tuple[SwitchedUpstream, Flask]:
    """The app on a real token's path, nothing cached, Blaxel's answers switchable to 503."""
    clock = FakeClock(NOW)
    upstream = SwitchedUpstream(clock)
    settings = {
        "BLAXEL_API_KEY": "any-token",
        "WEBAPP_CACHE_TTL": "0",
        "WEBAPP_DATA_DIR": str(data),
    }
    return upstream, create_app(settings, clock=clock, transport=upstream)


def test_the_kiosk_fits_a_wall_screen_and_keeps_its_last_board_when_blaxel_fails(
    browser, simulator, tmp_path
):
    """At 1920 × 1080 the kiosk has nothing to scroll, no banner and no controls, its figures
    are the simulator's over 24 hours; when Blaxel stops answering, the board stays and says
    how old it is, and the next good answer replaces it."""
    start = NOW - timedelta(hours=24)
    runs = runs_by_job(simulator)
    failed = sum(
        run["status"] in FAILED and created(run) >= start for rs in runs.values() for run in rs
    )
    running = sum(run["status"] in UNFINISHED for rs in runs.values() for run in rs)
    upstream, app = switched_app(tmp_path)
    context = browser.new_context(viewport={"width": 1920, "height": 1080})
    page = context.new_page()
    with serve(app) as url:
        page.goto(url + "/kiosk?refresh=5")
        board = page.locator("#kiosk-board")
        expect(board.locator('[data-count="failed"]')).to_have_text(str(failed))
        expect(board.locator('[data-count="running"]')).to_have_text(str(running))
        height, inner = page.evaluate("[document.scrollingElement.scrollHeight, innerHeight]")
        assert height <= inner
        expect(page.locator(".topbar, .demo-banner")).to_have_count(0)
        expect(page.locator("form, input, select, textarea, button:visible")).to_have_count(0)

        upstream.failing = True
        expect(board.locator("#kiosk-problem")).to_be_visible(timeout=12_000)
        expect(board.locator("#kiosk-problem")).to_contain_text("Trying again")
        expect(board.locator('[data-count="failed"]')).to_have_text(str(failed))  # kept
        expect(board.locator("[data-age]")).to_have_text(
            re.compile(r"^these figures are Blaxel's last answer, \d+ (s|min) old$")
        )

        upstream.failing = False
        expect(board.locator("#kiosk-problem")).to_be_hidden(timeout=12_000)
        expect(board.locator("[data-age]")).to_have_text(re.compile(r"^\d+ s old$"))
    context.close()


def test_a_failed_refresh_of_the_jobs_pages_summary_keeps_its_figures_and_ages_them(
    browser, tmp_path
):
    """On the jobs page with `refresh=5`, a refresh of the summary that Blaxel fails leaves
    the last figures on screen and says they are its last answer, and how old."""
    upstream, app = switched_app(tmp_path)
    page = browser.new_page()
    with serve(app) as url:
        page.goto(url + "/?refresh=5")
        summary = page.locator("#health-summary")
        failed = summary.locator('[data-count="failed"]')
        expect(failed).to_be_visible()
        figure = failed.inner_text()
        upstream.failing = True
        expect(summary.locator("[data-age]")).to_have_text(
            re.compile(r"^these figures are Blaxel's last answer, \d+ (s|min) old$"),
            timeout=12_000,
        )
        expect(failed).to_have_text(figure)
        expect(summary.locator("svg.failures-chart")).to_be_visible()
    page.close()


def test_the_kiosk_without_a_first_answer_says_so_and_keeps_asking(browser, tmp_path):
    """When Blaxel fails at the kiosk's first load there is no board to keep: the page says
    what failed, with an honest status, and asks again by itself."""
    clock = FakeClock(NOW)
    upstream = SwitchedUpstream(clock)
    upstream.failing = True
    app = create_app(
        {
            "BLAXEL_API_KEY": "any-token",
            "WEBAPP_DATA_DIR": str(tmp_path),
        },
        clock=clock,
        transport=upstream,
    )
    page = browser.new_page(viewport={"width": 1920, "height": 1080})
    with serve(app) as url:
        response = page.goto(url + "/kiosk?refresh=5")
        assert response.status >= 500
        expect(page.locator("#kiosk-board")).to_contain_text("No figures yet")
        upstream.failing = False
        expect(page.locator('#kiosk-board [data-count="failed"]')).to_be_visible(timeout=12_000)
    page.close()

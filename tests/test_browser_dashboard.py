"""The dashboard in headless Chromium: jobs → executions → tasks, live summaries, accessibility.

It also takes the docs' screenshots from the real pages (into docs/screenshots only when
`make screenshots` asks: see the `screenshots` fixture).
"""

from __future__ import annotations

import re

import httpx
import pytest

from webapp import create_app
from webapp.simulator import create_simulator, live_execution_id

from .browser import expect, serve

pytestmark = pytest.mark.browser

BIG = "/jobs/nightly-embeddings/executions/exec-5k-embeddings/tasks"


def test_walk_from_jobs_to_executions_to_tasks(page, live_url):
    page.goto(live_url + "/")
    page.locator("#rows").get_by_role("link", name="nightly-embeddings", exact=True).click()
    expect(page.get_by_role("heading", name="Executions")).to_be_visible()
    page.get_by_role("link", name="exec-5k-embeddings").click()
    expect(page).to_have_url(live_url + BIG)
    expect(page.locator("#execution-summary")).to_contain_text("5,000 total")
    crumbs = page.get_by_role("navigation", name="Breadcrumb")
    expect(crumbs.get_by_role("link")).to_have_text(["Jobs", "nightly-embeddings"])
    crumbs.get_by_role("link", name="nightly-embeddings").click()
    expect(page).to_have_url(live_url + "/jobs/nightly-embeddings/executions")


def test_a_live_execution_is_watched_to_its_end_and_polling_stops(page, live_url, live_clock):
    execution = live_execution_id(live_clock())
    summary_requests: list[str] = []
    page.on(
        "request",
        lambda request: "/summary" in request.url and summary_requests.append(request.url),
    )
    page.goto(f"{live_url}/jobs/sitemap-crawler/executions/{execution}/tasks")
    summary = page.locator("#execution-summary")
    expect(summary.locator(".live")).to_be_visible()
    navigations: list[str] = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url))
    succeeded_chip = page.locator("#count-slot-succeeded")
    succeeded_before = succeeded_chip.inner_text()

    live_clock.advance(240)  # past the end of the crawl
    expect(summary.locator(".live")).to_have_count(0, timeout=12_000)
    expect(summary.locator(".badge")).to_have_class(re.compile(r"badge-(succeeded|failed)"))
    # The status chips' counts followed the polls: they say what the progress bar says.
    progress = summary.locator(".progress-text").inner_text()
    succeeded = re.search(r"([\d,]+) succeeded", progress).group(1)
    expect(succeeded_chip).to_have_text(succeeded)
    assert succeeded != succeeded_before
    polls = len(summary_requests)
    assert polls >= 1
    # The rows followed too, without a reload: never a count above and another below.
    failed = int(re.search(r"([\d,]+) failed", progress).group(1))
    rows = page.locator("#rows tr.task")
    expect(page.locator("#rows tr.status-succeeded")).to_have_count(int(succeeded))
    expect(page.locator("#rows tr.status-failed")).to_have_count(failed)
    assert rows.count() == int(succeeded) + failed
    assert navigations == []
    page.wait_for_timeout(6_000)
    assert len(summary_requests) == polls  # no more polling once final


def test_polling_pauses_while_the_tab_is_hidden(page, live_url):
    summary_requests: list[str] = []
    page.on(
        "request",
        lambda request: "/summary" in request.url and summary_requests.append(request.url),
    )
    page.goto(live_url + "/jobs/thumbnail-render/executions/exec-slow-thumbnails/tasks")
    expect(page.locator("#execution-summary .live")).to_be_visible()
    page.evaluate(
        "Object.defineProperty(document, 'hidden', {configurable: true, get: () => true})"
    )
    page.wait_for_timeout(6_000)
    assert summary_requests == []
    page.evaluate(
        "Object.defineProperty(document, 'hidden', {configurable: true, get: () => false})"
    )
    page.wait_for_timeout(6_000)
    assert len(summary_requests) >= 1


class SummaryFailsAfterFirstCall(httpx.BaseTransport):
    """The simulator, except that GetJobExecution fails once it has answered once."""

    def __init__(self) -> None:
        self.inner = httpx.WSGITransport(app=create_simulator())
        self.summaries = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/executions/exec-slow-thumbnails"):
            self.summaries += 1
            if self.summaries > 1:
                return httpx.Response(503, content=b"")
        return self.inner.handle_request(request)


def test_a_failing_poll_keeps_the_summary_and_says_updates_are_paused(browser):
    # A page of its own: the browser rightly logs the 502 of the failed poll to the console.
    page = browser.new_page()
    app = create_app({"BLAXEL_API_KEY": "any-token"}, transport=SummaryFailsAfterFirstCall())
    with serve(app) as url:
        page.goto(url + "/jobs/thumbnail-render/executions/exec-slow-thumbnails/tasks")
        summary = page.locator("#execution-summary")
        expect(summary).to_contain_text("60 total")
        expect(page.locator("#summary-note")).to_contain_text(
            "Live updates paused (Blaxel is not answering properly)", timeout=12_000
        )
        expect(summary).to_contain_text("60 total")  # the last good summary stays
        expect(summary.locator(".live")).to_be_visible()
    page.close()


def test_refresh_link_reloads_rows_on_its_own(page, live_url, live_clock):
    rows_requests: list[str] = []
    page.on(
        "request", lambda request: "/tasks?" in request.url and rows_requests.append(request.url)
    )
    page.goto(f"{live_url}{BIG}?refresh=5&sort=name:asc")
    expect(page.locator(".auto-refresh")).to_contain_text("Refreshes every 5 s")
    page.get_by_label("Search tasks").fill("task-12")
    expect(page).to_have_url(f"{live_url}{BIG}?sort=name:asc&q=task-12&refresh=5")
    before = len(rows_requests)
    page.wait_for_timeout(6_000)
    assert len(rows_requests) > before  # it refreshed by itself
    assert "q=task-12" in rows_requests[-1]
    expect(page.get_by_label("Search tasks")).to_have_value("task-12")  # typing kept
    expect(page).to_have_url(f"{live_url}{BIG}?sort=name:asc&q=task-12&refresh=5")


INVOICES = "/jobs/invoice-ocr/executions/exec-320-invoices/tasks"
PAGES = {
    "jobs": "/",
    "health": "/health",
    "executions": "/jobs/nightly-embeddings/executions",
    "executions-filtered": "/jobs/nightly-embeddings/executions?status=failed,timeout",
    "tasks": BIG,
    "tasks-answered-by-counts": INVOICES + "?status=failed",
    "timeline": "/jobs/report-render/executions/exec-stragglers/tasks?view=timeline",
    "failure-groups": "/jobs/nightly-embeddings/executions/exec-5k-embeddings/triage",
    "task": INVOICES + "/task-10",
    "logs": INVOICES + "/task-10/logs",
    "error-404": "/jobs/no-such-job/executions",
    "error-400": BIG + "?limit=9999",
}
WIDTHS = {"desktop": 1440, "phone": 390}


@pytest.mark.parametrize("name", PAGES)
@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_no_serious_accessibility_violations(browser, live_url, name, width, scheme):
    context = browser.new_context(
        color_scheme=scheme, viewport={"width": WIDTHS[width], "height": 900}
    )
    page = context.new_page()
    page.goto(live_url + PAGES[name])
    page.wait_for_load_state("networkidle")
    for toggle in page.locator("[data-panel-toggle]").all():
        if toggle.is_visible():
            toggle.click()  # what a phone folds away is checked too
    for details in page.locator("details").all()[:2]:
        details.evaluate("details => details.open = true")
    from axe_playwright_python.sync_playwright import Axe

    violations = Axe().run(page).response["violations"]
    if name == "tasks":
        page.keyboard.press("?")  # and the shortcuts list, alone in front of the page
        violations += Axe().run(page, context="#shortcuts").response["violations"]
    serious = [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
        for v in violations
        if v["impact"] in {"serious", "critical"}
    ]
    context.close()
    assert serious == []


@pytest.mark.screenshot
@pytest.mark.parametrize(
    ("name", "path", "width", "scheme"),
    [
        ("jobs", "/", 1400, "light"),
        ("executions", "/jobs/nightly-embeddings/executions", 1400, "light"),
        ("tasks", BIG, 1400, "light"),
        ("tasks-dark", BIG + "?sort=name:asc&q=task-12", 1400, "dark"),
        ("tasks-phone", INVOICES, 360, "light"),
        ("tasks-phone-dark", BIG + "?status=failed", 390, "dark"),
    ],
)
def test_docs_screenshots_from_the_real_pages(
    browser, live_url, screenshots, name, path, width, scheme
):
    context = browser.new_context(viewport={"width": width, "height": 860}, color_scheme=scheme)
    page = context.new_page()
    page.goto(live_url + path)
    expect(page.locator("#rows tr").first).to_be_visible()
    page.screenshot(path=str(screenshots / f"{name}.png"))
    context.close()
    assert (screenshots / f"{name}.png").stat().st_size > 10_000

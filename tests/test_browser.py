"""The task list in headless Chromium: search, sort, load more, shareable links, history, safety."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING

import httpx
import pytest

from webapp import create_app
from webapp.simulator import create_simulator

from .browser import expect, serve

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.browser

INVOICES = "/jobs/invoice-ocr/executions/exec-320-invoices/tasks"
HOSTILE = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>\u202edesrever'


def row_names(page: Page) -> list[str]:
    return page.locator("#rows tr.task a.task-link").all_inner_texts()


def test_task_list_opens_with_a_page_of_rows_and_counts(page, base_url):
    page.goto(base_url + INVOICES)
    expect(page.locator("#rows tr.task")).to_have_count(50)
    expect(page.locator("#listing-status")).to_contain_text(
        "50 tasks loaded, of 320 tasks in this execution"
    )
    expect(page.locator(".demo-banner")).to_contain_text("Demo data")


def test_search_filters_rows_and_pushes_a_shareable_url(page, base_url):
    page.goto(base_url + INVOICES + "?sort=name:asc")
    page.get_by_label("Search tasks").fill("task-31")
    expect(page).to_have_url(base_url + INVOICES + "?sort=name:asc&q=task-31")
    expected = ["task-31"] + [f"task-31{digit}" for digit in range(10)]
    expect(page.locator("#rows tr.task")).to_have_count(len(expected))
    assert row_names(page) == expected


def test_sort_reorders_from_the_first_page(page, base_url):
    page.goto(base_url + INVOICES)
    page.get_by_label("Sort").select_option("name:desc")
    expect(page).to_have_url(base_url + INVOICES + "?sort=name:desc")
    expect(page.locator("#rows tr.task th.name").first).to_have_text("task-99")


def test_load_more_appends_the_next_rows_without_duplicates_to_the_end(page, base_url):
    page.goto(base_url + INVOICES + "?limit=100")
    for loaded in (200, 300, 320):
        page.get_by_role("link", name="Load more tasks").click()
        expect(page.locator("#rows tr.task")).to_have_count(loaded)
    names = row_names(page)
    assert sorted(names) == sorted(f"task-{index}" for index in range(320))
    expect(page.locator(".end-row")).to_contain_text("End of the list · 320 tasks")
    expect(page.locator("#listing-status")).to_contain_text("320 tasks loaded")
    assert page.url == base_url + INVOICES + "?limit=100"  # loading more keeps the view's link


def test_a_pasted_link_reproduces_the_view(page, browser, base_url):
    page.goto(base_url + INVOICES)
    page.get_by_label("Sort").select_option("name:asc")
    expect(page).to_have_url(base_url + INVOICES + "?sort=name:asc")
    page.get_by_label("Search tasks").fill("task-2")
    expect(page).to_have_url(base_url + INVOICES + "?sort=name:asc&q=task-2")
    expect(page.locator("#listing-status")).to_contain_text("matching tasks loaded")
    shown = row_names(page)

    other = browser.new_page()
    other.goto(page.url)
    assert row_names(other) == shown
    expect(other.get_by_label("Search tasks")).to_have_value("task-2")
    expect(other.get_by_label("Sort")).to_have_value("name:asc")
    other.close()


def test_back_and_forward_restore_earlier_views(page, base_url):
    page.goto(base_url + INVOICES)
    first_view = row_names(page)
    page.get_by_label("Search tasks").fill("task-7")
    expect(page).to_have_url(base_url + INVOICES + "?q=task-7")
    searched = row_names(page)
    page.go_back()
    expect(page).to_have_url(base_url + INVOICES)
    expect(page.get_by_label("Search tasks")).to_have_value("")
    expect(page.locator("#rows tr.task")).to_have_count(50)
    assert row_names(page) == first_view
    page.go_forward()
    expect(page.get_by_label("Search tasks")).to_have_value("task-7")
    assert row_names(page) == searched


def test_short_search_is_explained_in_the_page(page, base_url):
    page.goto(base_url + INVOICES)
    page.get_by_label("Search tasks").fill("t")
    expect(page.locator("#search-hint")).to_contain_text("Type at least 2 characters")


def test_slash_focuses_the_search_box(page, base_url):
    page.goto(base_url + INVOICES)
    page.keyboard.press("/")
    expect(page.get_by_label("Search tasks")).to_be_focused()


def test_without_javascript_pages_and_search_work_through_links_and_forms(browser, base_url):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(base_url + INVOICES + "?sort=name:asc")
    first = row_names(page)
    page.get_by_role("link", name="Load more tasks").click()
    expect(page.locator(".pager-note")).to_contain_text("This is a later page")
    second = row_names(page)
    assert len(second) == 50 and not set(first) & set(second)
    page.get_by_role("link", name="Back to the first page").click()
    # Without JavaScript each step is a navigation: wait for the page it loads, not the old one.
    expect(page.locator("#rows tr.task a.task-link")).to_have_text(first)
    page.get_by_label("Search tasks").fill("task-319")
    page.get_by_label("Search tasks").press("Enter")
    expect(page).to_have_url(re.compile(r"[?&]q=task-319"))
    expect(page.locator("#rows tr.task a.task-link")).to_have_text(["task-319"])
    context.close()


def test_without_javascript_nothing_promises_live_updates_and_refresh_is_a_link(browser, base_url):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(base_url + "/jobs/thumbnail-render/executions/exec-slow-thumbnails/tasks?q=task-1")
    expect(page.locator(".summary .live")).to_be_hidden()
    expect(page.locator(".summary")).to_contain_text("still running: reload to update")
    page.get_by_role("link", name="Refresh").click()
    expect(page.get_by_label("Search tasks")).to_have_value("task-1")
    assert all("task-1" in name for name in row_names(page))
    page.goto(base_url + INVOICES + "?refresh=30")
    refresh = page.locator('noscript meta[http-equiv="refresh"]')
    assert refresh.count() == 1 and refresh.get_attribute("content") == "30"
    context.close()


def test_with_javascript_the_running_summary_says_live(page, base_url):
    page.goto(base_url + "/jobs/thumbnail-render/executions/exec-slow-thumbnails/tasks")
    expect(page.locator(".summary .live")).to_be_visible()
    expect(page.locator(".summary .no-js-only")).to_be_hidden()


class HostileUpstream(httpx.BaseTransport):
    """The simulator, with markup and bidi controls slipped into every condition message."""

    def __init__(self) -> None:
        self.inner = httpx.WSGITransport(app=create_simulator())

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        body = json.loads(response.read())
        for task in body.get("data", []) if isinstance(body, dict) else []:
            for condition in task.get("conditions") or []:
                condition["message"] = HOSTILE
        return httpx.Response(response.status_code, json=body)


class FailingOnRequest(httpx.BaseTransport):
    """The simulator, answering 500 while `failing` is set."""

    def __init__(self) -> None:
        self.inner = httpx.WSGITransport(app=create_simulator())
        self.failing = False

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self.failing:
            return httpx.Response(500, json={"error": "unavailable"})
        return self.inner.handle_request(request)


ASKED_FOR = """row => {
  window.askedForRow = 0;
  document.addEventListener("htmx:beforeRequest", (event) => {
    if (row.contains(event.detail.elt)) window.askedForRow += 1;
  });
}"""


def test_a_rows_conditions_load_in_place_once_and_a_failure_offers_to_try_again(browser):
    upstream = FailingOnRequest()
    app = create_app({"BLAXEL_API_KEY": "any-token", "WEBAPP_CACHE_TTL": "0"}, transport=upstream)
    # Its own page: the failure it causes is logged in the console, which `page` forbids.
    context = browser.new_context()
    page = context.new_page()
    with serve(app) as url:
        page.goto(url + INVOICES + "?limit=25")
        expect(page.locator("#triage .groups").first).to_be_visible()  # all the page asks, asked
        first = page.locator("#rows tr.task details").first
        upstream.failing = True
        first.locator("summary").click()
        retry = first.get_by_role("button", name="Try again")
        expect(retry).to_be_visible()
        upstream.failing = False
        retry.click()
        expect(first.locator("ol.condition-list li").first).to_be_visible()
        # From now on, the requests htmx makes for this row are counted in the page (the page's
        # other parts may still be asking for theirs).
        first.evaluate(ASKED_FOR)
        first.locator("summary").click()  # closed
        first.locator("summary").click()  # and opened again: what was loaded stays
        expect(first.locator("ol.condition-list li").first).to_be_visible()
        page.evaluate("() => new Promise((done) => setTimeout(done))")  # after the toggle's event
        assert page.evaluate("window.askedForRow") == 0
        assert page.url == url + INVOICES + "?limit=25"  # in place, the list never left
    context.close()


def test_hostile_condition_messages_are_shown_as_inert_text(page):
    app = create_app({"BLAXEL_API_KEY": "any-token"}, transport=HostileUpstream())
    with serve(app) as url:
        page.goto(url + INVOICES + "?limit=25")
        first = page.locator("#rows tr.task details").first
        first.locator("summary").click()
        # Markup stays text; the override is shown as a mark instead of reversing the text.
        expect(first.locator("dd.message").first).to_have_text(HOSTILE.replace("\u202e", "U+202E"))
        expect(first.locator("dd.message .ctl").first).to_have_text("U+202E")
        assert page.evaluate("window.__pwned") is None
        assert page.locator("#rows img").count() == 0

"""The status filter and exports in headless Chromium: chips, shareable URLs, scans, downloads."""

from __future__ import annotations

import csv
import re

import pytest

from .browser import expect
from .test_browser import row_names

pytestmark = pytest.mark.browser

BIG = "/jobs/nightly-embeddings/executions/exec-5k-embeddings/tasks"


def row_statuses(page) -> set[str]:
    return {
        re.sub(r"^task status-", "", cls)
        for cls in page.locator("#rows tr.task").evaluate_all("rows => rows.map(r => r.className)")
    }


def test_ticking_status_chips_filters_the_rows_and_pushes_a_shareable_url(page, base_url):
    page.goto(base_url + BIG + "?sort=name:asc")
    expect(page.locator("#rows tr.task")).to_have_count(50)
    page.get_by_label("failed", exact=True).check()
    expect(page).to_have_url(base_url + BIG + "?sort=name:asc&status=failed")
    expect(page.locator("#listing-status")).to_contain_text("Only failed tasks.")
    assert row_statuses(page) == {"failed"}
    page.get_by_label("cancelled", exact=True).check()
    expect(page).to_have_url(base_url + BIG + "?sort=name:asc&status=failed,cancelled")
    expect(page.locator("#rows tr.status-cancelled").first).to_be_visible()
    assert row_statuses(page) == {"failed", "cancelled"}
    names = row_names(page)
    assert names == sorted(names)  # the view's order holds under the filter
    download = page.get_by_role("link", name="Download CSV")
    expect(download).to_have_attribute("href", re.compile(r"status=failed,cancelled"))


def test_load_more_continues_a_scan_paused_by_its_budget(page, base_url):
    page.goto(base_url + BIG + "?status=failed&limit=100")
    expect(page.locator(".scan-note")).to_contain_text("Scanned 2,000 of 5,000 tasks")
    first = row_names(page)
    page.get_by_role("link", name="Load more tasks").click()
    expect(page.locator("#rows tr.task")).not_to_have_count(len(first))
    names = row_names(page)
    assert names[: len(first)] == first and len(set(names)) == len(names)
    assert row_statuses(page) == {"failed"}
    assert page.url == base_url + BIG + "?status=failed&limit=100"


def test_a_count_link_opens_that_status_alone(page, base_url):
    page.goto(base_url + BIG)
    page.get_by_title("Only the 50 cancelled tasks").click()
    expect(page).to_have_url(base_url + BIG + "?status=cancelled")
    expect(page.get_by_label("cancelled", exact=True)).to_be_checked()
    expect(page.locator("#rows tr.task").first).to_be_visible()
    assert row_statuses(page) == {"cancelled"}


def test_after_a_search_the_count_links_keep_it(page, base_url):
    page.goto(base_url + BIG)
    page.get_by_label("Search tasks").fill("task-49")
    # A failed execution's links name the order it opens in; a status keeps Blaxel's.
    expect(page).to_have_url(base_url + BIG + "?sort=failed&q=task-49")
    failed = page.locator("#count-link-failed")
    expect(failed).to_have_attribute("href", re.compile(r"\?q=task-49&status=failed$"))
    failed.click()
    expect(page).to_have_url(base_url + BIG + "?q=task-49&status=failed")
    expect(page.locator("#search-input")).to_have_value("task-49")
    expect(page.locator("#rows tr.task").first).to_be_visible()
    assert row_statuses(page) == {"failed"}
    assert all("task-49" in name for name in row_names(page))


def test_a_poll_that_changes_no_count_leaves_a_focused_count_link_alone(page, base_url):
    # The slow thumbnails execution is running but does not move: its polls bring equal counts.
    page.goto(base_url + "/jobs/thumbnail-render/executions/exec-slow-thumbnails/tasks")
    link = page.locator("#count-link-succeeded")
    link.focus()
    link.evaluate("element => { element.seenBeforePoll = true; }")  # a property, not markup
    with page.expect_response(lambda response: "/summary?" in response.url, timeout=12_000):
        pass
    page.wait_for_timeout(300)  # past htmx's swap and settle
    focused = page.evaluate(
        "() => [document.activeElement.id, document.activeElement.seenBeforePoll]"
    )
    assert focused == ["count-link-succeeded", True]


def test_the_filter_works_without_javascript_as_a_plain_form(browser, base_url):
    context = browser.new_context(java_script_enabled=False)
    plain = context.new_page()
    plain.goto(base_url + BIG + "?sort=createdAt:desc")  # newest first: both statuses in a page
    plain.get_by_label("failed", exact=True).check()
    plain.get_by_label("cancelled", exact=True).check()
    plain.get_by_role("button", name="Apply").click()
    assert "status=failed&status=cancelled" in plain.url
    plain.wait_for_load_state()  # the click waits for the new page to start, not to be read
    assert row_statuses(plain) == {"failed", "cancelled"}
    more = plain.get_by_role("link", name="Load more tasks").get_attribute("href")
    assert "status=failed,cancelled&cursor=" in more
    context.close()


def test_download_csv_saves_a_named_file_of_the_view(page, base_url):
    page.goto(base_url + BIG + "?status=failed")
    with page.expect_download() as started:
        page.get_by_role("link", name="Download CSV").click()
    download = started.value
    assert re.fullmatch(
        r"nightly-embeddings_exec-5k-embeddings_tasks_\d{8}T\d{6}Z\.csv",
        download.suggested_filename,
    )
    with open(download.path(), encoding="utf-8-sig") as saved:
        rows = list(csv.DictReader(saved))
    assert len(rows) == 125 and {row["status"] for row in rows} == {"failed"}


@pytest.mark.screenshot
def test_docs_screenshot_of_the_failed_tasks_of_the_big_execution(browser, base_url, screenshots):
    context = browser.new_context(viewport={"width": 1400, "height": 860})
    shot = context.new_page()
    shot.goto(base_url + BIG + "?status=failed&limit=100")
    expect(shot.locator(".scan-note")).to_contain_text("Scanned 2,000 of 5,000 tasks")
    path = screenshots / "tasks-failed.png"
    shot.screenshot(path=str(path))
    context.close()
    assert path.stat().st_size > 10_000

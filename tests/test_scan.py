"""The status filter's walk: every match once, in upstream order, within a call budget per page."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import httpx
import pytest
from werkzeug.datastructures import MultiDict

from webapp.blaxel import CallScope, PageRequest, Session
from webapp.common.services import services_of
from webapp.listing.cursors import CursorSigner
from webapp.listing.filtered import SALT, UPSTREAM_LIMIT, TaskSource, filtered_tasks
from webapp.listing.page import CURSOR_EXPIRED
from webapp.listing.query import TASKS, ListQuery, cursor_from_link

from .conftest import task_json, task_page

BIG = ("nightly-embeddings", "exec-5k-embeddings")
BIG_URL = "/jobs/nightly-embeddings/executions/exec-5k-embeddings/tasks"
TASKS_URL = "/jobs/nightly/executions/exec-1/tasks"
SECRET = "scan-test-secret"
SORTS = ("createdAt:desc", "createdAt:asc", "name:asc", "name:desc")
_full_lists: dict[tuple[str, str], list] = {}


def query(**args) -> ListQuery:
    return ListQuery.parse(MultiDict(args), TASKS)


def full_list(client, sort: str, q: str) -> list:
    """The execution's whole task list as Blaxel pages it, unfiltered; walked once per order."""
    if (sort, q) not in _full_lists:
        search = query(sort=sort, q=q).search
        tasks, cursor = [], ""
        while True:
            request = PageRequest(sort, search, UPSTREAM_LIMIT, cursor)
            page = client.list_tasks(*BIG, request, CallScope.starting_now(30))
            tasks += page.items
            if not page.has_more:
                break
            cursor = page.next_cursor
        _full_lists[sort, q] = tasks
    return _full_lists[sort, q]


def filtered_walk(client, first: ListQuery, budget: int) -> tuple[list, list]:
    """Every page of a filtered view, following next cursors as Load more does."""
    names, pages, current = [], [], first
    for _ in range(1000):
        session = Session(client, CallScope.starting_now(60))
        moment = datetime(2026, 1, 1, tzinfo=UTC)  # a filtered walk reads no clock
        page = filtered_tasks(TaskSource(session, *BIG, budget, SECRET, moment), current)
        pages.append(page)
        names += [task.name for task in page.items]
        assert len(page.items) <= current.limit
        if not page.has_more:
            return names, pages
        assert cursor_from_link(page.next_cursor) == page.next_cursor  # one the app accepts
        current = current.next_page(page.next_cursor, len(page.items))
    raise AssertionError("the walk never ended")


@pytest.mark.parametrize("sort", SORTS)
@pytest.mark.parametrize("q", ["", "task-4"])
@pytest.mark.parametrize(
    ("statuses", "limit", "budget"),
    [("failed", 50, 10), ("failed,cancelled", 25, 3), ("cancelled,succeeded", 200, 10)],
)
def test_a_filtered_walk_is_the_full_list_filtered_in_order_none_twice(
    app, sort, q, statuses, limit, budget
):
    client = services_of(app).client
    first = query(sort=sort, q=q, status=statuses, limit=str(limit))
    names, pages = filtered_walk(client, first, budget)
    expected = [t.name for t in full_list(client, sort, q) if t.status in first.statuses]
    assert names == expected
    assert len(set(names)) == len(names)
    # Every page but the last is full unless the budget paused it.
    assert all(len(p.items) == limit or p.scan.paused for p in pages[:-1])


def test_a_filter_with_no_match_walks_to_the_end_in_budgeted_steps(app):
    client = services_of(app).client
    names, pages = filtered_walk(client, query(status="pending"), budget=10)
    assert names == []
    # 5,000 tasks in pages of 200: 25 upstream calls, so 10 + 10 + 5.
    assert [(p.scan.scanned, p.scan.paused) for p in pages] == [
        (2000, True),
        (4000, True),
        (5000, False),
    ]


def test_the_budget_pauses_a_scan_and_says_how_far_it_got(app, client):
    url = BIG_URL + "?status=failed&limit=100&sort=createdAt:desc"  # Blaxel's order, walked
    html = client.get(url).get_data(as_text=True)
    assert "Scanned 2,000 of 5,000 tasks" in html
    assert "“Load more” scans on from there" in html
    first_2000 = full_list(services_of(app).client, "createdAt:desc", "")[:2000]
    assert rows(html) == [t.name for t in first_2000 if t.status == "failed"]


def test_load_more_links_walk_the_big_execution_without_gaps_or_repeats(client, app):
    expected = [
        t.name
        for t in full_list(services_of(app).client, "name:asc", "")
        if t.status in {"failed", "cancelled"}
    ]
    url, names = BIG_URL + "?sort=name:asc&status=cancelled,failed", []
    while url:
        html = client.get(url).get_data(as_text=True)
        names += rows(html)
        more = re.search(r'class="load-more" href="([^"]+)"', html)
        url = more.group(1).replace("&amp;", "&") if more else ""
        if url:
            assert "status=failed,cancelled" in url and "sort=name:asc" in url
    assert names == expected


# Boundaries, on a scripted upstream whose pages a test lays out one by one.


def chain(*pages: list[str]):
    """An upstream serving `pages` of task statuses; page i+1's cursor is "UEFHR" + str(i+1)."""
    counter = iter(range(10_000))
    laid_out = [[task_json(next(counter), status) for status in page] for page in pages]

    def handler(request: httpx.Request) -> httpx.Response:
        index = int(request.url.params.get("cursor", "UEFHR0")[5:])
        more = index + 1 < len(laid_out)
        next_cursor = f"UEFHR{index + 1}" if more else ""
        total = sum(len(page) for page in laid_out)
        return httpx.Response(200, json=task_page(laid_out[index], next_cursor, total=total))

    return handler


def rows(html: str) -> list[str]:
    return re.findall(r'class="task-link" href="[^"]*"[^>]*>([^<]+)</a>', html)


def next_link(html: str) -> str:
    found = re.search(r'class="load-more" href="([^"]+)"', html)
    return found.group(1).replace("&amp;", "&") if found else ""


def cursors(upstream) -> list[str | None]:
    return [r.url.params.get("cursor") for r in upstream.listing_requests]


def test_a_page_filled_on_the_last_row_of_an_upstream_page_resumes_on_the_next_page(scripted):
    client, upstream = scripted(chain(["succeeded", "failed", "failed"], ["failed", "succeeded"]))
    html = client.get(TASKS_URL + "?status=failed&limit=2").get_data(as_text=True)
    assert rows(html) == ["task-1", "task-2"]
    html = client.get(next_link(html)).get_data(as_text=True)
    assert rows(html) == ["task-3"]
    assert "End of the list · 3 tasks" in html and not next_link(html)
    # The second request starts at the next upstream page: nothing read twice.
    assert cursors(upstream) == [None, "UEFHR1"]


def test_a_page_filled_mid_page_resumes_on_the_next_row_of_the_same_upstream_page(scripted):
    # Cache off: the test pins every upstream call, and a cache would answer repeats itself.
    client, upstream = scripted(
        chain(["failed", "succeeded", "failed", "failed"]), WEBAPP_CACHE_TTL="0"
    )
    html = client.get(TASKS_URL + "?status=failed&limit=1").get_data(as_text=True)
    seen = rows(html)
    while next_link(html):
        html = client.get(next_link(html)).get_data(as_text=True)
        seen += rows(html)
    assert seen == ["task-0", "task-2", "task-3"]
    assert cursors(upstream) == [None, None, None]  # all from the one upstream page


def test_a_page_filled_on_the_very_last_row_offers_no_load_more(scripted):
    client, upstream = scripted(chain(["succeeded"], ["succeeded", "failed"]))
    html = client.get(TASKS_URL + "?status=failed&limit=1").get_data(as_text=True)
    assert rows(html) == ["task-2"]
    assert not next_link(html) and "End of the list" in html


def test_the_budget_stops_between_upstream_pages_and_the_next_page_starts_there(scripted):
    client, upstream = scripted(
        chain(["succeeded"] * 2, ["succeeded"] * 2, ["failed", "succeeded"]),
        WEBAPP_SCAN_BUDGET="2",
    )
    html = client.get(TASKS_URL + "?status=failed").get_data(as_text=True)
    assert rows(html) == []
    assert "No failed tasks among the first 4 scanned yet." in html
    assert "Scanned 4 of 6 tasks" in html
    html = client.get(next_link(html)).get_data(as_text=True)
    assert rows(html) == ["task-4"] and "End of the list" in html
    assert cursors(upstream) == [None, "UEFHR1", "UEFHR2"]


def test_empty_upstream_pages_are_walked_through(scripted):
    client, upstream = scripted(chain([], [], ["failed"], []), WEBAPP_SCAN_BUDGET="2")
    html = client.get(TASKS_URL + "?status=failed").get_data(as_text=True)
    assert rows(html) == [] and "Scanned 0 of 1 task;" in html
    html = client.get(next_link(html)).get_data(as_text=True)
    assert rows(html) == ["task-0"] and "End of the list" in html
    assert cursors(upstream) == [None, "UEFHR1", "UEFHR2", "UEFHR3"]


def test_a_budget_spent_exactly_at_the_end_of_the_chain_is_the_end(scripted):
    client, upstream = scripted(chain(["succeeded"], ["failed"]), WEBAPP_SCAN_BUDGET="2")
    html = client.get(TASKS_URL + "?status=failed").get_data(as_text=True)
    assert rows(html) == ["task-1"]
    assert "Scanned" not in html and not next_link(html) and "End of the list" in html


def test_a_page_filled_on_the_last_call_of_the_budget_is_a_full_page_not_a_pause(scripted):
    client, upstream = scripted(chain(["failed"], ["failed"]), WEBAPP_SCAN_BUDGET="1")
    html = client.get(TASKS_URL + "?status=failed&limit=1").get_data(as_text=True)
    assert rows(html) == ["task-0"] and "Scanned" not in html
    assert rows(client.get(next_link(html)).get_data(as_text=True)) == ["task-1"]


def test_the_walk_asks_upstream_for_its_largest_pages_in_the_views_order_and_search(scripted):
    client, upstream = scripted(chain(["failed"]))
    client.get(TASKS_URL + "?status=failed&sort=name:desc&q=Task&limit=25")
    params = upstream.listing_requests[0].url.params
    assert (params["limit"], params["sort"], params["q"]) == ("200", "name:desc", "task")
    assert "status" not in params


def test_without_a_task_filter_upstream_is_called_once_as_before(scripted):
    client, upstream = scripted(chain(["failed"], ["succeeded"]))
    client.get(TASKS_URL + "?limit=25")
    assert len(upstream.listing_requests) == 1
    assert upstream.listing_requests[0].url.params["limit"] == "25"


# The app's own cursor: opaque, bound to its view, refused cleanly when altered.


def first_cursor(client) -> str:
    html = client.get(TASKS_URL + "?status=failed&limit=1").get_data(as_text=True)
    return re.search(r"cursor=([^&\"]+)", next_link(html)).group(1)


def test_a_tampered_cursor_restarts_the_list_with_the_expiry_notice(scripted):
    # Cache off: the test pins every upstream call, and a cache would answer repeats itself.
    client, upstream = scripted(chain(["failed", "failed", "failed"]), WEBAPP_CACHE_TTL="0")
    cursor = first_cursor(client)
    forged = CursorSigner("not-the-apps-key", SALT).sign(["UEFHR9", 0, 0, [0] * 7], "whatever")
    for bad in (cursor[:-2] + ("AA" if cursor[-2:] != "AA" else "BB"), forged):
        before = len(upstream.listing_requests)
        response = client.get(f"{TASKS_URL}?status=failed&limit=1&cursor={bad}&shown=1")
        html = response.get_data(as_text=True)
        assert response.status_code == 200
        assert CURSOR_EXPIRED in html and rows(html) == ["task-0"]
        # Nothing of the altered cursor reached upstream: the walk restarted from the top.
        assert cursors(upstream)[before:] == [None]


def test_a_cursor_of_another_filter_or_order_restarts_the_list(scripted):
    client, _ = scripted(chain(["failed", "cancelled", "failed"]))
    cursor = first_cursor(client)
    for other in ("status=cancelled&limit=1", "status=failed&limit=1&sort=name:asc"):
        html = client.get(f"{TASKS_URL}?{other}&cursor={cursor}&shown=1").get_data(as_text=True)
        assert CURSOR_EXPIRED in html


def test_a_cursor_signed_before_a_restart_with_another_key_restarts_the_list(scripted):
    client, _ = scripted(chain(["failed", "failed"]), WEBAPP_SECRET_KEY="key-one")
    cursor = first_cursor(client)
    again, _ = scripted(chain(["failed", "failed"]), WEBAPP_SECRET_KEY="key-two")
    html = again.get(f"{TASKS_URL}?status=failed&limit=1&cursor={cursor}").get_data(as_text=True)
    assert CURSOR_EXPIRED in html


def test_the_same_key_resumes_across_app_instances(scripted):
    client, _ = scripted(chain(["failed", "failed"]), WEBAPP_SECRET_KEY="key-one")
    cursor = first_cursor(client)
    again, _ = scripted(chain(["failed", "failed"]), WEBAPP_SECRET_KEY="key-one")
    html = again.get(f"{TASKS_URL}?status=failed&limit=1&cursor={cursor}").get_data(as_text=True)
    assert CURSOR_EXPIRED not in html and rows(html) == ["task-1"]


def test_the_apps_cursor_without_its_filter_goes_upstream_and_restarts_there(client):
    html = client.get(BIG_URL + "?status=failed&limit=5").get_data(as_text=True)
    cursor = re.search(r"cursor=([^&\"]+)", next_link(html)).group(1)
    html = client.get(f"{BIG_URL}?cursor={cursor}").get_data(as_text=True)
    assert CURSOR_EXPIRED in html


def test_the_cursor_does_not_show_its_position_in_the_clear(scripted):
    client, _ = scripted(chain(["failed", "failed"]))
    cursor = first_cursor(client)
    assert "UEFHR" not in cursor and "scanned" not in cursor

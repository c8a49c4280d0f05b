"""The status filter in the URL and on the page: parsing, canonical links, chips, counts."""

from __future__ import annotations

import re

import httpx
import msgspec
import pytest
from werkzeug.datastructures import MultiDict

from webapp.blaxel import TASK_STATUSES, Condition, Task
from webapp.common.config import ConfigError, Settings
from webapp.common.errors import QueryError
from webapp.listing.query import EXECUTIONS, JOBS, TASKS, ListQuery

from .conftest import EXECUTION, task_json, task_page

TASKS_URL = "/jobs/nightly/executions/exec-1/tasks"
HTMX = {"HX-Request": "true"}


def parse(pairs, spec=TASKS) -> ListQuery:
    return ListQuery.parse(MultiDict(pairs), spec)


def ok(body):
    return lambda request: httpx.Response(200, json=body)


@pytest.mark.parametrize(
    "pairs",
    [
        [("status", "cancelled,failed")],
        [("status", "failed"), ("status", "cancelled")],  # a plain form's checkboxes
        [("status", " Failed , CANCELLED ,, failed")],
        [("status", "cancelled"), ("status", "failed,cancelled")],
    ],
)
def test_statuses_in_comma_or_repeated_form_become_one_canonical_order(pairs):
    query = parse(pairs)
    assert query.statuses == ("failed", "cancelled")
    assert query.url_args() == {"status": "failed,cancelled"}


def test_no_status_or_an_empty_one_is_no_filter():
    assert parse([]).statuses == () and parse([("status", "")]).statuses == ()
    assert "status" not in parse([("status", " , ")]).url_args()


def test_every_status_at_once_is_the_same_view_as_none():
    query = parse([("status", ",".join(TASK_STATUSES))])
    assert query.statuses == () and query.url_args() == {}


def test_an_unknown_status_is_refused_naming_the_allowed_values():
    with pytest.raises(QueryError) as refused:
        parse([("status", "failed,broken")])
    assert "“broken”" in str(refused.value)
    assert ", ".join(TASK_STATUSES) in str(refused.value)


def test_the_jobs_listing_cannot_filter_by_status():
    with pytest.raises(QueryError, match="cannot be filtered by status"):
        parse([("status", "failed")], JOBS)


def test_executions_filter_by_their_own_statuses():
    assert parse([("status", "timeout,failed")], EXECUTIONS).statuses == ("failed", "timeout")
    with pytest.raises(QueryError, match="“retried”"):
        parse([("status", "retried")], EXECUTIONS)


def test_the_filter_is_kept_on_later_pages_and_dropped_from_nothing_else():
    query = parse([("status", "failed"), ("sort", "name:asc"), ("q", "abc"), ("limit", "25")])
    later = query.next_page("CURSOR", 25)
    assert later.url_args() == {
        "sort": "name:asc",
        "q": "abc",
        "status": "failed",
        "limit": 25,
        "cursor": "CURSOR",
        "shown": 25,
    }
    assert later.first_page().statuses == ("failed",)
    assert later.view_args() == {"sort": "name:asc", "q": "abc", "status": "failed"}


def test_the_task_filter_is_never_sent_upstream():
    assert "status" not in parse([("status", "failed")]).page_request().params()


def test_a_status_on_the_jobs_page_is_a_400_page(scripted):
    client, upstream = scripted(ok(task_page([])))
    response = client.get("/?status=failed")
    assert response.status_code == 400
    assert "cannot be filtered by status" in response.get_data(as_text=True)
    assert upstream.requests == []


def test_a_plain_form_submission_gets_links_in_the_comma_form(scripted):
    def pages(request):
        index = len(request.url.params.get("cursor", ""))
        page = task_page([task_json(index, "cancelled")], "Q" * (index + 1), total=5000)
        return httpx.Response(200, json=page)

    client, _ = scripted(pages)
    html = client.get(TASKS_URL + "?q=&sort=name:asc&status=failed&status=cancelled").get_data(
        as_text=True
    )
    link = re.search(r'class="load-more" href="([^"]+)"', html).group(1)
    assert link.startswith(TASKS_URL + "?sort=name:asc&amp;status=failed,cancelled&amp;cursor=")


def test_changing_the_chips_with_htmx_pushes_the_canonical_url(scripted):
    client, _ = scripted(ok(task_page([task_json(0, "failed")])))
    response = client.get(
        TASKS_URL + "?q=&status=cancelled&status=failed&limit=50&changed=1",
        headers=HTMX,
    )
    assert response.headers["HX-Push-Url"] == TASKS_URL + "?status=failed,cancelled"


def test_the_chips_are_checkboxes_in_the_controls_form_and_reflect_the_view(scripted):
    client, _ = scripted(ok(task_page([task_json(0, "failed")])))
    html = client.get(TASKS_URL + "?status=failed").get_data(as_text=True)
    start = html.index('<form id="listing-controls"')
    form = html[start : html.index("</form>", start)]
    assert "change from:#status-filter" in form
    for status in TASK_STATUSES:
        checked = " checked" if status == "failed" else ""
        assert f'<input type="checkbox" name="status" value="{status}"{checked}>' in form


def test_status_counts_come_from_the_execution_stats_and_link_to_that_filter(scripted):
    client, _ = scripted(ok(task_page([task_json(0)])))
    html = client.get(TASKS_URL + "?sort=name:asc&q=task").get_data(as_text=True)
    stats = EXECUTION["stats"]
    for status, count in (("succeeded", "success"), ("failed", "failure")):
        href = f"{TASKS_URL}?sort=name:asc&amp;q=task&amp;status={status}"
        assert f'<a class="chip-count" href="{href}"' in html
        assert f">{stats[count]}</a>" in html
    assert '<span class="chip-count none">0</span>' in html  # no tasks running: no link


def test_tasks_in_no_counted_state_get_one_count_linking_to_those_statuses(scripted):
    stats = {"total": 40, "success": 5, "failure": 1, "running": 3, "cancelled": 1}
    execution = {**EXECUTION, "stats": stats}
    client, _ = scripted(
        ok(task_page([task_json(0)])), execution=lambda r: httpx.Response(200, json=execution)
    )
    html = client.get(TASKS_URL).get_data(as_text=True)
    href = f"{TASKS_URL}?status=unspecified,pending,reconciling"
    assert f'<a class="chip-count other" href="{href}"' in html
    assert ">30 unspecified, pending, reconciling</a>" in html


def test_an_execution_without_stats_shows_chips_without_counts(scripted):
    execution = {**EXECUTION, "stats": None}
    client, _ = scripted(
        ok(task_page([task_json(0)])), execution=lambda r: httpx.Response(200, json=execution)
    )
    html = client.get(TASKS_URL).get_data(as_text=True)
    assert 'name="status" value="failed"' in html and "chip-count" not in html


def two_pages(tasks):
    """Blaxel's pages of 200 over `tasks` (400 of them), the second behind one cursor."""

    def answer(request):
        second = request.url.params.get("cursor") == "UEFHRTI"
        page = tasks[200:] if second else tasks[:200]
        return httpx.Response(200, json=task_page(page, "" if second else "UEFHRTI", 400))

    return answer


def chip_count(html: str, status: str) -> str:
    slot = re.search(rf'<span id="count-slot-{status}" class="count-slot">(.*?)</span>', html)
    return re.sub(r"<[^>]*>", "", slot.group(1))


def test_without_stats_a_filtered_walk_counts_the_statuses_it_has_read(scripted):
    """Counts come from the walk, carried across pages in the app's cursor."""
    execution = {**EXECUTION, "stats": None}
    statuses = ["failed", "succeeded", "succeeded", "running"] * 100  # 400 tasks, 2 pages
    tasks = [task_json(i, status) for i, status in enumerate(statuses)]

    client, _ = scripted(two_pages(tasks), execution=lambda r: httpx.Response(200, json=execution))
    first = client.get(TASKS_URL + "?status=failed&limit=75").get_data(as_text=True)
    assert "counts among the 297 tasks scanned so far" in first
    assert [chip_count(first, s) for s in ("failed", "succeeded", "running")] == ["75", "148", "74"]
    next_url = re.search(r'class="load-more" href="([^"]+)"', first).group(1).replace("&amp;", "&")
    last = client.get(next_url).get_data(as_text=True)
    assert "counts among the 400 tasks scanned:" in last
    assert [chip_count(last, s) for s in ("failed", "succeeded", "running")] == [
        "100",
        "200",
        "100",
    ]
    assert chip_count(last, "pending") == "0"


def test_the_jobs_page_offers_no_status_filter_and_executions_no_download(client):
    assert 'id="status-filter"' not in client.get("/").get_data(as_text=True)
    html = client.get("/jobs/invoice-ocr/executions").get_data(as_text=True)
    assert 'value="timeout"' in html and "Download CSV" not in html


def test_a_filtered_view_says_so_and_offers_every_status_back(scripted):
    client, _ = scripted(ok(task_page([task_json(0, "failed")])))
    html = client.get(TASKS_URL + "?status=failed,cancelled&sort=name:asc").get_data(as_text=True)
    assert "1 matching task loaded, of 1 task in this execution" in html
    assert "Only failed, cancelled tasks." in html
    assert f'<a href="{TASKS_URL}?sort=name:asc">Show every status</a>' in html


def test_a_filter_matching_nothing_says_so(scripted):
    client, _ = scripted(ok(task_page([task_json(0, "succeeded")])))
    html = client.get(TASKS_URL + "?status=failed&q=task").get_data(as_text=True)
    assert "No failed tasks with “task” in their name." in html


def finished(status: str = "failed", **stats: int) -> dict:
    return {**EXECUTION, "status": status, "stats": {**EXECUTION["stats"], **stats}}


@pytest.mark.parametrize("headers", [{}, HTMX], ids=["page", "htmx-rows"])
@pytest.mark.parametrize(
    "statuses", ["running", "pending", "running,reconciling,unspecified"], ids=str
)
def test_a_status_whose_count_is_0_on_a_finished_execution_answers_without_a_walk(
    scripted, headers, statuses
):
    # EXECUTION has finished: 7 succeeded, 2 failed, 0 running, 1 cancelled of 10, none other.
    client, upstream = scripted(ok(task_page([task_json(0, "running")])), execution=ok(EXECUTION))
    response = client.get(f"{TASKS_URL}?status={statuses}", headers=headers)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert upstream.listing_requests == []  # no ListJobExecutionTasks at all
    assert "the execution has finished, and its counts say none." in html
    assert 'class="task ' not in html


@pytest.mark.parametrize(
    ("execution", "statuses"),
    [
        (finished("running", running=0), "running"),  # still running: counts move
        (finished(running=0), "failed,running"),  # 2 failed: a walk finds them
        (finished(success=6), "pending"),  # one task in none of the counted states
        (finished(total=0, success=0, failure=0, cancelled=0), "running"),  # no stats to trust
    ],
    ids=["unfinished", "one-status-counted", "other-counted", "no-stats"],
)
def test_counts_that_do_not_settle_it_leave_the_walk_to_look(scripted, execution, statuses):
    client, upstream = scripted(ok(task_page([task_json(0, "pending")])), execution=ok(execution))
    html = client.get(f"{TASKS_URL}?status={statuses}", headers=HTMX).get_data(as_text=True)
    assert len(upstream.listing_requests) == 1
    assert "its counts say none" not in html


def test_download_links_carry_the_views_order_search_and_filter_but_not_its_position(scripted):
    client, _ = scripted(ok(task_page([task_json(0, "failed")])))
    html = client.get(
        TASKS_URL + "?status=failed&sort=name:asc&q=task&limit=25&cursor=Q1VS&shown=25&refresh=30"
    ).get_data(as_text=True)
    for fmt in ("csv", "json"):
        href = f"{TASKS_URL}.{fmt}?sort=name:asc&amp;q=task&amp;status=failed"
        assert f'<a href="{href}" download' in html
    assert ">Download CSV</a>" in html and ">Download JSON</a>" in html


def test_htmx_fragments_refresh_the_download_links_with_the_view(scripted):
    client, _ = scripted(ok(task_page([task_json(0, "failed")])))
    html = client.get(TASKS_URL + "?status=failed&changed=1", headers=HTMX).get_data(as_text=True)
    assert 'hx-swap-oob="true"' in html and f"{TASKS_URL}.csv?status=failed" in html


# Failure detail: the row shows the condition that explains the task, all are listed.


def condition(severity: str, reason: str, text: str = "") -> dict:
    return {"type": "T", "state": "True", "severity": severity, "reason": reason, "message": text}


def test_a_failed_row_shows_its_error_even_when_a_later_condition_is_not_one(scripted):
    task = task_json(0, "failed")
    task["conditions"] = [
        condition("Error", "FirstError", "exit code 1"),
        condition("Error", "BackoffLimitExceeded", "exit code 137"),
        condition("Info", "Cleanup", "pod removed"),
    ]
    client, _ = scripted(ok(task_page([task])))
    html = client.get(TASKS_URL + "?status=failed").get_data(as_text=True)
    summary = re.search(r'<span class="condition-summary is-error">(.+?)</span>', html)
    assert summary.group(1) == "<bdi>BackoffLimitExceeded</bdi>: <bdi>exit code 137</bdi>"
    assert "(3)" in html
    conditions_url = re.search(
        r'class="condition-list" data-conditions><a href="([^"]+)"', html
    ).group(1)
    disclosure = client.get(conditions_url, headers=HTMX).get_data(as_text=True)
    for reason in ("FirstError", "BackoffLimitExceeded", "Cleanup"):
        assert f"<dt>Reason</dt><dd>{reason}</dd>" in disclosure


def test_without_errors_the_latest_condition_explains_the_task():
    task = msgspec.convert(
        {**task_json(0), "conditions": [condition("Info", "A"), condition("Warning", "B")]}, Task
    )
    assert task.key_condition == Condition("T", "True", "Warning", "B", "", "")


# Configuration of the scan budget.


def test_the_scan_budget_defaults_to_ten_calls_and_is_configurable():
    assert Settings.load({}).scan_budget == 10
    assert Settings.load({"WEBAPP_SCAN_BUDGET": "25"}).scan_budget == 25


@pytest.mark.parametrize("value", ["0", "-1", "ten", "1001", "²"])
def test_a_scan_budget_outside_1_to_1000_stops_start_up(value):
    with pytest.raises(ConfigError, match="WEBAPP_SCAN_BUDGET"):
        Settings.load({"WEBAPP_SCAN_BUDGET": value})


SUMMARY_URL = "/jobs/nightly/executions/exec-1/summary"


def running(stats):
    body = {**EXECUTION, "status": "running", "stats": stats}
    return lambda request: httpx.Response(200, json=body)


def test_the_summary_poll_sends_the_controls_form_so_its_counts_can_follow_the_view(scripted):
    client, _ = scripted(ok(task_page([task_json(0)])), execution=running(EXECUTION["stats"]))
    html = client.get(TASKS_URL).get_data(as_text=True)
    summary = html[html.index('<section id="execution-summary"') : html.index("</section>")]
    assert 'hx-include="#listing-controls, #summary-context"' in summary
    assert "hx-swap-oob" not in summary  # on the page itself the chips are in the form


def test_each_summary_poll_refills_the_chip_counts_from_the_fresh_stats(scripted):
    stats = {"total": 40, "success": 25, "failure": 4, "running": 6, "cancelled": 0}
    client, _ = scripted(ok(task_page([])), execution=running(stats))
    poll = client.get(SUMMARY_URL + "?q=task&sort=name:asc&status=failed", headers=HTMX)
    html = poll.get_data(as_text=True)
    assert "25 succeeded · 4 failed · 6 running · 40 total" in html
    for status in TASK_STATUSES:
        assert f'<span id="count-slot-{status}" class="count-slot" hx-swap-oob="true">' in html
    assert [chip_count(html.replace(' hx-swap-oob="true"', ""), s) for s in TASK_STATUSES] == [
        "",
        "",
        "",
        "6",
        "25",
        "4",
        "0",
    ]
    # The links keep the search and sort the poll was sent with, as the page's own links do.
    assert f'href="{TASKS_URL}?sort=name:asc&amp;q=task&amp;status=running"' in html
    other = (
        f'href="{TASKS_URL}?sort=name:asc&amp;q=task&amp;status=unspecified,pending,reconciling"'
    )
    assert other in html and ">5 unspecified, pending, reconciling</a>" in html


def test_a_summary_poll_with_a_refused_search_still_refills_the_counts(scripted):
    client, _ = scripted(ok(task_page([])), execution=running(EXECUTION["stats"]))
    poll = client.get(SUMMARY_URL + "?q=%01bad", headers=HTMX)
    assert poll.status_code == 200
    assert f'href="{TASKS_URL}?status=succeeded"' in poll.get_data(as_text=True)


def test_without_stats_the_summary_poll_leaves_the_walks_counts_alone(scripted):
    client, _ = scripted(ok(task_page([])), execution=running(None))
    html = client.get(SUMMARY_URL + "?status=failed", headers=HTMX).get_data(as_text=True)
    assert '<section id="execution-summary"' in html and "count-slot" not in html


def test_rows_answering_the_controls_refill_the_counts_with_links_for_the_new_view(scripted):
    client, upstream = scripted(ok(task_page([task_json(0)])))
    html = client.get(TASKS_URL + "?q=task&sort=name:asc&changed=1", headers=HTMX).get_data(
        as_text=True
    )
    assert '<span id="count-slot-failed" class="count-slot" hx-swap-oob="true">' in html
    assert f'href="{TASKS_URL}?sort=name:asc&amp;q=task&amp;status=failed"' in html
    # The rows and the counts' execution, asked side by side.
    assert sorted(r.url.path for r in upstream.requests) == [
        "/v0" + TASKS_URL[:-6],
        "/v0" + TASKS_URL,
    ]


def test_rows_answering_the_controls_still_come_when_the_execution_does_not(scripted):
    failing = lambda request: httpx.Response(503, content=b"")  # noqa: E731
    client, _ = scripted(ok(task_page([task_json(0)])), execution=failing)
    response = client.get(TASKS_URL + "?q=task&changed=1", headers=HTMX)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert re.search(r'class="task-link" href="[^"]+">task-0</a>', html)
    assert "count-slot" not in html


def test_loading_more_of_a_walk_refills_the_counts_it_has_read_so_far(scripted):
    execution = {**EXECUTION, "stats": None}
    tasks = [task_json(i, ("failed", "succeeded")[i % 2]) for i in range(400)]

    client, _ = scripted(two_pages(tasks), execution=lambda r: httpx.Response(200, json=execution))
    first = client.get(TASKS_URL + "?status=failed&limit=150").get_data(as_text=True)
    assert [chip_count(first, s) for s in ("failed", "succeeded")] == ["150", "149"]
    next_url = re.search(r'class="load-more" href="([^"]+)"', first).group(1).replace("&amp;", "&")
    more = (
        client.get(next_url, headers=HTMX).get_data(as_text=True).replace(' hx-swap-oob="true"', "")
    )
    assert [chip_count(more, s) for s in ("failed", "succeeded")] == ["200", "200"]
    assert "counts among the 400 tasks scanned:" in more


def test_loading_more_of_an_unfiltered_list_leaves_the_counts_alone(scripted):
    client, upstream = scripted(ok(task_page([task_json(0)], "UEFHRTI")))
    html = client.get(TASKS_URL + "?cursor=UEFHRTI&shown=50", headers=HTMX).get_data(as_text=True)
    assert "count-slot" not in html
    assert len(upstream.requests) == 1

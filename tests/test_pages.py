"""Pages and fragments on a scripted upstream: statuses, error pages, cursors, headers, token."""

from __future__ import annotations

import logging
import re

import httpx
import pytest

from webapp.listing.page import CURSOR_EXPIRED

from .conftest import TOKEN, task_json, task_page

TASKS_URL = "/jobs/nightly/executions/exec-1/tasks"
HTMX = {"HX-Request": "true"}


def ok(body):
    return lambda request: httpx.Response(200, json=body)


def test_full_page_lists_tasks_with_status_times_and_conditions(scripted):
    task = task_json(0, "failed")
    task["conditions"] = [
        {
            "type": "Running",
            "state": "True",
            "severity": "Info",
            "reason": "Started",
            "message": "on node a",
        },
        {
            "type": "Failed",
            "state": "True",
            "severity": "Error",
            "reason": "BackoffLimitExceeded",
            "message": "exit code 137",
            "executionReason": "OOMKilled",
        },
    ]
    client, _ = scripted(ok(task_page([task], total=5000)))
    html = client.get(TASKS_URL).get_data(as_text=True)
    assert re.search(r'class="task-link" href="[^"]+">task-0</a>', html)
    assert 'class="badge badge-failed"' in html
    assert (
        '<time datetime="2026-11-28T08:00:05Z" title="2026-11-28 08:00:05 UTC">1h ago</time>'
        in html
    )
    assert "2 min 55 s" in html
    # The error condition summarised, each field isolated from the other
    assert "<bdi>BackoffLimitExceeded</bdi>: <bdi>exit code 137" in html
    # Every condition is in the disclosure, fetched when it opens (a link without JavaScript).
    task_url = TASKS_URL + "/task-0"
    assert (
        f'<div class="condition-list" data-conditions><a href="{task_url}?at=50:0:">'
        "2 conditions of task-0</a></div>"
    ) in html
    disclosure = client.get(task_url, headers=HTMX).get_data(as_text=True)
    assert disclosure.lstrip().startswith('<ol class="condition-list" reversed')
    assert "OOMKilled" in disclosure and "on node a" in disclosure
    assert "5,000 tasks in this execution" in html
    assert 'aria-label="Breadcrumb"' in html


def test_total_is_worded_as_ignoring_the_search(scripted):
    client, _ = scripted(ok(task_page([task_json(1)], total=320)))
    html = client.get(TASKS_URL + "?q=task-1").get_data(as_text=True)
    assert "1 matching task loaded, of 320 tasks in this execution" in html


def test_empty_state_says_nothing_matches_and_offers_to_clear(scripted):
    client, _ = scripted(ok(task_page([], total=4)))
    html = client.get(TASKS_URL + "?q=zzz").get_data(as_text=True)
    assert "No tasks have “zzz” in their name." in html
    assert f'<a href="{TASKS_URL}">Clear the search</a>' in html


def test_short_search_is_explained(scripted):
    client, upstream = scripted(ok(task_page([task_json(0)])))
    html = client.get(TASKS_URL + "?q=t").get_data(as_text=True)
    assert "Type at least 2 characters to search" in html
    assert "q" not in upstream.listing_requests[0].url.params


def test_load_more_is_a_plain_link_to_the_next_page_with_htmx_enhancement(scripted):
    client, _ = scripted(ok(task_page([task_json(0), task_json(1)], next_cursor="Q1VSU09S")))
    html = client.get(TASKS_URL + "?sort=name:asc").get_data(as_text=True)
    link = f"{TASKS_URL}?sort=name:asc&amp;cursor=Q1VSU09S&amp;shown=2"
    assert f'href="{link}" hx-get="{link}"' in html


def test_a_later_page_as_a_full_page_links_back_to_the_first(scripted):
    client, upstream = scripted(ok(task_page([task_json(2)], total=3)))
    html = client.get(TASKS_URL + "?sort=name:asc&cursor=Q1VSU09S&shown=2").get_data(as_text=True)
    assert upstream.listing_requests[0].url.params["cursor"] == "Q1VSU09S"
    assert "Showing task 3, of 3 tasks in this execution" in html
    assert f'<a href="{TASKS_URL}?sort=name:asc">Back to the first page</a>' in html


def test_last_page_ends_with_an_end_marker_instead_of_load_more(scripted):
    client, _ = scripted(ok(task_page([task_json(0)])))
    html = client.get(TASKS_URL).get_data(as_text=True)
    assert "End of the list" in html and "Load more" not in html


def test_htmx_request_gets_rows_only_with_counts_out_of_band(scripted):
    client, _ = scripted(ok(task_page([task_json(3)], next_cursor="TkVYVA", total=9)))
    response = client.get(TASKS_URL + "?cursor=Q1VSU09S&shown=2", headers=HTMX)
    html = response.get_data(as_text=True)
    assert html.lstrip().startswith("<tr")
    assert "<html" not in html and "<body" not in html
    assert 'hx-swap-oob="true"' in html and "3 tasks loaded" in html
    assert "HX-Push-Url" not in response.headers  # loading more does not change the view's URL


def test_htmx_search_pushes_the_canonical_url(scripted):
    client, _ = scripted(ok(task_page([task_json(3)])))
    response = client.get(
        TASKS_URL + "?q=+task-3+&sort=createdAt:desc&limit=50&changed=1",
        headers=HTMX,
    )
    assert response.headers["HX-Push-Url"] == TASKS_URL + "?q=task-3"


def test_refreshing_rows_does_not_push_a_history_entry(scripted):
    client, _ = scripted(ok(task_page([task_json(3)])))
    response = client.get(TASKS_URL + "?refresh=10", headers=HTMX)
    assert response.status_code == 200
    assert "HX-Push-Url" not in response.headers


def test_refresh_parameter_turns_on_wall_screen_refresh_and_is_kept_in_links(scripted):
    client, _ = scripted(ok(task_page([task_json(0)], next_cursor="TkVYVA")))
    html = client.get(TASKS_URL + "?refresh=30").get_data(as_text=True)
    assert 'hx-trigger="every 30s"' in html
    assert '<input type="hidden" name="refresh" value="30">' in html
    assert "?refresh=30&amp;cursor=TkVYVA&amp;shown=1" in html
    assert f'<a href="{TASKS_URL}">stop</a>' in html


@pytest.mark.parametrize("value", ["1", "4", "3601", "soon"])
def test_refresh_outside_5_to_3600_seconds_is_refused(scripted, value):
    client, upstream = scripted(ok(task_page([])))
    assert client.get(f"{TASKS_URL}?refresh={value}").status_code == 400
    assert upstream.requests == []


def test_execution_summary_shows_status_progress_and_facts(scripted):
    client, _ = scripted(ok(task_page([task_json(0)])))
    html = client.get(TASKS_URL).get_data(as_text=True)
    assert 'id="execution-summary"' in html
    assert "7 succeeded · 2 failed · 0 running · 1 cancelled · 10 total · 3 retried" in html
    assert "Parallelism</dt><dd>8" in html and "Timeout</dt><dd>1 h</dd>" in html
    assert "Duration</dt><dd>30 min</dd>" in html
    assert "every 5s" not in html  # a finished execution does not poll


def running_execution(request):
    from .conftest import EXECUTION

    return httpx.Response(200, json={**EXECUTION, "status": "running"})


def test_an_unfinished_execution_summary_polls_itself(scripted):
    client, _ = scripted(ok(task_page([task_json(0)])), execution=running_execution)
    html = client.get(TASKS_URL).get_data(as_text=True)
    assert 'hx-get="/jobs/nightly/executions/exec-1/summary"' in html
    assert 'hx-trigger="every 5s"' in html and "data-poll" in html
    fragment = client.get("/jobs/nightly/executions/exec-1/summary", headers=HTMX)
    assert fragment.get_data(as_text=True).lstrip().startswith('<section id="execution-summary"')


def test_the_summary_fragment_stops_polling_once_final(scripted):
    client, _ = scripted(ok(task_page([])))
    fragment = client.get("/jobs/nightly/executions/exec-1/summary", headers=HTMX)
    assert "hx-trigger" not in fragment.get_data(as_text=True)


def test_a_failed_summary_poll_keeps_the_summary_and_says_updates_paused(scripted):
    failing = lambda request: httpx.Response(503, content=b"")  # noqa: E731
    client, _ = scripted(ok(task_page([])), execution=failing)
    response = client.get("/jobs/nightly/executions/exec-1/summary", headers=HTMX)
    html = response.get_data(as_text=True)
    assert response.status_code == 502
    assert response.headers["HX-Reswap"] == "none"
    assert '<p id="summary-note"' in html and 'hx-swap-oob="true"' in html
    assert "Live updates paused (Blaxel is not answering properly)." in html


def test_the_summary_url_opened_directly_leads_to_the_task_list(scripted):
    client, _ = scripted(ok(task_page([])))
    response = client.get("/jobs/nightly/executions/exec-1/summary")
    assert response.status_code == 302 and response.headers["Location"] == TASKS_URL


def test_task_fragments_do_not_fetch_the_summary(scripted):
    client, upstream = scripted(ok(task_page([task_json(0)])))
    client.get(TASKS_URL, headers=HTMX)
    assert [r.url.path for r in upstream.requests] == ["/v0" + TASKS_URL]


def test_responses_vary_on_the_htmx_header_and_are_private(scripted):
    client, _ = scripted(ok(task_page([task_json(0)])))
    response = client.get(TASKS_URL)
    assert "HX-Request" in response.vary
    assert "private" in response.headers["Cache-Control"]


@pytest.mark.parametrize(
    "query",
    [
        "sort=bogus",
        "limit=0",
        "limit=201",
        "limit=ten",
        "q=" + "x" * 201,
        "cursor=%3Cscript%3E",
        "shown=-1",
    ],
)
def test_bad_input_gets_a_400_page_and_no_upstream_call(scripted, query):
    client, upstream = scripted(ok(task_page([])))
    response = client.get(f"{TASKS_URL}?{query}")
    assert response.status_code == 400
    assert "That link has a problem" in response.get_data(as_text=True)
    assert upstream.requests == []


def test_bad_input_in_an_htmx_search_gets_an_error_row(scripted):
    client, upstream = scripted(ok(task_page([])))
    response = client.get(f"{TASKS_URL}?q={'x' * 201}", headers=HTMX)
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert html.lstrip().startswith('<tr class="error-row">') and "at most 200" in html
    assert upstream.requests == []


@pytest.mark.parametrize(
    ("upstream_status", "page_status", "headline", "retry"),
    [
        (404, 404, "Not found", False),
        (401, 502, "Blaxel refused this server&#39;s credentials", False),
        (403, 502, "Blaxel refused this server&#39;s credentials", False),
        (500, 502, "Blaxel is not answering properly", True),
        (502, 502, "Blaxel is not answering properly", True),
        (503, 502, "Blaxel is not answering properly", True),
    ],
)
def test_upstream_failures_get_honest_statuses_and_readable_pages(
    scripted, upstream_status, page_status, headline, retry
):
    body = {"error": {"code": "X", "message": "upstream says no", "retryable": False}}
    client, _ = scripted(lambda request: httpx.Response(upstream_status, json=body))
    response = client.get(TASKS_URL)
    html = response.get_data(as_text=True)
    assert response.status_code == page_status
    assert headline in html and "Traceback" not in html
    # Only where asking again may help: not for what is missing or refused for good.
    assert ("Try again" in html) is retry


def way_up(html: str) -> list[tuple[str, str]]:
    nav = html.split('<nav aria-label="Back up">')[1].split("</nav>")[0]
    return re.findall(r'<a href="([^"]+)">([^<]+)</a>', nav)


def test_a_missing_task_offers_its_execution_its_job_and_every_job_but_no_retry(scripted):
    client, _ = scripted(ok(task_page([task_json(120)])))
    html = client.get(TASKS_URL + "/task-12").get_data(as_text=True)
    assert way_up(html) == [
        (TASKS_URL, "Execution exec-1"),
        ("/jobs/nightly/executions", "Job nightly"),
        ("/", "All jobs"),
    ]
    assert "Try again" not in html


def test_a_wrong_link_offers_the_same_page_without_its_settings_and_no_retry(scripted):
    client, upstream = scripted(ok(task_page([])))
    response = client.get(TASKS_URL + "?limit=9999&sort=name:asc")
    html = response.get_data(as_text=True)
    assert response.status_code == 400 and upstream.requests == []
    assert way_up(html) == [
        (TASKS_URL, "This page without the link&#39;s settings"),
        ("/jobs/nightly/executions", "Job nightly"),
        ("/", "All jobs"),
    ]
    assert "Try again" not in html


def test_a_failed_logs_page_offers_its_task_and_a_retry_when_blaxel_failed(scripted):
    client, _ = scripted(lambda request: httpx.Response(503, content=b""))
    html = client.get(TASKS_URL + "/task-0/logs").get_data(as_text=True)
    assert [label for _, label in way_up(html)] == [
        "Task task-0",
        "Execution exec-1",
        "Job nightly",
        "All jobs",
    ]
    assert f'<a class="button" href="{TASKS_URL}/task-0/logs">Try again</a>' in html


def test_a_wrong_link_in_htmx_rows_says_so_without_a_retry_button(scripted):
    client, _ = scripted(ok(task_page([])))
    html = client.get(TASKS_URL + "?limit=0", headers=HTMX).get_data(as_text=True)
    assert html.lstrip().startswith('<tr class="error-row">') and "<button" not in html


def test_rate_limiting_is_a_503_passing_on_retry_after(scripted):
    client, _ = scripted(
        lambda request: httpx.Response(
            429, headers={"Retry-After": "30"}, json={"error": "slow down"}
        )
    )
    response = client.get(TASKS_URL)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "30"


def test_a_timeout_is_a_504(scripted):
    def hang(request):
        raise httpx.ReadTimeout("timed out", request=request)

    client, _ = scripted(hang)
    response = client.get(TASKS_URL)
    assert response.status_code == 504
    assert "Blaxel took too long to answer" in response.get_data(as_text=True)


@pytest.mark.parametrize("content", [b"<html>gateway</html>", b'{"data": 5}', b"\xff\xfe"])
def test_malformed_or_wrong_shaped_json_is_a_502(scripted, content):
    client, _ = scripted(lambda request: httpx.Response(200, content=content))
    response = client.get(TASKS_URL)
    assert response.status_code == 502
    assert "Blaxel sent an answer we could not read" in response.get_data(as_text=True)


def test_an_htmx_failure_is_an_error_row_with_a_retry_button(scripted):
    client, _ = scripted(lambda request: httpx.Response(503, content=b""))
    response = client.get(TASKS_URL + "?cursor=Q1VSU09S&shown=50", headers=HTMX)
    html = response.get_data(as_text=True)
    assert response.status_code == 502
    assert html.lstrip().startswith('<tr class="error-row">')
    assert (
        f'hx-get="{TASKS_URL}?cursor=Q1VSU09S&amp;shown=50"' in html
        and ">Try again</button>" in html
    )


def expiring_cursor(request: httpx.Request) -> httpx.Response:
    if "cursor" in request.url.params:
        return httpx.Response(
            400, json={"error": {"code": "BAD_REQUEST", "message": "cursor expired"}}
        )
    return httpx.Response(200, json=task_page([task_json(0)], next_cursor="RlJFU0g"))


def test_an_expired_cursor_in_a_link_falls_back_to_the_first_page_with_a_notice(scripted):
    client, upstream = scripted(expiring_cursor)
    response = client.get(TASKS_URL + "?sort=name:asc&cursor=T0xE&shown=50")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert CURSOR_EXPIRED in html and "task-0" in html
    assert [dict(r.url.params).get("cursor") for r in upstream.listing_requests] == ["T0xE", None]
    assert upstream.listing_requests[1].url.params["sort"] == "name:asc"


def test_an_expired_cursor_in_load_more_replaces_all_rows(scripted):
    client, _ = scripted(expiring_cursor)
    response = client.get(TASKS_URL + "?cursor=T0xE&shown=50", headers=HTMX)
    assert response.status_code == 200
    assert response.headers["HX-Retarget"] == "#rows"
    assert response.headers["HX-Reswap"] == "innerHTML"
    assert CURSOR_EXPIRED in response.get_data(as_text=True)


def test_unknown_route_is_a_readable_404(scripted):
    client, upstream = scripted(ok(task_page([])))
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert "Not Found" in response.get_data(as_text=True)
    assert upstream.requests == []


def test_the_token_never_reaches_a_response_or_a_log(scripted, caplog):
    caplog.set_level(logging.DEBUG)
    statuses = iter([200, 401, 403, 404, 429, 500])

    def varied(request):
        status = next(statuses)
        body = task_page([task_json(0)]) if status == 200 else {"error": "x", "message": "m"}
        return httpx.Response(status, json=body)

    client, _ = scripted(varied)
    for headers in ({}, HTMX, {}, HTMX, {}, {}):
        response = client.get(TASKS_URL, headers=headers)
        assert TOKEN not in response.get_data(as_text=True)
        assert all(TOKEN not in value for value in response.headers.values())
    assert TOKEN not in caplog.text


def test_a_task_has_a_page_of_its_own_with_every_condition(scripted):
    task = task_json(12, "failed")
    task["conditions"] = [
        {"type": "Failed", "severity": "Error", "reason": "OOM", "message": "exit code 137"}
    ]
    others = [task_json(120), task_json(1200)]
    client, upstream = scripted(ok(task_page([task, *others])))
    response = client.get(TASKS_URL + "/task-12")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert '<span class="task-name">task-12</span>' in html and "exit code 137" in html
    assert f'<a href="{TASKS_URL}">exec-1</a>' in html  # breadcrumbs back to the task list
    params = upstream.listing_requests[0].url.params
    assert (params["q"], params["sort"], params["limit"]) == ("task-12", "name:asc", "200")


def test_a_task_with_an_odd_name_links_to_its_own_page_as_the_router_builds_it(scripted):
    from flask import url_for

    task = task_json(3)
    task["metadata"]["name"] = "naïve run #3 ?50% & more"
    task["conditions"] = [{"type": "Running", "reason": "Started", "message": "on node a"}]
    client, _ = scripted(ok(task_page([task])))
    html = client.get(TASKS_URL, headers=HTMX).get_data(as_text=True)
    with client.application.test_request_context():
        expected = url_for(
            "tasks.task",
            job_id="nightly",
            execution_id="exec-1",
            task_name=task["metadata"]["name"],
        )
    link = re.search(r'class="task-link" href="([^"]+)"', html).group(1).replace("&amp;", "&")
    assert link.startswith(expected + "?at=")
    page = client.get(link)
    assert page.status_code == 200
    assert "naïve run #3 ?50% &amp; more" in page.get_data(as_text=True)


def test_an_unknown_task_is_a_404_page_naming_it(scripted):
    client, _ = scripted(ok(task_page([task_json(120)])))
    response = client.get(TASKS_URL + "/task-12")
    assert response.status_code == 404
    assert "has no task named task-12" in response.get_data(as_text=True)


def test_a_failed_disclosure_load_says_so_with_a_retry_in_place(scripted):
    client, _ = scripted(lambda request: httpx.Response(503, content=b""))
    response = client.get(TASKS_URL + "/task-0", headers=HTMX)
    html = response.get_data(as_text=True)
    assert response.status_code == 502
    assert html.lstrip().startswith('<div class="condition-list condition-error" role="alert">')
    assert f'hx-get="{TASKS_URL}/task-0"' in html and ">Try again</button>" in html

"""The logs view through Flask's test client on a scripted Blaxel: the page, its parameters,
earlier lines, follow polls, failures in the panel, caching, the download, hostile input."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import parse_qs, urlencode

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from webapp.listing.export import INCOMPLETE

from .conftest import TOKEN, FakeClock, app_on
from .logs_upstream import T0, Line, LogsUpstream, steady_lines

LOGS = "/jobs/nightly/executions/exec-1/tasks/task-0/logs"
HTMX = {"HX-Request": "true"}


@pytest.fixture
def clock():
    return FakeClock(T0 + timedelta(seconds=60))


def site(clock, **upstream_options):
    upstream = LogsUpstream(clock, **upstream_options)
    return app_on(upstream, clock=clock).test_client(), upstream


def shown(html: str) -> list[str]:
    return re.findall(r'<span class="msg">([^<]*)</span>', html)


def finished(clock, minutes_ago: float = 10) -> dict:
    """Upstream options for a task that succeeded `minutes_ago`."""
    return {"status": "succeeded", "completed": clock() - timedelta(minutes=minutes_ago)}


def test_the_page_shows_the_tasks_lines_oldest_first_with_the_window_and_counts(clock):
    client, upstream = site(clock)
    response = client.get(LOGS)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert shown(html) == [f"line {n}" for n in range(60) if n not in (52, 59)]  # 12 s late
    assert '<span id="log-total">58</span> lines' in html
    # The window: a minute before the task began, to now and two minutes, whole minutes.
    sent = dict(upstream.log_requests[0].url.params)
    assert (sent["start"], sent["end"]) == ("2026-11-28T07:59:00", "2026-11-28T08:03:00")
    assert "the task&#39;s run and a margin" in html
    assert 'hx-get="/jobs/nightly/executions/exec-1/tasks/task-0/logs/follow?since=' in html


def test_a_finished_tasks_window_ends_two_minutes_after_it_and_nothing_follows(clock):
    client, upstream = site(clock, **finished(clock, 0.25))
    html = client.get(LOGS).get_data(as_text=True)
    sent = dict(upstream.log_requests[0].url.params)
    assert sent["end"] == "2026-11-28T08:03:00"  # completed 08:00:45, plus 2 min, whole minutes
    assert "/logs/follow" in html  # just ended: late lines may still come
    clock.advance(60)
    assert "/logs/follow" not in client.get(LOGS).get_data(as_text=True)


def test_the_newest_page_comes_first_with_earlier_lines_as_a_link_and_a_fragment(clock):
    client, upstream = site(clock)
    html = client.get(LOGS + "?limit=100").get_data(as_text=True)
    clock.advance(240)  # 300 lines printed by now
    html = client.get(LOGS + "?limit=100").get_data(as_text=True)
    assert shown(html)[-1] == "line 299" and len(shown(html)) == 100
    assert "The newest 100 of" in html
    earlier = re.search(r'hx-get="([^"]*/logs/lines\?[^"]*)"', html).group(1).replace("&amp;", "&")
    # The window is frozen in the link, so offsets keep meaning the same lines.
    assert "start=2026-11-28T07:59:00Z" in earlier and "offset=100" in earlier
    fragment = client.get(earlier, headers=HTMX).get_data(as_text=True)
    before = int(shown(html)[0].split()[1]) - 1
    assert shown(fragment)[-1] == f"line {before}" and 'id="log-earlier"' in fragment
    assert "<html" not in fragment
    plain = client.get(earlier)  # without htmx, the link leads to the page
    assert plain.status_code == 302 and "/logs?" in plain.headers["Location"]


def test_the_first_line_is_marked_as_the_start_of_the_window(clock):
    client, _ = site(clock)
    html = client.get(LOGS).get_data(as_text=True)
    assert "Start of the window" in html and 'id="log-earlier"' not in html


def test_severity_and_search_go_upstream_and_into_the_canonical_url(clock):
    client, upstream = site(clock)
    response = client.get(
        LOGS + "?severity=error&severity=WARNING&q=line+1&changed=1",
        headers=HTMX,
    )
    sent = dict(upstream.log_requests[-1].url.params)
    assert (sent["severity"], sent["search"]) == ("ERROR,WARNING", "line 1")
    assert response.headers["HX-Push-Url"] == LOGS + "?severity=ERROR,WARNING&q=line+1"
    assert 'id="log-view"' in response.get_data(as_text=True)


def test_a_severity_number_the_mapping_cannot_place_takes_the_one_severity_asked_for(clock):
    line = Line(T0 + timedelta(seconds=1), "odd number", severity=0)
    answer = {"nightly": {"logs": [line.wire()], "totalCount": 1}}
    client, _ = site(clock, logs_answer=lambda request: httpx.Response(200, json=answer))
    html = client.get(LOGS).get_data(as_text=True)
    assert "sev-unknown" in html.split('class="log-lines"')[1]
    html = client.get(LOGS + "?severity=INFO").get_data(as_text=True)
    assert "sev-info" in html.split('class="log-lines"')[1]


@pytest.mark.parametrize(
    ("query", "problem"),
    [
        ("start=yesterday", "“start” must be a UTC time"),
        ("start=2026-11-28T09:00:00Z&end=2026-11-28T08:00:00Z", "“start” must be before “end”"),
        ("severity=LOUD", "“severity” must be among"),
        ("limit=5000", "“limit” must be a whole number"),
        ("offset=-3", "“offset” must be a whole number"),
        ("q=" + "x" * 201, "at most 200 work"),
        ("q=%00", "control characters"),
        ("tz=mars", "“tz” must be utc or local"),
        ("limit=1&limit=2", "given 2 times"),
        ("start=2030-01-01T00:00:00Z", "ends before it starts"),  # after the task's run
        ("end=2020-01-01T00:00:00Z", "ends before it starts"),
    ],
)
def test_a_bad_parameter_is_a_400_and_asks_no_logs(clock, query, problem):
    client, upstream = site(clock)
    response = client.get(f"{LOGS}?{query}")
    assert response.status_code == 400
    assert problem in response.get_data(as_text=True)
    assert upstream.log_requests == []


def test_a_window_longer_than_3_days_is_narrowed_and_says_so(clock):
    client, upstream = site(clock)
    html = client.get(LOGS + "?start=2026-11-01T00:00:00Z&end=2026-11-28T09:00:00Z").get_data(
        as_text=True
    )
    sent = dict(upstream.log_requests[0].url.params)
    assert (sent["start"], sent["end"]) == ("2026-11-25T09:00:00", "2026-11-28T09:00:00")
    assert "at most 3 days of logs at once" in html


def logs_failing(status: int, body: bytes = b""):
    return lambda request: httpx.Response(status, content=body)


@pytest.mark.parametrize(
    ("answer", "status", "message"),
    [
        (logs_failing(401), 502, "This server&#39;s key may not read logs"),
        (logs_failing(403), 502, "This server&#39;s key may not read logs"),
        (logs_failing(404), 502, "Blaxel has no logs endpoint here"),
        (logs_failing(500), 502, "Blaxel is not answering properly"),
        (logs_failing(200, b'{"nightly": {"logs": 7}}'), 502, "Blaxel sent an answer we could"),
    ],
    ids=["401", "403", "404", "500", "malformed"],
)
def test_a_failing_logs_call_is_said_in_the_panel_and_every_other_page_works(
    clock, answer, status, message
):
    client, _ = site(clock, logs_answer=answer)
    response = client.get(LOGS)
    html = response.get_data(as_text=True)
    assert response.status_code == status
    panel = html.split('id="log-panel"')[1]
    assert message in panel and 'role="alert"' in panel
    assert 'id="log-task"' in html and "running" in html  # the rest of the page is there
    assert "/logs/follow" not in html  # nothing to follow
    for page in (
        "/",
        "/jobs/nightly/executions/exec-1/tasks",
        "/jobs/nightly/executions/exec-1/tasks/task-0",
    ):
        assert client.get(page).status_code == 200


def test_an_empty_window_says_so_and_offers_to_widen_it(clock):
    client, _ = site(clock, lines=lambda now: [], **finished(clock))
    html = client.get(LOGS).get_data(as_text=True)
    assert "No lines in this window" in html and "1 h earlier" in html
    filtered = client.get(LOGS + "?q=nothing").get_data(as_text=True)
    assert "No lines match in this window" in filtered and "Show every line" in filtered


def test_an_unknown_task_is_a_404_before_any_logs_call(clock):
    client, upstream = site(clock)
    response = client.get("/jobs/nightly/executions/exec-1/tasks/task-9/logs")
    assert response.status_code == 404 and "no task named task-9" in response.get_data(as_text=True)
    assert upstream.log_requests == []


def follow_url(html: str) -> str:
    return re.search(r'hx-get="([^"]*/logs/follow\?[^"]*)"', html).group(1).replace("&amp;", "&")


def test_a_follow_poll_reads_from_30_s_back_and_hands_on_the_next_poll(clock):
    client, upstream = site(clock)
    poll = follow_url(client.get(LOGS).get_data(as_text=True))
    assert "since=2026-11-28T08:00:30Z" in poll  # 30 s back from 08:01:00, on a 15 s grain
    clock.advance(15)
    response = client.get(poll, headers=HTMX)
    fragment = response.get_data(as_text=True)
    sent = dict(upstream.log_requests[-1].url.params)
    assert (sent["start"], sent["limit"]) == ("2026-11-28T08:00:30", "1000")
    # Lines from 30 s back, those already shown among them (app.js drops those by key).
    assert shown(fragment) == [f"line {n}" for n in range(30, 75) if n not in (66, 73)]
    assert 'hx-swap-oob="true"' in fragment and "since=2026-11-28T08:00:45Z" in fragment
    assert 'id="log-task"' in fragment  # the task's state, out of band


def test_follow_polls_round_their_own_since_down_to_the_grain_and_share_one_logs_call(clock):
    """A poll's `since` is taken to the 15 s grain on the server: viewers whose browsers sent
    seconds apart (or a hand-made link) ask Blaxel one thing, answered once and then cached."""
    client, upstream = site(clock)
    client.get(LOGS)
    before = len(upstream.log_requests)
    for second in ("31", "37", "44"):
        response = client.get(LOGS + f"/follow?since=2026-11-28T08:00:{second}Z", headers=HTMX)
        assert response.status_code == 200
        assert "line 30" in shown(response.get_data(as_text=True))  # from 08:00:30 on
    polls = upstream.log_requests[before:]
    assert len(polls) == 1
    assert dict(polls[0].url.params)["start"] == "2026-11-28T08:00:30"


def test_following_stops_once_the_task_is_final_and_its_late_lines_are_in(clock):
    client, upstream = site(clock)
    poll = follow_url(client.get(LOGS).get_data(as_text=True))
    upstream.status, upstream.completed = "failed", clock() + timedelta(seconds=5)
    clock.advance(60)
    fragment = client.get(poll, headers=HTMX).get_data(as_text=True)
    assert "following stopped" in fragment
    assert 'id="log-follow" class="log-follow" hx-swap-oob="true"></div>' in fragment
    assert "badge-failed" in fragment


def test_a_failed_follow_poll_keeps_the_lines_and_says_why(clock):
    client, upstream = site(clock)
    poll = follow_url(client.get(LOGS).get_data(as_text=True))
    upstream.logs_answer = logs_failing(503)
    response = client.get(poll, headers=HTMX)
    assert response.status_code == 502 and response.headers["HX-Reswap"] == "none"
    assert "Following paused (Blaxel is not answering properly)" in response.get_data(as_text=True)
    assert "<li" not in response.get_data(as_text=True)


def test_a_failed_earlier_lines_load_says_so_in_place_with_a_retry(clock):
    client, upstream = site(clock)
    upstream.logs_answer = logs_failing(500)
    response = client.get(LOGS + "/lines?offset=200", headers=HTMX)
    html = response.get_data(as_text=True)
    assert response.status_code == 502
    assert (
        html.lstrip().startswith('<li class="log-problem" role="alert">')
        and ">Try again</button>" in html
    )


def test_a_running_tasks_lines_are_never_kept_past_the_ttl(clock):
    client, upstream = site(clock)
    client.get(LOGS)
    client.get(LOGS)
    assert len(upstream.log_requests) == 1  # shared within the TTL (5 s)
    clock.advance(6)
    client.get(LOGS)
    assert len(upstream.log_requests) == 2


def test_a_settled_tasks_lines_are_kept_like_other_final_data_unless_searched(clock):
    client, upstream = site(clock, **finished(clock, minutes_ago=10))
    client.get(LOGS)
    clock.advance(120)
    client.get(LOGS)
    assert len(upstream.log_requests) == 1
    client.get(LOGS + "?q=line")
    clock.advance(6)
    client.get(LOGS + "?q=line")
    assert len(upstream.log_requests) == 3


def test_a_task_that_ended_a_minute_ago_is_not_settled_yet(clock):
    client, upstream = site(clock, **finished(clock, minutes_ago=1))
    client.get(LOGS)
    clock.advance(6)
    client.get(LOGS)
    assert len(upstream.log_requests) == 2


def download_lines(text: str) -> list[str]:
    return re.findall(r"^\S+ INFO    (line \d+)$", text, re.MULTILINE)


def test_the_download_streams_every_line_oldest_first_page_by_page(clock):
    clock.advance(2400)  # a line a second for 41 minutes, then done
    completed = clock() - timedelta(minutes=10)
    client, upstream = site(
        clock,
        lines=lambda now: steady_lines(min(now, completed)),
        status="succeeded",
        completed=completed,
    )
    response = client.get(LOGS + ".txt")
    text = response.get_data(as_text=True)
    assert response.content_type == "text/plain; charset=utf-8"
    assert re.fullmatch(
        r'attachment; filename="nightly_exec-1_task-0_logs_\d{8}T\d{6}Z\.txt"',
        response.headers["Content-Disposition"],
    )
    assert text.startswith("# Logs of task task-0 of execution exec-1 of job nightly")
    assert download_lines(text) == [f"line {n}" for n in range(1860)]
    # Pages of at most 1,000 from the oldest (the newest page, read first, comes from the cache).
    offsets = [(r.url.params["offset"], r.url.params["limit"]) for r in upstream.log_requests]
    assert offsets == [("0", "1000"), ("910", "1000")]


def test_a_download_failing_midway_ends_with_the_incomplete_marker(clock):
    clock.advance(2400)
    client, upstream = site(clock, **finished(clock))
    calls = []

    def answer(request):
        calls.append(request)
        if len(calls) > 2:
            return httpx.Response(500)
        return httpx.Response(200, json=upstream.answer(dict(request.url.params)))

    upstream.logs_answer = answer
    text = client.get(LOGS + ".txt").get_data(as_text=True)
    assert text.rstrip().splitlines()[-1].startswith(INCOMPLETE)
    assert "Blaxel failed mid-way" in text and download_lines(text)


def test_a_download_failing_at_once_is_an_ordinary_error_page(clock):
    client, _ = site(clock, logs_answer=logs_failing(403))
    response = client.get(LOGS + ".txt")
    assert response.status_code == 502 and "<html" in response.get_data(as_text=True)


def test_the_token_never_reaches_a_page_fragment_download_or_log(clock, caplog):
    def lines(now):
        return [
            Line(T0 + timedelta(seconds=50 + n), f"printed {TOKEN} by mistake") for n in range(5)
        ]

    client, _ = site(clock, lines=lines)
    bodies = [
        client.get(LOGS).get_data(as_text=True),
        client.get(LOGS + "/lines?offset=0", headers=HTMX).get_data(as_text=True),
        client.get(LOGS + "/follow", headers=HTMX).get_data(as_text=True),
        client.get(LOGS + ".txt").get_data(as_text=True),
    ]
    for body in bodies:
        assert TOKEN not in body and "[redacted]" in body
    assert not any(TOKEN in record.getMessage() for record in caplog.records)


def test_hostile_lines_are_escaped_stripped_and_marked_on_the_page(clock):
    hostile = (
        "<script>alert(1)</script><img src=x onerror=alert(2)> \x1b[31mred\x1b[0m \x1b]0;title\x07"
        "\u202eevil\u202c done\r\nnext\x00"
    )
    client, _ = site(clock, lines=lambda now: [Line(T0 + timedelta(seconds=1), hostile)])
    html = client.get(LOGS).get_data(as_text=True)
    message = html.split('<span class="msg">')[1].split("</span></li>")[0]
    assert "<script" not in message and "<img" not in message and "&lt;script&gt;" in message
    assert "\x1b" not in message and "[31m" not in message and "red" in message
    assert "\u202e" not in message and ">U+202E</span>" in message
    assert "done\nnext" in message and ">␀</span>" in message


def test_a_100_kb_line_is_cut_on_the_page_and_whole_in_the_download(clock):
    long = "x" * 100_000
    client, _ = site(clock, lines=lambda now: [Line(T0 + timedelta(seconds=1), long)])
    html = client.get(LOGS).get_data(as_text=True)
    assert "x" * 20_000 in html and "x" * 20_001 not in html
    assert "80,000 more characters: the download has the whole line." in html
    assert long in client.get(LOGS + ".txt").get_data(as_text=True)


HOSTILE = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
names = st.sampled_from(["start", "end", "severity", "q", "limit", "offset", "tz", "since", "x"])
values = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["2026-11-28T08:00:00Z", "2026-11-28T08:00", "INFO,ERROR", "all", "utc"]),
    st.sampled_from(["2030-01-01T00:00:00Z", "2020-01-01T00:00Z", "1969-12-31T23:59:59Z", "200"]),
    st.sampled_from(['"><svg onload=alert(1)>', "\u202e", "\x00", "9" * 30, "1e3", "-1"]),
)
ROUTES = [LOGS, LOGS + "/lines", LOGS + "/follow", LOGS + ".txt"]


@pytest.fixture(scope="module")
def hostile_site():
    return site(FakeClock(T0 + timedelta(seconds=60)))


@pytest.mark.parametrize("route", ROUTES)
@HOSTILE
@given(params=st.lists(st.tuples(names, values), max_size=5), htmx=st.booleans())
def test_any_logs_url_gets_an_honest_answer_and_only_valid_calls_go_upstream(
    hostile_site, route, params, htmx
):
    client, upstream = hostile_site
    upstream.requests.clear()
    response = client.get(route + "?" + urlencode(params), headers=HTMX if htmx else {})
    body = response.get_data(as_text=True)
    assert response.status_code in (200, 302, 400), body[:300]
    assert "Traceback" not in body and TOKEN not in body
    if route.endswith(".txt") and response.status_code == 200:
        # The download is plain text, never sniffed as HTML: its header line may echo a search
        # as typed, markup included, since a text file is read, not rendered.
        assert response.mimetype == "text/plain"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
    else:
        assert "<svg onload" not in body
    for sent in upstream.log_requests:  # LogsUpstream.answer checks the window too
        query = dict(sent.url.params)
        assert 1 <= int(query["limit"]) <= 1000 and int(query["offset"]) >= 0
        assert set(query["severity"].split(",")) <= {
            "FATAL",
            "ERROR",
            "WARNING",
            "INFO",
            "DEBUG",
            "TRACE",
            "UNKNOWN",
        }


def test_links_to_the_logs_from_a_task_row_the_task_page_and_a_failure_group(client):
    """On demo data: the three places the issue names lead to the same logs page (a row's link
    also carrying the list's view, so that the logs can step through it)."""
    base = "/jobs/nightly-embeddings/executions/exec-5k-embeddings"
    rows = client.get(base + "/tasks?status=failed&sort=name:asc").get_data(as_text=True)
    found = re.search(r'<a class="logs-link" href="([^"?]+/logs)\?([^"]+)">Logs<', rows)
    first, view = found.groups()
    assert "status=failed" in view and "sort=name:asc" in view and "at=" in view
    name = first.rsplit("/", 2)[-2]
    task_page = client.get(f"{base}/tasks/{name}").get_data(as_text=True)
    assert f'href="{first}">Logs</a>' in task_page
    triage = ""
    for _ in range(30):  # the groups are made a bounded step per request
        triage = client.get(base + "/triage", headers=HTMX).get_data(as_text=True)
        if 'aria-busy="false"' in triage:
            break
    assert re.search(
        r'<a class="logs-link" href="[^"]+/tasks/task-\d+/logs">Logs of task-\d+</a>', triage
    )
    assert client.get(first).status_code == 200


def line_ids(html: str) -> dict[str, str]:
    """Each line's message and the id its `<li>` has (and its own link points at)."""
    found = re.findall(
        r'<li id="(L[^"]+)" class="log-line[^>]*><a class="line-link" href="#(L[^"]+)"'
        r'.*?<span class="msg">([^<]*)</span>',
        html,
    )
    assert all(own == linked for own, linked, _ in found)
    return {message: own for own, _, message in found}


def test_a_lines_id_is_the_same_on_the_page_after_a_reload_and_in_a_follow_poll(clock):
    """The `#…` of a link to a line (its time and a hash of its message) names the same line
    wherever it is drawn, so a link made while following still finds it."""
    client, _ = site(clock)
    page = client.get(LOGS).get_data(as_text=True)
    first = line_ids(page)
    clock.advance(15)
    assert line_ids(client.get(LOGS).get_data(as_text=True)).items() >= first.items()
    polled = line_ids(client.get(follow_url(page), headers=HTMX).get_data(as_text=True))
    common = first.keys() & polled.keys()
    assert common and all(first[message] == polled[message] for message in common)
    assert re.fullmatch(r"L20261128T\d{15}-[0-9a-f]{8}", first["line 30"])


def step_link(html: str, rel: str) -> str:
    found = re.search(rf'<a class="step \w+" rel="{rel}" href="([^"]+)"', html)
    return found.group(1).replace("&amp;", "&") if found else ""


def test_a_logs_page_opened_from_a_list_links_to_its_neighbours_logs_keeping_the_filters(client):
    """The logs of a task opened from the failed tasks link to the next failed task's logs with
    the same severity filter, the list's view and where each task stands (so `k` comes back);
    the controls' form carries the list's view, so that a new filter keeps it."""
    base = "/jobs/nightly-embeddings/executions/exec-5k-embeddings"
    rows = client.get(base + "/tasks?status=failed&limit=25").get_data(as_text=True)
    links = re.findall(r'<a class="logs-link" href="([^"]+)">Logs<', rows)
    names = [link.split("/logs")[0].rsplit("/", 1)[1] for link in links]
    html = client.get(links[0].replace("&amp;", "&") + "&severity=ERROR").get_data(as_text=True)
    following = step_link(html, "next")
    assert following.startswith(f"{base}/tasks/{names[1]}/logs?")
    assert all(part in following for part in ("severity=ERROR", "status=failed", "at=", "back="))
    assert step_link(html, "prev") == ""  # the list's first failed task
    assert '<input type="hidden" name="status" value="failed">' in html
    back = client.get(following).get_data(as_text=True)
    assert step_link(back, "prev").startswith(f"{base}/tasks/{names[0]}/logs?")
    assert f'href="{base}/tasks?status=failed">Back to the failed tasks</a>' in back


def test_a_logs_page_carries_the_lists_search_apart_from_its_own(client):
    """The list's search travels to the logs as `tasks_q`, beside the lines' own `q`: a step
    keeps both, and the way back is the searched list."""
    base = "/jobs/nightly-embeddings/executions/exec-5k-embeddings"
    rows = client.get(base + "/tasks?q=task-49&sort=name:asc").get_data(as_text=True)
    first = re.search(r'<a class="logs-link" href="([^"]+)">Logs<', rows).group(1)
    assert "tasks_q=task-49" in first and "&q=" not in first
    html = client.get(first.replace("&amp;", "&") + "&q=batch").get_data(as_text=True)
    following = step_link(html, "next")
    path, _, args = following.partition("?")
    assert parse_qs(args)["tasks_q"] == ["task-49"] and parse_qs(args)["q"] == ["batch"]
    assert path.endswith("/tasks/task-490/logs")  # by name: task-49, then task-490, …
    assert "Next matching task" in html


def test_a_logs_pages_list_view_that_cannot_be_read_is_a_400_naming_it(client):
    """A trail naming a status tasks cannot have is the list's own error, not a traceback."""
    base = "/jobs/nightly-embeddings/executions/exec-5k-embeddings/tasks/task-4983/logs"
    response = client.get(base + "?status=bogus")
    assert response.status_code == 400
    assert "“status” must be among" in response.get_data(as_text=True)

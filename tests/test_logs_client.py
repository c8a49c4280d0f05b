"""The task-logs call from a real loopback socket: the contract's parameters go out, its shapes
come back typed, late lines are caught, the 3-day limit is kept, failures get their kind."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

import pytest

from webapp.blaxel import BlaxelClient, CallScope, ChainStopped, ErrorKind, UpstreamError
from webapp.blaxel.logs import MAX_WINDOW, LogRequest, Window, oldest_first

from .conftest import TOKEN, FakeClock
from .faulty import FaultyServer, respond
from .logs_upstream import T0, Line, LogsUpstream, query_of, steady_lines

WINDOW = Window.of(T0 - timedelta(minutes=1), T0 + timedelta(minutes=10))


def request(**changes) -> LogRequest:
    values = {
        "job_id": "nightly",
        "execution_id": "exec-1",
        "task_name": "task-0",
        "window": WINDOW,
    }
    return LogRequest(**{**values, **changes})


def answering(upstream: LogsUpstream, advance: float = 0.0):
    """A socket server answering as `upstream` does; the clock moves `advance` s per request."""
    lock = threading.Lock()

    def behaviour(connection, stopping):
        with lock:
            params = query_of(server.requests[-1])
            body = json.dumps(upstream.answer(params)).encode()
            upstream.clock.advance(advance)
        respond(200, body, {"Content-Type": "application/json"})(connection, stopping)

    server = FaultyServer(behaviour)
    return server


def client(server: FaultyServer) -> BlaxelClient:
    return BlaxelClient(server.url, TOKEN, workspace="team-space")


def scope() -> CallScope:
    return CallScope.starting_now(2.0)


def test_the_call_sends_what_the_cli_sends():
    clock = FakeClock(T0 + timedelta(minutes=5))
    with answering(LogsUpstream(clock)) as server:
        client(server).task_logs(
            request(severities=("ERROR", "FATAL"), search="boom", limit=100, offset=200), scope()
        )
        head = server.requests[0]
    assert head.startswith(b"GET /v0/observability/logs?")
    assert query_of(head) == {
        "start": "2026-11-28T07:59:00",
        "end": "2026-11-28T08:10:00",
        "resourceType": "jobs",
        "workloadIds": "nightly",
        "executionId": "exec-1",
        "taskId": "task-0",
        "severity": "ERROR,FATAL",
        "search": "boom",
        "limit": "100",
        "offset": "200",
        "type": "all",
        "traceId": "",
        "interval": "60",
        "workspace": "team-space",
    }
    assert f"Authorization: Bearer {TOKEN}".encode() in head


def test_every_severity_is_asked_for_when_none_is_chosen():
    clock = FakeClock(T0 + timedelta(minutes=5))
    with answering(LogsUpstream(clock)) as server:
        client(server).task_logs(request(), scope())
        sent = query_of(server.requests[0])["severity"]
    assert sent == "FATAL,ERROR,WARNING,INFO,DEBUG,TRACE,UNKNOWN"


def test_lines_come_back_typed_newest_first_with_the_total():
    clock = FakeClock(T0 + timedelta(seconds=30))
    with answering(LogsUpstream(clock)) as server:
        page = client(server).task_logs(request(limit=10), scope())
    assert page.total == 29  # lines 0-29 printed; line 24, 12 s late, not yet ingested
    assert [line.text for line in page.lines] == [
        f"line {n}" for n in (29, 28, 27, 26, 25, 23, 22, 21, 20, 19)
    ]
    assert [line.text for line in page.oldest_first()][-1] == "line 29"
    assert page.lines[0].severity_name() == "INFO"
    assert page.lines[0].stamp == "2026-11-28T08:00:29.250000123Z"


def test_a_job_absent_from_the_answer_is_an_empty_page():
    clock = FakeClock(T0)  # nothing printed yet: Blaxel leaves the job out
    with answering(LogsUpstream(clock)) as server:
        page = client(server).task_logs(request(), scope())
    assert page.lines == () and page.total == 0


def test_late_lines_are_caught_by_a_walk_that_overlaps_its_pages():
    # Lines keep being ingested while the walk goes (the clock moves 3 s per call), among them
    # the late ones (every 7th, 12 s late): none may be lost, none shown twice, all in order.
    clock = FakeClock(T0 + timedelta(seconds=300))
    upstream = LogsUpstream(clock)
    readable_at_start = {
        line.message
        for line in steady_lines(clock())
        if line.at + timedelta(seconds=line.late) <= clock()
    }
    with answering(upstream, advance=3.0) as server:
        blaxel = client(server)
        call = scope()
        batches = list(
            oldest_first(
                lambda page: blaxel.task_logs(page, call), request(limit=100), call.remaining
            )
        )
    walked = [line for batch in batches for line in batch]
    texts = [line.text for line in walked]
    assert len(texts) == len(set(texts))  # no line twice
    assert [line.at_ns for line in walked] == sorted(line.at_ns for line in walked)
    assert readable_at_start <= set(texts)  # no line lost
    assert len(batches) > 3  # it did walk page by page


def test_a_walk_stops_with_a_reason_when_lines_flood_in_faster_than_its_overlap():
    clock = FakeClock(T0 + timedelta(seconds=300))

    def flood(now: datetime) -> list[Line]:  # 100 new lines a second
        count = int((now - T0).total_seconds() * 100)
        return [Line(T0 + timedelta(milliseconds=10 * n), f"line {n}") for n in range(count)]

    with answering(LogsUpstream(clock, lines=flood), advance=2.0) as server:
        blaxel = client(server)
        call = scope()
        walk = oldest_first(
            lambda page: blaxel.task_logs(page, call), request(limit=1000), call.remaining
        )
        with pytest.raises(ChainStopped, match="faster"):
            list(walk)


def test_a_window_past_the_3_day_limit_is_narrowed_and_never_sent():
    asked = Window.of(datetime(2026, 11, 20, tzinfo=UTC), datetime(2026, 11, 28, 9, 30, tzinfo=UTC))
    assert asked.narrowed and asked.end - asked.start == MAX_WINDOW
    assert asked.end == datetime(2026, 11, 28, 9, 30, tzinfo=UTC)  # the end is kept
    with pytest.raises(ValueError, match="3 days"):
        LogRequest("j", "e", "t", Window(asked.start - timedelta(seconds=1), asked.end))
    with pytest.raises(ValueError, match="end after it starts"):
        LogRequest("j", "e", "t", Window(asked.end, asked.end))
    clock = FakeClock(T0 + timedelta(minutes=5))
    with answering(LogsUpstream(clock)) as server:  # its answer() asserts the limit
        client(server).task_logs(request(window=asked), scope())
        sent = query_of(server.requests[0])
    assert (sent["start"], sent["end"]) == ("2026-11-25T09:30:00", "2026-11-28T09:30:00")


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (401, ErrorKind.CREDENTIALS_REFUSED),
        (403, ErrorKind.CREDENTIALS_REFUSED),
        (404, ErrorKind.NOT_FOUND),
        (500, ErrorKind.UNAVAILABLE),
    ],
)
def test_a_refusal_or_failure_is_an_error_of_its_kind(status, kind):
    body = json.dumps({"error": {"code": "X", "message": f"no logs for {TOKEN}"}}).encode()
    with FaultyServer(respond(status, body)) as server:
        with pytest.raises(UpstreamError) as raised:
            client(server).task_logs(request(), scope())
        assert len(server.requests) == 1  # none of these is worth asking again
    assert raised.value.kind is kind and raised.value.upstream_status == status
    assert TOKEN not in str(raised.value) and "[redacted]" in raised.value.detail


@pytest.mark.parametrize(
    "body",
    [
        b'{"nightly": {"logs": [{"timestamp": "2026-11-28T08:00:00Z", "mess',
        b'{"nightly": {"logs": "every line"}}',
        b'[{"timestamp": "2026-11-28T08:00:00Z"}]',
        b'{"nightly": {"logs": [{"severity": {"level": 9}}]}}',
        b"<html>Bad gateway</html>",
    ],
    ids=["truncated", "logs-not-a-list", "top-level-array", "severity-object", "html"],
)
def test_a_malformed_body_is_a_bad_response(body):
    with FaultyServer(respond(200, body)) as server, pytest.raises(UpstreamError) as raised:
        client(server).task_logs(request(), scope())
    assert raised.value.kind is ErrorKind.BAD_RESPONSE


def test_missing_fields_null_lines_and_a_severity_name_are_tolerated():
    body = json.dumps(
        {
            "nightly": {
                "logs": [
                    None,
                    {"message": "no time"},
                    {"timestamp": "2026-11-28T08:00:00Z", "severity": "warn"},
                ]
            }
        }
    ).encode()
    with FaultyServer(respond(200, body)) as server:
        page = client(server).task_logs(request(), scope())
    assert page.total == 2  # totalCount missing: the lines it sent
    assert [line.severity_name() for line in page.lines] == ["UNKNOWN", "WARNING"]
    assert [line.text for line in page.oldest_first()] == ["no time", ""]  # unknown times first


def test_invalid_utf8_and_lone_surrogates_cost_characters_not_the_page():
    body = (
        b'{"nightly": {"logs": [{"timestamp": "2026-11-28T08:00:00Z", "message": "bad \xff byte"},'
        b' {"timestamp": "2026-11-28T08:00:01Z", "message": "lone \\ud800 half"}],'
        b' "totalCount": 2}}'
    )
    with FaultyServer(respond(200, body)) as server:
        page = client(server).task_logs(request(), scope())
    assert [line.text for line in page.oldest_first()] == ["bad \ufffd byte", "lone \ufffd half"]


def test_the_token_is_cut_out_of_log_lines():
    body = json.dumps(
        {"nightly": {"logs": [{"timestamp": "2026-11-28T08:00:00Z", "message": f"key={TOKEN} ok"}]}}
    ).encode()
    with FaultyServer(respond(200, body)) as server:
        page = client(server).task_logs(request(), scope())
    assert page.lines[0].text == "key=[redacted] ok"

"""BlaxelClient: what it sends, how it encodes ids, and how it classifies every failure."""

from __future__ import annotations

import json
import logging

import httpx
import pytest
from werkzeug.datastructures import MultiDict

from webapp.blaxel import BlaxelClient, CallScope, ErrorKind, Page, Task, UpstreamError
from webapp.blaxel.transport import retry_after_seconds
from webapp.listing.query import TASKS, ListQuery

from .conftest import TOKEN, task_json, task_page

FIRST_PAGE = ListQuery.parse(MultiDict(), TASKS).page_request()


class Client:
    """A BlaxelClient whose every call gets a scope of its own, `timeout` seconds long."""

    def __init__(self, client: BlaxelClient, timeout: float) -> None:
        self.client, self.timeout = client, timeout
        self.scopes: list[CallScope] = []

    def list_tasks(self, job_id: str, execution_id: str, page) -> Page[Task]:
        self.scopes.append(CallScope.starting_now(self.timeout))
        return self.client.list_tasks(job_id, execution_id, page, self.scopes[-1])

    def __repr__(self) -> str:
        return repr(self.client)


def client_for(handler, timeout: float = 10, **kwargs) -> tuple[Client, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handler(request)

    client = BlaxelClient(
        "https://api.blaxel.ai/v0", TOKEN, transport=httpx.MockTransport(record), **kwargs
    )
    return Client(client, timeout), seen


def answer(status=200, body=None, **kwargs):
    return lambda request: httpx.Response(status, json=body, **kwargs)


def test_sends_bearer_token_version_accept_user_agent_and_workspace():
    client, seen = client_for(answer(body=task_page([])), workspace="team-space")
    client.list_tasks("job", "exec", FIRST_PAGE)
    headers = seen[0].headers
    assert headers["Authorization"] == f"Bearer {TOKEN}"
    assert headers["Blaxel-Version"] == "2026-04-28"
    assert headers["Accept"] == "application/json"
    assert headers["User-Agent"].startswith("blaxel-tasks-webapp/")
    assert headers["X-Blaxel-Workspace"] == "team-space"


def test_no_workspace_header_when_none_is_configured():
    client, seen = client_for(answer(body=task_page([])))
    client.list_tasks("job", "exec", FIRST_PAGE)
    assert "X-Blaxel-Workspace" not in seen[0].headers


def test_query_parameters_go_upstream_as_the_api_names_them():
    client, seen = client_for(answer(body=task_page([])))
    query = ListQuery.parse(
        MultiDict({"sort": "name:asc", "q": " Ab ", "limit": "7", "cursor": "Zm9v"}), TASKS
    )
    client.list_tasks("job", "exec", query.page_request())
    assert dict(seen[0].url.params) == {
        "limit": "7",
        "sort": "name:asc",
        "q": "ab",
        "cursor": "Zm9v",
    }


def test_a_client_on_its_own_logs_no_cursor_of_the_urls_it_fetches(caplog, monkeypatch):
    # As in a fresh process where no app has been made: nothing filters httpx's log yet.
    httpx_logger = logging.getLogger("httpx")
    monkeypatch.setattr(httpx_logger, "filters", [])
    client, _ = client_for(answer(body=task_page([])))
    query = ListQuery.parse(MultiDict({"cursor": "c2VjcmV0LWN1cnNvcg"}), TASKS)
    with caplog.at_level(logging.INFO, logger="httpx"):
        client.list_tasks("job", "exec", query.page_request())
    logged = [record.getMessage() for record in caplog.records if record.name == "httpx"]
    assert any("cursor=[redacted]" in line for line in logged)
    assert not any("c2VjcmV0LWN1cnNvcg" in line for line in logged)


@pytest.mark.parametrize(
    ("job_id", "execution_id", "raw_path"),
    [
        ("a/b", "e", b"/v0/jobs/a%2Fb/executions/e/tasks"),
        ("job", "x?limit=1", b"/v0/jobs/job/executions/x%3Flimit%3D1/tasks"),
        ("job", "x#frag", b"/v0/jobs/job/executions/x%23frag/tasks"),
        ("j", "..%2F..", b"/v0/jobs/j/executions/..%252F../tasks"),
        ("j", "../../jobs", b"/v0/jobs/j/executions/..%2F..%2Fjobs/tasks"),
        ("..", ".", b"/v0/jobs/%2E%2E/executions/%2E/tasks"),
    ],
)
def test_ids_cannot_change_the_upstream_route(job_id, execution_id, raw_path):
    client, seen = client_for(answer(body=task_page([])))
    client.list_tasks(job_id, execution_id, FIRST_PAGE)
    assert seen[0].url.raw_path.split(b"?")[0] == raw_path


def test_a_page_is_parsed_into_tasks_with_its_meta():
    body = task_page([task_json(0, "failed"), task_json(1)], next_cursor="NEXT", total=9)
    client, _ = client_for(answer(body=body))
    page = client.list_tasks("job", "exec", FIRST_PAGE)
    assert [task.name for task in page.items] == ["task-0", "task-1"]
    assert page.items[0].status == "failed"
    assert (page.has_more, page.next_cursor, page.total) == (True, "NEXT", 9)


def test_missing_and_null_fields_are_tolerated():
    body = {
        "data": [{}, {"metadata": None, "spec": None, "status": None, "conditions": None}],
        "meta": {},
    }
    client, _ = client_for(answer(body=body))
    page = client.list_tasks("job", "exec", FIRST_PAGE)
    assert [(task.name, task.status, task.started_at) for task in page.items] == [
        ("", "unspecified", None),
        ("", "unspecified", None),
    ]
    assert (page.has_more, page.next_cursor, page.total) == (False, "", None)


def test_has_more_without_a_cursor_is_treated_as_the_end():
    client, _ = client_for(answer(body={"data": [], "meta": {"hasMore": True, "nextCursor": ""}}))
    assert client.list_tasks("job", "exec", FIRST_PAGE).has_more is False


@pytest.mark.parametrize(
    "body",
    [
        [task_json(0)],
        {"data": "nope"},
        {"data": [42]},
        {"data": [{"metadata": []}]},
        {"data": [], "meta": 3},
    ],
)
def test_a_body_of_the_wrong_shape_is_a_bad_response(body):
    client, _ = client_for(answer(body=body))
    with pytest.raises(UpstreamError) as caught:
        client.list_tasks("job", "exec", FIRST_PAGE)
    assert caught.value.kind is ErrorKind.BAD_RESPONSE


@pytest.mark.parametrize("content", [b"{not json", b"\xff\xfe\x00", b""])
def test_a_body_that_is_not_json_is_a_bad_response(content):
    client, _ = client_for(lambda request: httpx.Response(200, content=content))
    with pytest.raises(UpstreamError) as caught:
        client.list_tasks("job", "exec", FIRST_PAGE)
    assert caught.value.kind is ErrorKind.BAD_RESPONSE


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, ErrorKind.REJECTED),
        (401, ErrorKind.CREDENTIALS_REFUSED),
        (402, ErrorKind.REJECTED),
        (403, ErrorKind.CREDENTIALS_REFUSED),
        (404, ErrorKind.NOT_FOUND),
        (429, ErrorKind.RATE_LIMITED),
        (500, ErrorKind.UNAVAILABLE),
        (502, ErrorKind.UNAVAILABLE),
        (503, ErrorKind.UNAVAILABLE),
        (504, ErrorKind.UNAVAILABLE),
    ],
)
def test_each_error_status_gets_its_kind(status, kind):
    client, _ = client_for(lambda request: httpx.Response(status, content=b""))
    with pytest.raises(UpstreamError) as caught:
        client.list_tasks("job", "exec", FIRST_PAGE)
    assert caught.value.kind is kind
    assert caught.value.upstream_status == status


def test_the_short_error_shape_is_understood():
    body = {"error": "invalid_api_version", "message": "unknown version 2020-01-01"}
    client, _ = client_for(answer(400, body))
    with pytest.raises(UpstreamError) as caught:
        client.list_tasks("job", "exec", FIRST_PAGE)
    assert (caught.value.code, caught.value.detail) == (
        "invalid_api_version",
        "unknown version 2020-01-01",
    )


def test_the_structured_error_shape_is_understood_and_retryable_is_honoured():
    body = {
        "error": {
            "code": "TEMPORARILY_BUSY",
            "message": "try later",
            "status": 409,
            "retryable": True,
        }
    }
    client, _ = client_for(answer(409, body))
    with pytest.raises(UpstreamError) as caught:
        client.list_tasks("job", "exec", FIRST_PAGE)
    assert caught.value.kind is ErrorKind.UNAVAILABLE
    assert (caught.value.code, caught.value.detail) == ("TEMPORARILY_BUSY", "try later")


def test_retry_after_is_kept_from_a_429():
    client, _ = client_for(answer(429, {"error": "rate_limited"}, headers={"Retry-After": "17"}))
    with pytest.raises(UpstreamError) as caught:
        client.list_tasks("job", "exec", FIRST_PAGE)
    assert caught.value.retry_after == 17


def test_a_timeout_is_timed_out():
    def slow(request):
        raise httpx.ReadTimeout("no answer", request=request)

    client, _ = client_for(slow)
    with pytest.raises(UpstreamError) as caught:
        client.list_tasks("job", "exec", FIRST_PAGE)
    assert caught.value.kind is ErrorKind.TIMED_OUT


def test_a_refused_connection_is_unavailable():
    def refused(request):
        raise httpx.ConnectError("connection refused", request=request)

    client, _ = client_for(refused)
    with pytest.raises(UpstreamError) as caught:
        client.list_tasks("job", "exec", FIRST_PAGE)
    assert caught.value.kind is ErrorKind.UNAVAILABLE


def test_an_oversized_body_is_cut_off_as_a_bad_response():
    huge = json.dumps({"data": [], "pad": "x" * (9 * 1024 * 1024)}).encode()
    client, _ = client_for(lambda request: httpx.Response(200, content=huge))
    with pytest.raises(UpstreamError) as caught:
        client.list_tasks("job", "exec", FIRST_PAGE)
    assert caught.value.kind is ErrorKind.BAD_RESPONSE


def test_the_token_is_not_in_the_clients_repr_or_errors():
    client, _ = client_for(
        answer(401, {"error": {"code": "AUTHENTICATION_FAILED", "message": "bad key"}})
    )
    with pytest.raises(UpstreamError) as caught:
        client.list_tasks("job", "exec", FIRST_PAGE)
    assert TOKEN not in repr(client)
    assert TOKEN not in str(caught.value) and TOKEN not in repr(caught.value)


def test_a_structured_retryable_error_is_sent_again_and_a_plain_500_is_not(monkeypatch):
    pauses: list[float] = []
    monkeypatch.setattr("webapp.blaxel.transport._sleep", pauses.append)
    busy = {"error": {"code": "BUSY", "message": "later", "retryable": True}}
    answers = iter([httpx.Response(409, json=busy), httpx.Response(200, json=task_page([]))])
    client, seen = client_for(lambda request: next(answers))
    assert client.list_tasks("job", "exec", FIRST_PAGE).items == ()
    assert len(seen) == 2 and len(pauses) == 1

    client, seen = client_for(answer(500, {"error": {"code": "INTERNAL", "message": "x"}}))
    with pytest.raises(UpstreamError):
        client.list_tasks("job", "exec", FIRST_PAGE)
    assert len(seen) == 1


def test_retries_back_off_exponentially_with_jitter_and_stop_after_two(monkeypatch):
    pauses: list[float] = []
    monkeypatch.setattr("webapp.blaxel.transport._sleep", pauses.append)
    client, seen = client_for(answer(503, None), timeout=30)
    with pytest.raises(UpstreamError) as caught:
        client.list_tasks("job", "exec", FIRST_PAGE)
    assert caught.value.kind is ErrorKind.UNAVAILABLE
    assert len(seen) == 3
    assert 0.1 <= pauses[0] <= 0.2 and 0.2 <= pauses[1] <= 0.4


def test_no_retry_is_started_that_the_deadline_cannot_hold(monkeypatch):
    pauses: list[float] = []
    monkeypatch.setattr("webapp.blaxel.transport._sleep", pauses.append)
    client, seen = client_for(answer(503, None, headers={"Retry-After": "5"}), timeout=2)
    with pytest.raises(UpstreamError):
        client.list_tasks("job", "exec", FIRST_PAGE)
    assert (len(seen), pauses) == (1, [])


@pytest.mark.parametrize(
    ("value", "low", "high"),
    [
        ("7", 7, 7),
        (" 12 ", 12, 12),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0, 0),  # a moment already past: no wait
        ("soon", None, None),
        ("-3", None, None),
        ("999999", 300, 300),  # at most five minutes, whatever is asked
        ("inf", None, None),
        ("", None, None),
    ],
)
def test_retry_after_is_read_in_seconds_or_as_an_http_date(value, low, high):
    seconds = retry_after_seconds(value)
    if low is None:
        assert seconds is None
    else:
        assert low <= seconds <= high


def test_the_scope_records_each_call_with_its_status_and_attempts(monkeypatch):
    monkeypatch.setattr("webapp.blaxel.transport._sleep", lambda seconds: None)
    answers = iter([httpx.Response(502), httpx.Response(200, json=task_page([]))])
    client, _ = client_for(lambda request: next(answers))
    client.list_tasks("job", "exec", FIRST_PAGE)
    heard = [
        (record.endpoint, record.status, record.attempts) for record in client.scopes[0].records
    ]
    assert heard == [("ListJobExecutionTasks", 200, 2)]

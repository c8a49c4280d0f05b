"""Security headers on every response; the request id; one structured log line per request."""

from __future__ import annotations

import json
import logging

import httpx
import pytest

from webapp.blaxel.redaction import Redact, redact
from webapp.web.requestlog import JsonFormatter

from .conftest import TOKEN, task_json, task_page

TASKS_URL = "/jobs/nightly/executions/exec-1/tasks"
HTMX = {"HX-Request": "true"}


def ok(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json=task_page([task_json(0)], next_cursor="TkVYVA"))


def fail(request: httpx.Request) -> httpx.Response:
    return httpx.Response(404, json={"error": "not found"})


@pytest.mark.parametrize(
    ("handler", "url", "headers"),
    [
        (ok, TASKS_URL, {}),
        (ok, TASKS_URL, HTMX),
        (ok, "/", {}),
        (fail, TASKS_URL, {}),
        (fail, TASKS_URL, HTMX),
        (ok, TASKS_URL + "?limit=0", {}),
        (ok, "/no/such/page", {}),
        (ok, "/healthz", {}),
    ],
    ids=["page", "fragment", "jobs", "error-page", "error-row", "bad-query", "404", "healthz"],
)
def test_every_response_carries_the_security_headers(scripted, handler, url, headers):
    client, _ = scripted(handler)
    response = client.get(url, headers=headers)
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Cross-Origin-Opener-Policy"] == "same-origin"
    assert "camera=()" in response.headers["Permissions-Policy"]
    assert "HX-Request" in response.vary
    assert response.headers["Cache-Control"].startswith("private")
    assert "Strict-Transport-Security" not in response.headers


def test_hsts_is_sent_when_the_app_is_served_over_https(scripted):
    client, _ = scripted(ok, WEBAPP_HTTPS="1")
    assert client.get("/").headers["Strict-Transport-Security"].startswith("max-age=31536000")


def test_a_request_id_is_made_up_and_returned(scripted):
    client, _ = scripted(ok)
    first, second = client.get("/"), client.get("/")
    assert len(first.headers["X-Request-ID"]) == 32
    assert first.headers["X-Request-ID"] != second.headers["X-Request-ID"]


@pytest.mark.parametrize(
    ("incoming", "kept"),
    [("lb-7f3a.91_x", True), ("<script>", False), ("a" * 65, False), ("é", False)],
)
def test_an_incoming_request_id_is_kept_only_when_safe(scripted, incoming, kept):
    client, _ = scripted(ok)
    returned = client.get("/", headers={"X-Request-ID": incoming}).headers["X-Request-ID"]
    assert (returned == incoming) is kept


@pytest.mark.parametrize("headers", [{}, HTMX], ids=["page", "row"])
def test_error_pages_and_rows_print_the_request_id(scripted, headers):
    client, _ = scripted(fail)
    response = client.get(TASKS_URL, headers={**headers, "X-Request-ID": "report-me-42"})
    assert "<code>report-me-42</code>" in response.text


def request_lines(caplog) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name == "webapp.request"]


def test_one_structured_line_per_request_with_upstream_status_and_durations(scripted, caplog):
    caplog.set_level(logging.INFO)
    client, _ = scripted(ok)
    client.get(TASKS_URL + "?cursor=Q1VSU09S&shown=50", headers={"X-Request-ID": "req-1"})
    (record,) = request_lines(caplog)
    fields = record.fields
    assert fields["request_id"] == "req-1"
    assert fields["route"] == "/jobs/<id:job_id>/executions/<id:execution_id>/tasks"
    assert fields["path"] == TASKS_URL
    assert fields["status"] == 200
    assert fields["upstream_status"] == [200, 200]  # the execution summary, then the tasks
    assert fields["upstream_attempts"] == 2
    assert fields["upstream_ms"] >= 0 and fields["duration_ms"] >= fields["upstream_ms"]
    line = JsonFormatter().format(record)
    assert json.loads(line)["request_id"] == "req-1"
    assert "Q1VSU09S" not in line and TOKEN not in line


def test_failed_requests_log_the_upstream_status_and_our_status(scripted, caplog):
    caplog.set_level(logging.INFO)
    client, _ = scripted(fail)
    client.get(TASKS_URL, headers=HTMX)
    (record,) = request_lines(caplog)
    assert record.fields["status"] == 404 and record.fields["upstream_status"] == [404]


def test_cursor_values_and_bearer_tokens_are_redacted_from_third_party_log_lines():
    record = logging.LogRecord(
        "werkzeug",
        logging.INFO,
        __file__,
        1,
        '127.0.0.1 - - "GET /?sort=name:asc&cursor=%s&shown=50 HTTP/1.1" 200 - %s',
        ("eyJvZmZzZXQiOjUwfQ==", f"Authorization: Bearer {TOKEN}"),
        None,
    )
    assert Redact().filter(record)
    message = record.getMessage()
    assert "cursor=[redacted]&shown=50" in message
    assert "eyJvZmZzZXQiOjUwfQ" not in message and TOKEN not in message
    assert redact("q=cursor") == "q=cursor"

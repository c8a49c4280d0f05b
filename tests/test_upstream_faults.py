"""Upstream faults from real misbehaving servers on loopback sockets: each gets an honest page
or fragment and status, transient ones are retried within the deadline, and the app recovers."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from webapp import create_app

from .conftest import TOKEN
from .faulty import (
    FaultyServer,
    never_answer,
    refused_url,
    reset_mid_body,
    respond,
    sequence,
    trickle_body,
)

TIMEOUT = 1.0
JOBS = json.dumps({"data": [{"metadata": {"name": "nightly"}}], "meta": {}}).encode()
GOOD = respond(200, JOBS, {"Content-Type": "application/json"})
HTMX = {"HX-Request": "true"}


def app_on(url: str, **config):
    return create_app(
        {
            "TESTING": True,
            "BLAXEL_API_KEY": TOKEN,
            "BLAXEL_API_URL": url,
            "BLAXEL_TIMEOUT": TIMEOUT,
            **config,
        }
    ).test_client()


def assert_recovers(client, server: FaultyServer) -> None:
    server.behaviour = GOOD
    response = client.get("/?sort=createdAt:desc")
    assert response.status_code == 200 and "nightly" in response.get_data(as_text=True)


def test_a_refused_connection_is_retried_then_a_502_page_and_fragment():
    with refused_url() as url:
        client = app_on(url)
        page = client.get("/?sort=createdAt:desc")
        fragment = client.get("/?sort=createdAt:desc", headers=HTMX)
    assert page.status_code == 502 and "Blaxel is not answering properly" in page.text
    assert fragment.status_code == 502 and fragment.text.lstrip().startswith("<tr class=")


@pytest.mark.parametrize(
    ("behaviour", "status", "headline"),
    [
        (reset_mid_body, 502, "Blaxel is not answering properly"),
        (respond(200, b'{"data": [{"metadata": {"na'), 502, "could not read"),
        (respond(200, b'{"data": [], "meta": {"nextCursor": "\xff\xfe"}}'), 502, "could not read"),
        (respond(200, b"x" * (10 * 1024 * 1024)), 502, "could not read"),
        (respond(500), 502, "Blaxel is not answering properly"),
        (respond(500, b'{"error": {"code": "INTERNAL", "message": "boom"}}'), 502, "boom"),
    ],
    ids=["reset-mid-body", "truncated-json", "invalid-utf8", "10-MB-body", "500", "500-body"],
)
def test_a_broken_answer_is_not_retried_and_gets_an_honest_page(behaviour, status, headline):
    with FaultyServer(behaviour) as server:
        client = app_on(server.url)
        response = client.get("/?sort=createdAt:desc")
        assert response.status_code == status
        assert headline in response.text and "Traceback" not in response.text
        assert len(server.requests) == 1
        assert_recovers(client, server)


@pytest.mark.parametrize("upstream_status", [502, 503, 504])
@pytest.mark.parametrize("body", [b"", b"<html><h1>Bad gateway</h1></html>"], ids=["empty", "html"])
def test_gateway_failures_are_retried_twice_then_a_502(
    upstream_status, body, deadline_clock, monkeypatch
):
    """Three tries, the pauses between them (on the test's clock) within the deadline."""
    monkeypatch.setattr("webapp.blaxel.transport._sleep", deadline_clock.advance)
    began = deadline_clock.monotonic()
    with FaultyServer(respond(upstream_status, body)) as server:
        client = app_on(server.url)
        response = client.get("/?sort=createdAt:desc", headers=HTMX)
        assert 0 < deadline_clock.monotonic() - began < TIMEOUT
        assert response.status_code == 502
        assert response.text.lstrip().startswith('<tr class="error-row">')
        assert len(server.requests) == 3
        assert_recovers(client, server)


def test_a_gateway_failure_that_clears_up_is_invisible_to_the_viewer():
    with FaultyServer(sequence(respond(503), GOOD)) as server:
        response = app_on(server.url).get("/?sort=createdAt:desc")
    assert response.status_code == 200 and "nightly" in response.text
    assert len(server.requests) == 2


def test_a_silent_server_is_cut_off_at_the_deadline():
    """Headers that never come: a 504 that says so (a server that hung up would be a 502)."""
    with FaultyServer(never_answer) as server:
        client = app_on(server.url)
        response = client.get("/?sort=createdAt:desc")
        assert response.status_code == 504
        assert "Blaxel took too long to answer" in response.text
        assert_recovers(client, server)


def test_a_body_that_trickles_forever_is_cut_off_at_the_deadline(deadline_clock):
    """A byte every 0.05 s (on the test's clock): each read is quick, so only the request's
    own deadline can end it, with a 504, not the cut answer a server that hangs up leaves."""
    with FaultyServer(trickle_body(deadline_clock)) as server:
        client = app_on(server.url)
        response = client.get("/?sort=createdAt:desc")
        assert response.status_code == 504
        assert "Blaxel took too long to answer" in response.text
        assert_recovers(client, server)


def retry_after_date(seconds: float) -> str:
    return format_datetime(datetime.now(UTC) + timedelta(seconds=seconds), usegmt=True)


@pytest.mark.parametrize("form", ["seconds", "http-date"])
def test_a_429_whose_retry_after_fits_the_deadline_is_retried(form):
    # An HTTP-date has whole seconds only, so "now + 1 s" may round to a moment just past.
    after = "0" if form == "seconds" else retry_after_date(0)
    with FaultyServer(sequence(respond(429, b"", {"Retry-After": after}), GOOD)) as server:
        response = app_on(server.url).get("/?sort=createdAt:desc")
    assert response.status_code == 200
    assert len(server.requests) == 2


@pytest.mark.parametrize("form", ["seconds", "http-date"])
def test_a_429_asking_for_longer_than_the_deadline_is_a_503_passing_retry_after_on(form):
    # Within the longest hold (60 s by default), so the app waits what Blaxel asked.
    after = "45" if form == "seconds" else retry_after_date(45)
    with FaultyServer(respond(429, b'{"error": "rate_limited"}', {"Retry-After": after})) as server:
        # Cache off: the hold on further calls applies all the same.
        client = app_on(server.url, WEBAPP_CACHE_TTL="0")
        response = client.get("/?sort=createdAt:desc")
        assert response.status_code == 503
        # The seconds the app itself waits, whichever form Blaxel used.
        assert 43 <= int(response.headers["Retry-After"]) <= 45
        assert "Blaxel asked us to slow down" in response.text
        assert len(server.requests) == 1
        again = client.get("/jobs/x/executions")
        assert again.status_code == 503 and int(again.headers["Retry-After"]) <= 45
        assert len(server.requests) == 1


def test_a_429_without_retry_after_is_not_retried():
    with FaultyServer(respond(429)) as server:
        response = app_on(server.url).get("/?sort=createdAt:desc")
    assert response.status_code == 503 and len(server.requests) == 1

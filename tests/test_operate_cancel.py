"""Cancelling an execution (webapp/operate): off without the write key, operators only, a typed
id and a CSRF token, every attempt in the audit trail; and the simulator's side of the call."""

from __future__ import annotations

import base64
import logging
import re

import httpx
import pytest
from werkzeug.security import generate_password_hash

from webapp import create_app
from webapp.blaxel import BlaxelClient, CallScope, ErrorKind, PageRequest, UpstreamError
from webapp.common.config import ConfigError
from webapp.simulator import DEMO_TOKEN, create_simulator

from .conftest import EXECUTION, TOKEN, WRITE_TOKEN

RUNNING = ("thumbnail-render", "exec-slow-thumbnails")  # a demo execution still running
FINISHED = ("weekly-digest", "exec-4-digest")
PAGE = "/jobs/{}/executions/{}/tasks"
CANCEL = "/jobs/{}/executions/{}/cancel"


def basic(name: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{name}:{password}".encode()).decode()}


OPERATOR = basic("olga", "operator password")
VIEWER = basic("victor", "viewer password")


@pytest.fixture
def users_file(tmp_path):
    path = tmp_path / "users"
    path.write_text(
        f"olga:{generate_password_hash('operator password')}:operator\n"
        f"victor:{generate_password_hash('viewer password')}\n"
    )
    return path


def demo_app(clock, users_file, **config):
    settings = {
        "TESTING": True,
        "BLAXEL_API_KEY": "",
        "BLAXEL_WRITE_API_KEY": WRITE_TOKEN,
        "WEBAPP_AUTH": "basic",
        "WEBAPP_USERS_FILE": str(users_file),
        **config,
    }
    return create_app(settings, clock=clock)


def token_from(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, "the page has no cancel form"
    return found.group(1)


def open_form(client, execution=RUNNING) -> str:
    """The operator opens the execution's page; the CSRF token of its cancel form."""
    page = client.get(PAGE.format(*execution), headers=OPERATOR)
    assert page.status_code == 200
    return token_from(page.text)


def test_without_the_write_key_there_is_no_button_and_the_cancel_route_is_404(clock, users_file):
    """No BLAXEL_WRITE_API_KEY: not even an operator sees "Cancel this run", and a POST to the
    route answers 404 (token or not): the feature does not exist."""
    client = demo_app(clock, users_file, BLAXEL_WRITE_API_KEY="").test_client()
    page = client.get(PAGE.format(*RUNNING), headers=OPERATOR)
    assert page.status_code == 200
    assert "Cancel this run" not in page.text and "csrf_token" not in page.text
    answer = client.post(CANCEL.format(*RUNNING), data={"confirm": RUNNING[1]}, headers=OPERATOR)
    assert answer.status_code == 404


def test_a_viewer_sees_no_button_and_is_refused_with_403(clock, users_file):
    """A viewer's page has no cancel form; a POST with a valid token (from an operator's page
    in the same browser) is refused 403, and nothing is sent to Blaxel."""
    client = demo_app(clock, users_file).test_client()
    page = client.get(PAGE.format(*RUNNING), headers=VIEWER)
    assert "Cancel this run" not in page.text
    token = open_form(client)
    data = {"csrf_token": token, "confirm": RUNNING[1]}
    answer = client.post(CANCEL.format(*RUNNING), data=data, headers=VIEWER)
    assert answer.status_code == 403
    assert "Only operators can cancel runs" in answer.text
    after = client.get(PAGE.format(*RUNNING), headers=VIEWER)
    assert "badge-running" in after.text


@pytest.mark.parametrize("token", [None, "", "not-the-token"])
def test_a_missing_or_wrong_csrf_token_is_refused_with_400(clock, users_file, token):
    """The form's POST needs its CSRF token: without it, or with a wrong one, 400 and no cancel."""
    client = demo_app(clock, users_file).test_client()
    open_form(client)
    data = {"confirm": RUNNING[1]}
    if token is not None:
        data["csrf_token"] = token
    answer = client.post(CANCEL.format(*RUNNING), data=data, headers=OPERATOR)
    assert answer.status_code == 400
    assert "CSRF" in answer.text
    assert "badge-running" in client.get(PAGE.format(*RUNNING), headers=OPERATOR).text


def test_an_operator_cancels_a_running_demo_execution_and_it_shows_cancelled(clock, users_file):
    """The operator types the id: the answer says Blaxel accepted and shows the run cancelling;
    a few seconds on, the execution's page shows it cancelled, its running tasks cancelled."""
    client = demo_app(clock, users_file).test_client()
    before = client.get(PAGE.format(*RUNNING), headers=OPERATOR)
    running_tasks = int(re.search(r'data-stats="running \d+ \d+ (\d+)', before.text).group(1))
    assert running_tasks > 0
    data = {"csrf_token": token_from(before.text), "confirm": RUNNING[1]}
    answer = client.post(CANCEL.format(*RUNNING), data=data, headers=OPERATOR)
    assert answer.status_code == 200
    assert "Blaxel accepted the cancel" in answer.text
    assert "200: the execution is cancelling" in answer.text
    assert "badge-cancelling" in answer.text
    assert WRITE_TOKEN not in answer.text

    clock.advance(30)  # past the simulator's cancelling and the app's cache
    after = client.get(PAGE.format(*RUNNING), headers=OPERATOR)
    assert "badge-cancelled" in after.text
    stats = re.search(r'data-stats="cancelled (\d+) (\d+) (\d+) (\d+)', after.text)
    assert stats is not None and stats.group(3) == "0"  # nothing runs any more
    assert int(stats.group(4)) >= running_tasks
    assert "Cancel this run" not in after.text


def test_every_attempt_is_in_the_audit_trail_and_the_log(clock, users_file, caplog):
    """A mistyped id (not sent), a viewer's try (refused here), a cancel Blaxel accepts and one
    it refuses (already finished) are each one audit entry (who, what, Blaxel's answer), shown
    newest first at /audit to operators only, and one log line each."""
    caplog.set_level(logging.INFO, logger="webapp.operate")
    client = demo_app(clock, users_file).test_client()
    token = open_form(client)
    post = lambda execution, typed, who: client.post(  # noqa: E731
        CANCEL.format(*execution), data={"csrf_token": token, "confirm": typed}, headers=who
    )
    assert post(RUNNING, "exec-slow", OPERATOR).status_code == 400
    assert post(RUNNING, RUNNING[1], VIEWER).status_code == 403
    assert post(RUNNING, RUNNING[1], OPERATOR).status_code == 200
    refused = post(FINISHED, FINISHED[1], OPERATOR)
    assert refused.status_code == 409
    assert "Blaxel refused the cancel" in refused.text and "400 BAD_REQUEST" in refused.text

    assert client.get("/audit", headers=VIEWER).status_code == 403
    trail = client.get("/audit", headers=OPERATOR)
    assert trail.status_code == 200
    rows = re.findall(r'<tr class="audit-entry">.*?</tr>', trail.text, re.S)
    assert len(rows) == 4
    who = [re.search(r'class="audit-who">([^<]*)<', row).group(1) for row in rows]
    outcome = [re.search(r'class="audit-outcome">([^<]*)<', row).group(1) for row in rows]
    assert list(zip(who, outcome, strict=True)) == [
        ("olga", "refused"),
        ("olga", "accepted"),
        ("victor", "not sent"),
        ("olga", "not sent"),
    ]
    assert "the id typed did not match" in rows[3] and "not an operator" in rows[2]
    assert "200: the execution is cancelling" in rows[1] and FINISHED[1] in rows[0]
    lines = [r.getMessage() for r in caplog.records if "cancel attempt" in r.getMessage()]
    assert len(lines) == 4


def test_a_cancel_over_https_works_without_a_referer(clock, users_file):
    """The app asks browsers to send no Referer: a form sent over HTTPS without one is taken
    on its token alone, and its session cookie is Secure and SameSite=Lax."""
    app = demo_app(clock, users_file, WEBAPP_HTTPS="1")
    client = app.test_client()
    https = "https://jobs.example.com"
    page = client.get(PAGE.format(*RUNNING), headers=OPERATOR, base_url=https)
    cookie = page.headers["Set-Cookie"]
    assert "Secure" in cookie and "SameSite=Lax" in cookie and "HttpOnly" in cookie
    data = {"csrf_token": token_from(page.text), "confirm": RUNNING[1]}
    answer = client.post(CANCEL.format(*RUNNING), data=data, headers=OPERATOR, base_url=https)
    assert answer.status_code == 200 and "Blaxel accepted the cancel" in answer.text


def test_the_audit_trail_outlives_a_restart(clock, users_file):
    """The trail is in the data folder's store: a new app (a restart) shows the same entries."""
    client = demo_app(clock, users_file).test_client()
    data = {"csrf_token": open_form(client), "confirm": RUNNING[1]}
    client.post(CANCEL.format(*RUNNING), data=data, headers=OPERATOR)
    again = demo_app(clock, users_file).test_client().get("/audit", headers=OPERATOR)
    assert RUNNING[1] in again.text and "accepted" in again.text


def test_without_auth_nobody_can_cancel_even_with_the_write_key(clock):
    """WEBAPP_AUTH=none: nobody is an operator, so no button, and the route refuses."""
    app = create_app(
        {
            "TESTING": True,
            "BLAXEL_API_KEY": "",
            "BLAXEL_WRITE_API_KEY": WRITE_TOKEN,
            "WTF_CSRF_ENABLED": False,
        },
        clock=clock,
    )
    client = app.test_client()
    assert "Cancel this run" not in client.get(PAGE.format(*RUNNING)).text
    answer = client.post(CANCEL.format(*RUNNING), data={"confirm": RUNNING[1]})
    assert answer.status_code == 403


def test_behind_a_proxy_members_of_the_operator_group_may_cancel(clock):
    """Proxy mode: the groups header (a setting) naming WEBAPP_OPERATOR_GROUP makes an operator;
    other groups, or none, do not."""
    app = create_app(
        {
            "TESTING": True,
            "BLAXEL_API_KEY": "",
            "BLAXEL_WRITE_API_KEY": WRITE_TOKEN,
            "WEBAPP_AUTH": "proxy",
            "WEBAPP_TRUSTED_PROXIES": "127.0.0.1",
            "WEBAPP_PROXY_GROUPS_HEADER": "X-Groups",
            "WEBAPP_OPERATOR_GROUP": "batch-ops",
        },
        clock=clock,
    )
    client = app.test_client()
    who = {"X-Forwarded-Email": "ada@example.com"}
    url = PAGE.format(*RUNNING)
    assert (
        "Cancel this run" in client.get(url, headers={**who, "X-Groups": "staff, batch-ops"}).text
    )
    assert "Cancel this run" not in client.get(url, headers={**who, "X-Groups": "staff"}).text
    assert "Cancel this run" not in client.get(url, headers=who).text


def test_add_user_operator_marks_the_user_and_a_plain_add_makes_a_viewer(tmp_path, clock):
    """`add-user NAME --operator` writes the role the sign-in reads; `add-user NAME` again
    (a password change) makes them a viewer unless --operator is given again."""
    path = tmp_path / "users"
    app = create_app({"TESTING": True, "WEBAPP_USERS_FILE": str(path)})
    runner = app.test_cli_runner()
    result = runner.invoke(args=["add-user", "olga", "--operator"], input="operator password\n" * 2)
    assert result.exit_code == 0 and "(an operator)" in result.output
    assert path.read_text().strip().endswith(":operator")
    client = demo_app(clock, path).test_client()
    assert "Cancel this run" in client.get(PAGE.format(*RUNNING), headers=OPERATOR).text
    runner.invoke(args=["add-user", "olga"], input="operator password\n" * 2)
    assert "Cancel this run" not in client.get(PAGE.format(*RUNNING), headers=OPERATOR).text


def test_the_write_key_must_differ_from_the_read_key():
    """The read key is never used to write: the same key in both settings stops the app."""
    with pytest.raises(ConfigError, match="BLAXEL_WRITE_API_KEY must be another key"):
        create_app({"TESTING": True, "BLAXEL_API_KEY": TOKEN, "BLAXEL_WRITE_API_KEY": TOKEN})


def test_the_write_key_is_sent_only_for_the_cancel_and_the_read_key_never(scripted):
    """Pages read with the read key; the cancel's DELETE goes with the write key, once, even
    when Blaxel answers 503 (a write is never retried)."""
    seen: list[tuple[str, str]] = []

    def upstream(request: httpx.Request) -> httpx.Response:
        seen.append((request.method, request.headers["Authorization"]))
        if request.method == "DELETE":
            return httpx.Response(503, json={"error": "unavailable"})
        return httpx.Response(200, json=EXECUTION)

    transport = httpx.MockTransport(upstream)
    read = BlaxelClient("http://blaxel.test/v0", TOKEN, transport=transport)
    write = BlaxelClient("http://blaxel.test/v0", WRITE_TOKEN, transport=transport)
    read.get_execution("nightly", "exec-1", CallScope.starting_now(5))
    with pytest.raises(UpstreamError) as failed:
        write.cancel_execution("nightly", "exec-1", CallScope.starting_now(5))
    assert failed.value.kind is ErrorKind.UNAVAILABLE
    assert seen == [("GET", f"Bearer {TOKEN}"), ("DELETE", f"Bearer {WRITE_TOKEN}")]


def simulator_client(clock, token: str) -> BlaxelClient:
    simulator = create_simulator(clock=clock, write_tokens=(WRITE_TOKEN,))
    transport = httpx.WSGITransport(app=simulator)
    return BlaxelClient("http://simulator.test/v0", token, transport=transport)


def test_the_simulator_refuses_a_cancel_with_a_key_without_the_scope(clock):
    """A key without jobs:delete (any key but the write tokens given) gets 403 FORBIDDEN."""
    client = simulator_client(clock, DEMO_TOKEN)
    with pytest.raises(UpstreamError) as refused:
        client.cancel_execution(*RUNNING, CallScope.starting_now(5))
    assert refused.value.upstream_status == 403 and refused.value.code == "FORBIDDEN"
    assert client.get_execution(*RUNNING, CallScope.starting_now(5)).status == "running"


def test_the_simulator_cancels_a_running_execution_cancelling_then_cancelled(clock):
    """DELETE answers the execution "cancelling"; once the simulator's CANCELLING has passed it
    is "cancelled", every task that was running cancelled with an ExecutionCancelled condition;
    a second cancel, of an execution no longer running, is refused 400."""
    client = simulator_client(clock, WRITE_TOKEN)
    scope = lambda: CallScope.starting_now(5)  # noqa: E731
    running = client.get_execution(*RUNNING, scope()).stats.running
    assert running > 0
    assert client.cancel_execution(*RUNNING, scope()).status == "cancelling"
    assert client.get_execution(*RUNNING, scope()).status == "cancelling"
    clock.advance(6)
    after = client.get_execution(*RUNNING, scope())
    assert after.status == "cancelled" and after.completed_at is not None
    assert after.stats.running == 0 and after.stats.cancelled >= running
    tasks = client.list_tasks(*RUNNING, PageRequest(limit=200), scope()).items
    stopped = [task for task in tasks if task.status == "cancelled"]
    assert len(stopped) == after.stats.cancelled
    assert all(task.conditions[-1].reason == "ExecutionCancelled" for task in stopped)
    with pytest.raises(UpstreamError) as again:
        client.cancel_execution(*RUNNING, scope())
    assert again.value.upstream_status == 400


def test_the_simulator_answers_404_for_an_unknown_execution(clock):
    client = simulator_client(clock, WRITE_TOKEN)
    with pytest.raises(UpstreamError) as missing:
        client.cancel_execution("thumbnail-render", "exec-nope", CallScope.starting_now(5))
    assert missing.value.kind is ErrorKind.NOT_FOUND


def test_the_app_reads_with_the_read_key_and_cancels_with_the_write_key_never_showing_it(clock):
    """With both keys set: every read goes with the read key, the one DELETE with the write
    key; Blaxel echoing the write key in its refusal does not bring it to the page."""
    seen: list[tuple[str, str]] = []
    running = {**EXECUTION, "status": "running", "metadata": {"id": "exec-1", "job": "nightly"}}

    def upstream(request: httpx.Request) -> httpx.Response:
        seen.append((request.method, request.headers["Authorization"]))
        if request.method == "DELETE":
            message = f"key {WRITE_TOKEN} may not cancel here"
            return httpx.Response(403, json={"error": {"code": "FORBIDDEN", "message": message}})
        if request.url.path.endswith("/tasks"):
            return httpx.Response(200, json={"data": [], "meta": {"hasMore": False, "total": 0}})
        return httpx.Response(200, json=running)

    app = create_app(
        {
            "TESTING": True,
            "BLAXEL_API_KEY": TOKEN,
            "BLAXEL_WRITE_API_KEY": WRITE_TOKEN,
            "WEBAPP_AUTH": "proxy",
            "WEBAPP_TRUSTED_PROXIES": "127.0.0.1",
            "WEBAPP_OPERATOR_GROUP": "ops",
        },
        transport=httpx.MockTransport(upstream),
        clock=clock,
    )
    client = app.test_client()
    who = {"X-Forwarded-Email": "ada@example.com", "X-Forwarded-Groups": "ops"}
    page = client.get(PAGE.format("nightly", "exec-1"), headers=who)
    data = {"csrf_token": token_from(page.text), "confirm": "exec-1"}
    answer = client.post(CANCEL.format("nightly", "exec-1"), data=data, headers=who)
    assert answer.status_code == 502
    assert "Blaxel refused the cancel" in answer.text and "403 FORBIDDEN" in answer.text
    assert WRITE_TOKEN not in answer.text and "[redacted]" in answer.text
    assert {auth for method, auth in seen if method == "GET"} == {f"Bearer {TOKEN}"}
    assert [auth for method, auth in seen if method == "DELETE"] == [f"Bearer {WRITE_TOKEN}"]
    trail = client.get("/audit", headers=who).text
    assert "403 FORBIDDEN" in trail and WRITE_TOKEN not in trail

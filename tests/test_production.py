"""The production start command (blaxel-jobs serve: gunicorn on gevent with the packaged config),
what it refuses to do, and how its workers serve the app."""

from __future__ import annotations

import base64
import socket
import subprocess
import sys

import pytest
from werkzeug.security import generate_password_hash

from webapp.web.production import (
    TakeTurns,
    is_loopback,
    shutdown_grace,
    start_problems,
    start_warnings,
)

from .production_server import ROOT, SERVE, clean_environ, fetch, running

SAFE = {"WEBAPP_SECRET_KEY": "s" * 64}


@pytest.mark.parametrize(
    ("bind", "loopback"),
    [
        ("127.0.0.1:8000", True),
        ("127.0.0.2:80", True),
        ("localhost:8000", True),
        ("[::1]:8000", True),
        ("unix:/run/webapp.sock", True),
        ("0.0.0.0:8000", False),
        ("[::]:8000", False),
        ("192.168.1.20:8000", False),
        ("example.org:8000", False),
        ("8000", False),
    ],
)
def test_which_binds_stay_on_this_machine(bind, loopback):
    assert is_loopback(bind) is loopback


def test_production_refuses_to_start_without_a_secret_key():
    (problem,) = start_problems({}, ["127.0.0.1:8000"])
    assert problem.startswith("WEBAPP_SECRET_KEY is not set")


def test_a_real_token_beyond_loopback_without_access_control_is_refused_with_the_reason():
    (problem,) = start_problems({**SAFE, "BLAXEL_API_KEY": "real"}, ["0.0.0.0:8000"])
    assert "Refusing to listen on 0.0.0.0:8000 with WEBAPP_AUTH=none" in problem
    assert "reads the whole workspace" in problem and "WEBAPP_ALLOW_ANONYMOUS=1" in problem


@pytest.mark.parametrize(
    "environ",
    [
        {"BLAXEL_API_KEY": "real", "WEBAPP_ALLOW_ANONYMOUS": "1"},
        {"BLAXEL_API_KEY": "real", "WEBAPP_AUTH": "basic", "WEBAPP_USERS_FILE": "/tmp/u"},
        {"BLAXEL_API_KEY": "real", "WEBAPP_AUTH": "proxy", "WEBAPP_TRUSTED_PROXIES": "10.0.0.1"},
        {"BLAXEL_API_KEY": ""},  # demo data only: nothing to protect
    ],
    ids=["explicitly-anonymous", "basic", "proxy", "demo"],
)
def test_listening_beyond_loopback_is_allowed_with_access_control_or_consent(environ):
    assert start_problems({**SAFE, **environ}, ["0.0.0.0:8000"]) == []


def test_loopback_with_a_real_token_needs_no_access_control():
    assert start_problems({**SAFE, "BLAXEL_API_KEY": "real"}, ["127.0.0.1:8000"]) == []


def test_invalid_settings_are_start_problems():
    assert start_problems({**SAFE, "WEBAPP_AUTH": "ldap"}, []) == [
        "WEBAPP_AUTH must be one of none, basic, proxy, not 'ldap'"
    ]


def test_requests_in_flight_get_time_for_two_upstream_calls_when_a_worker_stops():
    assert shutdown_grace({"BLAXEL_TIMEOUT": "10"}) == 50
    assert shutdown_grace({"BLAXEL_TIMEOUT": "30"}) > 2 * 2 * 30


CHECKOUT_SHIM = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"]


@pytest.mark.parametrize("command", [SERVE, CHECKOUT_SHIM], ids=["blaxel-jobs-serve", "shim"])
def test_the_start_command_explains_its_refusal_and_exits(command):
    server = subprocess.run(
        command,
        cwd=ROOT,
        env=clean_environ(BLAXEL_API_KEY="real", WEBAPP_BIND="0.0.0.0:0"),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert server.returncode != 0
    assert "Not starting" in server.stderr and "WEBAPP_SECRET_KEY is not set" in server.stderr
    assert "Refusing to listen on 0.0.0.0:0" in server.stderr


@pytest.mark.parametrize("command", [SERVE, CHECKOUT_SHIM], ids=["blaxel-jobs-serve", "shim"])
def test_the_start_command_serves_the_app_on_loopback_with_json_request_logs(tmp_path, command):
    log = tmp_path / "server.log"
    with running(log, command, WEB_CONCURRENCY="1") as base:
        status, headers, body = fetch(base + "/?cursor=eyJvIjo1MH0")
    assert status == 200 and "Blaxel jobs" in body
    errors = log.read_text()
    line = next(line for line in errors.splitlines() if headers["X-Request-ID"] in line)
    assert '"route": "/"' in line and '"status": 200' in line
    assert "eyJvIjo1MH0" not in errors


def test_the_real_server_refuses_a_proxy_identity_header_sent_twice(tmp_path):
    """gunicorn joins repeated headers with a comma before the app sees them."""
    request = (
        b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
        b"X-Forwarded-Email: ada@example.com\r\nX-Forwarded-Email: bob@example.com\r\n\r\n"
    )
    settings = {"WEBAPP_AUTH": "proxy", "WEBAPP_TRUSTED_PROXIES": "127.0.0.1"}
    with running(tmp_path / "server.log", WEB_CONCURRENCY="1", **settings) as base:
        port = int(base.rpartition(":")[2])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
            connection.sendall(request)
            answer = b"".join(iter(lambda: connection.recv(65536), b""))
    assert answer.startswith(b"HTTP/1.1 403 ")
    assert b"The sign-in proxy named more than one person" in answer


def test_the_real_server_signs_people_in_and_pauses_a_guesser(tmp_path):
    """Under gevent the hash runs on the hub's native thread pool: sign-in still works there."""
    users = tmp_path / "users"
    users.write_text(f"ada:{generate_password_hash('correct horse')}\n")

    def as_ada(password: str) -> dict[str, str]:
        return {"Authorization": "Basic " + base64.b64encode(f"ada:{password}".encode()).decode()}

    settings = {"WEBAPP_AUTH": "basic", "WEBAPP_USERS_FILE": str(users), "WEB_CONCURRENCY": "1"}
    with running(tmp_path / "server.log", **settings) as base:
        signed_in = fetch(base + "/", **as_ada("correct horse"))[0]
        guesses = [fetch(base + "/", **as_ada(f"guess {n}"))[0] for n in range(6)]
    assert signed_in == 200
    assert guesses == [401] * 5 + [429]


def test_under_gevent_a_streamed_response_lets_other_requests_run_between_its_chunks():
    """A download whose chunks cost CPU and never wait (a fast socket, the demo's in-process API)
    no longer holds the worker's event loop from its first chunk to its last."""
    program = """
from gevent import monkey
monkey.patch_all()
import gevent
from webapp.web.production import TakeTurns
ticks, seen_between = [], []
def busy_chunks(environ, start_response):
    start_response("200 OK", [])
    for _ in range(20):
        sum(range(200_000))  # CPU, no waiting
        yield b"x"
        seen_between.append(len(ticks))
def other_request():
    while True:
        ticks.append(1)
        gevent.sleep(0)
ticker = gevent.spawn(other_request)
download = gevent.spawn(lambda: list(TakeTurns(busy_chunks)({}, lambda *a: None)))
download.join(30)
ticker.kill()
print(seen_between[-2])
"""
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) > 5  # the other request ran while the download was under way


def test_closing_a_response_closes_the_apps_even_if_never_iterated():
    """gunicorn closes every response; the app's close() frees what it held (an export's share)."""
    closed = []

    class Chunks(list):
        def close(self):
            closed.append(True)

    TakeTurns(lambda environ, start_response: Chunks([b"a"]))({}, None).close()
    assert closed == [True]


def test_the_demo_command_serves_demo_data_even_with_a_key_set(tmp_path):
    command = [sys.executable, "-m", "webapp.web.cli", "demo", "--port", "{port}"]
    nowhere = {"BLAXEL_API_KEY": "real", "BLAXEL_API_URL": "http://127.0.0.1:9/v0"}
    with running(tmp_path / "server.log", command, **nowhere) as base:
        status, _, body = fetch(base + "/")
    assert status == 200 and "nightly-embeddings" in body


BASIC = {"WEBAPP_AUTH": "basic", "WEBAPP_USERS_FILE": "/nonexistent/users"}


def test_basic_auth_behind_a_proxy_without_trusted_proxies_is_warned_of_at_start():
    """Bound to loopback, people come through a proxy on this machine: without
    WEBAPP_TRUSTED_PROXIES they would all share its address, and one sign-in count."""
    (warning,) = start_warnings({**SAFE, **BASIC}, ["127.0.0.1:8000"])
    assert "WEBAPP_TRUSTED_PROXIES" in warning and "pause everyone's sign-in" in warning
    trusted = {**SAFE, **BASIC, "WEBAPP_TRUSTED_PROXIES": "127.0.0.1"}
    assert start_warnings(trusted, ["127.0.0.1:8000"]) == []
    assert start_warnings({**SAFE}, ["127.0.0.1:8000"]) == []


def test_a_data_file_that_cannot_be_read_is_a_start_problem(data_dir):
    (data_dir / "webapp.sqlite3").write_bytes(b"garbage" * 500)
    (problem,) = start_problems({**SAFE, **BASIC}, ["127.0.0.1:8000"])
    assert f"The data file {data_dir / 'webapp.sqlite3'} cannot be read" in problem

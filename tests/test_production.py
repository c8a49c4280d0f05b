"""The production start command: gunicorn with the repo's config, and what it refuses to do."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.error import URLError
from urllib.request import urlopen

import pytest

from bench.serving import free_port
from webapp.production import is_loopback, start_problems, worker_timeout

ROOT = Path(__file__).resolve().parent.parent
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


def test_the_worker_timeout_outlasts_two_upstream_calls():
    assert worker_timeout({"BLAXEL_TIMEOUT": "10"}) == 50
    assert worker_timeout({"BLAXEL_TIMEOUT": "30"}) > 2 * 2 * 30


def gunicorn(environ: dict[str, str]) -> subprocess.Popen:
    clean = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("BLAXEL_", "WEBAPP_"))
    }
    return subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"],
        cwd=ROOT,
        env={**clean, **environ},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_the_start_command_explains_its_refusal_and_exits():
    server = gunicorn({"BLAXEL_API_KEY": "real", "WEBAPP_BIND": "0.0.0.0:0"})
    _, errors = server.communicate(timeout=30)
    assert server.returncode != 0
    assert "Not starting" in errors and "WEBAPP_SECRET_KEY is not set" in errors
    assert "Refusing to listen on 0.0.0.0:0" in errors


def test_the_start_command_serves_the_app_on_loopback_with_json_request_logs():
    port = free_port()
    server = gunicorn({**SAFE, "WEBAPP_BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": "1"})
    try:
        for _ in range(100):
            try:
                # urllib, not httpx: httpx would log this URL (and its cursor) itself.
                with urlopen(f"http://127.0.0.1:{port}/?cursor=eyJvIjo1MH0", timeout=5) as answer:  # noqa: S310
                    status, body = answer.status, answer.read().decode()
                    request_id = answer.headers["X-Request-ID"]
                break
            except URLError:
                time.sleep(0.1)
        assert status == 200 and "Blaxel jobs" in body
    finally:
        server.terminate()
        _, errors = server.communicate(timeout=30)
    line = next(line for line in errors.splitlines() if request_id in line)
    assert '"route": "/"' in line and '"status": 200' in line
    assert "eyJvIjo1MH0" not in errors

"""Nothing rendered for one person reaches another: every page and fragment is their own."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from werkzeug.security import generate_password_hash

from bench.serving import free_port, stop, wait_for

ROOT = Path(__file__).resolve().parent.parent
URLS = [
    "/",
    "/jobs/nightly-embeddings/executions",
    "/jobs/nightly-embeddings/executions/exec-5k-embeddings/tasks",
]
PEOPLE = ("ada@example.com", "bob@example.com")


def basic(name: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{name}:{password}".encode()).decode()}


def signed_in_as(html: str) -> list[str]:
    return [
        person for person in PEOPLE if f'class="identity" title="Signed in as">{person}<' in html
    ]


@pytest.fixture
def app_for(tmp_path, clock):
    from webapp import create_app

    def build(**config):
        return create_app({"TESTING": True, "BLAXEL_API_KEY": ""} | config, clock=clock)

    return build


def test_two_people_signed_in_with_passwords_each_see_their_own_page(app_for, tmp_path):
    users = tmp_path / "users"
    users.write_text(
        "".join(f"{person}:{generate_password_hash('pass-' + person)}\n" for person in PEOPLE)
    )
    client = app_for(WEBAPP_AUTH="basic", WEBAPP_USERS_FILE=str(users)).test_client()
    for url in URLS * 2:
        for person in PEOPLE:
            page = client.get(url, headers=basic(person, "pass-" + person))
            assert page.status_code == 200
            assert signed_in_as(page.text) == [person], (url, person)


def test_two_people_behind_the_sign_in_proxy_each_see_their_own_page_and_etag(app_for):
    client = app_for(WEBAPP_AUTH="proxy", WEBAPP_TRUSTED_PROXIES="127.0.0.1").test_client()
    etags = {}
    for url in URLS:
        for person in PEOPLE:
            page = client.get(url, headers={"X-Forwarded-Email": person})
            assert signed_in_as(page.text) == [person], (url, person)
            etags[url, person] = page.headers["ETag"]
        # Same data, another person: another body, so a validator of one never fits the other.
        assert etags[url, PEOPLE[0]] != etags[url, PEOPLE[1]]
        stale = client.get(
            url, headers={"X-Forwarded-Email": PEOPLE[1], "If-None-Match": etags[url, PEOPLE[0]]}
        )
        assert stale.status_code == 200 and signed_in_as(stale.text) == [PEOPLE[1]]


def test_under_gunicorn_alternating_people_never_get_each_others_page():
    port = free_port()
    env = {
        **os.environ,
        "BLAXEL_API_KEY": "",
        "WEBAPP_AUTH": "proxy",
        "WEBAPP_TRUSTED_PROXIES": "127.0.0.1",
        "WEBAPP_SECRET_KEY": "per-person-test-secret",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--workers", "2", "--threads", "8"]
        + ["--bind", f"127.0.0.1:{port}", "--chdir", str(ROOT), "webapp:create_app()"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(base + "/healthz")
        with httpx.Client(base_url=base, timeout=20) as http:
            for round_ in range(20):
                for person in PEOPLE if round_ % 2 else PEOPLE[::-1]:
                    url = URLS[round_ % len(URLS)]
                    page = http.get(url, headers={"X-Forwarded-Email": person})
                    assert page.status_code == 200
                    assert signed_in_as(page.text) == [person], (round_, url, person)
    finally:
        stop(server, seconds=10)

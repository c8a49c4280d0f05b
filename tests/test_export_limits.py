"""Exports walk whole executions, so each person, and each worker process, runs only a few at
once; a download holds its share until it is sent or abandoned, and pages are never limited."""

from __future__ import annotations

import contextvars

import httpx
import pytest
from werkzeug.security import generate_password_hash

from .conftest import task_page
from .test_access import basic

EXPORT = "/jobs/nightly-embeddings/executions/exec-5k-embeddings/tasks.csv"
SMALL_EXPORT = "/jobs/invoice-ocr/executions/exec-320-invoices/tasks.csv"
SCRIPTED_EXPORT = "/jobs/nightly/executions/exec-1/tasks.csv"


class Download:
    """A download under way: its first chunk is ready, nothing has been read. Each runs in a
    context of its own, as each request does on a server, since a streamed response keeps its
    request context pushed until it is closed."""

    def __init__(self, client, url=EXPORT, address="192.0.2.1", headers=None) -> None:
        self.context = contextvars.copy_context()
        self.response = self.context.run(
            client.get,
            url,
            buffered=False,
            headers=headers or {},
            environ_base={"REMOTE_ADDR": address},
        )
        self.status_code = self.response.status_code
        self.headers = self.response.headers

    def text(self) -> str:
        return self.context.run(self.response.get_data, as_text=True)

    def close(self) -> None:
        self.context.run(self.response.close)


start = Download


def test_a_person_runs_at_most_two_exports_at_once_and_is_told_why(client):
    running = [start(client), start(client)]
    assert [response.status_code for response in running] == [200, 200]
    refused = start(client)
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "10"
    text = refused.text()
    assert "Too many downloads at once" in text and "You already have 2 downloads running" in text
    running[0].close()  # one finishes (or its reader leaves): the next may start
    third = start(client)
    assert third.status_code == 200
    for response in (running[1], third):
        response.close()


def test_other_people_and_every_page_go_on_while_one_person_has_two_exports(client):
    running = [start(client), start(client), start(client, address="192.0.2.2")]
    assert [response.status_code for response in running] == [200, 200, 200]
    assert client.get("/", environ_base={"REMOTE_ADDR": "192.0.2.1"}).status_code == 200
    for response in running:
        response.close()


def test_a_worker_runs_at_most_its_share_of_exports_in_all(app_with):
    client = app_with(WEBAPP_EXPORTS_PER_WORKER="3").test_client()
    running = [start(client, address=f"192.0.2.{number}") for number in range(3)]
    busy = start(client, address="192.0.2.99")
    assert busy.status_code == 503 and busy.headers["Retry-After"] == "30"
    assert "The server is busy with other downloads" in busy.text()
    for response in running:
        response.close()
    after = start(client, address="192.0.2.99")
    assert after.status_code == 200
    after.close()


def test_a_download_read_to_the_end_frees_its_share(client):
    for _ in range(3):
        response = start(client, url=SMALL_EXPORT)
        assert response.status_code == 200
        response.text()
        response.close()


def test_an_export_that_fails_before_its_first_byte_frees_its_share(scripted):
    def failing(request: httpx.Request) -> httpx.Response:
        return httpx.Response(500, json={"error": "boom"})

    client, _ = scripted(failing, BLAXEL_TIMEOUT="1")
    for _ in range(3):
        failed = start(client, url=SCRIPTED_EXPORT)
        assert failed.status_code == 502
        failed.close()  # as the server does with every response


def test_signed_in_people_are_counted_by_name_not_address(scripted, tmp_path):
    users = tmp_path / "users"
    users.write_text(
        f"ada:{generate_password_hash('correct horse')}\n"
        f"bob:{generate_password_hash('battery staple')}\n"
    )
    client, _ = scripted(
        lambda request: httpx.Response(200, json=task_page([])),
        WEBAPP_AUTH="basic",
        WEBAPP_USERS_FILE=str(users),
    )
    ada, bob = basic("ada", "correct horse"), basic("bob", "battery staple")
    running = [
        start(client, SCRIPTED_EXPORT, f"192.0.2.{number}", headers=ada) for number in range(2)
    ]
    assert start(client, SCRIPTED_EXPORT, "192.0.2.9", headers=ada).status_code == 429
    running.append(start(client, SCRIPTED_EXPORT, "192.0.2.1", headers=bob))
    assert running[-1].status_code == 200
    for response in running:
        response.close()


@pytest.mark.parametrize(
    "setting", ["WEBAPP_EXPORTS_PER_PERSON", "WEBAPP_EXPORTS_PER_WORKER"], ids=str
)
def test_unusable_export_limits_stop_the_app_at_start_up(app_with, setting):
    from webapp.common.config import ConfigError

    with pytest.raises(ConfigError, match=f"{setting} must be a whole number from 1 to 1000"):
        app_with(**{setting: "0"})


@pytest.fixture
def app_with(clock):
    from webapp import create_app

    def build(**config):
        return create_app(
            {
                "TESTING": True,
                "BLAXEL_API_KEY": "",
                **config,
            },
            clock=clock,
        )

    return build

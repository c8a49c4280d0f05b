"""Pages that walk or draw a whole execution (the timeline of every task, the failure groups, a
task list filtered or ordered by the app) take a share as exports do: each person, and each
worker process, loads only a few at once; beyond them a 429 with Retry-After says why, as a page
or as the fragment that fits where it lands. Every other page is never limited by them."""

from __future__ import annotations

import threading

import httpx
import pytest

from webapp import create_app
from webapp.simulator import create_simulator

from .conftest import TOKEN
from .test_export_limits import EXPORT, start

STRAGGLERS = "/jobs/report-render/executions/exec-stragglers"
BIG = "/jobs/nightly-embeddings/executions/exec-5k-embeddings"
WHOLE_TIMELINE = STRAGGLERS + "/tasks?view=timeline&span=all"
HEAVY = {
    "whole timeline": WHOLE_TIMELINE,
    "failure groups": STRAGGLERS + "/triage",
    "status walk": STRAGGLERS + "/tasks?status=failed",
    "cause walk": STRAGGLERS + "/tasks?cause=c0ffee012345",
    "slowest first": STRAGGLERS + "/tasks?sort=duration:desc",
}
ORDINARY = {
    "jobs": "/",
    "executions": "/jobs/report-render/executions",
    "task list": STRAGGLERS + "/tasks",
    "searched list": STRAGGLERS + "/tasks?q=task-1",
    "timeline of the list's page": STRAGGLERS + "/tasks?view=timeline",
    "task": STRAGGLERS + "/tasks/task-1",
}
HTMX = {"HX-Request": "true"}


@pytest.fixture
def app_with(clock):
    def build(**config):
        return create_app(
            {"TESTING": True, "BLAXEL_API_KEY": "", "CLOCK": clock, "SIMULATOR_CLOCK": clock}
            | config
        )

    return build


@pytest.mark.parametrize("url", HEAVY.values(), ids=HEAVY.keys())
def test_a_person_beyond_their_share_of_heavy_pages_gets_a_429_with_retry_after(app_with, url):
    client = app_with(WEBAPP_HEAVY_PAGES_PER_PERSON="1").test_client()
    held = start(client, url=WHOLE_TIMELINE)
    assert held.status_code == 200
    refused = start(client, url=url)
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "5"
    text = refused.text()
    assert "Too many whole-execution views at once" in text
    assert "You already have 1 views loading" in text and 'class="error-page"' in text
    held.close()  # the first has been sent: the next may load
    after = start(client, url=url)
    assert after.status_code == 200
    after.close()


@pytest.mark.parametrize("url", ORDINARY.values(), ids=ORDINARY.keys())
def test_ordinary_pages_go_on_while_a_person_holds_every_heavy_share(app_with, url):
    client = app_with(WEBAPP_HEAVY_PAGES_PER_PERSON="1").test_client()
    held = start(client, url=WHOLE_TIMELINE)
    assert start(client, url=WHOLE_TIMELINE).status_code == 429
    shown = start(client, url=url)
    assert shown.status_code == 200
    for response in (shown, held):
        response.close()


def test_a_worker_loads_at_most_its_share_of_heavy_pages_in_all(app_with):
    client = app_with(WEBAPP_HEAVY_PAGES_PER_WORKER="2").test_client()
    held = [start(client, url=WHOLE_TIMELINE, address=f"192.0.2.{n}") for n in (1, 2)]
    assert [response.status_code for response in held] == [200, 200]
    busy = start(client, url=HEAVY["failure groups"], address="192.0.2.3")
    assert busy.status_code == 429 and busy.headers["Retry-After"] == "5"
    assert "The server is busy with other whole-execution views" in busy.text()
    # Neither the ordinary pages nor the exports wait for the heavy pages' share.
    export = start(client, url=EXPORT, address="192.0.2.3")
    page = start(client, url=ORDINARY["task list"], address="192.0.2.3")
    assert (export.status_code, page.status_code) == (200, 200)
    for response in (export, page, held[0]):
        response.close()
    after = start(client, url=HEAVY["failure groups"], address="192.0.2.3")
    assert after.status_code == 200
    for response in (after, held[1]):
        response.close()


@pytest.mark.parametrize(
    ("url", "opening"),
    [
        (WHOLE_TIMELINE, '<section id="timeline" class="error-section">'),
        (HEAVY["failure groups"], '<section id="triage" class="error-section">'),
        (HEAVY["status walk"], '<tr class="error-row">'),
    ],
    ids=["timeline", "failure groups", "rows"],
)
def test_a_refused_htmx_request_gets_a_fragment_that_fits_where_it_lands(app_with, url, opening):
    client = app_with(WEBAPP_HEAVY_PAGES_PER_PERSON="1").test_client()
    held = start(client, url=WHOLE_TIMELINE)
    refused = start(client, url=url, headers=HTMX)
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "5"
    fragment = refused.text()
    assert fragment.startswith(opening) and "<html" not in fragment
    assert "Too many whole-execution views at once" in fragment
    assert f'hx-get="{url}"' in fragment.replace("&amp;", "&")  # trying again asks the same
    held.close()


class Gate(httpx.BaseTransport):
    """The simulator, except that the big execution's task pages wait until `opened` is set."""

    def __init__(self, clock) -> None:
        self.simulator = httpx.WSGITransport(app=create_simulator(clock=clock))
        self.waiting = threading.Event()
        self.opened = threading.Event()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("exec-5k-embeddings/tasks"):
            self.waiting.set()
            assert self.opened.wait(30), "the test never opened the gate"
        return self.simulator.handle_request(request)


def test_a_heavy_page_in_flight_holds_its_share_while_other_pages_are_served(clock):
    gate = Gate(clock)
    app = create_app(
        {
            "TESTING": True,
            "BLAXEL_API_KEY": TOKEN,
            "BLAXEL_TRANSPORT": gate,
            "CLOCK": clock,
            "WEBAPP_HEAVY_PAGES_PER_PERSON": "1",
        }
    )
    client = app.test_client()
    answers: list[int] = []

    def walk() -> None:
        with client.get(BIG + "/tasks?view=timeline&span=all") as response:
            answers.append(response.status_code)

    walking = threading.Thread(target=walk)
    walking.start()
    try:
        assert gate.waiting.wait(30)  # the walk is under way, its share taken
        for url, status in [
            (STRAGGLERS + "/triage", 429),
            (STRAGGLERS + "/tasks", 200),
            ("/jobs/report-render/executions", 200),
        ]:
            with client.get(url) as response:
                assert response.status_code == status
    finally:
        gate.opened.set()
        walking.join(30)
    assert answers == [200]
    assert client.get(STRAGGLERS + "/triage").status_code == 200  # its share was given back


@pytest.mark.parametrize(
    "setting", ["WEBAPP_HEAVY_PAGES_PER_PERSON", "WEBAPP_HEAVY_PAGES_PER_WORKER"], ids=str
)
def test_unusable_heavy_page_shares_stop_the_app_at_start_up(app_with, setting):
    from webapp.config import ConfigError

    with pytest.raises(ConfigError, match=f"{setting} must be a whole number from 1 to 1000"):
        app_with(**{setting: "0"})

"""Pages that walk or draw a whole execution (the timeline of every task, the failure groups, a
task list filtered or ordered by the app) take a share as exports do: each person, and each
worker process, loads only a few at once; beyond them a 429 with Retry-After says why, as a page
or as the fragment that fits where it lands. Every other page is never limited by them.

Heavy pages are held in flight at a gate in front of the simulator: the big execution's task
pages wait until the test opens it, while other requests are answered at once."""

from __future__ import annotations

import threading

import httpx
import pytest

from webapp import create_app
from webapp.simulator import create_simulator

from .conftest import TOKEN
from .test_export_limits import start

STRAGGLERS = "/jobs/report-render/executions/exec-stragglers"
HELD = "/jobs/nightly-embeddings/executions/exec-5k-embeddings/tasks?view=timeline&span=all"
HEAVY = {
    "whole timeline": STRAGGLERS + "/tasks?view=timeline&span=all",
    # The timeline's default: the whole execution (its newest 5,000 tasks).
    "timeline": STRAGGLERS + "/tasks?view=timeline",
    "failure groups": STRAGGLERS + "/triage",
    "status walk": STRAGGLERS + "/tasks?status=failed",
    "cause walk": STRAGGLERS + "/tasks?cause=c0ffee012345",
    "slowest first": STRAGGLERS + "/tasks?sort=duration:desc",
    "longest wait first": STRAGGLERS + "/tasks?sort=wait:desc",
    "failed first": STRAGGLERS + "/tasks?sort=failed",
    # A failed execution's tasks open failed first: a walk, though the URL names no order.
    "failed execution": "/jobs/report-render/executions/exec-e4522547/tasks",
    # Every task's logs searched: the execution walked, then a logs call per task.
    "logs search": STRAGGLERS + "/logs?q=Traceback",
}
ORDINARY = {
    "jobs": "/",
    "executions": "/jobs/report-render/executions",
    "task list": STRAGGLERS + "/tasks",
    "failed execution newest first": "/jobs/report-render/executions/exec-e4522547/tasks"
    "?sort=createdAt:desc",
    "searched list": STRAGGLERS + "/tasks?q=task-1",
    "timeline of the list's page": STRAGGLERS + "/tasks?view=timeline&span=page",
    "task": STRAGGLERS + "/tasks/task-1",
}
HTMX = {"HX-Request": "true"}


class Gate(httpx.BaseTransport):
    """The simulator, except that the big execution's task pages wait until `opened` is set;
    `arrived` counts the requests waiting there."""

    def __init__(self, clock) -> None:
        self.simulator = httpx.WSGITransport(app=create_simulator(clock=clock))
        self.arrived = threading.Semaphore(0)
        self.opened = threading.Event()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("exec-5k-embeddings/tasks") and not self.opened.is_set():
            self.arrived.release()
            assert self.opened.wait(30), "the test never opened the gate"
        return self.simulator.handle_request(request)


class Server:
    """The app in front of the gate, and the heavy pages it holds in flight, each in a thread
    of its own as a server's requests are."""

    def __init__(self, clock, **config: str) -> None:
        self.gate = Gate(clock)
        settings = {"TESTING": True, "BLAXEL_API_KEY": TOKEN}
        self.client = create_app(settings | config, transport=self.gate, clock=clock).test_client()
        self.threads: list[threading.Thread] = []
        self.statuses: list[int] = []

    def get(self, url: str, address: str = "192.0.2.1", headers=None):
        with self.client.get(url, headers=headers, environ_base={"REMOTE_ADDR": address}) as got:
            got.get_data()
            return got

    def hold(self, address: str = "192.0.2.1") -> None:
        """A whole timeline of the big execution, under way until release(). Each held one
        searches its own words: the same upstream page would be asked for only once."""
        url = f"{HELD}&q=task-{len(self.threads) + 1}"
        thread = threading.Thread(
            target=lambda: self.statuses.append(self.get(url, address).status_code)
        )
        thread.start()
        self.threads.append(thread)
        assert self.gate.arrived.acquire(timeout=30), "the held page never reached the gate"

    def release(self) -> list[int]:
        self.gate.opened.set()
        for thread in self.threads:
            thread.join(30)
        return self.statuses


@pytest.fixture
def server(clock):
    made: list[Server] = []

    def build(**config: str) -> Server:
        made.append(Server(clock, **config))
        return made[-1]

    yield build
    for each in made:
        each.release()


@pytest.mark.parametrize("url", HEAVY.values(), ids=HEAVY.keys())
def test_a_person_beyond_their_share_of_heavy_pages_gets_a_429_with_retry_after(server, url):
    app = server(WEBAPP_HEAVY_PAGES_PER_PERSON="1")
    app.hold()
    refused = app.get(url)
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "5"
    text = refused.get_data(as_text=True)
    assert "Too many whole-execution views at once" in text
    assert "You already have 1 view loading" in text and 'class="error-page"' in text
    assert app.get(url, address="192.0.2.2").status_code == 200  # someone else's share
    assert app.release() == [200]
    assert app.get(url).status_code == 200  # the first is done: the next may load


@pytest.mark.parametrize("url", ORDINARY.values(), ids=ORDINARY.keys())
def test_ordinary_pages_go_on_while_a_person_holds_every_heavy_share(server, url):
    app = server(WEBAPP_HEAVY_PAGES_PER_PERSON="2", WEBAPP_HEAVY_PAGES_PER_WORKER="2")
    app.hold()
    app.hold()
    assert app.get(HEAVY["failure groups"]).status_code == 429
    assert app.get(url).status_code == 200
    assert app.release() == [200, 200]


def test_a_worker_loads_at_most_its_share_of_heavy_pages_in_all(server):
    app = server(WEBAPP_HEAVY_PAGES_PER_WORKER="2")
    app.hold("192.0.2.1")
    app.hold("192.0.2.2")
    busy = app.get(HEAVY["failure groups"], address="192.0.2.3")
    assert busy.status_code == 429 and busy.headers["Retry-After"] == "5"
    assert "The server is busy with other whole-execution views" in busy.get_data(as_text=True)
    # Neither the ordinary pages nor the exports wait for the heavy pages' share.
    export = start(app.client, url=STRAGGLERS + "/tasks.csv", address="192.0.2.3")
    assert export.status_code == 200
    export.close()
    assert app.get(ORDINARY["task list"], address="192.0.2.3").status_code == 200
    assert app.release() == [200, 200]
    assert app.get(HEAVY["failure groups"], address="192.0.2.3").status_code == 200


@pytest.mark.parametrize(
    ("url", "opening"),
    [
        (HEAVY["whole timeline"], '<section id="timeline" class="error-section">'),
        (HEAVY["failure groups"], '<section id="triage" class="error-section">'),
        (HEAVY["status walk"], '<tr class="error-row">'),
    ],
    ids=["timeline", "failure groups", "rows"],
)
def test_a_refused_htmx_request_gets_a_fragment_that_fits_where_it_lands(server, url, opening):
    app = server(WEBAPP_HEAVY_PAGES_PER_PERSON="1")
    app.hold()
    refused = app.get(url, headers=HTMX)
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "5"
    fragment = refused.get_data(as_text=True)
    assert fragment.startswith(opening) and "<html" not in fragment
    assert "Too many whole-execution views at once" in fragment
    assert f'hx-get="{url}"' in fragment.replace("&amp;", "&")  # trying again asks the same


def test_a_heavy_page_sent_or_failed_gives_its_share_back(server):
    app = server(WEBAPP_HEAVY_PAGES_PER_PERSON="1")
    for _ in range(3):  # each is answered, then the next may load
        assert app.get(HEAVY["whole timeline"]).status_code == 200
    for _ in range(3):  # a walk that fails (no such execution) frees its share as well
        assert app.get("/jobs/report-render/executions/exec-none/triage").status_code == 404
    assert app.get(HEAVY["failure groups"]).status_code == 200


@pytest.mark.parametrize(
    "setting", ["WEBAPP_HEAVY_PAGES_PER_PERSON", "WEBAPP_HEAVY_PAGES_PER_WORKER"], ids=str
)
def test_unusable_heavy_page_shares_stop_the_app_at_start_up(clock, setting):
    from webapp.common.config import ConfigError

    with pytest.raises(ConfigError, match=f"{setting} must be a whole number from 1 to 1000"):
        create_app({"TESTING": True, "BLAXEL_API_KEY": "", setting: "0"}, clock=clock)


def test_a_whole_timeline_gives_way_to_other_requests_as_it_is_made(client, monkeypatch):
    """Under gevent a worker switches requests only where one waits: drawing 5,000 bars never
    waits, so the walk, the chart and its table each give way every few hundred items."""
    from webapp.listing import gather

    moments: list[int] = []
    monkeypatch.setattr(gather, "give_way", lambda: moments.append(1))
    url = "/jobs/nightly-embeddings/executions/exec-5k-embeddings/tasks?view=timeline&span=all"
    for _ in range(3):  # read to its end: 2,000 tasks a request
        html = client.get(url, headers=HTMX).get_data(as_text=True)
    assert "Shows 5,000 of 5,000 tasks: the whole execution" in html
    moments.clear()
    client.get(url, headers=HTMX)
    # 25 pages recalled (25), 5,000 bars drawn (20 × 250) and the table's 4,825 succeeded rows
    # written (19 × 250; the smaller groups hold under 250 rows each).
    assert gather.PACE == 250 and len(moments) >= 25 + 20 + 19

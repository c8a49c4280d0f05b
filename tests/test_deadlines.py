"""One deadline per request, from real upstream servers on loopback sockets: whatever the upstream
does, a request ends once BLAXEL_TIMEOUT has passed; a status walk that runs out of time answers
the rows it found with "Load more"; /readyz answers from its last result while a probe is in
flight. Upstream slowness is time on the test's clock (`deadline_clock`), never real waiting."""

from __future__ import annotations

import itertools
import json
import queue
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from webapp import create_app

from .conftest import EXECUTION, TOKEN, task_json, task_page
from .faulty import Behaviour, ByPath, Clock, FaultyServer, later, respond, trickle_head

TIMEOUT = 1.0
JSON = {"Content-Type": "application/json"}
JOBS = json.dumps({"data": [{"metadata": {"name": "nightly"}}], "meta": {}}).encode()
GOOD = respond(200, JOBS, JSON)
TASKS = "/jobs/nightly/executions/exec-1/tasks"
LOAD_MORE = re.compile(r'class="load-more" href="[^"]*cursor=')


def app_on(url: str, readiness_ttl: float = 5.0, **config: Any):
    return create_app(
        {
            "TESTING": True,
            "BLAXEL_API_KEY": TOKEN,
            "BLAXEL_API_URL": url,
            "BLAXEL_TIMEOUT": TIMEOUT,
            **config,
        },
        readiness_ttl=readiness_ttl,
    )


def slow_task_pages(clock: Clock, seconds: float, statuses: tuple[str, ...]) -> Behaviour:
    """Task pages that each take `seconds` on `clock`; each has more after it, under a new
    cursor."""
    pages = itertools.count()

    def behaviour(connection, stopping) -> None:
        page = next(pages)
        tasks = [task_json(page * 10 + i, status) for i, status in enumerate(statuses)]
        body = json.dumps(task_page(tasks, next_cursor=f"TkVYVA{page}", total=10_000))
        later(clock, seconds, respond(200, body.encode(), JSON))(connection, stopping)

    return behaviour


def execution_with(tasks: Behaviour) -> ByPath:
    return ByPath({"/tasks": tasks}, respond(200, json.dumps(EXECUTION).encode(), JSON))


def task_pages_asked(server: FaultyServer) -> int:
    return sum(b"/tasks?" in head.split(b"\r\n", 1)[0] for head in server.requests)


def test_headers_that_trickle_byte_by_byte_are_cut_off_at_the_deadline(deadline_clock):
    """Each byte of the head comes quickly (0.2 s on the test's clock): only the request's own
    deadline ends it, with a 504, before the server hangs up (which would be a 502)."""
    with FaultyServer(trickle_head(deadline_clock)) as server:
        response = app_on(server.url).test_client().get("/")
    assert response.status_code == 504


def test_a_status_walk_of_slow_pages_answers_the_rows_found_by_the_deadline_with_load_more(
    deadline_clock,
):
    # Each page takes most of the deadline: the walk cannot read its budget of 10 pages in time.
    pages = slow_task_pages(deadline_clock, 0.7 * TIMEOUT, ("failed", "succeeded", "succeeded"))
    with FaultyServer(execution_with(pages)) as server:
        client = app_on(server.url, WEBAPP_SCAN_BUDGET="10").test_client()
        response = client.get(TASKS + "?status=failed")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "task-0" in html  # the failed task of the first page
    assert LOAD_MORE.search(html), "no Load more link to go on from where the walk stopped"
    # The deadline stopped the walk, its budget of 10 pages far from spent.
    assert 1 <= task_pages_asked(server) <= 3


def test_looking_up_a_missing_task_among_slow_pages_ends_by_the_deadline(deadline_clock):
    pages = slow_task_pages(deadline_clock, 0.7 * TIMEOUT, ("succeeded", "succeeded"))
    with FaultyServer(execution_with(pages)) as server:
        client = app_on(server.url, WEBAPP_SCAN_BUDGET="10").test_client()
        response = client.get(TASKS + "/task-missing")
    assert response.status_code in (404, 504)
    assert 1 <= task_pages_asked(server) <= 3


def test_readyz_answers_from_its_last_result_while_a_probe_is_in_flight(deadline_clock):
    """While one caller's probe waits on Blaxel, nine others get the last result (ready) at
    once: they all answer before the probe is let go."""
    probing, release = threading.Event(), threading.Event()

    def held_probe(connection, stopping) -> None:
        probing.set()
        if release.wait(30):
            GOOD(connection, stopping)

    with FaultyServer(GOOD) as server:
        app = app_on(server.url, readiness_ttl=0.5)
        assert app.test_client().get("/readyz").status_code == 200  # the last result: ready
        server.behaviour = held_probe
        deadline_clock.advance(0.6)  # that result is now due for a new probe
        answers: queue.Queue[int] = queue.Queue()
        with ThreadPoolExecutor(10) as pool:
            for _ in range(10):
                pool.submit(lambda: answers.put(app.test_client().get("/readyz").status_code))
            try:
                assert probing.wait(10), "no probe went out"
                quick = [answers.get(timeout=10) for _ in range(9)]
            finally:
                release.set()
        last = answers.get_nowait()
    assert quick == [200] * 9
    assert last == 200
    assert len(server.requests) == 2  # the first probe and the one in flight

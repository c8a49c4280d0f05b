"""One deadline per request, from real upstream servers on loopback sockets: whatever the upstream
does, a request ends within about BLAXEL_TIMEOUT; a status walk that runs out of time answers the
rows it found with "Load more"; /readyz answers from its last result while a probe is in flight."""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from webapp import create_app

from .conftest import EXECUTION, TOKEN, task_json, task_page
from .faulty import Behaviour, ByPath, FaultyServer, respond, slowly, trickle_head

TIMEOUT = 1.0
JSON = {"Content-Type": "application/json"}
JOBS = json.dumps({"data": [{"metadata": {"name": "nightly"}}], "meta": {}}).encode()
GOOD = respond(200, JOBS, JSON)
TASKS = "/jobs/nightly/executions/exec-1/tasks"
LOAD_MORE = re.compile(r'class="load-more" href="[^"]*cursor=')


def app_on(url: str, **config: Any):
    return create_app(
        {
            "TESTING": True,
            "BLAXEL_API_KEY": TOKEN,
            "BLAXEL_API_URL": url,
            "BLAXEL_TIMEOUT": TIMEOUT,
            **config,
        }
    )


def run_bounded(server: FaultyServer, calls: list[Callable[[], Any]], bound: float) -> list:
    """Run `calls` at once, each on its own thread: [(result, seconds from the start)].

    A call still running after `bound` seconds fails the test, once the server has been stopped
    so that every thread ends.
    """
    outcomes: list[Any] = [None] * len(calls)
    start = threading.Barrier(len(calls))

    def run(index: int, call: Callable[[], Any]) -> None:
        start.wait(timeout=10)
        started = time.monotonic()
        try:
            outcomes[index] = (call(), time.monotonic() - started)
        except BaseException as error:  # re-raised on the test's thread below
            outcomes[index] = (error, time.monotonic() - started)

    threads = [
        threading.Thread(target=run, args=(index, call), daemon=True)
        for index, call in enumerate(calls)
    ]
    for thread in threads:
        thread.start()
    ends = time.monotonic() + bound
    for thread in threads:
        thread.join(max(0.0, ends - time.monotonic()))
    overran = any(thread.is_alive() for thread in threads)
    if overran:
        server.stopping.set()  # the server's behaviours give up, so the requests end
        for thread in threads:
            thread.join(30)
        pytest.fail(f"still running after {bound} s (BLAXEL_TIMEOUT={TIMEOUT} s)")
    for result, _ in outcomes:
        if isinstance(result, BaseException):
            raise result
    return outcomes


def timed_get(server: FaultyServer, client, url: str, bound: float):
    [(response, seconds)] = run_bounded(server, [lambda: client.get(url)], bound)
    return response, seconds


def slow_task_pages(seconds: float, statuses: tuple[str, ...]) -> Behaviour:
    """Task pages that each take `seconds`; each has more after it, under a new cursor."""
    pages = itertools.count()

    def behaviour(connection, stopping) -> None:
        page = next(pages)
        tasks = [task_json(page * 10 + i, status) for i, status in enumerate(statuses)]
        body = json.dumps(task_page(tasks, next_cursor=f"TkVYVA{page}", total=10_000))
        slowly(seconds, respond(200, body.encode(), JSON))(connection, stopping)

    return behaviour


def execution_with(tasks: Behaviour) -> ByPath:
    return ByPath({"/tasks": tasks}, respond(200, json.dumps(EXECUTION).encode(), JSON))


def test_headers_that_trickle_byte_by_byte_are_cut_off_at_the_deadline():
    with FaultyServer(trickle_head) as server:
        response, seconds = timed_get(server, app_on(server.url).test_client(), "/", 5 * TIMEOUT)
    assert response.status_code == 504
    assert seconds < 5 * TIMEOUT


def test_a_status_walk_of_slow_pages_answers_the_rows_found_by_the_deadline_with_load_more():
    # Each page takes most of the deadline: the walk cannot read its budget of 10 pages in time.
    pages = slow_task_pages(0.7 * TIMEOUT, ("failed", "succeeded", "succeeded"))
    with FaultyServer(execution_with(pages)) as server:
        client = app_on(server.url, WEBAPP_SCAN_BUDGET="10").test_client()
        response, seconds = timed_get(server, client, TASKS + "?status=failed", 3 * TIMEOUT)
    assert seconds < 3 * TIMEOUT
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "task-0" in html  # the failed task of the first page
    assert LOAD_MORE.search(html), "no Load more link to go on from where the walk stopped"


def test_looking_up_a_missing_task_among_slow_pages_ends_by_the_deadline():
    pages = slow_task_pages(0.7 * TIMEOUT, ("succeeded", "succeeded"))
    with FaultyServer(execution_with(pages)) as server:
        client = app_on(server.url, WEBAPP_SCAN_BUDGET="10").test_client()
        response, seconds = timed_get(server, client, TASKS + "/task-missing", 3 * TIMEOUT)
    assert seconds < 3 * TIMEOUT
    assert response.status_code in (404, 504)


def test_readyz_answers_from_its_last_result_while_a_probe_is_in_flight():
    probe_seconds = 2.5
    with FaultyServer(GOOD) as server:
        app = app_on(server.url, BLAXEL_TIMEOUT=2 * probe_seconds, READINESS_TTL=0.5)
        assert app.test_client().get("/readyz").status_code == 200  # the last result: ready
        server.behaviour = slowly(probe_seconds, GOOD)
        time.sleep(0.6)  # that result is now due for a new probe
        answers = run_bounded(
            server,
            [lambda: app.test_client().get("/readyz") for _ in range(10)],
            probe_seconds + 3,
        )
    quick = [(response.status_code, seconds) for response, seconds in answers if seconds < 1.0]
    # At most one caller waits for the probe; everyone else gets the last result at once.
    assert len(quick) >= 9, sorted(round(seconds, 2) for _, seconds in answers)
    assert {status for status, _ in quick} == {200}

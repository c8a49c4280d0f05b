"""Independent calls side by side, walks a page ahead, one deadline over all of it."""

from __future__ import annotations

import threading

import httpx
import pytest

from .conftest import EXECUTION, task_json, task_page

TASKS_URL = "/jobs/nightly/executions/exec-1/tasks"


def meeting(parties: int):
    """An upstream whose answers wait until `parties` requests have arrived at once."""
    barrier = threading.Barrier(parties, timeout=5)

    def arrive() -> bool:
        try:
            barrier.wait()
        except threading.BrokenBarrierError:
            return False
        return True

    return arrive


def test_a_task_pages_two_calls_are_made_side_by_side(scripted):
    arrive = meeting(2)

    def tasks(request):
        return httpx.Response(200 if arrive() else 500, json=task_page([task_json(0)]))

    def execution(request):
        return httpx.Response(200 if arrive() else 500, json=EXECUTION)

    client, upstream = scripted(tasks, execution=execution)
    response = client.get(TASKS_URL)
    # Made one after the other, neither call would meet the other, and both would fail.
    assert response.status_code == 200
    assert len(upstream.requests) == 2


@pytest.mark.parametrize(
    ("tasks_status", "execution_status", "page_status"),
    [(200, 404, 404), (503, 200, 502), (404, 503, 502)],
    ids=["execution-missing", "tasks-failing", "both-failing-execution-first"],
)
def test_a_failure_of_either_call_is_reported_as_if_made_one_after_the_other(
    scripted, tasks_status, execution_status, page_status
):
    client, _ = scripted(
        lambda request: httpx.Response(tasks_status, json=task_page([task_json(0)])),
        execution=lambda request: httpx.Response(execution_status, json=EXECUTION),
        WEBAPP_CACHE_TTL="0",
    )
    assert client.get(TASKS_URL).status_code == page_status


def test_the_deadline_bounds_the_whole_request_whatever_runs_side_by_side(scripted, deadline_clock):
    """Two calls under way at once, each answering 3 s (on the test's clock) after the page
    began, against a 1 s deadline: the page says the deadline passed, and asks nothing more."""
    arrive = meeting(2)
    began = deadline_clock.monotonic()

    def slow(body):
        def answer(request):
            if not arrive():
                return httpx.Response(500, json={"error": "the other call never came"})
            deadline_clock.advance_to(began + 3)
            return httpx.Response(200, json=body)

        return answer

    client, upstream = scripted(slow(task_page([])), execution=slow(EXECUTION), BLAXEL_TIMEOUT="1")
    response = client.get(TASKS_URL)
    # MockTransport cannot be interrupted mid-call: the deadline is seen once both return.
    assert response.status_code == 504
    assert len(upstream.requests) == 2  # no retry, no next call past the deadline


def test_an_export_asks_for_the_next_page_before_writing_this_ones_rows(scripted):
    second_asked = threading.Event()

    def pages(request):
        cursor = request.url.params.get("cursor")
        if cursor == "UEFHR1":
            second_asked.set()
            return httpx.Response(200, json=task_page([task_json(1)], total=2))
        return httpx.Response(200, json=task_page([task_json(0)], "UEFHR1", total=2))

    client, _ = scripted(pages)
    response = client.get(TASKS_URL + ".csv", buffered=False)
    # No byte of page 1's rows has been read yet: page 2 is already on its way.
    assert second_asked.wait(5)
    body = b"".join(response.iter_encoded()).decode("utf-8-sig")
    assert body.splitlines()[1].startswith("task-0") and "task-1" in body
    response.close()

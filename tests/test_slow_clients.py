"""The production server keeps serving everyone while slow clients hold connections open."""

from __future__ import annotations

import pytest

from bench.slow_clients import SlowClients

from .production_server import fetch, running

pytestmark = pytest.mark.slow

SLOW = 32  # twice the threads the server once had (2 workers × 8)
TASKS = "/jobs/weekly-digest/executions/exec-4-digest/tasks"


def test_pages_answer_while_slow_senders_and_slow_export_readers_hold_connections(tmp_path):
    """16 connections sending headers a byte a second and 16 reading a 5,000-task CSV export
    256 bytes a second: meanwhile /healthz, the jobs page and a task list answer within 10 s."""
    with running(tmp_path / "server.log") as base:
        port = int(base.rpartition(":")[2])
        with SlowClients("127.0.0.1", port, SLOW) as slow:
            assert slow.wait_open() == SLOW
            # Every reader has its answer (an export under way, or the 429 of its share) and
            # the demo's in-process API has built the execution's 5,000 tasks: now the
            # connections are only slow, not busy.
            assert slow.wait_answered() >= SLOW // 2
            answers = {path: answer(base + path) for path in ("/healthz", "/", TASKS)}
            still_open = slow.open
    assert answers == {"/healthz": 200, "/": 200, TASKS: 200}
    assert still_open >= 20


def answer(url: str) -> int | str:
    try:
        return fetch(url, timeout=10)[0]
    except OSError:  # urllib's timeouts and refusals alike
        return "no answer within 10 s"

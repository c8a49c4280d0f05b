"""Demo-mode wiring: the only place the web app meets the embedded simulator."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import httpx

from ..blaxel import BlaxelClient, Session
from ..health.history import recent_runs
from ..simulator import DEMO_TOKEN, DEMO_WORKSPACE, create_simulator

LIVE_JOB = "sitemap-crawler"  # the demo's job whose executions follow the clock
DEMO_BASE_URL = "http://simulator.invalid/v0"


@dataclass(frozen=True)
class TourStop:
    """A demo execution worth opening first."""

    title: str
    job: str
    execution: str


def demo_tour(session: Session) -> list[TourStop]:
    """The tour's stops; the first, the live crawl's execution running now, read from its
    newest runs (the same answer as its strip's), or the job itself between two crawls."""
    running = [run.id for run in recent_runs(session, LIVE_JOB).runs if not run.is_finished]
    live = (
        TourStop("Live now: a crawl that runs every 5 minutes", LIVE_JOB, running[0])
        if running and running[0]
        else TourStop("Between two crawls: a job that runs every 5 minutes", LIVE_JOB, "")
    )
    return [
        live,
        TourStop("5,000 tasks, some failed", "nightly-embeddings", "exec-5k-embeddings"),
        TourStop("320 tasks, all succeeded after retries", "invoice-ocr", "exec-320-invoices"),
        TourStop("Still running, every task status", "thumbnail-render", "exec-slow-thumbnails"),
        TourStop("A small one: 4 tasks", "weekly-digest", "exec-4-digest"),
    ]


def demo_clients(
    clock: Callable[[], datetime] | None = None, write_key: str = ""
) -> tuple[BlaxelClient, BlaxelClient | None]:
    """The demo's read client and, when a write key is set, a client that may cancel: the
    simulator gives that key (and only it) the jobs:delete scope."""
    simulator = create_simulator(clock=clock, write_tokens=(write_key,))
    transport = httpx.WSGITransport(app=simulator)
    read = BlaxelClient(DEMO_BASE_URL, DEMO_TOKEN, workspace=DEMO_WORKSPACE, transport=transport)
    if not write_key:
        return read, None
    write = BlaxelClient(DEMO_BASE_URL, write_key, workspace=DEMO_WORKSPACE, transport=transport)
    return read, write

"""Demo-mode wiring: the only place the web app meets the embedded simulator."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import httpx

from ..blaxel import BlaxelClient
from ..simulator import DEMO_TOKEN, DEMO_WORKSPACE, create_simulator, live_execution_id

DEMO_BASE_URL = "http://simulator.invalid/v0"


@dataclass(frozen=True)
class TourStop:
    """A demo execution worth opening first."""

    title: str
    job: str
    execution: str


def demo_tour(now: datetime) -> list[TourStop]:
    return [
        TourStop(
            "Live now: a crawl that runs every 5 minutes", "sitemap-crawler", live_execution_id(now)
        ),
        TourStop("5,000 tasks, some failed", "nightly-embeddings", "exec-5k-embeddings"),
        TourStop("320 tasks, all succeeded after retries", "invoice-ocr", "exec-320-invoices"),
        TourStop("Still running, every task status", "thumbnail-render", "exec-slow-thumbnails"),
        TourStop("A small one: 4 tasks", "weekly-digest", "exec-4-digest"),
    ]


def demo_client(clock: Callable[[], datetime] | None = None) -> BlaxelClient:
    """A client whose requests are answered in-process by the simulator, no socket involved."""
    return demo_clients(clock)[0]


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

"""Demo-mode wiring: the only place the web app meets the embedded simulator."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import httpx

from .cache import UpstreamCache
from .simulator import DEMO_TOKEN, DEMO_WORKSPACE, create_simulator
from .upstream import BlaxelClient

DEMO_BASE_URL = "http://simulator.invalid/v0"


def demo_client(
    timeout: float,
    clock: Callable[[], datetime] | None = None,
    cache: UpstreamCache | None = None,
) -> BlaxelClient:
    """A client whose requests are answered in-process by the simulator, no socket involved."""
    transport = httpx.WSGITransport(app=create_simulator(clock=clock))
    return BlaxelClient(
        DEMO_BASE_URL,
        DEMO_TOKEN,
        workspace=DEMO_WORKSPACE,
        timeout=timeout,
        transport=transport,
        cache=cache,
    )

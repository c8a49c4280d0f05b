"""A small Blaxel control-plane simulator: deterministic demo data behind the API's contract."""

from collections.abc import Callable
from datetime import UTC, datetime

from flask import Flask

from webapp.simulator.api import DEMO_WORKSPACE, create_app
from webapp.simulator.data import live_execution_id
from webapp.simulator.latency import Latency

DEMO_TOKEN = "demo-token"  # noqa: S105 - public on purpose: the simulator accepts any token

__all__ = ["DEMO_TOKEN", "DEMO_WORKSPACE", "Latency", "create_simulator", "live_execution_id"]


def create_simulator(
    clock: Callable[[], datetime] | None = None,
    secret: bytes = b"blaxel-simulator-demo",
    latency: Latency | None = None,
) -> Flask:
    """The simulator as a WSGI app serving /v0; `clock` returns aware UTC datetimes; with a
    `latency`, it answers as slowly as that model of Blaxel says."""
    return create_app(clock or (lambda: datetime.now(UTC)), secret, latency)

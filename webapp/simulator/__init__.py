"""A small Blaxel control-plane simulator: deterministic demo data behind the API's contract."""

from webapp.simulator.api import DEMO_WORKSPACE, create_simulator
from webapp.simulator.data import live_execution_id
from webapp.simulator.latency import Latency

DEMO_TOKEN = "demo-token"  # noqa: S105 - public on purpose: the simulator accepts any token

__all__ = ["DEMO_TOKEN", "DEMO_WORKSPACE", "Latency", "create_simulator", "live_execution_id"]

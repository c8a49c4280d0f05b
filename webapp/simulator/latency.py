"""How long the simulated API takes to answer: off by default (the tests want it fast), on for
the benchmark, so that the app is measured against an upstream that behaves like Blaxel.

Blaxel derives an execution's tasks from its event history on every task-list call (CONTRACT.md),
so a call costs a base delay plus a cost per event scanned, whatever the page size. The defaults
are one plausible guess, kept here so that a measurement against a real workspace can correct
them in one place:
- BASE: 80 ms, a round trip from a team's server to the API plus the API's own fixed work
  (authentication, routing, a storage read), typical of a hosted control plane;
- SCAN_COST: 20 µs an event, a storage scan decoding small JSON events (the 5,000-task demo
  execution has 21,440: 0.43 s a task-list call; the 24-task live crawl about 2 ms);
- JITTER: ±20 %, so calls do not line up.
"""

from __future__ import annotations

import random
import re
import time
from dataclasses import dataclass

BASE_SECONDS = 0.080
SCAN_COST_SECONDS = 0.000020
JITTER = 0.2
DURATION = re.compile(r"(\d+(?:\.\d+)?)(us|µs|ms|s)")
UNITS = {"us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0}


def seconds(text: str) -> float:
    """ "80ms", "20us", "1.5s" as seconds."""
    found = DURATION.fullmatch(text.strip())
    if found is None:
        raise ValueError(f"{text!r} is not a duration such as 80ms or 20us")
    return float(found.group(1)) * UNITS[found.group(2)]


@dataclass(frozen=True)
class Latency:
    base: float = BASE_SECONDS
    scan_cost: float = SCAN_COST_SECONDS
    jitter: float = JITTER

    def wait(self, events_scanned: int = 0) -> None:
        spread = random.uniform(1 - self.jitter, 1 + self.jitter)  # noqa: S311 - not crypto
        time.sleep((self.base + self.scan_cost * events_scanned) * spread)

"""What the benchmark's parts share: the execution they measure, how a verdict reads."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

TOKEN = "bench-token"  # noqa: S105 - the simulator accepts any token
JOB, EXECUTION = "nightly-embeddings", "exec-5k-embeddings"
API_HEADERS = {"Authorization": f"Bearer {TOKEN}", "Blaxel-Version": "2026-04-28"}


def tasks_path(job: str = JOB, execution: str = EXECUTION) -> str:
    return f"/jobs/{job}/executions/{execution}/tasks"


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def median_ms(call: Callable[[], object], repeat: int, warmup: int = 2) -> float:
    """The median of `repeat` timings of `call`, in milliseconds, after `warmup` untimed ones."""
    for _ in range(warmup):
        call()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)

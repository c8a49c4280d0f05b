"""What the failure groups of the 5,000-task execution cost: upstream calls, requests, time and
memory. Run on demand, never in the test suite: `python bench/triage.py`.

The app runs in this process on the embedded simulator, every upstream call counted at the
transport. The panel is asked again until its groups cover the execution, as the page does; then
once more, and once more after the short TTL, which a finished execution's groups outlive.
"""

from __future__ import annotations

import statistics
import sys
import time
import tracemalloc
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from webapp import create_app  # noqa: E402
from webapp.simulator import create_simulator  # noqa: E402

PANEL = "/jobs/nightly-embeddings/executions/exec-5k-embeddings/triage"


class Counting(httpx.BaseTransport):
    def __init__(self, clock) -> None:
        self.inner = httpx.WSGITransport(app=create_simulator(clock=clock))
        self.calls: Counter[str] = Counter()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        kind = "ListJobExecutionTasks" if request.url.path.endswith("/tasks") else "other"
        self.calls[kind] += 1
        return self.inner.handle_request(request)


def walk(measure_memory: bool) -> tuple[int, dict[str, int], list[float], int, int]:
    """(requests, upstream calls, milliseconds a request, peak bytes, calls after): the panel
    asked until complete on a fresh app, then again now and after the short TTL."""
    moment = [datetime(2026, 11, 28, 9, 1, tzinfo=UTC)]
    clock = lambda: moment[0]  # noqa: E731
    upstream = Counting(clock)
    app = create_app(
        {
            "BLAXEL_API_KEY": "bench-token",
            "WEBAPP_SECRET_KEY": "bench",
        },
        transport=upstream,
        clock=clock,
    )
    client = app.test_client()
    client.get(PANEL.replace("/triage", "/tasks?limit=1"))  # the simulator's snapshot, made once
    upstream.calls.clear()
    times, requests = [], 0
    if measure_memory:
        tracemalloc.start()
    while True:
        requests += 1
        started = time.perf_counter()
        html = client.get(PANEL, headers={"HX-Request": "true"}).get_data(as_text=True)
        times.append((time.perf_counter() - started) * 1000)
        if 'aria-busy="false"' in html:
            break
    peak = tracemalloc.get_traced_memory()[1] if measure_memory else 0
    tracemalloc.stop()
    cold = dict(upstream.calls)
    upstream.calls.clear()
    client.get(PANEL, headers={"HX-Request": "true"})
    moment[0] = moment[0].replace(minute=moment[0].minute + 5)  # past the 5 s TTL
    client.get(PANEL, headers={"HX-Request": "true"})
    return requests, cold, times, peak, sum(upstream.calls.values())


def main() -> None:
    requests, cold, times, _, again = walk(measure_memory=False)
    peak = walk(measure_memory=True)[3]
    pages = cold.get("ListJobExecutionTasks", 0)
    print(
        f"{requests} requests and {sum(cold.values())} upstream calls ({pages} task pages of 200) "
        f"group the 5,000 tasks: {statistics.median(times):.0f} ms a request (median), "
        f"{sum(times):.0f} ms in all, the simulator's own answers included; peak memory "
        f"{peak / 1024 / 1024:.1f} MiB (tracemalloc, the app and the in-process simulator). "
        f"The groups again, now and 5 minutes later: {again} upstream calls."
    )


if __name__ == "__main__":
    main()

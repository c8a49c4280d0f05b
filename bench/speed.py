"""The app against an upstream that takes as long as Blaxel (the simulator's latency model).

Each figure is a ratio to what its upstream calls took, measured in the same run: a page against
its slowest call (its calls are made side by side), a status walk and an export against the sum
of their calls (a walk's calls follow one another; what the app adds is its own work), a cached
page against a direct call.
"""

from __future__ import annotations

import re
import statistics
import time

import httpx

from bench.common import EXECUTION, JOB, median_ms, tasks_path, verdict
from webapp.simulator.latency import BASE_SECONDS, SCAN_COST_SECONDS

TIMING_CALL = re.compile(r'call-\d+;dur=([\d.]+);desc="(\S+) (\S+)"')


def calls_of(response: httpx.Response) -> list[tuple[float, str, str]]:
    """(milliseconds, endpoint, where) of each upstream call, from the Server-Timing header."""
    return [
        (float(ms), endpoint, where)
        for ms, endpoint, where in TIMING_CALL.findall(response.headers.get("Server-Timing", ""))
    ]


def timed(http: httpx.Client, url: str, **headers: str) -> tuple[float, httpx.Response]:
    started = time.perf_counter()
    response = http.get(url, headers=headers)
    response.raise_for_status()
    return (time.perf_counter() - started) * 1000, response


def measure(report, api: httpx.Client, cold: str, warm: str, upstream: str, repeat: int) -> None:
    """The (f) rows: `cold` and `warm` are the app's base URLs with the cache off and on,
    `upstream` the counting simulator's."""
    report.section(
        "(f) against Blaxel's latency",
        f"The simulator answers like Blaxel might (`bench/upstream.py --latency`): "
        f"{BASE_SECONDS * 1000:g} ms a call, plus {SCAN_COST_SECONDS * 1e6:g} µs for each event "
        f"of the execution that a task-list call scans (21,440 for the 5,000-task execution), "
        f"±20 %. Ratios are to the upstream calls the same requests made.",
    )
    execution = f"jobs/{JOB}/executions/{EXECUTION}"
    direct_exec = median_ms(lambda: api.get(execution).json(), repeat)
    direct_50 = median_ms(lambda: api.get(execution + "/tasks?limit=50").json(), repeat)
    report.add("(f) direct GetJobExecution", f"{direct_exec:.0f} ms")
    report.add("(f) direct ListJobExecutionTasks, 50 tasks", f"{direct_50:.0f} ms")

    with httpx.Client(base_url=cold, timeout=120) as http:
        ratios, pages = [], []
        for _ in range(repeat):
            ms, response = timed(http, tasks_path(), **{"Accept-Encoding": "identity"})
            slowest = max(call for call, _, _ in calls_of(response))
            ratios.append(ms / slowest)
            pages.append(ms)
        ratio = statistics.median(ratios)
        report.add(
            "(f) cold task page (2 calls side by side) / its slowest call",
            f"{statistics.median(pages):.0f} ms",
            f"{ratio:.2f}×",
            f"≤ 1.15× — {verdict(ratio <= 1.15)}",
        )
        ratios, walks = [], []
        for _ in range(max(3, repeat // 3)):
            url = tasks_path() + "?status=failed&limit=200"
            ms, response = timed(http, url, **{"HX-Request": "true"})
            pages_read = [c for c, endpoint, _ in calls_of(response) if endpoint.endswith("Tasks")]
            ratios.append(ms / sum(pages_read))
            walks.append(ms)
        ratio = statistics.median(ratios)
        report.add(
            f"(f) status walk of {len(pages_read)} pages / the sum of its calls",
            f"{statistics.median(walks):.0f} ms",
            f"{ratio:.2f}×",
            f"≤ 1.15× — {verdict(ratio <= 1.15)}",
        )
        httpx.post(upstream + "/_bench/reset")
        ms, response = timed(http, tasks_path() + ".csv", **{"Accept-Encoding": "identity"})
        calls = [
            seconds * 1000
            for _, seconds, path in httpx.get(upstream + "/_bench/calls").json()
            if path.endswith("/tasks") or "/tasks?" in path
        ]
        ratio = ms / sum(calls)
        report.add(
            f"(f) CSV export of 5,000 tasks ({len(calls)} pages) / the sum of its calls",
            f"{ms / 1000:.1f} s",
            f"{ratio:.2f}×",
            f"≤ 1.15× — {verdict(ratio <= 1.15)}",
        )
    with httpx.Client(base_url=warm, timeout=120) as http:
        http.get(tasks_path())
        ms = median_ms(lambda: http.get(tasks_path()).read(), repeat)
        ratio = ms / direct_50
        report.add(
            "(f) warm (cached) task page / a direct 50-task call",
            f"{ms:.1f} ms",
            f"{ratio:.2f}×",
            f"≤ 0.1× — {verdict(ratio <= 0.1)}",
        )

"""What remembering runs costs: the first analysis of 20 finished runs of 5,000 tasks each (calls,
time against the sum of those calls under the latency model), the calls afterwards and after a
restart, the size of a digest kept, and the server time of the job's page with 20 digests.
Run on demand, never in the test suite: `python bench/runs.py`.

The upstream is a small WSGI app serving a job of 20 finished runs, each the demo's 5,000 tasks
(pages of 200), every call waiting as the latency model says (80 ms, plus 20 µs for each of the
run's 21,440 events on a task-list call, ±20 %). The app runs in this process.
"""

from __future__ import annotations

import json
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from webapp import create_app  # noqa: E402
from webapp.simulator import Latency, data  # noqa: E402
from webapp.store import FILE_NAME  # noqa: E402

RUNS = 20
PAGE = 200
EVENTS = 21_440  # of the demo's 5,000-task execution: what one task-list call scans
JOB = "bench-nightly"
ANCHOR = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)


class Nightly(httpx.BaseTransport):
    """20 finished runs of the demo's 5,000 tasks; each call timed and waited per the model."""

    def __init__(self, latency: Latency | None) -> None:
        tasks = data.tasks(ANCHOR, "nightly-embeddings", "exec-5k-embeddings", ANCHOR)
        self.pages = [
            json.dumps({"data": list(tasks[i : i + PAGE])}).encode()[:-1]
            for i in range(0, len(tasks), PAGE)
        ]
        self.total = len(tasks)
        self.latency = latency
        self.calls: list[tuple[str, float]] = []
        self.lock = threading.Lock()

    def execution(self, day: int) -> dict:
        created = ANCHOR - timedelta(days=RUNS - day)
        return {
            "metadata": {
                "id": f"exec-{day:02d}",
                "job": JOB,
                "createdAt": f"{created:%Y-%m-%dT%H:%M:%SZ}",
                "startedAt": f"{created + timedelta(seconds=10):%Y-%m-%dT%H:%M:%SZ}",
                "completedAt": f"{created + timedelta(hours=3, minutes=day):%Y-%m-%dT%H:%M:%SZ}",
            },
            "spec": {"taskCount": self.total},
            "stats": {"total": self.total, "failure": 125, "success": 4825},
            "status": "failed",
        }

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        started = time.perf_counter()
        parts = request.url.path.split("/")
        if parts[-1] == "tasks":
            if self.latency:
                self.latency.wait(EVENTS)
            index = int(request.url.params.get("cursor", "p0")[1:])
            more = index + 1 < len(self.pages)
            meta = {
                "hasMore": more,
                "nextCursor": f"p{index + 1}" if more else "",
                "total": self.total,
            }
            body = self.pages[index] + b',"meta":' + json.dumps(meta).encode() + b"}"
        else:
            if self.latency:
                self.latency.wait()
            if parts[-1] == "executions":
                runs = [self.execution(day) for day in reversed(range(RUNS))]
                body = json.dumps(
                    {"data": runs, "meta": {"hasMore": False, "total": RUNS}}
                ).encode()
            else:
                body = json.dumps(self.execution(int(parts[-1][5:]))).encode()
        with self.lock:
            self.calls.append((parts[-1], time.perf_counter() - started))
        return httpx.Response(200, content=body, headers={"Content-Type": "application/json"})


def app_on(upstream: Nightly, folder: str):
    return create_app(
        {
            "BLAXEL_API_KEY": "bench-token",
            "WEBAPP_SECRET_KEY": "bench",
            "WEBAPP_DATA_DIR": folder,
        },
        transport=upstream,
    )


def main() -> None:
    folder = tempfile.mkdtemp(prefix="bench-runs-")
    upstream = Nightly(Latency())
    client = app_on(upstream, folder).test_client()
    panel = f"/jobs/{JOB}/runs?runs={RUNS}"
    requests = 0
    started = time.perf_counter()
    while True:
        requests += 1
        html = client.get(panel, headers={"HX-Request": "true"}).get_data(as_text=True)
        if 'aria-busy="false"' in html:
            break
    wall = time.perf_counter() - started
    walks = [seconds for kind, seconds in upstream.calls if kind == "tasks"]
    listed = len(upstream.calls) - len(walks)
    upstream_seconds = sum(seconds for _, seconds in upstream.calls)
    print(
        f"first analysis of {RUNS} runs × 5,000 tasks: {requests} requests, {len(walks)} task-list "
        f"calls ({len(walks) / RUNS:.0f} a run) and {listed} listings of the runs; "
        f"{wall:.1f} s in all against {upstream_seconds:.1f} s of upstream calls: "
        f"{wall / upstream_seconds:.3f}×"
    )
    upstream.calls.clear()
    client.get(panel, headers={"HX-Request": "true"})
    again = [kind for kind, _ in upstream.calls if kind == "tasks"]
    upstream.calls.clear()
    restarted = app_on(upstream, folder).test_client()
    restarted.get(panel, headers={"HX-Request": "true"})
    for day in range(RUNS):
        restarted.get(
            f"/jobs/{JOB}/executions/exec-{day:02d}/triage", headers={"HX-Request": "true"}
        )
    after = [kind for kind, _ in upstream.calls if kind == "tasks"]
    print(
        f"afterwards: {len(again)} task-list calls; after a restart (the panel and the 20 runs' "
        f"failure groups): {len(after)} task-list calls, {len(upstream.calls) - len(after)} other"
    )
    db = sqlite3.connect(Path(folder) / FILE_NAME)
    sizes = [row[0] for row in db.execute("SELECT length(body) FROM digests")]
    print(f"a 5,000-task digest stored: {max(sizes) / 1024:.1f} KB (largest of {len(sizes)})")
    # Server time, warm: the upstream answering at once, its answers cached (5 s TTL).
    fast = Nightly(None)
    warm = app_on(fast, folder).test_client()
    for name, url, headers in (
        ("runs panel (20 digests)", panel, {"HX-Request": "true"}),
        ("job's executions page", f"/jobs/{JOB}/executions", {}),
    ):
        warm.get(url, headers=headers)
        times = []
        for _ in range(25):
            begin = time.perf_counter()
            warm.get(url, headers=headers)
            times.append((time.perf_counter() - begin) * 1000)
        print(f"{name}, warm: {statistics.median(times):.1f} ms median of 25")


if __name__ == "__main__":
    main()

"""Peak memory of streaming a task export: the 5,000-task execution against the 320-task one.

Run on demand (not a test):  python bench/export_memory.py [--runs 5]

The simulator runs in a child process on a loopback port, so tracemalloc sees only the web app:
the export view, the Blaxel client and the CSV/JSON writers. Each export is read chunk by chunk
and thrown away, as a download would be. For contrast, the script also measures the naive way:
every task of the 5,000 gathered in a list and written out in one piece.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.serving import free_port, stop  # noqa: E402
from webapp import create_app  # noqa: E402
from webapp.blaxel import CallScope, PageRequest  # noqa: E402
from webapp.common.services import services_of  # noqa: E402
from webapp.listing.export import task_json  # noqa: E402
from webapp.listing.filtered import UPSTREAM_LIMIT  # noqa: E402

EXECUTIONS = {
    "5,000 tasks": ("nightly-embeddings", "exec-5k-embeddings"),
    "320 tasks": ("invoice-ocr", "exec-320-invoices"),
}


def start_simulator(port: int) -> subprocess.Popen:
    child = subprocess.Popen(  # noqa: S603 - this project's own module, fixed arguments
        [sys.executable, "-m", "webapp.simulator", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(100):
        try:
            httpx.get(f"http://127.0.0.1:{port}/v0/jobs", headers={"Authorization": "Bearer x"})
            return child
        except httpx.TransportError:
            time.sleep(0.1)
    child.kill()
    raise SystemExit("the simulator did not start")


def streamed_peak(client, url: str) -> tuple[int, int, list[int]]:
    """(peak bytes allocated while streaming, bytes sent, bytes held after each chunk)."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    response = client.get(url, buffered=False)
    sent, held = 0, []
    for chunk in response.iter_encoded():
        sent += len(chunk)
        if chunk:
            held.append(tracemalloc.get_traced_memory()[0])
    response.close()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak, sent, held


def gathered_peak(app, job: str, execution: str) -> int:
    """The naive contrast: every task in a list, then one JSON document."""
    blaxel = services_of(app).client
    tracemalloc.start()
    tasks, cursor = [], ""
    while True:
        request = PageRequest(limit=UPSTREAM_LIMIT, cursor=cursor)
        page = blaxel.list_tasks(job, execution, request, CallScope.starting_now(60))
        tasks += page.items
        if not page.has_more:
            break
        cursor = page.next_cursor
    json.dumps([task_json(task) for task in tasks])
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    port = free_port()
    simulator = start_simulator(port)
    try:
        app = create_app(
            {"BLAXEL_API_KEY": "bench", "BLAXEL_API_URL": f"http://127.0.0.1:{port}/v0"}
        )
        client = app.test_client()
        results: dict[str, float] = {}
        for fmt in ("csv", "json"):
            for label, (job, execution) in EXECUTIONS.items():
                url = f"/jobs/{job}/executions/{execution}/tasks.{fmt}"
                streamed_peak(client, url)  # warm-up: imports, connection pool, templates
                peaks, sent, held = [], 0, []
                for _ in range(runs):
                    peak, sent, held = streamed_peak(client, url)
                    peaks.append(peak)
                results[fmt, label] = statistics.median(peaks)
                peak_kib = results[fmt, label] / 1024
                print(
                    f"{fmt.upper():4} {label:>11}: median peak {peak_kib:6.0f} KiB ({runs} runs);"
                    f" {sent / 1024:5.0f} KiB sent in {len(held)} chunks; held between chunks"
                    f" {min(held) / 1024:5.0f}-{max(held) / 1024:5.0f} KiB"
                )
            ratio = results[fmt, "5,000 tasks"] / results[fmt, "320 tasks"]
            print(f"{fmt.upper():4} ratio 5,000 / 320 tasks: {ratio:.2f} (tasks ratio 15.6)")
        gathered = statistics.median(
            gathered_peak(app, *EXECUTIONS["5,000 tasks"]) for _ in range(3)
        )
        print(f"naive list-then-dump of 5,000 tasks: median peak {gathered / 1024:8.0f} KiB")
    finally:
        stop(simulator, seconds=10)


if __name__ == "__main__":
    main()

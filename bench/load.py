"""Load: N viewers browse, search and page through the production server (`blaxel-jobs serve`)
in front of the Blaxel simulator on loopback, for a fixed time, optionally while slow clients
hold connections open.

    python -m bench.load [--viewers 50] [--seconds 60] [--slow 64]

Prints requests, errors, latency percentiles, the slow connections held and the RSS of the
gunicorn processes over time. Run on demand; it is not a test."""

from __future__ import annotations

import argparse
import os
import random
import re
import secrets
import statistics
import sys
import threading
import time
from html import unescape
from pathlib import Path

import httpx

from bench.serving import free_port, start_serve, start_simulator, wait_for
from bench.slow_clients import SlowClients

ROOT = Path(__file__).resolve().parent.parent
EXECUTIONS = [
    ("nightly-embeddings", "exec-5k-embeddings"),
    ("invoice-ocr", "exec-320-invoices"),
    ("weekly-digest", "exec-4-digest"),
    ("thumbnail-render", "exec-slow-thumbnails"),
]
NEXT_LINK = re.compile(r'class="load-more" href="([^"]+)"')
SEARCHES = ["task-1", "task-42", "task-9", "embed", "zz", "task-31"]
SORTS = ["createdAt:desc", "createdAt:asc", "name:asc", "name:desc"]


def process_tree_rss(pid: int) -> int:
    """Resident memory (bytes) of a process and its children, from /proc."""
    pids = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        children = []
    pids += [int(child) for child in children]
    total = 0
    for each in pids:
        try:
            status = Path(f"/proc/{each}/status").read_text()
        except OSError:
            continue
        match = re.search(r"VmRSS:\s+(\d+) kB", status)
        total += int(match.group(1)) * 1024 if match else 0
    return total


class Tally:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latencies: list[float] = []
        self.errors: list[str] = []
        self.statuses: dict[int, int] = {}

    def record(self, response: httpx.Response | None, seconds: float, what: str) -> None:
        with self.lock:
            self.latencies.append(seconds)
            if response is None:
                self.errors.append(what)
                return
            self.statuses[response.status_code] = self.statuses.get(response.status_code, 0) + 1
            if response.status_code != 200:
                self.errors.append(f"{response.status_code} {what}")


def viewer(base: str, stop: float, tally: Tally, seed: int) -> None:
    chooser = random.Random(seed)  # noqa: S311 - load shape, not security
    with httpx.Client(base_url=base, timeout=30) as http:

        def get(url: str, **headers: str) -> httpx.Response | None:
            started = time.perf_counter()
            try:
                response = http.get(url, headers=headers)
            except httpx.HTTPError as error:
                response = None
                url = f"{url} {type(error).__name__}"
            tally.record(response, time.perf_counter() - started, url)
            time.sleep(chooser.uniform(0.2, 1.0))  # a person reading
            return response

        while time.monotonic() < stop:
            job, execution = chooser.choice(EXECUTIONS)
            get("/")
            get(f"/jobs/{job}/executions")
            tasks = f"/jobs/{job}/executions/{execution}/tasks"
            page = get(f"{tasks}?sort={chooser.choice(SORTS)}")
            get(f"{tasks}?q={chooser.choice(SEARCHES)}", **{"HX-Request": "true"})
            for _ in range(chooser.randint(0, 3)):  # load more, as htmx does
                link = NEXT_LINK.search(page.text) if page is not None else None
                if not link:
                    break
                page = get(unescape(link.group(1)), **{"HX-Request": "true"})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--viewers", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument(
        "--slow",
        type=int,
        default=0,
        help="slow connections held open meanwhile: half send their headers a byte a second, "
        "half read a 5,000-task CSV export 256 bytes a second",
    )
    options = parser.parse_args()

    simulator_port, app_port = free_port(), free_port()
    simulator = start_simulator(simulator_port, ROOT)
    environ = {
        **os.environ,
        "BLAXEL_API_URL": f"http://127.0.0.1:{simulator_port}/v0",
        "BLAXEL_API_KEY": "load-test-token",
        "WEBAPP_SECRET_KEY": secrets.token_hex(32),
        "WEBAPP_BIND": f"127.0.0.1:{app_port}",
        "WEBAPP_LOG_LEVEL": "WARNING",
    }
    server = start_serve(environ, ROOT)
    base = f"http://127.0.0.1:{app_port}"
    try:
        wait_for(f"http://127.0.0.1:{simulator_port}/v0/jobs")
        wait_for(base + "/healthz")
        with SlowClients("127.0.0.1", app_port, options.slow) as slow:
            slow.wait_open()
            tally = Tally()
            stop = time.monotonic() + options.seconds
            threads = [
                threading.Thread(target=viewer, args=(base, stop, tally, seed))
                for seed in range(options.viewers)
            ]
            for thread in threads:
                thread.start()
            samples = []
            started = time.monotonic()
            while any(thread.is_alive() for thread in threads):
                samples.append((process_tree_rss(server.pid), slow.open))
                time.sleep(5)
            for thread in threads:
                thread.join()
            elapsed = time.monotonic() - started
    finally:
        stop(server, seconds=30)
        stop(simulator, seconds=30)

    latencies = sorted(tally.latencies)
    quantiles = statistics.quantiles(latencies, n=100, method="inclusive")
    mib = [rss / 2**20 for rss, _ in samples]
    held = [open_now for _, open_now in samples]
    print(f"viewers {options.viewers}, {elapsed:.0f} s, {os.cpu_count()} CPUs")
    print(
        f"requests {len(latencies)} ({len(latencies) / elapsed:.0f}/s), errors {len(tally.errors)}"
    )
    print(f"statuses {dict(sorted(tally.statuses.items()))}")
    print(
        f"latency ms: median {statistics.median(latencies) * 1000:.0f}, "
        f"p95 {quantiles[94] * 1000:.0f}, p99 {quantiles[98] * 1000:.0f}, "
        f"max {latencies[-1] * 1000:.0f}"
    )
    if options.slow:
        print(
            f"slow connections: {options.slow} wanted, open every 5 s: "
            + " ".join(str(count) for count in held)
            + f"; closed by the server (and reopened) {slow.closed_by_server}, "
            f"refused {slow.refused}; export answers {dict(slow.export_answers)}"
        )
    print(
        "gunicorn RSS MiB (master + workers), every 5 s: "
        + " ".join(f"{value:.0f}" for value in mib)
    )
    first, warm, last = mib[0], mib[min(1, len(mib) - 1)], mib[-1]
    print(
        f"RSS first {first:.0f} MiB, after warm-up {warm:.0f}, last {last:.0f}, max {max(mib):.0f}"
    )
    for error in tally.errors[:10]:
        print("error:", error)
    sys.exit(1 if tally.errors else 0)


if __name__ == "__main__":
    main()

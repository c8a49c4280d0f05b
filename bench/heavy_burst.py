"""A burst of heavy pages: N people each keep a request for the 5,000-task execution's whole
timeline (`view=timeline&span=all`) in flight against the production server (`blaxel-jobs
serve`, its default two gevent workers) in front of the Blaxel simulator on loopback, while a
few viewers load ordinary pages. Measures the ordinary pages' latency before and during the
burst, and each worker's RSS before, during and after it.

    python -m bench.heavy_burst [--people 50] [--seconds 30] [--viewers 4]

The people are told apart as a sign-in proxy would (WEBAPP_AUTH=proxy, one X-Forwarded-Email
each), so each is within their own share and the workers' shares are what hold. A person sends
their next request as soon as an answer arrives; after a 429, once its Retry-After has passed
(`--ignore-retry-after`: at once, the worst case for the server). Run on demand; it is not a
test."""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import re
import secrets
import statistics
import threading
import time
from collections import Counter
from pathlib import Path

import httpx

from bench.common import tasks_path
from bench.serving import free_port, start_serve, start_simulator, stop, wait_for

ROOT = Path(__file__).resolve().parent.parent
TIMELINE = tasks_path() + "?view=timeline&span=all"
ORDINARY = [
    "/",
    "/jobs/invoice-ocr/executions",
    tasks_path("invoice-ocr", "exec-320-invoices"),
    tasks_path("invoice-ocr", "exec-320-invoices") + "?q=task-1",
    tasks_path() + "?sort=name:asc",
    tasks_path("weekly-digest", "exec-4-digest") + "/task-1",
]
PROXY_HEADER = "X-Forwarded-Email"


def workers_rss(master: int) -> dict[int, float]:
    """Resident memory (MiB) of each of gunicorn's worker processes, from /proc."""
    try:
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    except OSError:
        return {}
    found = {}
    for pid in map(int, children):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        match = re.search(r"VmRSS:\s+(\d+) kB", status)
        if match:
            found[pid] = int(match.group(1)) / 1024
    return found


class Ordinary:
    """Viewers loading ordinary pages in turn; latencies kept by phase."""

    def __init__(self, base: str, viewers: int) -> None:
        self.base = base
        self.viewers = viewers
        self.phase = "before"
        self.latencies: dict[str, list[float]] = {}
        self.statuses: Counter[int] = Counter()
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.threads = [threading.Thread(target=self.view, args=(n,)) for n in range(viewers)]

    def view(self, number: int) -> None:
        headers = {PROXY_HEADER: f"viewer-{number}@example.org"}
        with httpx.Client(base_url=self.base, timeout=60, headers=headers) as http:
            turn = number
            while not self.done.is_set():
                url = ORDINARY[turn % len(ORDINARY)]
                turn += 1
                started = time.perf_counter()
                response = http.get(url)
                seconds = time.perf_counter() - started
                with self.lock:
                    self.latencies.setdefault(self.phase, []).append(seconds)
                    self.statuses[response.status_code] += 1
                self.done.wait(0.2)  # a person reading

    def p95(self, phase: str) -> tuple[float, float, int]:
        """(median ms, p95 ms, requests) of the phase."""
        times = sorted(self.latencies.get(phase, []))
        p95 = statistics.quantiles(times, n=100, method="inclusive")[94]
        return statistics.median(times) * 1000, p95 * 1000, len(times)


async def _person(port: int, number: int, until: float, patient: bool, tally: dict) -> None:
    """One person keeping one timeline request in flight: plain HTTP/1.1 over a socket, the
    answer's status and Retry-After read, its body counted and thrown away."""
    request = (
        f"GET {TIMELINE} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"{PROXY_HEADER}: person-{number}@example.org\r\nConnection: close\r\n\r\n"
    ).encode()
    while time.monotonic() < until:
        started = time.perf_counter()
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(request)
        answer = await reader.read()
        writer.close()
        head, _, body = answer.partition(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        tally["statuses"][status] += 1
        if status == 200:
            tally["served"].append(time.perf_counter() - started)
            tally["size"] = len(body)
        retry = re.search(rb"(?im)^retry-after: *(\d+)", head)
        wait = float(retry.group(1)) if retry and patient else 0.0
        await asyncio.sleep(max(0.0, min(wait, until - time.monotonic())))


def burst(port: int, people: int, seconds: float, patient: bool, answers) -> None:
    """`people` each keeping one timeline request in flight for `seconds`, from a process of
    its own (so that the viewers' timings are not the burst's clients' own delays); puts
    (statuses, seconds of each timeline served, bytes of the last) on `answers`."""
    tally: dict = {"statuses": Counter(), "served": [], "size": 0}
    until = time.monotonic() + seconds

    async def everyone() -> None:
        await asyncio.gather(
            *(_person(port, number, until, patient, tally) for number in range(people))
        )

    asyncio.run(everyone())
    answers.put((dict(tally["statuses"]), tally["served"], tally["size"]))


def warm_up(base: str, number: int) -> None:
    """Ordinary pages, then three whole timelines answered in full (asking again after a 429)."""
    headers = {PROXY_HEADER: f"warm-{number}@example.org"}
    with httpx.Client(base_url=base, timeout=120, headers=headers) as http:
        for url in ORDINARY * 2:
            http.get(url)
        full, tries = 0, 0
        while full < 3 and tries < 40:
            tries += 1
            response = http.get(TIMELINE, headers={"HX-Request": "true"})
            if response.status_code == 429:
                time.sleep(float(response.headers.get("Retry-After", 1)))
            full += "the whole execution" in response.text


def sample(master: int, until: float, into: list[dict[int, float]]) -> None:
    while time.monotonic() < until:
        into.append(workers_rss(master))
        time.sleep(0.5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--viewers", type=int, default=4)
    parser.add_argument("--settle", type=float, default=15, help="seconds after the burst")
    parser.add_argument("--ignore-retry-after", action="store_true")
    parser.add_argument(
        "--setting", action="append", default=[], help="NAME=VALUE for the server, repeatable"
    )
    options = parser.parse_args()

    simulator_port, app_port = free_port(), free_port()
    simulator = start_simulator(simulator_port, ROOT)
    environ = (
        {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("BLAXEL_", "WEBAPP_", "WEB_CONCURRENCY"))
        }
        | {
            "BLAXEL_API_URL": f"http://127.0.0.1:{simulator_port}/v0",
            "BLAXEL_API_KEY": "burst-test-token",
            "WEBAPP_SECRET_KEY": secrets.token_hex(32),
            "WEBAPP_BIND": f"127.0.0.1:{app_port}",
            "WEBAPP_LOG_LEVEL": "WARNING",
            "WEBAPP_AUTH": "proxy",
            "WEBAPP_TRUSTED_PROXIES": "127.0.0.1",
        }
        | dict(setting.split("=", 1) for setting in options.setting)
    )
    server = start_serve(environ, ROOT)
    base = f"http://127.0.0.1:{app_port}"
    try:
        wait_for(f"http://127.0.0.1:{simulator_port}/v0/jobs")
        wait_for(base + "/healthz")
        # Warm-up, a few people at once so that both workers take part: every ordinary page,
        # and the whole timeline read to its end a few times each.
        warm = [threading.Thread(target=warm_up, args=(base, n)) for n in range(12)]
        for thread in warm:
            thread.start()
        for thread in warm:
            thread.join()
        viewers = Ordinary(base, options.viewers)
        for thread in viewers.threads:
            thread.start()
        time.sleep(10)
        start_rss = workers_rss(server.pid)
        viewers.phase = "during"
        during: list[dict[int, float]] = []
        sampler = threading.Thread(
            target=sample, args=(server.pid, time.monotonic() + options.seconds, during)
        )
        sampler.start()
        patient = not options.ignore_retry_after
        answers: multiprocessing.Queue = multiprocessing.Queue()
        clients = multiprocessing.Process(
            target=burst, args=(app_port, options.people, options.seconds, patient, answers)
        )
        clients.start()
        statuses, served, size = answers.get(timeout=options.seconds + 300)
        clients.join()
        sampler.join()
        viewers.phase = "after"
        time.sleep(options.settle)
        after_rss = workers_rss(server.pid)
        viewers.done.set()
        for thread in viewers.threads:
            thread.join()
    finally:
        stop(server, seconds=30)
        stop(simulator, seconds=30)

    mode = "at once after a 429" if options.ignore_retry_after else "after Retry-After"
    print(
        f"{os.cpu_count()} CPUs; {options.people} people × {options.seconds:.0f} s burst, "
        f"asking again {mode}"
    )
    print(
        f"timeline answers {dict(sorted(statuses.items()))}; last one served {size / 1024:.0f} KiB"
    )
    if served:
        print(
            f"timeline served in: median {statistics.median(served) * 1000:.0f} ms, "
            f"max {max(served) * 1000:.0f} ms"
        )
    print(f"ordinary page statuses {dict(sorted(viewers.statuses.items()))}")
    for phase in ("before", "during", "after"):
        median, p95, count = viewers.p95(phase)
        print(f"ordinary pages {phase:6}: median {median:.0f} ms, p95 {p95:.0f} ms ({count})")
    for pid, first in sorted(start_rss.items()):
        peak = max(rss.get(pid, 0.0) for rss in during)
        last = after_rss.get(pid, 0.0)
        print(
            f"worker {pid} RSS MiB: start {first:.0f}, peak during {peak:.0f}, "
            f"{options.settle:.0f} s after {last:.0f} ({(last / first - 1) * 100:+.0f} %)"
        )


if __name__ == "__main__":
    main()

"""Measure the app against the simulated Blaxel API over loopback, side by side in one run.

`python -m bench` (or `make bench`) prints a table and writes it to bench/RESULTS.md.
Everything runs on this machine: the simulator, gunicorn, Redis and Chromium on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx

from bench.serving import free_port, running_redis, wait_for

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
TOKEN = "bench-token"  # noqa: S105 - the simulator accepts any token
JOB, EXECUTION = "nightly-embeddings", "exec-5k-embeddings"
RUNNING = ("thumbnail-render", "exec-slow-thumbnails")
API_HEADERS = {"Authorization": f"Bearer {TOKEN}", "Blaxel-Version": "2026-04-28"}
FRAGMENT = {"HX-Request": "true"}
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run"]
CHROMIUM_ARGS += ["--disable-background-networking", "--disable-component-update"]


@contextlib.contextmanager
def process(args: list[str], ready_url: str, env: dict[str, str] | None = None) -> Iterator[None]:
    child = subprocess.Popen(
        args,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(ready_url)
        yield
    finally:
        child.terminate()
        try:
            child.wait(timeout=15)
        except subprocess.TimeoutExpired:
            child.kill()


@contextlib.contextmanager
def upstream() -> Iterator[str]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with process(
        [sys.executable, "-m", "bench.upstream", "--port", str(port)], base + "/_bench/calls"
    ):
        yield base


@contextlib.contextmanager
def app_server(upstream_url: str, workers: int = 1, **env: str) -> Iterator[str]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    args = [sys.executable, "-m", "gunicorn", "--workers", str(workers), "--threads", "8"]
    args += ["--graceful-timeout", "2", "--bind", f"127.0.0.1:{port}", "webapp:create_app()"]
    settings = {"BLAXEL_API_KEY": TOKEN, "BLAXEL_API_URL": upstream_url + "/v0", **env}
    settings.setdefault("WEBAPP_SECRET_KEY", "bench-secret")
    with process(args, base + "/healthz", settings):
        yield base


def tasks_path(job: str = JOB, execution: str = EXECUTION) -> str:
    return f"/jobs/{job}/executions/{execution}/tasks"


def median_ms(call: Callable[[], object], repeat: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        call()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def fetch(http: httpx.Client, url: str, headers: dict[str, str] | None = None) -> None:
    response = http.get(url, headers=headers)
    response.raise_for_status()
    response.read()


@dataclass
class Report:
    rows: list[tuple[str, str, str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, what: str, value: str, ratio: str = "", target: str = "") -> None:
        self.rows.append((what, value, ratio, target))
        print(f"  {what:<62} {value:>12} {ratio:>8}  {target}", flush=True)

    def markdown(self) -> str:
        lines = ["| measurement | median / value | ratio to (a) | target |", "|---|---:|---:|---|"]
        lines += [
            f"| {what} | {value} | {ratio} | {target} |" for what, value, ratio, target in self.rows
        ]
        return "\n".join(lines)


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def latency(report: Report, upstream_url: str, repeat: int) -> None:
    """(a) direct upstream calls; (b) the app with the cache off; (c) with it warm."""
    direct: dict[int, float] = {}
    api_url = upstream_url + "/v0"
    with httpx.Client(base_url=upstream_url + "/v0", headers=API_HEADERS) as api:
        for limit in (50, 200):
            url = f"jobs/{JOB}/executions/{EXECUTION}/tasks?limit={limit}"
            direct[limit] = median_ms(lambda url=url: api.get(url).json(), repeat)
            report.add(
                f"(a) direct upstream call, {limit} tasks, JSON parsed", f"{direct[limit]:.1f} ms"
            )
    with (
        app_server(upstream_url, WEBAPP_CACHE_TTL="0") as cold_app,
        app_server(upstream_url, WEBAPP_CACHE_TTL="600") as warm_app,
    ):
        for label, base in (("(b) cold", cold_app), ("(c) warm", warm_app)):
            with httpx.Client(base_url=base) as http:
                for limit in (50, 200):
                    url = f"{tasks_path()}?limit={limit}"
                    for kind, headers in (("page", None), ("fragment", FRAGMENT)):
                        ms = median_ms(lambda url=url, h=headers: fetch(http, url, h), repeat)
                        ratio = ms / direct[limit]
                        target = ""
                        if kind == "fragment" and limit == 200:
                            if label.startswith("(b)"):
                                target = f"≤ 1.5× — {verdict(ratio <= 1.5)}"
                            else:
                                target = f"< 0.5× — {verdict(ratio < 0.5)}"
                        report.add(
                            f"{label} app {kind}, {limit} tasks",
                            f"{ms:.1f} ms",
                            f"{ratio:.2f}×",
                            target,
                        )
                        if target and label.startswith("(b)"):
                            explain_cold(report, api_url, http, url, repeat)


def explain_cold(report: Report, api_url: str, http: httpx.Client, url: str, repeat: int) -> None:
    """Where the cold 200-task fragment's time goes, and how much heavier HTML is than JSON."""
    split = server_timing(http, url, FRAGMENT, repeat)
    report.add(
        "(b) cold 200-task fragment, split by its Server-Timing header",
        f"{split['upstream']:.1f} + {split['render']:.1f} ms",
        "",
        "upstream call incl. JSON parse + models and rendering",
    )
    html = len(http.get(url, headers={**FRAGMENT, "Accept-Encoding": "identity"}).content)
    upstream_path = f"jobs/{JOB}/executions/{EXECUTION}/tasks?limit=200"
    raw = httpx.get(f"{api_url}/{upstream_path}", headers=API_HEADERS).content
    own = own_work(raw, url, repeat)
    report.add(
        "(b) the same fragment's own work, in one process, upstream answer replayed",
        f"{own['request']:.1f} ms",
        "",
        f"JSON {own['json']:.1f} (json.loads, for comparison); models "
        f"{own['models']:.1f} + rows template {own['template']:.1f} ms",
    )
    report.notes.append(
        f"The cold 200-task fragment renders {html / 1024:.0f} KB of HTML from "
        f"{len(raw) / 1024:.0f} KB of JSON (each row carries its key condition; the full list "
        f"loads when its disclosure opens). Within 1.5× of (a) leaves about half of (a) for "
        f"everything the app does beyond the call: its own work alone, with the upstream answer "
        f"replayed from memory, takes {own['request']:.1f} ms."
    )


def own_work(raw: bytes, url: str, repeat: int) -> dict[str, float]:
    """The app's work for one fragment without the upstream wait, and its three main parts."""
    import json

    from flask import render_template, request

    from webapp import create_app
    from webapp.blaxel import Page, Task
    from webapp.blaxel.client import decode
    from webapp.listing import Listing
    from webapp.query import TASKS, ListQuery

    transport = httpx.MockTransport(lambda _: httpx.Response(200, content=raw))
    app = create_app(
        {"BLAXEL_API_KEY": TOKEN, "BLAXEL_TRANSPORT": transport, "WEBAPP_CACHE_TTL": "0"}
    )
    client = app.test_client()
    parts = {"request": median_ms(lambda: client.get(url, headers=FRAGMENT).get_data(), repeat)}
    parts["json"] = median_ms(lambda: json.loads(raw), repeat)
    parts["models"] = median_ms(lambda: decode(raw, Page[Task]), repeat)
    with app.test_request_context(url, headers=FRAGMENT):
        query = ListQuery.parse(request.args, TASKS)
        context = {"job_id": JOB, "execution_id": EXECUTION, "refill": None}

        def render() -> str:
            # Fresh models each time: the templates read (and cache) each task's parsed times.
            listing = Listing.of_request(query, decode(raw, Page[Task]), "", "tasks.download")
            return render_template("_task_rows.html", listing=listing, fragment=True, **context)

        parts["template"] = median_ms(render, repeat) - parts["models"]
    return parts


def server_timing(
    http: httpx.Client, url: str, headers: dict[str, str] | None, repeat: int
) -> dict[str, float]:
    """Medians of the app's own Server-Timing durations."""
    samples: dict[str, list[float]] = {"upstream": [], "render": []}
    for _ in range(repeat):
        for part in http.get(url, headers=headers).headers["Server-Timing"].split(","):
            name, _, rest = part.strip().partition(";dur=")
            if name in samples:
                samples[name].append(float(rest))
    return {name: statistics.median(values) for name, values in samples.items()}


def viewers(
    report: Report, upstream_url: str, label: str, base: str, path: str, ttl: float, seconds: float
) -> None:
    """(d) 50 viewers reloading one page for `seconds`; upstream calls counted at the simulator."""
    httpx.post(upstream_url + "/_bench/reset")
    stop = time.monotonic() + seconds
    served = [0] * 50

    def viewer(index: int) -> None:
        with httpx.Client(base_url=base, timeout=30) as http:
            while time.monotonic() < stop:
                if http.get(path).status_code == 200:
                    served[index] += 1

    threads = [threading.Thread(target=viewer, args=(i,)) for i in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    calls = httpx.get(upstream_url + "/_bench/calls").json()
    by_url: dict[str, list[float]] = {}
    for moment, url in calls:
        by_url.setdefault(url, []).append(moment)
    task_calls = sum(len(m) for u, m in by_url.items() if "/tasks" in u)
    gaps = [
        b - a for moments in by_url.values() for a, b in zip(moments, moments[1:], strict=False)
    ]
    closest = min(gaps) if gaps else None
    one_per_window = closest is None or closest >= ttl * 0.95
    windows = seconds / ttl
    report.add(
        f"(d) 50 viewers × {seconds:.0f} s, {label}",
        f"{sum(served)} pages",
        "",
        f"{len(calls)} upstream calls ({task_calls} task lists) for {windows:.0f} TTL windows; "
        + (f"closest two calls to one URL {closest:.2f} s apart" if closest else "one call per URL")
        + (f" — {verdict(one_per_window)}" if "Redis" in label else ""),
    )


def browser(report: Report, base: str, repeat: int) -> None:
    """(e) headless Chromium: navigation → rows visible, Load more → rows appended, bytes."""
    from playwright.sync_api import sync_playwright

    url = base + tasks_path()
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        navigations, first_bytes = [], 0
        for attempt in range(repeat):
            context = chromium.new_context()
            page = context.new_page()
            cdp = context.new_cdp_session(page)
            cdp.send("Network.enable")
            received: list[int] = []
            cdp.on(
                "Network.loadingFinished",
                lambda event, r=received: r.append(event["encodedDataLength"]),
            )
            started = time.perf_counter()
            page.goto(url, wait_until="commit")
            page.locator("#rows tr.task").nth(49).wait_for(state="visible")
            navigations.append((time.perf_counter() - started) * 1000)
            page.wait_for_load_state("load")
            if attempt == 0:
                first_bytes = sum(received)
            if attempt < repeat - 1:
                context.close()
        report.add(
            "(e) Chromium: navigation → 50 rows visible", f"{statistics.median(navigations):.0f} ms"
        )
        report.add(
            "(e) Chromium: bytes transferred on first load (htmx included)",
            f"{first_bytes / 1024:.1f} KB",
            "",
            f"≤ 80 KB — {verdict(first_bytes <= 80 * 1024)}",
        )
        appends = []
        for _ in range(repeat):
            appends.append(page.evaluate(LOAD_MORE))
        median = statistics.median(appends)
        report.add(
            f"(e) Chromium: Load more click → 50 rows appended ({repeat}×)",
            f"{median:.0f} ms",
            "",
            f"< 100 ms — {verdict(median < 100)}",
        )
        chromium.close()


# Times in the page itself: from the click to the next frame after the new rows are in the DOM.
LOAD_MORE = """
() => new Promise((resolve) => {
  const rows = document.getElementById("rows");
  const before = rows.querySelectorAll("tr.task").length;
  const link = document.querySelector("#more-row a.load-more");
  let started = 0;
  let elapsed = null;
  // The next click must wait until htmx has wired the new "Load more" link.
  const settled = new Promise((done) =>
    document.body.addEventListener("htmx:afterSettle", done, { once: true }));
  const observer = new MutationObserver(() => {
    if (rows.querySelectorAll("tr.task").length > before) {
      observer.disconnect();
      requestAnimationFrame(() => {
        elapsed = performance.now() - started;
        settled.then(() => resolve(elapsed));
      });
    }
  });
  observer.observe(rows, { childList: true });
  started = performance.now();
  link.click();
})
"""


def main() -> None:
    parser = argparse.ArgumentParser(description="Benchmark the app against the simulator.")
    parser.add_argument("--repeat", type=int, default=25, help="samples per latency median")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each viewers run")
    options = parser.parse_args()
    report = Report()
    ttl = 5.0
    print(f"Benchmark on {os.cpu_count()} cores, Python {platform.python_version()}", flush=True)
    with upstream() as upstream_url:
        latency(report, upstream_url, options.repeat)
        running = tasks_path(*RUNNING)
        with app_server(upstream_url, workers=1) as base:
            viewers(
                report,
                upstream_url,
                "in-process cache, 1 worker (running execution)",
                base,
                running,
                ttl,
                options.seconds,
            )
        with app_server(upstream_url, workers=4) as base:
            viewers(
                report,
                upstream_url,
                "in-process cache, 4 workers (running execution)",
                base,
                running,
                ttl,
                options.seconds,
            )
        with running_redis() as redis_server:
            with app_server(upstream_url, workers=4, WEBAPP_CACHE_URL=redis_server.url) as base:
                viewers(
                    report,
                    upstream_url,
                    "Redis, 4 workers (running execution)",
                    base,
                    running,
                    ttl,
                    options.seconds,
                )
            with app_server(upstream_url, workers=4, WEBAPP_CACHE_URL=redis_server.url) as base:
                viewers(
                    report,
                    upstream_url,
                    "Redis, 4 workers (finished 5,000-task execution)",
                    base,
                    tasks_path(),
                    ttl,
                    options.seconds,
                )
        with app_server(upstream_url, workers=1) as base:
            browser(report, base, repeat=10)
    write(report, options)


def write(report: Report, options: argparse.Namespace) -> None:
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    text = f"""# Benchmark results

Produced by `python -m bench` (`make bench`) on {stamp}: {os.cpu_count()} cores,
Python {platform.python_version()}, everything over loopback on one machine. Medians of
{options.repeat} sequential requests after 2 warm-up requests; ratios are to (a) with the same
number of tasks. The simulator (`bench/upstream.py`, the embedded simulator on a socket) plays
Blaxel; the app runs under gunicorn (gthread, 8 threads a worker) with its default
`WEBAPP_CACHE_TTL` of 5 s unless noted: (b) runs with `WEBAPP_CACHE_TTL=0`, (c) with 600 s
after a first request. Pages include the execution summary (a second upstream call); fragments
are what htmx asks for (`HX-Request: true`). Execution `{JOB}/{EXECUTION}` has 5,000 tasks.
The client accepts zstd, brotli and gzip; identical bodies are compressed once per algorithm in
every configuration, (b) included. (d) counts calls at the simulator; "TTL windows" is the run's
length over the 5 s TTL.

{report.markdown()}
"""
    if report.notes:
        text += "\n" + "\n".join(f"- {note}" for note in report.notes) + "\n"
    RESULTS.write_text(text)
    print(f"\nWritten to {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()

"""Measure the app against the simulated Blaxel API over loopback, side by side in one run.

`python -m bench` (or `make bench`) prints a table and writes it to bench/RESULTS.md.
Everything runs on this machine: the simulator, gunicorn, Redis and Chromium on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import re
import statistics
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx

from bench import datasette, speed
from bench.common import API_HEADERS, EXECUTION, JOB, TOKEN, median_ms, tasks_path, verdict
from bench.serving import free_port, running, running_redis
from webapp.simulator.latency import BASE_SECONDS

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
RUNNING = ("thumbnail-render", "exec-slow-thumbnails")
FRAGMENT = {"HX-Request": "true"}
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run"]
CHROMIUM_ARGS += ["--disable-background-networking", "--disable-component-update"]


@contextlib.contextmanager
def upstream(*options: str) -> Iterator[str]:
    """The counting simulator on a socket; `options` such as ("--latency", "80ms")."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    args = [sys.executable, "-m", "bench.upstream", "--port", str(port), *options]
    with running(args, base + "/_bench/calls", ROOT):
        yield base


@contextlib.contextmanager
def app_server(upstream_url: str, workers: int = 1, **env: str) -> Iterator[str]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    args = [sys.executable, "-m", "gunicorn", "--workers", str(workers), "--threads", "8"]
    args += ["--graceful-timeout", "2", "--bind", f"127.0.0.1:{port}", "webapp:create_app()"]
    settings = {"BLAXEL_API_KEY": TOKEN, "BLAXEL_API_URL": upstream_url + "/v0", **env}
    settings.setdefault("WEBAPP_SECRET_KEY", "bench-secret")
    with running(args, base + "/healthz", ROOT, settings):
        yield base


def fetch(http: httpx.Client, url: str, headers: dict[str, str] | None = None) -> None:
    response = http.get(url, headers=headers)
    response.raise_for_status()
    response.read()


@dataclass
class Report:
    """Rows of figures in sections, printed as they come and written as Markdown tables."""

    sections: list[tuple[str, str, list[tuple[str, str, str, str]]]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def section(self, title: str, text: str = "") -> None:
        self.sections.append((title, text, []))
        print(f"\n{title}", flush=True)

    def add(self, what: str, value: str, ratio: str = "", target: str = "") -> None:
        if not self.sections:
            self.section("")
        self.sections[-1][2].append((what, value, ratio, target))
        print(f"  {what:<66} {value:>12} {ratio:>8}  {target}", flush=True)

    @property
    def rows(self) -> list[tuple[str, str, str, str]]:
        return [row for _, _, rows in self.sections for row in rows]

    def markdown(self) -> str:
        parts = []
        for title, text, rows in self.sections:
            if title:
                parts.append(f"## {title}\n")
            if text:
                parts.append(text + "\n")
            lines = ["| measurement | median / value | ratio | target |", "|---|---:|---:|---|"]
            lines += [
                f"| {what} | {value} | {ratio} | {target} |" for what, value, ratio, target in rows
            ]
            parts.append("\n".join(lines) + "\n")
        return "\n".join(parts)


def latency(report: Report, upstream_url: str, repeat: int) -> None:
    """(a) direct upstream calls; (b) the app with the cache off; (c) with it warm."""
    direct: dict[int, float] = {}
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
                        report.add(
                            f"{label} app {kind}, {limit} tasks",
                            f"{ms:.1f} ms",
                            f"{ms / direct[limit]:.2f}×",
                        )


def recorded_answers(upstream_url: str) -> dict[str, bytes]:
    """What the task page's two upstream calls answer, for replaying (g) and (h)."""
    execution = f"/v0/jobs/{JOB}/executions/{EXECUTION}"
    with httpx.Client(base_url=upstream_url, headers=API_HEADERS) as api:
        answers = {
            execution: api.get(execution).raise_for_status().content,
            execution + "/tasks": api.get(execution + "/tasks?limit=200")
            .raise_for_status()
            .content,
        }
    return answers


def own_work_rows(report: Report, answers: dict[str, bytes], repeat: int) -> None:
    from bench.own_work import own_work

    report.section(
        "(g) own work",
        "The app's own work for a cold 200-task fragment (the whole request in one process, its "
        "upstream answer replayed from memory) against a reference renderer: the same 200 tasks' "
        "visible fields through a minimal Jinja loop straight over the parsed JSON "
        "(`bench/own_work.py`, `bench/reference_rows.html`). Same process, samples in turn, CPU "
        "time of the process; the ratio is the median of the pairs' ratios.",
    )
    own = own_work(answers, f"{tasks_path()}?limit=200", repeat * 2)
    ratio = own["ratio"]  # the median of the ratios of samples taken in turn
    report.add("(g) reference renderer, 200 tasks", f"{own['reference']:.1f} ms")
    report.add(
        "(g) the app's 200-task fragment, upstream answer replayed",
        f"{own['app']:.1f} ms",
        f"{ratio:.2f}×",
        f"≤ 1.5× the reference — {verdict(ratio <= 1.5)}",
    )
    report.add(
        "(g) of which: JSON into models (msgspec)",
        f"{own['models']:.1f} ms",
        "",
        f"json.loads alone: {own['json']:.1f} ms",
    )


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
    for moment, _, url in calls:
        by_url.setdefault(url, []).append(moment)
    task_calls = sum(len(m) for u, m in by_url.items() if "/tasks" in u)
    # The simulator serves calls on several threads: its record is not in order of time.
    ordered = [sorted(moments) for moments in by_url.values()]
    gaps = [b - a for moments in ordered for a, b in zip(moments, moments[1:], strict=False)]
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


def navigations(chromium, url: str, repeat: int):
    """`repeat` first loads of `url`, each in a fresh context (nothing cached): (the times from
    navigation to the 50th row laid out and painted, in the page; the same as Playwright's wait
    sees it; the bytes of the first load; the last load's page, still open)."""
    in_page, polled, first_bytes, page = [], [], 0, None
    for attempt in range(repeat):
        context = chromium.new_context()
        page = context.new_page()
        page.add_init_script(ROWS_VISIBLE)
        cdp = context.new_cdp_session(page)
        cdp.send("Network.enable")
        received: list[int] = []
        cdp.on(
            "Network.loadingFinished",
            lambda event, r=received: r.append(event["encodedDataLength"]),
        )
        started = time.perf_counter()
        page.goto(url, wait_until="commit")
        # A first load walks the execution for its failed-first order: slow on a busy machine.
        page.locator("#rows tr.task").nth(49).wait_for(state="visible", timeout=120_000)
        polled.append((time.perf_counter() - started) * 1000)
        in_page.append(page.evaluate("window.rowsVisible"))
        page.wait_for_load_state("load")
        if attempt == 0:
            first_bytes = sum(received)
        if attempt < repeat - 1:
            context.close()
    return in_page, polled, first_bytes, page


def browser(report: Report, base: str, repeat: int) -> None:
    """(e) headless Chromium: navigation → rows visible, Load more → rows appended, bytes."""
    from playwright.sync_api import sync_playwright

    url = base + tasks_path()
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        in_page, polled, first_bytes, page = navigations(chromium, url, repeat)
        median = statistics.median(in_page)
        report.add(
            "(e) Chromium: navigation → 50 rows visible (in the page)",
            f"{median:.0f} ms",
            "",
            f"≤ 300 ms — {verdict(median <= 300)}",
        )
        report.add(
            "(e) the same as Playwright's wait sees it (polled 20, 50, 100, 100, 500 ms apart)",
            f"{statistics.median(polled):.0f} ms",
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


# In the page, from the start of navigation (performance.now()'s origin): the first frame
# after the 50th row is in the DOM with a box of its own. Playwright's wait checks at widening
# intervals (0, 20, 50, 100, 100, 500 ms), so what it sees may lag by up to half a second.
ROWS_VISIBLE = """
(() => {
  const seen = () => {
    const row = document.querySelectorAll("#rows tr.task")[49];
    if (!row || row.getBoundingClientRect().height === 0) return false;
    observer.disconnect();
    requestAnimationFrame(() => { window.rowsVisible = performance.now(); });
    return true;
  };
  const observer = new MutationObserver(seen);
  observer.observe(document, { childList: true, subtree: true });
  document.addEventListener("DOMContentLoaded", seen);
})();
"""


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
        report.section(
            "(a)–(e) against the fast simulator",
            "The simulator answering at once, from a snapshot: what the app adds to a call, what "
            "50 viewers cost upstream, and what a browser sees.",
        )
        latency(report, upstream_url, options.repeat)
        running = tasks_path(*RUNNING)
        for label, workers, extra in (
            ("in-process cache, 1 worker (running execution)", 1, {}),
            ("in-process cache, 4 workers (running execution)", 4, {}),
        ):
            with app_server(upstream_url, workers=workers, **extra) as base:
                viewers(report, upstream_url, label, base, running, ttl, options.seconds)
        with running_redis() as redis_server:
            for label, path in (
                ("Redis, 4 workers (running execution)", running),
                ("Redis, 4 workers (finished 5,000-task execution)", tasks_path()),
            ):
                with app_server(upstream_url, workers=4, WEBAPP_CACHE_URL=redis_server.url) as base:
                    viewers(report, upstream_url, label, base, path, ttl, options.seconds)
        with app_server(upstream_url, workers=1) as base:
            browser(report, base, repeat=10)
        answers = recorded_answers(upstream_url)
    with (
        upstream("--latency", f"{BASE_SECONDS * 1000:g}ms") as slow_url,
        httpx.Client(base_url=slow_url + "/v0", headers=API_HEADERS, timeout=60) as api,
        app_server(slow_url, WEBAPP_CACHE_TTL="0", BLAXEL_TIMEOUT="60") as cold,
        app_server(slow_url, BLAXEL_TIMEOUT="60") as warm,
    ):
        speed.measure(report, api, cold, warm, slow_url, max(5, options.repeat // 3))
    own_work_rows(report, answers, options.repeat)
    report.section(
        "(h) against Datasette",
        "Datasette (installed only in the benchmark's `.venv-bench`) serving the same 5,000 "
        "tasks' visible fields from SQLite, its table page of 200 rows, beside the app's page of "
        "200 rows on replayed answers: each server alone in its process, over loopback.",
    )
    datasette.compare(report, answers, five_thousand_tasks(), f"{tasks_path()}?limit=200", 15)
    write(report, options)


def five_thousand_tasks() -> list[dict]:
    """Every task of the 5,000-task execution, straight from the simulator's data."""
    from webapp.simulator import data

    anchor = datetime.now(UTC).replace(second=0, microsecond=0)
    return list(data.tasks(anchor, JOB, EXECUTION, anchor) or ())


def write(report: Report, options: argparse.Namespace) -> None:
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    text = f"""# Benchmark results

Produced by `python -m bench` (`make bench`) on {stamp}: {os.cpu_count()} cores,
Python {platform.python_version()}, everything over loopback on one machine (shared with other
work: quote ratios, not absolute times). Medians of {options.repeat} sequential requests after
warm-up unless said; ratios are to what each row names. The app runs under gunicorn with the
project's `gunicorn.conf.py` and its default `WEBAPP_CACHE_TTL` of 5 s unless noted: (b) with
`WEBAPP_CACHE_TTL=0`, (c) with 600 s after a first request. Pages include the execution summary
(a second upstream call, made beside the first); fragments are what htmx asks for
(`HX-Request: true`). Execution `{JOB}/{EXECUTION}` has 5,000 tasks. (d) counts calls at the
simulator; "TTL windows" is the run's length over the 5 s TTL.

{report.markdown()}"""
    if report.notes:
        text += "\n" + "\n".join(f"- {note}" for note in report.notes) + "\n"
    # Other benchmarks keep their own marked sections of the file (bench/health.py).
    kept = re.findall(r"<!-- (\w+): begin -->.*?<!-- \1: end -->", RESULTS.read_text(), re.S)
    previous = RESULTS.read_text()
    for name in kept:
        section = re.search(rf"<!-- {name}: begin -->.*?<!-- {name}: end -->", previous, re.S)
        text += "\n" + section.group(0) + "\n"
    RESULTS.write_text(text)
    print(f"\nWritten to {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()

"""How long the whole-execution timeline of 5,000 tasks takes to load in Chromium: from the
navigation to the chart drawn with every task of `nightly-embeddings/exec-5k-embeddings` (the
section no longer reading on). Run on demand; it is not a test.

    python -m bench.timeline_load [--loads 7] [--query "?view=timeline"] [--latency 80ms]

`blaxel-jobs serve` (its defaults, `WEB_CONCURRENCY=1` so that every load meets the same
worker's cache) in front of the simulator on loopback. The first load is cold: the app reads the
execution's 25 pages of tasks from the simulator. The others find those pages kept (a finished
execution's for `WEBAPP_CACHE_FINAL_TTL`): their median is the figure quoted. Each load is a new
browser context (no cache of the browser's own).
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import tasks_path
from bench.serving import free_port, start_serve, stop, wait_for

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run"]
# Drawn: the chart is in the page and the section says it has read every task it will show.
DRAWN = "#timeline[aria-busy='false'] svg.timeline-chart"


def load_times(url: str, loads: int) -> tuple[list[float], list[dict[str, float]], int]:
    """Milliseconds from navigation to the timeline drawn, per load; where the time of each went
    (the page's first and last byte, its DOM ready, from the navigation's start); bytes of the
    last page."""
    from playwright.sync_api import sync_playwright

    times, parts, size = [], [], 0
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for _ in range(loads):
            context = chromium.new_context(viewport={"width": 1280, "height": 900})
            page = context.new_page()
            started = time.perf_counter()
            page.goto(url, wait_until="commit")
            page.locator(DRAWN).wait_for(state="visible", timeout=60_000)
            # The next frame: the chart is on the screen, not only in the document.
            page.evaluate("() => new Promise((done) => requestAnimationFrame(() => done()))")
            times.append((time.perf_counter() - started) * 1000)
            parts.append(page.evaluate(NAVIGATION))
            size = len(page.content().encode())
            context.close()
        chromium.close()
    return times, parts, size


NAVIGATION = """() => {
  const [entry] = performance.getEntriesByType("navigation");
  return { "first byte": entry.responseStart, "last byte": entry.responseEnd,
           "DOM ready": entry.domContentLoadedEventEnd };
}"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loads", type=int, default=7, help="loads, the first one cold")
    parser.add_argument("--query", default="?view=timeline", help="the timeline's URL query")
    parser.add_argument("--latency", default="", help="the simulator's modelled latency")
    options = parser.parse_args()

    simulator_port, app_port = free_port(), free_port()
    args = [sys.executable, "-m", "webapp.simulator", "--port", str(simulator_port)]
    args += ["--latency", options.latency] if options.latency else []
    simulator = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    data = tempfile.mkdtemp(prefix="timeline-load-")  # the app's own data folder, not the default
    kept = ("BLAXEL_", "WEBAPP_", "WEB_CONCURRENCY")
    environ = {key: value for key, value in os.environ.items() if not key.startswith(kept)} | {
        "BLAXEL_API_URL": f"http://127.0.0.1:{simulator_port}/v0",
        "BLAXEL_API_KEY": "bench-token",
        "WEBAPP_SECRET_KEY": secrets.token_hex(32),
        "WEBAPP_BIND": f"127.0.0.1:{app_port}",
        "WEBAPP_LOG_LEVEL": "WARNING",
        "WEB_CONCURRENCY": "1",
        "WEBAPP_DATA_DIR": data,
    }
    server = start_serve(environ, ROOT)
    base = f"http://127.0.0.1:{app_port}"
    try:
        wait_for(f"http://127.0.0.1:{simulator_port}/v0/jobs")
        wait_for(base + "/healthz")
        times, parts, size = load_times(base + tasks_path() + options.query, options.loads)
    finally:
        stop(server)
        stop(simulator)
        shutil.rmtree(data, ignore_errors=True)
    warm = statistics.median(times[1:]) if len(times) > 1 else times[0]
    print(f"timeline {tasks_path()}{options.query}: {size / 1024:.0f} KiB of HTML")
    print(f"first load (cold): {times[0]:.0f} ms")
    print(f"loads after it: median {warm:.0f} ms of {len(times) - 1}")
    for name in parts[0]:
        middle = statistics.median(part[name] for part in parts[1:] or parts)
        print(f"  of which, after it, until the page's {name}: median {middle:.0f} ms")
    print("every load, ms: " + ", ".join(f"{value:.0f}" for value in times))


if __name__ == "__main__":
    main()

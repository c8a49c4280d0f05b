"""Upstream calls of health at a glance: the jobs page for 50 jobs (cold, warm, after the TTL)
and the timeline over the 5,000-task execution. Run on demand, never in the test suite:

    python bench/health.py            # prints the table
    python bench/health.py --write    # and replaces its section of bench/RESULTS.md

The app runs in this process on the embedded simulator, counted at the transport: every call
that would reach Blaxel is one row of the count. The demo has 27 jobs; to make 50, the
transport lists 23 more under other names, each answering with the runs of the demo job it
copies. The clock is the app's and the simulator's own, moved by hand, so "warm" means within
the 5 s TTL and "after the TTL" means 6 s later.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from webapp import create_app  # noqa: E402
from webapp.simulator import create_simulator  # noqa: E402

RESULTS = ROOT / "bench" / "RESULTS.md"
BEGIN, END = "<!-- health: begin -->", "<!-- health: end -->"
COPY = "-copy"
JOBS = 50
HTMX = {"HX-Request": "true"}
BIG = "/jobs/nightly-embeddings/executions/exec-5k-embeddings/tasks"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 28, 9, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


class FiftyJobs(httpx.BaseTransport):
    """The simulator with 50 jobs, counting each call by endpoint."""

    def __init__(self, clock: Clock) -> None:
        self.inner = httpx.WSGITransport(app=create_simulator(clock=clock))
        self.calls: Counter[str] = Counter()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        self.calls[endpoint(path)] += 1
        if path.endswith("/jobs"):
            return self.jobs(request)
        if COPY in path:
            url = request.url.copy_with(path=path.replace(COPY, ""))
            request = httpx.Request(request.method, url, headers=request.headers)
        return self.inner.handle_request(request)

    def jobs(self, request: httpx.Request) -> httpx.Response:
        url = request.url.copy_with(params={"limit": 200})
        answer = self.inner.handle_request(httpx.Request("GET", url, headers=request.headers))
        answer.read()
        found = json.loads(answer.content)["data"]
        for job in found[: JOBS - len(found)]:
            copy = json.loads(json.dumps(job))
            copy["metadata"]["name"] += COPY
            found.append(copy)
        limit = int(request.url.params.get("limit", 50))
        body = {
            "data": found[:limit],
            "meta": {"hasMore": False, "nextCursor": "", "total": len(found)},
        }
        return httpx.Response(200, json=body)


def endpoint(path: str) -> str:
    if path.endswith("/jobs"):
        return "ListJobs"
    if path.endswith("/executions"):
        return "ListJobExecutions"
    if path.endswith("/tasks"):
        return "ListJobExecutionTasks"
    return "GetJobExecution"


def build() -> tuple[object, FiftyJobs, Clock]:
    clock = Clock()
    upstream = FiftyJobs(clock)
    app = create_app({"BLAXEL_API_KEY": "bench-token"}, transport=upstream, clock=clock)
    return app.test_client(), upstream, clock


NEWEST = "/?sort=createdAt:desc"  # the jobs in Blaxel's order: strips load as rows show


def job_names(client) -> list[str]:
    html = client.get(NEWEST).get_data(as_text=True)
    return [
        part.split('"', 1)[0]
        for part in html.split('hx-get="/jobs/')[1:]
        if part.split('"', 1)[0].endswith("/recent")
    ]


def visit_jobs_page(client, upstream: FiftyJobs, strips: list[str]) -> dict[str, int]:
    """What a browser asks for: the page, the summary it loads, each row's strip."""
    counts = {}
    before = sum(upstream.calls.values())
    client.get(NEWEST)
    counts["page"] = sum(upstream.calls.values()) - before
    before = sum(upstream.calls.values())
    client.get("/health", headers=HTMX)
    counts["summary"] = sum(upstream.calls.values()) - before
    before = sum(upstream.calls.values())
    for strip in strips:
        client.get("/jobs/" + strip, headers=HTMX)
    counts["strips"] = sum(upstream.calls.values()) - before
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="update bench/RESULTS.md")
    options = parser.parse_args()
    rows: list[tuple[str, str, str]] = []

    strips = job_names(build()[0])
    assert len(strips) == JOBS, len(strips)
    client, upstream, clock = build()
    cold = visit_jobs_page(client, upstream, strips)
    warm = visit_jobs_page(client, upstream, strips)
    clock.now += timedelta(seconds=6)
    later = visit_jobs_page(client, upstream, strips)

    def line(counts: dict[str, int]) -> str:
        parts = " + ".join(f"{count} {part}" for part, count in counts.items())
        return f"{sum(counts.values())} ({parts})"

    rows.append(
        ("Jobs page newest first, 50 jobs, cold: page, summary (3 days), 50 strips", line(cold), "")
    )
    rows.append(("the same within the TTL (warm)", line(warm), ""))
    rows.append(("the same 6 s later, past the 5 s TTL", line(later), "runs lists may change"))

    client, upstream, clock = build()
    upstream.calls.clear()
    client.get("/?sort=failing")
    failing_cold = sum(upstream.calls.values())
    client.get("/jobs/" + strips[0], headers=HTMX)
    client.get("/health", headers=HTMX)
    failing_then = sum(upstream.calls.values()) - failing_cold
    rows.append(
        ("Failing first (the default), 50 jobs, cold (strips in the page)", str(failing_cold), "")
    )
    rows.append(("then a strip and the summary", str(failing_then), "shared answers"))
    client, upstream, clock = build()
    upstream.calls.clear()
    client.get("/health?window=7d", headers=HTMX)
    rows.append(("Summary over 7 days, cold", str(sum(upstream.calls.values())), ""))

    client, upstream, clock = build()
    upstream.calls.clear()
    client.get(BIG + "?view=timeline")
    rows.append(
        (
            "Timeline of the list's first page (50 of 5,000 tasks), cold",
            calls_text(upstream.calls),
            "",
        )
    )
    client, upstream, clock = build()
    requests, timings, sizes = 0, [], []
    url = BIG + "?view=timeline&span=all"
    while True:
        began = time.perf_counter()
        html = client.get(url, headers=HTMX if requests else {}).get_data(as_text=True)
        timings.append(time.perf_counter() - began)
        sizes.append(len(html.encode()))
        requests += 1
        if "the whole execution." in html or requests >= 10:
            break
    rows.append(
        (
            "Timeline over the whole 5,000-task execution, cold",
            calls_text(upstream.calls),
            f"{requests} requests (the section asks again until done); the last one "
            f"{sizes[-1] / 1024:,.0f} KiB of HTML; "
            f"{statistics.median(timings) * 1000:,.0f} ms a request (median)",
        )
    )
    upstream.calls.clear()
    client.get(url)
    clock.now += timedelta(seconds=300)
    client.get(url)
    rows.append(
        (
            "the same again, now and 5 min later (finished: kept for the final TTL)",
            calls_text(upstream.calls),
            "",
        )
    )

    table = render(rows)
    print(table)
    if options.write:
        write(table)


def calls_text(calls: Counter[str]) -> str:
    total = sum(calls.values())
    parts = ", ".join(f"{count} {name}" for name, count in sorted(calls.items()))
    return f"{total}" + (f" ({parts})" if parts else "")


def render(rows: list[tuple[str, str, str]]) -> str:
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "## Health at a glance: upstream calls",
        "",
        f"Produced by `python bench/health.py --write` on {stamp}: the app in one process on the",
        "embedded simulator, calls counted at the transport (each one a call Blaxel would get),",
        "with the default cache (5 s TTL, 600 s for finished executions). 50 jobs: the demo's 27",
        "and 23 copies of them under other names.",
        "",
        "| what | upstream calls | note |",
        "|---|---:|---|",
    ]
    lines += [f"| {what} | {calls} | {note} |" for what, calls, note in rows]
    return "\n".join(lines)


def write(table: str) -> None:
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else ""
    section = f"{BEGIN}\n{table}\n{END}"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + section + rest.split(END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    RESULTS.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()

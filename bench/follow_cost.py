"""What following a running task's logs costs upstream: calls per minute for 1 to 50 viewers.

Run on demand (not a test):  python bench/follow_cost.py

The app runs on the demo simulator through a transport that counts every upstream call, with one
clock for both that the script moves by hand: viewers open the logs of a running task of the
demo's slow execution at moments spread over the first poll interval, then each polls every
FOLLOW_SECONDS, as app.js would, following the poll URL each answer hands on. Every call goes
through the app's shared cache (WEBAPP_CACHE_TTL, 5 s by default), as in production.

With --own-since, each poll sends a `since` of its own instead (30 s before its moment, to the
second), as a client that tracks its last line would: the server puts it on the grain.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from webapp import create_app  # noqa: E402
from webapp.logs.view import FOLLOW_SECONDS  # noqa: E402
from webapp.simulator import create_simulator  # noqa: E402

TASK = "/jobs/thumbnail-render/executions/exec-slow-thumbnails/tasks/task-30/logs"
FOLLOW = re.compile(r'hx-get="([^"]*/logs/follow\?[^"]*)"')
STEP = 0.25  # seconds of the clock per step


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class Counting(httpx.BaseTransport):
    """The simulator, counting the calls by endpoint."""

    def __init__(self, clock: Clock) -> None:
        self.inner = httpx.WSGITransport(app=create_simulator(clock=clock))
        self.calls: Counter[str] = Counter()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        endpoint = "TaskLogs" if path.endswith("/observability/logs") else path.rsplit("/", 1)[-1]
        self.calls["ListJobExecutionTasks" if endpoint == "tasks" else endpoint] += 1
        return self.inner.handle_request(request)


def follow_url(html: str) -> str:
    return FOLLOW.search(html).group(1).replace("&amp;", "&")


def own_since(url: str, now: datetime) -> str:
    moment = (now - timedelta(seconds=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return re.sub(r"since=[^&]*", f"since={moment}", url)


def measure(viewers: int, seconds: int, own: bool = False) -> Counter[str]:
    clock = Clock(datetime(2026, 11, 28, 9, 0, tzinfo=UTC))
    upstream = Counting(clock)
    app = create_app({"BLAXEL_API_KEY": "bench"}, transport=upstream, clock=clock)
    client = app.test_client()
    start = clock.now
    opens = {start + timedelta(seconds=FOLLOW_SECONDS * n / viewers): n for n in range(viewers)}
    polls: dict[int, tuple[datetime, str]] = {}
    while clock.now < start + timedelta(seconds=seconds):
        if clock.now in opens:
            page = client.get(TASK).get_data(as_text=True)
            polls[opens[clock.now]] = (
                clock.now + timedelta(seconds=FOLLOW_SECONDS),
                follow_url(page),
            )
        for viewer, (due, url) in list(polls.items()):
            if due <= clock.now:
                url = own_since(url, clock.now) if own else url
                answer = client.get(url, headers={"HX-Request": "true"}).get_data(as_text=True)
                polls[viewer] = (clock.now + timedelta(seconds=FOLLOW_SECONDS), follow_url(answer))
        clock.now += timedelta(seconds=STEP)
    return upstream.calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--own-since", action="store_true", help="each poll sends its own since")
    parser.add_argument("--viewers", type=int, nargs="*", default=[1, 2, 10, 50])
    options = parser.parse_args()
    seconds = options.seconds
    print(f"{'viewers':>7}  {'TaskLogs':>8}  {'task lookups':>12}  {'other':>5}  per {seconds} s")
    for viewers in options.viewers:
        calls = measure(viewers, seconds, options.own_since)
        logs, lookups = calls.pop("TaskLogs", 0), calls.pop("ListJobExecutionTasks", 0)
        print(f"{viewers:>7}  {logs:>8}  {lookups:>12}  {sum(calls.values()):>5}")


if __name__ == "__main__":
    main()

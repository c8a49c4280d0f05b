"""Fixtures: the app on the embedded simulator, the app on a scripted upstream, a fake clock.

A test that needs a tool outside the virtual environment (Chromium and Playwright, redis-server)
is skipped, with a reason naming `make test`, where that tool is missing. `make test` passes
`--require-all`: there a missing tool fails its tests, and the run fails if any test was skipped.
"""

from __future__ import annotations

import logging
import re
import shutil
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from flask import Flask

from bench.serving import REDIS_SERVER, running_redis
from webapp import create_app
from webapp.simulator import DEMO_TOKEN

# The browser fixtures (headless Chromium, a console-watching page) live beside the live server;
# Playwright itself is imported only when a browser test runs. pytester runs the suite's own hooks.
pytest_plugins = ["tests.browser", "pytester"]
REQUIRE_ALL = "--require-all"

TOKEN = "test-secret-token-3f9a1c"  # noqa: S105 - a made-up token whose leaks the tests look for
WRITE_TOKEN = "test-write-key-5b8e2d"  # noqa: S105 - the write key's, looked for the same way
# A webhook URL's secret part (tests/test_operate_watch.py): never logged either.
WEBHOOK_SECRET = "hook-secret-path-91c2"

# Every token any test hands the app, and the cursor values the tests page with.
SECRETS = (TOKEN, DEMO_TOKEN, "socket-test-token-9d2e", "any-token", WRITE_TOKEN, WEBHOOK_SECRET)
TEST_CURSORS = ("Q1VSU09S", "TkVYVA", "T0xE", "RlJFU0g", "Zm9v", "TE9ORw")
LOGGED_CURSOR = re.compile(r"cursor=(?!\[redacted\])[^&\s\"'\]]+")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        REQUIRE_ALL,
        action="store_true",
        help="fail, never skip, a test whose tool is missing, and fail the run if any test was "
        "skipped (`make test` passes it)",
    )


def needs(config: pytest.Config, missing: list[str]) -> None:
    """Skip the current test for want of `missing` (what `make test` installs), or fail it under
    --require-all; nothing if nothing is missing."""
    if not missing:
        return
    reason = f"needs {', '.join(missing)}: `make test` installs what is missing and runs it"
    if config.getoption(REQUIRE_ALL):
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


class EveryTestRuns:
    """Under --require-all: a skipped test or module fails the run, and the summary names it."""

    def __init__(self) -> None:
        self.skipped: list[str] = []

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.skipped and not hasattr(report, "wasxfail"):
            self.skipped.append(report.nodeid)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.skipped:
            self.skipped.append(report.nodeid)

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.skipped and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter) -> None:
        if self.skipped:
            terminalreporter.write_line(
                f"{REQUIRE_ALL}: {len(self.skipped)} skipped, and every test must run here: "
                + ", ".join(self.skipped[:5]),
                red=True,
            )


def pytest_configure(config: pytest.Config) -> None:
    # The controller alone (xdist's workers send it their reports) decides the run's status.
    if config.getoption(REQUIRE_ALL) and not hasattr(config, "workerinput"):
        config.pluginmanager.register(EveryTestRuns(), "every-test-runs")


class LogCapture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record) + " " + str(getattr(record, "fields", "")))


@pytest.fixture(scope="session", autouse=True)
def no_token_or_cursor_in_any_log():
    """Scans every log record of the whole suite for tokens and cursor values: INFO and up from
    everyone, DEBUG and up from the app and the HTTP libraries it drives."""
    capture = LogCapture()
    root = logging.getLogger()
    level = root.level
    root.addHandler(capture)
    root.setLevel(logging.INFO)
    chatty = [logging.getLogger(name) for name in ("webapp", "httpx", "httpcore", "werkzeug")]
    for logger in chatty:
        logger.setLevel(logging.DEBUG)
    yield capture
    root.removeHandler(capture)
    root.setLevel(level)
    for logger in chatty:
        logger.setLevel(logging.NOTSET)
    leaks = [
        line
        for line in capture.lines
        if any(secret in line for secret in SECRETS + TEST_CURSORS)
        or "Bearer " in line
        or LOGGED_CURSOR.search(line)
    ]
    assert leaks == []


def needs_redis(config: pytest.Config) -> None:
    needs(config, [] if shutil.which(REDIS_SERVER) else ["redis-server"])


@pytest.fixture(scope="session")
def redis_server(pytestconfig):
    """A real redis-server for the session (the shared cache and the shared sign-in counts)."""
    needs_redis(pytestconfig)
    with running_redis() as server:
        yield server


@pytest.fixture
def redis_url(redis_server):
    """The session's Redis, emptied for each test."""
    with redis_server.client() as client:
        client.flushall()
    return redis_server.url


@pytest.fixture(scope="session", autouse=True)
def session_data_dir(tmp_path_factory):
    """What a fixture wider than one test starts keeps its data here: never the user's data
    folder, never the repository."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("WEBAPP_DATA_DIR", str(tmp_path_factory.mktemp("session-data")))
        yield


@pytest.fixture(autouse=True)
def data_dir(tmp_path_factory, monkeypatch):
    """Each test's app (and any server it starts) keeps its data in a folder of its own, with
    nothing carried over from another test."""
    folder = tmp_path_factory.mktemp("data")
    monkeypatch.setenv("WEBAPP_DATA_DIR", str(folder))
    return folder


class FakeClock:
    """A clock the tests move by hand, shared by the app and the simulator (and by deadlines,
    with the `deadline_clock` fixture)."""

    def __init__(self, start: datetime) -> None:
        self.now = start
        self._lock = threading.Lock()  # moved by an upstream's threads too

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += timedelta(seconds=seconds)

    def monotonic(self) -> float:
        """This clock in seconds, as `time.monotonic` reads."""
        return self.now.timestamp()

    def advance_to(self, seconds: float) -> None:
        """Move to `seconds` (a `monotonic` reading), unless already past it."""
        with self._lock:
            self.now = max(self.now, datetime.fromtimestamp(seconds, UTC))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 11, 28, 9, 0, 0, tzinfo=UTC))


@pytest.fixture
def deadline_clock(clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """`clock` read as `time.monotonic` too, which deadlines are measured on: time passes for a
    request's deadline only when the test (or its upstream) moves the clock."""
    monkeypatch.setattr(time, "monotonic", clock.monotonic)
    return clock


@pytest.fixture
def app(clock: FakeClock):
    """The app in demo mode: no token, upstream answered in-process by the simulator."""
    return create_app({"TESTING": True, "BLAXEL_API_KEY": ""}, clock=clock)


@pytest.fixture
def client(app):
    return app.test_client()


EXECUTION = {
    "metadata": {
        "id": "exec-1",
        "job": "nightly",
        "createdAt": "2026-11-28T07:59:00Z",
        "startedAt": "2026-11-28T08:00:00Z",
        "completedAt": "2026-11-28T08:30:00Z",
    },
    "spec": {"parallelism": 8, "timeout": 3600},
    "stats": {"total": 10, "success": 7, "failure": 2, "running": 0, "cancelled": 1, "retried": 3},
    "status": "succeeded",
}


class ScriptedUpstream:
    """An upstream whose listing answers a test scripts; it records every request it receives.

    GetJobExecution (the summary above a task list) answers EXECUTION unless `execution` says else.
    """

    def __init__(self, handler: Callable[[httpx.Request], httpx.Response], execution=None) -> None:
        self.handler = handler
        self.execution = execution
        self.requests: list[httpx.Request] = []

    @property
    def listing_requests(self) -> list[httpx.Request]:
        return [r for r in self.requests if not r.url.path.endswith("/exec-1")]

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.path.endswith("/executions/exec-1"):
            if self.execution is not None:
                return self.execution(request)
            return httpx.Response(200, json=EXECUTION)
        return self.handler(request)


def app_on(
    upstream: Callable[[httpx.Request], httpx.Response],
    *,
    clock: Callable[[], datetime] | None = None,
    readiness_ttl: float = 5.0,
    signin_hash_wait: float = 2.0,
    **config,
) -> Flask:
    """The app with a token and a workspace, its Blaxel calls answered by `upstream`."""
    return create_app(
        {"TESTING": True, "BLAXEL_API_KEY": TOKEN, "BLAXEL_WORKSPACE": "team-space", **config},
        transport=httpx.MockTransport(upstream),
        clock=clock,
        readiness_ttl=readiness_ttl,
        signin_hash_wait=signin_hash_wait,
    )


@pytest.fixture
def scripted(clock: FakeClock):
    """Build (app client, upstream) where the upstream's answers come from `handler`."""

    def build(handler: Callable[[httpx.Request], httpx.Response], execution=None, **config):
        upstream = ScriptedUpstream(handler, execution)
        return app_on(upstream, clock=clock, **config).test_client(), upstream

    return build


def task_json(index: int, status: str = "succeeded", **metadata) -> dict:
    return {
        "metadata": {
            "name": f"task-{index}",
            "createdAt": "2026-11-28T08:00:00Z",
            "startedAt": "2026-11-28T08:00:05Z",
            "completedAt": "2026-11-28T08:03:00Z",
            **metadata,
        },
        "spec": {"maxRetries": 3, "timeout": "30m"},
        "status": status,
        "conditions": [],
    }


def task_page(tasks: list[dict], next_cursor: str = "", total: int | None = None) -> dict:
    return {
        "data": tasks,
        "meta": {
            "hasMore": bool(next_cursor),
            "nextCursor": next_cursor,
            "total": len(tasks) if total is None else total,
        },
    }

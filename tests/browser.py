"""Shared pieces for browser tests: a live server on a loopback socket and headless Chromium.

Playwright is imported only when a browser test runs: without it (or without Chromium) the other
tests still run, and the browser tests are skipped, saying what is missing (conftest's `needs`).
"""

from __future__ import annotations

import importlib.util
import os
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from werkzeug.serving import make_server

from webapp import create_app
from webapp.simulator import create_simulator

from .conftest import FakeClock, needs

CHROMIUM = "/usr/bin/chromium"
# Where the docs' screenshots go: a folder of this run unless set (`make screenshots` sets it
# to docs/screenshots), so that a test run never changes tracked files.
SCREENSHOTS_DIR = "SCREENSHOTS_DIR"
# Without these, Chromium keeps trying to reach the network this machine does not have.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def live_crawl_clock() -> FakeClock:
    """A minute into one of the demo's live crawl cycles (a new one every 5 minutes), so that
    the live execution has tasks running."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    return FakeClock(now.replace(minute=now.minute - now.minute % 5) + timedelta(minutes=1))


@contextmanager
def serve(app: Flask) -> Iterator[str]:
    """Serve a WSGI app on a free loopback port for the duration of the block."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    # A short poll, so that shutting down takes milliseconds rather than half a second.
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)


@contextmanager
def demo_server(clock: FakeClock | None = None) -> Iterator[str]:
    """The app on demo data (no token) on a loopback socket; app and simulator on `clock`.

    Each server keeps its data (runs remembered, sign-in counts) in a folder of its own: runs
    digested by another module's app, on another clock, would otherwise become this one's."""
    with tempfile.TemporaryDirectory(prefix="demo-data-") as data:
        config: dict[str, object] = {"BLAXEL_API_KEY": "", "WEBAPP_DATA_DIR": data}
        with serve(create_app(config, clock=clock)) as url:
            yield url


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    """The demo app for a module's browser tests (a module with other needs defines its own)."""
    with demo_server() as url:
        yield url


@pytest.fixture(scope="module")
def live_clock() -> FakeClock:
    """The clock of a module whose tests watch the demo's live crawl."""
    return live_crawl_clock()


@pytest.fixture(scope="module")
def live_url(live_clock: FakeClock) -> Iterator[str]:
    """The demo app, app and simulator on `live_clock`: the live crawl has tasks running."""
    with demo_server(live_clock) as url:
        yield url


SIMULATOR_HEADERS = {"Authorization": "Bearer t", "Blaxel-Version": "2026-04-28"}


def simulator_at(moment: datetime):
    """The simulator's own answers at `moment`: a walk of a listing's pages."""
    client = create_simulator(clock=lambda: moment).test_client()

    def walk(path: str, **params) -> list[dict]:
        found, cursor = [], ""
        while True:
            sent = {**params, **({"cursor": cursor} if cursor else {})}
            body = client.get("/v0" + path, query_string=sent, headers=SIMULATOR_HEADERS).json
            found += body["data"]
            if not body["meta"]["hasMore"]:
                return found
            cursor = body["meta"]["nextCursor"]

    return walk


def missing_for_browser_tests() -> list[str]:
    """What the browser tests need and this machine lacks."""
    missing = [
        name
        for name, module in (
            ("Playwright", "playwright"),
            ("axe-playwright-python", "axe_playwright_python"),
        )
        if importlib.util.find_spec(module) is None
    ]
    if not Path(CHROMIUM).exists():
        missing.append(f"Chromium at {CHROMIUM}")
    return missing


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("browser"):
        needs(item.config, missing_for_browser_tests())


def expect(actual, message: str | None = None):
    """Playwright's `expect`, imported when a browser test first uses it."""
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(actual, message)


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium (Debian's, never a downloaded one) per test process."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "screenshot: takes a docs screenshot (`make screenshots` runs only these)"
    )


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder screenshots are written to: $SCREENSHOTS_DIR, else one this run owns."""
    chosen = os.environ.get(SCREENSHOTS_DIR)
    folder = Path(chosen) if chosen else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def page(browser):
    """A fresh page that fails the test on any console error (CSP violations included)."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.add_init_script(CSP_WATCH)
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda message: message.type == "error" and problems.append(message.text))
    page.on("pageerror", lambda error: problems.append(str(error)))
    yield page
    context.close()
    assert faults(problems) == []


def faults(console_errors: list[str]) -> list[str]:
    """The console errors that are faults: htmx reports a request it cancelled for a newer one
    of the same control (hx-sync replace: the newest choice wins) as two errors, afterRequest
    then sendAbort; those two are the intended behaviour, not a fault."""
    found: list[str] = []
    for text in console_errors:
        if (
            text.startswith("htmx:sendAbort")
            and found
            and found[-1].startswith("htmx:afterRequest")
        ):
            found.pop()
        else:
            found.append(text)
    return found


# Records every Content-Security-Policy violation a page reports, across navigations.
CSP_WATCH = """
window.addEventListener("securitypolicyviolation", (event) => {
  const blocked = event.blockedURI || "inline";
  console.error("CSP violation: " + event.violatedDirective + " blocked " + blocked);
});
"""


def serious_violations(page) -> list[str]:
    """axe's serious and critical findings on the page as it is now, one line each."""
    from axe_playwright_python.sync_playwright import Axe

    return [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
        for v in Axe().run(page).response["violations"]
        if v["impact"] in {"serious", "critical"}
    ]

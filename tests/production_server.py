"""The production server as a team runs it, for the tests: a real process on a free loopback
port, its log in a file, stopped (and killed if it must be) when the test ends."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.error import HTTPError, URLError
from urllib.request import Request, urlopen

from bench.serving import free_port, stop

ROOT = Path(__file__).resolve().parent.parent
SERVE = [sys.executable, "-m", "webapp.web.cli", "serve"]
SECRET = {"WEBAPP_SECRET_KEY": "s" * 64}


def clean_environ(**settings: str) -> dict[str, str]:
    """This process's environment without any app setting, plus `settings`; the test's own data
    folder stays (see conftest.data_dir), so no server a test starts writes anywhere else."""
    kept = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("BLAXEL_", "WEBAPP_", "WEB_CONCURRENCY", "PYTHONPATH"))
    }
    return {**kept, "WEBAPP_DATA_DIR": os.environ["WEBAPP_DATA_DIR"], **settings}


def fetch(url: str, timeout: float = 60, **headers: str) -> tuple[int, dict[str, str], str]:
    """Status, headers and body. urllib, not httpx: httpx would log the URL itself. The timeout
    is a safety net only (a server's first page on a loaded machine can take seconds)."""
    try:
        with urlopen(Request(url, headers=headers), timeout=timeout) as answer:  # noqa: S310
            return answer.status, dict(answer.headers), answer.read().decode()
    except HTTPError as error:
        return error.code, dict(error.headers), error.read().decode()


@contextmanager
def running(
    log: Path, command: list[str] = SERVE, cwd: Path = ROOT, **settings: str
) -> Iterator[str]:
    """Start `command` (by default `blaxel-jobs serve`) on a free loopback port (WEBAPP_BIND, or
    `{port}` in the command) in demo mode unless `settings` say else; yield its base URL once
    /healthz answers."""
    port = free_port()
    command = [part.format(port=port) for part in command]
    environ = clean_environ(**{**SECRET, "WEBAPP_BIND": f"127.0.0.1:{port}", **settings})
    base = f"http://127.0.0.1:{port}"
    with log.open("w") as errors:
        server = subprocess.Popen(
            command, cwd=cwd, env=environ, stdout=subprocess.DEVNULL, stderr=errors
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    fetch(base + "/healthz", timeout=2)
                    break
                except (URLError, OSError):
                    if server.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(
                            f"the server did not start:\n{log.read_text()}"
                        ) from None
                    time.sleep(0.1)
            yield base
        finally:
            stop(server, seconds=30)

"""Servers on loopback for the benchmark and the tests alike: a free port, a readiness wait and a
throw-away Redis server (Debian's redis-server); a child process started and stopped."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import redis

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def stop(child: subprocess.Popen, seconds: float = 15) -> None:
    """Ask a child process to end; kill it if it has not within `seconds`."""
    child.terminate()
    try:
        child.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait(timeout=10)


@contextmanager
def running(
    args: list[str], ready_url: str, cwd: Path, env: dict[str, str] | None = None
) -> Iterator[None]:
    """A server as a child process (its output discarded) for the block, once `ready_url`
    answers."""
    child = subprocess.Popen(
        args,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(ready_url)
        yield
    finally:
        stop(child)


def start_simulator(port: int, cwd: Path) -> subprocess.Popen:
    """The simulator on a socket (`python -m webapp.simulator`) as a child process."""
    return subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "webapp.simulator", "--port", str(port)],
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def start_serve(environ: dict[str, str], cwd: Path) -> subprocess.Popen:
    """`blaxel-jobs serve` (the production server) as a child process, its output discarded."""
    return subprocess.Popen(  # noqa: S603 - our own interpreter and the app's command
        [sys.executable, "-m", "webapp.web.cli", "serve"],
        cwd=cwd,
        env=environ,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def free_port() -> int:
    """A loopback port nothing listens on (now: connections to it are refused until used)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(url: str, seconds: float = 30) -> None:
    """Return once anything answers at `url`; fail after `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"nothing answered at {url}") from None
            time.sleep(0.1)


class RedisServer:
    """One redis-server process without persistence; `stop()` and `start()` simulate an outage."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1"]
            + ["--save", "", "--appendonly", "no", "--protected-mode", "yes"]
            # As docs/operations.md asks of a production Redis: bounded, oldest expiring keys out.
            + ["--maxmemory", "64mb", "--maxmemory-policy", "volatile-lru"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    self.stop()
                    raise RuntimeError(f"redis-server did not start on port {self.port}") from None
                time.sleep(0.02)
        client.close()

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process, seconds=10)
            self.process = None

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url)


@contextmanager
def running_redis() -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()

"""The production server's parts: the checks it makes before it listens (what would be unsafe,
and why), its timeouts and logs, and the app as its workers serve it."""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from ..common.config import ConfigError, Settings, flag
from ..store import StoreError, open_digest_rows, open_events

DEFAULT_BIND = "127.0.0.1:8000"
# A worker whose event loop has not run for this long (stuck in CPU work, or in a call that
# blocks outside gevent) is restarted. Requests waiting on the API or on a client do not count.
LOOP_TIMEOUT = 30


def bind_host(bind: str) -> str:
    """The host part of a gunicorn bind: "HOST:PORT", "[IPv6]:PORT", "HOST", "unix:PATH"."""
    if bind.startswith("unix:") or bind.startswith("fd://"):
        return ""
    if bind.startswith("["):
        return bind[1:].partition("]")[0]
    host, _, port = bind.rpartition(":")
    return host if port.isdigit() else bind


def is_loopback(bind: str) -> bool:
    """True when only this machine can connect (loopback address, localhost or a unix socket)."""
    host = bind_host(bind)
    if host == "":
        return bind.startswith("unix:")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: assume it resolves beyond this machine


def start_problems(environ: Mapping[str, Any], binds: Iterable[str]) -> list[str]:
    """Why the production server must not start with this environment, if it must not."""
    try:
        settings = Settings.load({**environ})
    except ConfigError as error:
        return [str(error)]
    problems = []
    try:  # a data file it cannot read stops the server before any worker starts
        if settings.auth == "basic":
            open_events(settings).close()
        open_digest_rows(settings).close()  # the runs' digests (checked if the file is there)
    except StoreError as error:
        problems.append(str(error))
    if not str(environ.get("WEBAPP_SECRET_KEY") or "").strip():
        problems.append(
            "WEBAPP_SECRET_KEY is not set. In production it must be: every worker process would "
            "otherwise sign with its own random key, and nothing signed would survive a restart. "
            'Set it to a long random value, e.g. python -c "import secrets; '
            'print(secrets.token_hex(32))".'
        )
    exposed = [bind for bind in binds if not is_loopback(bind)]
    if (
        exposed
        and not settings.demo
        and settings.auth == "none"
        and not flag(environ.get("WEBAPP_ALLOW_ANONYMOUS"))
    ):
        problems.append(
            f"Refusing to listen on {', '.join(exposed)} with WEBAPP_AUTH=none. "
            "This server holds a Blaxel API key that reads the whole workspace, so anyone who "
            "can reach it could read what the key reads. Choose WEBAPP_AUTH=basic (a users file) "
            "or WEBAPP_AUTH=proxy (behind a sign-in proxy), keep WEBAPP_BIND on 127.0.0.1, or, "
            "if the network itself is the access control, say so with WEBAPP_ALLOW_ANONYMOUS=1."
        )
    return problems


def start_warnings(environ: Mapping[str, Any], binds: Iterable[str]) -> list[str]:
    """What the production server says in its log as it starts: allowed, likely a mistake."""
    from .auth import BEHIND_A_PROXY

    try:
        settings = Settings.load({**environ})
    except ConfigError:
        return []  # start_problems says why it cannot start
    binds = list(binds)
    # Nobody but this machine can connect: people come through a proxy running here.
    proxied = bool(binds) and all(is_loopback(bind) for bind in binds)
    if settings.auth == "basic" and not settings.trusted_proxies and proxied:
        return [BEHIND_A_PROXY]
    return []


def shutdown_grace(environ: Mapping[str, Any]) -> int:
    """Seconds the requests in flight get to finish when a worker stops or restarts.

    Enough for a page whose upstream calls each end within about twice BLAXEL_TIMEOUT (the
    deadline, plus at most one read that started just before it); an export or a long walk
    still running after that is cut off."""
    try:
        timeout = Settings.load({**environ}).timeout
    except ConfigError:
        timeout = 10.0
    return int(4 * timeout + 10)


def logging_config(level: str = "INFO") -> dict[str, Any]:
    """gunicorn's logconfig_dict: JSON lines on stderr; our request line replaces its access log."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"redact": {"()": "webapp.blaxel.redaction.Redact"}},
        "formatters": {"json": {"()": "webapp.web.requestlog.JsonFormatter"}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "filters": ["redact"],
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"level": level, "handlers": ["stderr"]},
        "loggers": {
            "gunicorn.error": {"level": level, "handlers": ["stderr"], "propagate": False},
            "gunicorn.access": {"level": "CRITICAL", "propagate": False},
            # httpx logs every request URL at INFO, cursors included; our line has what matters.
            "httpx": {"level": "WARNING"},
        },
    }


def production_app() -> Callable[..., Iterable[bytes]]:
    """What gunicorn's workers serve: the app, its streamed responses taking turns."""
    from .app import create_app

    return TakeTurns(create_app())


class TakeTurns:
    """WSGI middleware: a gevent worker switches requests only when one waits, and a socket that
    takes every chunk at once never makes a download wait (nor does the demo's in-process API).
    Yielding before each chunk keeps one export from holding every other request of its worker;
    outside gevent, sleep(0) only offers the GIL to other threads."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        return _Turns(self.app(environ, start_response))


class _Turns:
    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = chunks
        self._next = iter(chunks)

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        time.sleep(0)  # gevent's sleep once monkey-patched: other greenlets run now
        return next(self._next)

    def close(self) -> None:
        # The app's own close() releases what the response held (an export's share).
        close = getattr(self._chunks, "close", None)
        if close is not None:
            close()

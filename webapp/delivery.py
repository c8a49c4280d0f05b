"""How responses travel: ETags and 304s, compression, versioned static files, Server-Timing."""

from __future__ import annotations

import functools
import hashlib
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask, Response, g, request
from flask_compress import Compress

from .cache import CallTimings, LocalCache, request_timings
from .listing import wants_fragment

# Views whose HTML is shared for the cache TTL by everyone asking for the same URL.
RENDERED_ENDPOINTS = (
    "listings.jobs",
    "listings.executions",
    "listings.tasks",
    "listings.execution_summary",
)
# Headers that are part of what a view answers (the rest are added to every response).
VIEW_HEADERS = ("Content-Type", "HX-Push-Url", "HX-Retarget", "HX-Reswap", "Location")

IMMUTABLE = "public, max-age=31536000, immutable"


class StaticVersions:
    """A short content hash per static file, recomputed when the file changes."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._known: dict[str, tuple[float, str]] = {}

    def __call__(self, filename: str) -> str | None:
        path = (self.folder / filename).resolve()
        if not path.is_relative_to(self.folder.resolve()) or not path.is_file():
            return None
        mtime = path.stat().st_mtime
        known = self._known.get(filename)
        if known is None or known[0] != mtime:
            known = (mtime, hashlib.sha256(path.read_bytes()).hexdigest()[:12])
            self._known[filename] = known
        return known[1]


def share_rendered(
    app: Flask, ttl: float, clock: Callable[[], float] = time.monotonic, max_entries: int = 64
) -> None:
    """Identical page and fragment requests within `ttl` seconds get one rendering.

    Relative times ("3 min ago") may be up to `ttl` old, as old as the upstream answers are.
    """
    rendered = LocalCache(ttl, ttl, max_entries=max_entries, clock=clock)
    app.extensions["rendered_cache"] = rendered
    for endpoint in RENDERED_ENDPOINTS:
        app.view_functions[endpoint] = _shared(app.view_functions[endpoint], rendered, ttl)


def _shared(view: Callable[..., Any], rendered: LocalCache, ttl: float) -> Callable[..., Any]:
    @functools.wraps(view)
    def shared_view(**path_args: Any) -> Response:
        key = repr(
            (
                request.full_path,
                wants_fragment(),
                request.headers.get("HX-Trigger", ""),
                request.headers.get("HX-History-Restore-Request", ""),
            )
        )

        def render() -> tuple[int, list[tuple[str, str]], bytes]:
            response = view(**path_args)
            headers = [(k, v) for k, v in response.headers.items() if k in VIEW_HEADERS]
            return response.status_code, headers, response.get_data()

        (status, headers, body), hit = rendered.fetch(
            key, render, lambda answer: ttl if answer[0] == 200 else 0
        )
        if hit:
            timings = request_timings.get()
            if timings is not None:
                timings.add(0.0, True)
        return Response(body, status, headers)

    return shared_view


class CompressedBodies:
    """The last few compressed bodies, keyed by algorithm and ETag: shared pages compress once."""

    def __init__(self, max_entries: int = 64) -> None:
        self.max_entries = max_entries
        self._bodies: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> bytes | None:
        with self._lock:
            return self._bodies.get(key)

    def set(self, key: str, value: bytes) -> None:
        with self._lock:
            self._bodies[key] = value
            self._bodies.move_to_end(key)
            while len(self._bodies) > self.max_entries:
                self._bodies.popitem(last=False)


def _compression_key(_: Any) -> str:
    # Bodies without an ETag get a key of their own: stored once, never found again.
    return g.get("body_etag") or secrets.token_hex(16)


def register(app: Flask, static_folder: Path) -> None:
    app.config.setdefault("COMPRESS_CACHE_BACKEND", CompressedBodies)
    app.config.setdefault("COMPRESS_CACHE_KEY", _compression_key)
    # Registered before the hook below, so it runs after it (Flask runs these in reverse).
    app.extensions["compress"] = Compress(app)
    version = StaticVersions(static_folder)

    @app.url_defaults
    def versioned_static(endpoint: str, values: dict) -> None:
        # A new file gets a new URL, so browsers may keep each version for good.
        if endpoint == "static" and "filename" in values and "v" not in values:
            found = version(values["filename"])
            if found:
                values["v"] = found

    @app.before_request
    def start_timing() -> None:
        g.started = time.perf_counter()
        g.timings_token = request_timings.set(CallTimings())

    @app.teardown_request
    def stop_timing(_: BaseException | None) -> None:
        token = g.pop("timings_token", None)
        if token is not None:
            request_timings.reset(token)

    @app.after_request
    def economy(response: Response) -> Response:
        if request.endpoint == "static":
            wanted = request.args.get("v")
            filename = (request.view_args or {}).get("filename", "")
            if wanted and response.status_code in (200, 304) and wanted == version(filename):
                response.headers["Cache-Control"] = IMMUTABLE
            return response
        timing = _server_timing()
        if timing:
            response.headers["Server-Timing"] = timing
        if (
            request.method in ("GET", "HEAD")
            and response.status_code == 200
            and response.mimetype == "text/html"
            and not response.is_streamed
        ):
            # Weak: the same validator stands for the compressed and the plain body.
            response.add_etag(weak=True)
            g.body_etag = response.get_etag()[0]
            response.make_conditional(request)
        return response


def _server_timing() -> str:
    started = g.get("started")
    timings = request_timings.get()
    if started is None or timings is None:
        return ""
    total = (time.perf_counter() - started) * 1000
    upstream = timings.upstream * 1000
    parts = [f"upstream;dur={upstream:.1f}", f"render;dur={max(total - upstream, 0):.1f}"]
    if timings.misses:
        parts.append("cache;desc=miss")
    elif timings.hits:
        parts.append("cache;desc=hit")
    return ", ".join(parts)

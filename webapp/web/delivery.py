"""How responses travel: the security headers, ETags and 304s, compression, versioned static
files, Server-Timing."""

from __future__ import annotations

import hashlib
import secrets
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

from flask import Flask, Response, g, request
from flask_compress import Compress

from ..blaxel.client import waited
from ..common.services import settings
from ..common.upstream import calls
from .requestlog import elapsed_ms

IMMUTABLE = "public, max-age=31536000, immutable"
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; "
    "object-src 'none'"
)
# The app uses none of these browser features; refusing them limits what injected content could do.
PERMISSIONS_POLICY = (
    "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), "
    "microphone=(), payment=(), usb=()"
)
HSTS = "max-age=31536000; includeSubDomains"


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
    # First, so it runs after the hooks below (Flask runs them in reverse), on every response.
    @app.after_request
    def common_headers(response: Response) -> Response:
        # Pages and fragments share URLs, so caches must key on the htmx header.
        response.vary.add("HX-Request")
        if request.endpoint != "static":
            response.headers.setdefault("Cache-Control", "private, no-cache")
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        response.headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        if settings().https:
            response.headers.setdefault("Strict-Transport-Security", HSTS)
        return response

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
    """How the request's time went, for the browser's network panel: the time spent waiting on
    Blaxel (calls side by side counted once), the rest, the cache's part, and each call."""
    if "started" not in g:
        return ""
    made = calls()
    upstream = waited(made) * 1000
    parts = [f"upstream;dur={upstream:.1f}", f"render;dur={max(elapsed_ms() - upstream, 0):.1f}"]
    if any(call.cache == "hit" for call in made) and not any(not call.cache for call in made):
        parts.append("cache;desc=hit")
    elif made and settings().cache_ttl > 0:
        parts.append("cache;desc=miss")
    for number, call in enumerate(made, 1):
        where = call.cache or "upstream"
        parts.append(f'call-{number};dur={call.seconds * 1000:.1f};desc="{call.endpoint} {where}"')
    return ", ".join(parts)

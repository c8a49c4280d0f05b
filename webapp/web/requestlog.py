"""One structured log line per request, a request id a person can quote, no secrets in logs."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from typing import Any

from flask import Flask, Response, g, request

from ..blaxel.client import waited
from ..blaxel.redaction import install_redaction, redact
from ..common.upstream import calls

log = logging.getLogger("webapp.request")

SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and the record's `fields`."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["error"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False, default=str)


def elapsed_ms() -> float:
    """Milliseconds since the request began (the first thing every request does)."""
    return round((time.perf_counter() - g.get("started", time.perf_counter())) * 1000, 1)


def register(app: Flask) -> None:
    """Registered before any other hook, so the clock starts before authentication."""
    install_redaction()

    @app.before_request
    def start() -> None:
        g.started = time.perf_counter()
        incoming = request.headers.get("X-Request-ID", "")
        g.request_id = incoming if SAFE_REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex

    @app.after_request
    def finish(response: Response) -> Response:
        if "request_id" not in g:  # a failure before `start` ran
            g.request_id = uuid.uuid4().hex
        response.headers["X-Request-ID"] = g.request_id
        made = calls()
        upstream = [call for call in made if not call.cache]
        fields = {
            "request_id": g.request_id,
            "method": request.method,
            "route": request.url_rule.rule if request.url_rule else None,
            "path": request.path,  # never the query string: it carries cursors
            "fragment": request.headers.get("HX-Request") == "true",
            "status": response.status_code,
            "upstream_status": [call.status for call in upstream],
            "upstream_attempts": sum(call.attempts for call in upstream),
            # Calls made side by side count once: the time the request spent waiting on Blaxel.
            "upstream_ms": round(waited(made) * 1000, 1),
            "upstream_calls": [
                {
                    "endpoint": call.endpoint,
                    "ms": round(call.seconds * 1000, 1),
                    "cache": call.cache,
                }
                for call in made
            ],
            "cache": [call.cache for call in made if call.cache],
            "duration_ms": elapsed_ms() if "started" in g else None,
            "user": g.get("identity") or None,
        }
        log.info(
            "%s %s %s", request.method, request.path, response.status_code, extra={"fields": fields}
        )
        return response

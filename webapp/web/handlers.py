"""One place that turns failures into pages or fragments, and sets headers every response needs."""

from __future__ import annotations

import logging
import math

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException

from ..blaxel import UpstreamError
from ..common.errors import FINAL_KINDS, QueryError, presentation
from ..common.services import settings
from .errorpage import error_page

log = logging.getLogger(__name__)

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


def register(app: Flask) -> None:
    @app.errorhandler(QueryError)
    def bad_query(error: QueryError) -> Response:
        return error_page(
            400, "That link has a problem", "Nothing was loaded, because:", str(error)
        )

    @app.errorhandler(UpstreamError)
    def upstream_failed(error: UpstreamError) -> Response:
        log.warning(
            "upstream %s on %s (upstream status %s, code %s)",
            error.kind.value,
            request.path,
            error.upstream_status,
            error.code or "-",
        )
        retry = error.kind not in FINAL_KINDS
        response = error_page(*presentation(error), error.detail, retry=retry)
        if error.retry_after is not None:
            response.headers["Retry-After"] = str(max(1, math.ceil(error.retry_after)))
        return response

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        return error_page(error.code or 500, error.name, error.description or "")

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> Response:
        log.exception("unexpected error on %s", request.path)
        return error_page(
            500,
            "Something went wrong on this server",
            "The error was logged. Try again, and tell whoever runs this app if it persists.",
        )

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

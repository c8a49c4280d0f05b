"""One place that turns failures into pages or fragments, and sets headers every response needs."""

from __future__ import annotations

import logging

from flask import Flask, Response, current_app, g, make_response, render_template, request
from werkzeug.exceptions import HTTPException

from .errors import QueryError, UpstreamError
from .listing import wants_fragment

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


def _error_response(status: int, title: str, explanation: str, detail: str = "") -> Response:
    # A view may name its own error fragment, and how it is swapped in.
    own_fragment = g.get("error_fragment") if wants_fragment() else None
    template = own_fragment or ("_error_row.html" if wants_fragment() else "error.html")
    body = render_template(
        template,
        status=status,
        title=title,
        explanation=explanation,
        detail=detail,
        columns=g.get("listing_columns", 1),
        retry_url=request.full_path if request.query_string else request.path,
    )
    response = make_response(body, status)
    if own_fragment and g.get("error_reswap"):
        response.headers["HX-Reswap"] = g.error_reswap
    return response


def error_page(status: int, title: str, explanation: str, detail: str = "") -> Response:
    """An error page or error row outside the error handlers (e.g. refused access)."""
    return _error_response(status, title, explanation, detail)


def register(app: Flask) -> None:
    @app.errorhandler(QueryError)
    def bad_query(error: QueryError) -> Response:
        return _error_response(
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
        response = _error_response(error.status, error.title, error.explanation, error.detail)
        if error.retry_after:
            response.headers["Retry-After"] = error.retry_after
        return response

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        return _error_response(error.code or 500, error.name, error.description or "")

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> Response:
        log.exception("unexpected error on %s", request.path)
        return _error_response(
            500,
            "Something went wrong on this server",
            "The error was logged. Try again, and tell whoever runs this app if it persists.",
        )

    @app.after_request
    def common_headers(response: Response) -> Response:
        # Pages and fragments share URLs, so caches must key on the htmx headers.
        response.vary.add("HX-Request")
        response.vary.add("HX-History-Restore-Request")
        if request.endpoint != "static":
            response.headers.setdefault("Cache-Control", "private, no-cache")
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        response.headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        if current_app.extensions["settings"].https:
            response.headers.setdefault("Strict-Transport-Security", HSTS)
        return response

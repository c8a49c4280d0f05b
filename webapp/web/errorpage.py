"""The error page, below everything that raises into it: a page, or for htmx a fragment fitting
where it will land, with the ways up from the page that failed; and the one error handler that
turns failures into it."""

from __future__ import annotations

import logging
import math

from flask import Flask, Response, make_response, render_template, request
from werkzeug.exceptions import HTTPException

from ..blaxel import UpstreamError
from ..common.errors import FINAL_KINDS, QueryError, presentation
from ..common.urls import urls
from ..listing.page import is_fragment
from ..listing.query import EXECUTIONS, JOBS, TASKS

log = logging.getLogger(__name__)

# How an htmx request shows a failure in place: listings as an error row across their columns,
# other fragments with a template of their own (and, for the summary poll, no swap at all, so
# the last good summary stays on screen while a note says why it is not updating).
ROW_COLUMNS = {
    "jobs.index": JOBS.columns,
    "executions.index": EXECUTIONS.columns,
    "tasks.index": TASKS.columns,
}
OWN_FRAGMENTS = {
    "tasks.summary": ("_summary_note.html", "none"),
    "tasks.task": ("_condition_list_error.html", ""),
    "logs.page": ("_log_view_error.html", ""),
    "logs.lines": ("_log_lines_error.html", ""),
    "logs.follow": ("_log_follow_failed.html", "none"),
    "jobs.recent": ("_job_recent_error.html", ""),
    "jobs.health": ("_health_error.html", ""),
    "jobs.kiosk": ("_kiosk_problem.html", "none"),
}
# Sections that load, or read on, by themselves: a failure takes the section's place, its id
# kept so that trying again replaces it in turn.
SECTIONS = {"tasks.failure_groups": "triage"}
FALLBACK = (
    "<!doctype html><title>Error</title><p>Something went wrong on this server, and the page "
    "explaining it could not be shown either. Try again later.</p>"
)


def can_retry(status: int) -> bool:
    """Whether asking again may succeed: after a sign-in, a wait, or a failure on the way; not
    for a link that is wrong (400), a page that is not there (404) or a door that stays shut."""
    return status in (401, 429) or status >= 500


def way_up(status: int) -> list[tuple[str, str]]:
    """(label, URL) of the pages above the one that failed, nearest first, read from the
    request's path: its task, execution and job, then every job. For a link whose settings
    are wrong (400), the same page with none comes first."""
    fixable = status == 400 and bool(request.query_string)
    args = request.view_args or {}
    where = [args.get(name) or "" for name in ("job_id", "execution_id", "task_name")]
    levels = [
        (f"{kind} {name}" if kind else "All jobs", url)
        for kind, name, url in reversed(urls.levels(*where))
    ]
    ups = [("This page without the link's settings", request.path)] if fixable else []
    # The page that failed is no way up from itself.
    return ups + [(label, url) for label, url in levels if url != request.path]


def own_fragment() -> tuple[str, str, str]:
    """(template, swap, section id) showing an htmx request's failure where it will land."""
    endpoint = request.endpoint or ""
    # A task view's timeline asks the task list's own URL, with view=timeline.
    section = "timeline" if endpoint == "tasks.index" and request.args.get("view") else ""
    section = SECTIONS.get(endpoint, section)
    if section:
        return "_section_error.html", "", section
    return (*OWN_FRAGMENTS.get(endpoint, ("", "")), "")


def error_page(
    status: int, title: str, explanation: str, detail: str = "", *, retry: bool | None = None
) -> Response:
    """An error page or, for htmx, an error fragment fitting where it will be swapped in: it
    offers to try again only where that may help (`retry`, else as the status says)."""
    own, reswap, section = own_fragment() if is_fragment() else ("", "", "")
    template = own or ("_error_row.html" if is_fragment() else "error.html")
    retryable = can_retry(status) if retry is None else retry
    try:
        body = render_template(
            template,
            status=status,
            title=title,
            explanation=explanation,
            detail=detail,
            columns=ROW_COLUMNS.get(request.endpoint or "", 1),
            retry_url=(request.full_path if request.query_string else request.path)
            if retryable
            else "",
            parents=way_up(status),
            section=section,
        )
        response = make_response(body, status)
    except Exception:  # the error page itself failed: say so plainly, never a traceback
        log.exception("the error page for %s could not be rendered", request.path)
        response = make_response(FALLBACK, status)
    if reswap:
        response.headers["HX-Reswap"] = reswap
    return response


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

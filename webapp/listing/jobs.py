"""The workspace's jobs, health first: each job's recent runs, failures across the workspace."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from ..blaxel import Job, Page, Session, UpstreamError
from ..common.errors import QueryError, presentation
from ..common.services import now, services
from ..common.upstream import blaxel
from ..common.urls import urls
from ..health.history import (
    SALT,
    WINDOWS,
    RankedPage,
    by_job,
    fan_out,
    known,
    named,
    ranked_jobs,
    recent_runs,
    summarise,
)
from .cursors import CursorSigner
from .page import Listing, is_fragment, rows_response, shown
from .query import JOBS, ListQuery, moment_in_link, one_value, time_span

bp = Blueprint("jobs", __name__)


@bp.get("/")
def index() -> Response | str:
    query = ListQuery.parse(request.args, JOBS)
    api = blaxel()
    page, query, notice = shown(JobPages(api), query)
    listing = Listing.of_request(query, page, notice)
    # Known already when the app ordered or filtered the jobs by their runs; on a wall screen
    # (`refresh`) read with the rows, so that a refresh never blanks the strips; else lazily.
    histories = page.histories if isinstance(page, RankedPage) else {}
    if query.refresh and not isinstance(page, RankedPage):
        histories = known(fan_out(lambda name: recent_runs(api, name), named(page.items)))
    unread = page.unread if isinstance(page, RankedPage) else 0
    at_least = isinstance(page, RankedPage) and page.total_is_partial
    if is_fragment():
        return rows_response("_job_rows.html", listing, histories=histories)
    tour = services().demo_tour
    return render_template(
        "jobs.html",
        listing=listing,
        histories=histories,
        unread=unread,
        unread_at_least=at_least,
        windows=WINDOWS,
        tour=tour(api) if tour else [],
    )


@dataclass(frozen=True)
class JobPages:
    api: Session

    def page(self, query: ListQuery) -> Page[Job] | RankedPage:
        """Blaxel's own page, or, for an order or filter by recent runs, the app's."""
        if not (query.ordered_by_app or query.only):
            return self.api.list_jobs(query.page_request())
        return ranked_jobs(self.api, query, CursorSigner(current_app.config["SECRET_KEY"], SALT))


@bp.get("/jobs/<id:job_id>/recent")
def recent(job_id: str) -> Response | str:
    """A job's last run and the strip of its 20 newest, for its row (loaded as it scrolls in)."""
    if not is_fragment():
        return redirect(urls.job(job_id))
    history = recent_runs(blaxel(), job_id)
    return render_template("_job_recent.html", history=history)


@bp.get("/health")
def health() -> str:
    """Failures across the workspace over a window: the panel above the jobs or, without
    JavaScript, a page of its own."""
    # `since` and `until` are the summary page's own (a bar's hour), not the jobs listing's.
    args = request.args.copy()
    span = MultiDict({name: args.poplist(name) for name in ("since", "until")})
    query = ListQuery.parse(args, JOBS)
    since, until = span_of(span)
    window = WINDOWS[query.window_name]
    summary = summarise(blaxel(), window, now())
    if is_fragment():
        return render_template(
            "_health_summary.html", summary=summary, query=query, windows=WINDOWS, fragment=True
        )
    # A bar of the chart that stands for several jobs: that hour's failed executions, listed.
    chosen = summary.within(since, until) if since or until else None
    return render_template(
        "health.html",
        summary=summary,
        query=query,
        windows=WINDOWS,
        fragment=False,
        since=since,
        until=until,
        chosen=chosen,
        chosen_by_job=by_job(chosen or []),
        span_args={
            name: moment_in_link(moment)
            for name, moment in (("since", since), ("until", until))
            if moment
        },
    )


KIOSK_REFRESH = 60  # seconds between the kiosk's refreshes unless `refresh` says otherwise
KIOSK_WINDOW = "24h"  # the kiosk's window unless `window` says otherwise


@bp.get("/kiosk")
def kiosk() -> tuple[str, int] | str:
    """The health summary for a wall screen: no banner, no controls, refreshing itself; a
    failed refresh keeps the last board on screen and says how old it is (app.js)."""
    query = ListQuery.parse(request.args, JOBS)
    # The kiosk's own defaults; its refreshes name the window, even the jobs page's default.
    window = query.window_name if request.args.get("window") else KIOSK_WINDOW
    query = replace(query.with_window(window), refresh=query.refresh or KIOSK_REFRESH)
    board_url = url_for("jobs.kiosk", **{**query.url_args(), "window": window})
    try:
        summary = summarise(blaxel(), WINDOWS[window], now())
    except UpstreamError as error:
        if is_fragment():
            raise  # the error page's fragment: no swap, the last board stays (errorpage.py)
        # A screen nobody touches: it says what failed and tries again by itself.
        status, title, _ = presentation(error)
        page = render_template(
            "kiosk.html", board=None, problem=title, query=query, url=board_url, most=KIOSK_ROWS
        )
        return page, status
    template = "_kiosk_board.html" if is_fragment() else "kiosk.html"
    return render_template(
        template, board=summary, problem="", query=query, url=board_url, most=KIOSK_ROWS
    )


KIOSK_ROWS = 10  # jobs (or runs) a list of the kiosk shows at most, so that it fits one screen


def span_of(args: MultiDict[str, str]) -> tuple[datetime | None, datetime | None]:
    """The summary page's `since` and `until`: a bar's hour, whose failures it lists."""
    problems: list[str] = []
    span = time_span(one_value(args, problems), problems)
    if problems:
        raise QueryError(problems)
    return span

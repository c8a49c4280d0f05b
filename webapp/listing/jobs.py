"""The workspace's jobs, health first: each job's recent runs, failures across the workspace."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, current_app, redirect, render_template, request
from werkzeug.wrappers import Response

from ..blaxel import Job, Page, Session
from ..common.services import now, services
from ..common.upstream import blaxel
from ..common.urls import urls
from ..health.history import SALT, WINDOWS, RankedPage, ranked_jobs, recent_runs, summarise
from .cursors import CursorSigner
from .page import Listing, is_fragment, rows_response, shown
from .query import JOBS, ListQuery

bp = Blueprint("jobs", __name__)


@bp.get("/")
def index() -> Response | str:
    query = ListQuery.parse(request.args, JOBS)
    api = blaxel()
    page, query, notice = shown(JobPages(api), query)
    listing = Listing.of_request(query, page, notice)
    # Known already when the app ordered or filtered the jobs by their runs; else loaded lazily.
    histories = page.histories if isinstance(page, RankedPage) else {}
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
        tour=tour() if tour else [],
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
    query = ListQuery.parse(request.args, JOBS)
    window = WINDOWS[query.window_name]
    summary = summarise(blaxel(), window, now())
    template = "_health_summary.html" if is_fragment() else "health.html"
    return render_template(
        template, summary=summary, query=query, windows=WINDOWS, fragment=is_fragment()
    )

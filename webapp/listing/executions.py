"""A job's executions: filtered by status (the app's own walk), compared in a small chart."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, current_app, redirect, render_template, request
from werkzeug.wrappers import Response

from ..blaxel import Execution, Page, Session
from ..common.services import now, settings
from ..common.upstream import blaxel
from ..common.urls import urls
from ..health.history import RunsChart
from ..runs import shown as runs
from .cursors import CursorSigner
from .filtered import SALT, FilteredPage, filtered_executions
from .page import Listing, StatusCounts, is_fragment, rows_response, shown
from .query import EXECUTIONS, ListQuery

bp = Blueprint("executions", __name__)


@bp.get("/jobs/<id:job_id>")
def job(job_id: str) -> Response:
    return redirect(urls.job(job_id))


@bp.get("/jobs/<id:job_id>/executions")
def index(job_id: str) -> Response | str:
    query = ListQuery.parse(request.args, EXECUTIONS)
    api = blaxel()
    page, query, notice = shown(ExecutionPages(api, job_id), query)
    listing = Listing.of_request(query, page, notice)
    tally = StatusCounts.of(None, listing.scan)
    chart = RunsChart.of(page.items, now()) if not query.shown else None
    # Runs slower than usual, from the digests kept (no upstream call).
    slow = runs.slow_runs(job_id, list(page.items))
    if is_fragment():
        return rows_response(
            "_execution_rows.html", listing, job_id=job_id, refill=tally, chart=chart, slow=slow
        )
    return render_template(
        "executions.html", listing=listing, job_id=job_id, tally=tally, chart=chart, slow=slow
    )


@dataclass(frozen=True)
class ExecutionPages:
    api: Session
    job_id: str

    def page(self, query: ListQuery) -> Page[Execution] | FilteredPage:
        """Blaxel's own page or, for a status or time filter it cannot apply, the app's bounded
        walk."""
        if not (query.statuses or query.timed):
            return self.api.list_executions(self.job_id, query.page_request())
        signer = CursorSigner(current_app.config["SECRET_KEY"], SALT)
        budget = settings().scan_budget
        return filtered_executions(self.api, self.job_id, query, budget=budget, signer=signer)

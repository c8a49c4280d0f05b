"""The workspace's jobs."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, request
from werkzeug.wrappers import Response

from ..listing import Listing, fetch_or_restart, is_fragment, rows_response
from ..query import JOBS, ListQuery
from ..upstream import blaxel

bp = Blueprint("jobs", __name__)


@bp.get("/")
def index() -> Response | str:
    query = ListQuery.parse(request.args, JOBS)
    page, query, notice = fetch_or_restart(lambda q: blaxel().list_jobs(q.page_request()), query)
    listing = Listing.of_request(query, page, notice)
    if is_fragment():
        return rows_response("_job_rows.html", listing)
    tour = current_app.extensions["demo_tour"]
    return render_template("jobs.html", listing=listing, tour=tour() if tour else [])

"""A job's executions."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from ..listing import Listing, fetch_or_restart, is_fragment, rows_response
from ..query import EXECUTIONS, ListQuery
from ..upstream import blaxel

bp = Blueprint("executions", __name__)


@bp.get("/jobs/<id:job_id>")
def job(job_id: str) -> Response:
    return redirect(url_for(".index", job_id=job_id))


@bp.get("/jobs/<id:job_id>/executions")
def index(job_id: str) -> Response | str:
    query = ListQuery.parse(request.args, EXECUTIONS)
    page, query, notice = fetch_or_restart(
        lambda q: blaxel().list_executions(job_id, q.page_request()), query
    )
    listing = Listing.of_request(query, page, notice)
    if is_fragment():
        return rows_response("_execution_rows.html", listing, job_id=job_id)
    return render_template("executions.html", listing=listing, job_id=job_id)

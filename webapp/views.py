"""Routes: a few lines each, from URL to the listing mechanism and back."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from flask import (
    Blueprint,
    Response,
    current_app,
    g,
    make_response,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import NotFound
from werkzeug.wrappers import Response as BaseResponse

from . import export
from .errors import QueryError, UpstreamError
from .listing import CONTROLS_ID, Listing, ListingView, render_listing, wants_fragment
from .models import Page, Task
from .query import EXECUTIONS, JOBS, TASKS, ListQuery, check_id, is_valid_id
from .scan import find_task, scan_tasks, walk_tasks
from .upstream import BlaxelClient

bp = Blueprint("listings", __name__)

JOB_LISTING = Listing(JOBS, "jobs.html", "_job_rows.html", 5, "jobs in the workspace")
EXECUTION_LISTING = Listing(
    EXECUTIONS, "executions.html", "_execution_rows.html", 6, "executions of this job"
)
TASK_LISTING = Listing(
    TASKS,
    "tasks.html",
    "_task_rows.html",
    8,
    "tasks in this execution",
    export_endpoint="listings.tasks_export",
)


PATH_IDS = {"job_id": "job name", "execution_id": "execution id", "task_name": "task"}


@bp.url_value_preprocessor
def check_path_ids(endpoint: str | None, values: dict[str, str] | None) -> None:
    """Every id in a path goes upstream; refuse any that could pass for path syntax, once."""
    for name, value in (values or {}).items():
        if name in PATH_IDS:
            check_id(value, PATH_IDS[name])


def blaxel() -> BlaxelClient:
    return current_app.extensions["blaxel"]


@bp.get("/")
def jobs() -> BaseResponse:
    tour = current_app.extensions["demo_tour"]
    return render_listing(
        JOB_LISTING, blaxel().list_jobs, page_context=lambda: {"tour": tour() if tour else []}
    )


@bp.get("/jobs/<job_id>")
def job(job_id: str) -> BaseResponse:
    return redirect(url_for(".executions", job_id=job_id))


@bp.get("/jobs/<job_id>/executions")
def executions(job_id: str) -> BaseResponse:
    return render_listing(
        EXECUTION_LISTING,
        lambda query: blaxel().list_executions(job_id, query),
        job_id=job_id,
    )


@bp.get("/jobs/<job_id>/executions/<execution_id>")
def execution(job_id: str, execution_id: str) -> BaseResponse:
    return redirect(url_for(".tasks", job_id=job_id, execution_id=execution_id))


@bp.get("/jobs/<job_id>/executions/<execution_id>/tasks")
def tasks(job_id: str, execution_id: str) -> BaseResponse:
    return render_listing(
        TASK_LISTING,
        lambda query: task_page(job_id, execution_id, query),
        page_context=lambda: {"execution": blaxel().get_execution(job_id, execution_id)},
        fragment_context=lambda query: status_chips(job_id, execution_id, query),
        job_id=job_id,
        execution_id=execution_id,
        task_url=task_urls(job_id, execution_id),
    )


def status_chips(job_id: str, execution_id: str, query: ListQuery) -> dict[str, Any]:
    """Rows answering the controls, or going on with a status walk, refill the chips' counts.

    Their links follow the new search and sort, and a walk's counts grow as it reads on.
    """
    if request.headers.get("HX-Trigger") != CONTROLS_ID and not query.statuses:
        return {}
    try:
        return {"chips_execution": blaxel().get_execution(job_id, execution_id)}
    except UpstreamError:
        return {}  # the rows still come; the counts stay as they were


def task_urls(job_id: str, execution_id: str) -> Callable[[str], str]:
    """The URL of each task's own page, "" for a name no URL can carry.

    One url_for per listing (for a one-character name, cut off again), then each name quoted
    with the router's own safe characters: through the router, 200 URLs took a quarter of the
    rows' time.
    """
    base = url_for(".task", job_id=job_id, execution_id=execution_id, task_name="-")[:-1]
    return lambda name: base + quote(name, safe="!$&'()*+,:;=@") if is_valid_id(name) else ""


def task_page(job_id: str, execution_id: str, query: ListQuery) -> Page[Task]:
    """Blaxel's own page, or, for a status filter it cannot apply, the app's bounded walk."""
    if not query.statuses:
        return blaxel().list_tasks(job_id, execution_id, query)
    settings = current_app.extensions["settings"]
    return scan_tasks(
        blaxel(),
        job_id,
        execution_id,
        query,
        budget=settings.scan_budget,
        secret_key=current_app.config["SECRET_KEY"],
    )


@bp.get("/jobs/<job_id>/executions/<execution_id>/tasks.<any(csv, json):fmt>")
def tasks_export(job_id: str, execution_id: str, fmt: str) -> BaseResponse:
    """The task view's rows over the whole execution, streamed; a page's worth at a time."""
    query = ListQuery.parse(request.args, TASKS)
    batches = walk_tasks(blaxel(), job_id, execution_id, query)
    # The first upstream call happens now, so its failure is still an ordinary error page.
    first = next(batches)
    name = export.filename(job_id, execution_id, fmt, current_app.extensions["clock"]())
    return Response(
        stream_with_context(export.stream(fmt, itertools.chain([first], batches))),
        content_type=export.MEDIA_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@bp.get("/jobs/<job_id>/executions/<execution_id>/tasks/<task_name>")
def task(job_id: str, execution_id: str, task_name: str) -> BaseResponse:
    """One task with every condition: a page of its own, or the list a row's disclosure loads."""
    if wants_fragment():
        g.error_fragment = "_condition_list_error.html"
    budget = current_app.extensions["settings"].scan_budget
    found = find_task(blaxel(), job_id, execution_id, task_name, budget=budget)
    if found is None:
        raise NotFound(f"Execution {execution_id} of job {job_id} has no task named {task_name}.")
    template = "_condition_list.html" if wants_fragment() else "task.html"
    return make_response(
        render_template(template, task=found, job_id=job_id, execution_id=execution_id)
    )


@bp.get("/jobs/<job_id>/executions/<execution_id>/summary")
def execution_summary(job_id: str, execution_id: str) -> BaseResponse:
    """The live summary fragment that an unfinished execution's page polls."""
    if not wants_fragment():
        return redirect(url_for(".tasks", job_id=job_id, execution_id=execution_id))
    g.error_fragment = "_summary_note.html"
    g.error_reswap = "none"  # keep the last good summary on screen
    execution = blaxel().get_execution(job_id, execution_id)
    chips = None
    if execution.stats.total:
        # The poll sends the controls form: the chips' count links keep its search and sort.
        try:
            query = ListQuery.parse(request.args, TASKS)
        except QueryError:
            query = ListQuery.parse(MultiDict(), TASKS)
        chips = ListingView.without_rows(
            query, "listings.tasks", job_id=job_id, execution_id=execution_id
        )
    return make_response(
        render_template(
            "_execution_summary.html",
            execution=execution,
            job_id=job_id,
            execution_id=execution_id,
            chips=chips,
        )
    )


@bp.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@bp.get("/readyz")
def readyz() -> tuple[dict[str, str], int]:
    """Ready when the token reaches the Blaxel API; says nothing else, so it can stay open."""
    if current_app.extensions["readiness"].ready():
        return {"status": "ready"}, 200
    return {"status": "unavailable"}, 503

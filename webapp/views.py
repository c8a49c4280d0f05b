"""Routes: a few lines each, from URL to the listing mechanism and back."""

from __future__ import annotations

from flask import Blueprint, current_app, make_response, redirect, render_template, url_for
from werkzeug.wrappers import Response as BaseResponse

from .listing import Listing, render_listing, wants_fragment
from .query import EXECUTIONS, JOBS, TASKS, check_id
from .upstream import BlaxelClient

bp = Blueprint("listings", __name__)

JOB_LISTING = Listing(JOBS, "jobs.html", "_job_rows.html", 5, "jobs in the workspace")
EXECUTION_LISTING = Listing(
    EXECUTIONS, "executions.html", "_execution_rows.html", 6, "executions of this job"
)
TASK_LISTING = Listing(TASKS, "tasks.html", "_task_rows.html", 8, "tasks in this execution")


def blaxel() -> BlaxelClient:
    return current_app.extensions["blaxel"]


@bp.get("/")
def jobs() -> BaseResponse:
    return render_listing(JOB_LISTING, blaxel().list_jobs)


@bp.get("/jobs/<job_id>")
def job(job_id: str) -> BaseResponse:
    return redirect(url_for(".executions", job_id=check_id(job_id, "job name")))


@bp.get("/jobs/<job_id>/executions")
def executions(job_id: str) -> BaseResponse:
    check_id(job_id, "job name")
    return render_listing(
        EXECUTION_LISTING,
        lambda query: blaxel().list_executions(job_id, query),
        job_id=job_id,
    )


@bp.get("/jobs/<job_id>/executions/<execution_id>")
def execution(job_id: str, execution_id: str) -> BaseResponse:
    check_id(job_id, "job name")
    check_id(execution_id, "execution id")
    return redirect(url_for(".tasks", job_id=job_id, execution_id=execution_id))


@bp.get("/jobs/<job_id>/executions/<execution_id>/tasks")
def tasks(job_id: str, execution_id: str) -> BaseResponse:
    check_id(job_id, "job name")
    check_id(execution_id, "execution id")
    return render_listing(
        TASK_LISTING,
        lambda query: blaxel().list_tasks(job_id, execution_id, query),
        page_context=lambda: {"execution": blaxel().get_execution(job_id, execution_id)},
        job_id=job_id,
        execution_id=execution_id,
    )


@bp.get("/jobs/<job_id>/executions/<execution_id>/summary")
def execution_summary(job_id: str, execution_id: str) -> BaseResponse:
    """The live summary fragment that an unfinished execution's page polls."""
    check_id(job_id, "job name")
    check_id(execution_id, "execution id")
    if not wants_fragment():
        return redirect(url_for(".tasks", job_id=job_id, execution_id=execution_id))
    return make_response(
        render_template(
            "_execution_summary.html",
            execution=blaxel().get_execution(job_id, execution_id),
            job_id=job_id,
            execution_id=execution_id,
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

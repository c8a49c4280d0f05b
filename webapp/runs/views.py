"""Routes of runs remembered: a job's failures over time and flaky tasks, a task across runs.
What other pages show of them is in shown.py."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from werkzeug.datastructures import MultiDict

from ..common.errors import QueryError
from ..common.upstream import blaxel
from ..listing.page import is_fragment
from .reading import (
    causes_over_time,
    flaky_tasks,
    task_history,
    usual,
)
from .shown import digests, settings
from .window import Window, window

bp = Blueprint("runs", __name__)
MAX_RUNS = 200


def runs_asked(args: MultiDict) -> int:
    """`runs=` of the URL (how many finished runs to read), else WEBAPP_RUNS_COMPARED."""
    raw = args.get("runs", "").strip()
    if not raw:
        return settings().runs_compared
    if not (raw.isascii() and raw.isdigit()) or not 2 <= int(raw) <= MAX_RUNS:
        raise QueryError([f"“runs” must be a whole number from 2 to {MAX_RUNS}."])
    return int(raw)


def last_runs(job_id: str, size: int) -> Window:
    """The job's last `size` finished runs, digests made under this request's scan budget."""
    limits = settings()
    return window(
        blaxel(),
        digests(),
        job_id,
        size,
        budget=limits.scan_budget,
        lifetime=limits.cache_final_ttl,
    )


@bp.get("/jobs/<id:job_id>/runs")
def job_runs(job_id: str) -> str:
    """The job's last N finished runs read together: its causes over time and its flaky tasks
    (`runs=` N, `cause=` one cause); a panel of the executions page, or a page of its own."""
    size = runs_asked(request.args)
    cause = request.args.get("cause", "").strip()
    past = last_runs(job_id, size)
    ordered = past.ordered
    causes = causes_over_time(ordered)
    if cause:
        causes = [c for c in causes if c.cause.id == cause]
    context = {
        "job_id": job_id,
        "past": past,
        "strip": list(reversed(ordered)),
        "causes": causes,
        "cause": cause,
        "flaky": [] if cause else flaky_tasks(ordered),
        "usual": usual(ordered),
    }
    return render_template("_job_runs.html" if is_fragment() else "job_runs.html", **context)


@bp.get("/jobs/<id:job_id>/task-runs/<id:task_name>")
def task_runs(job_id: str, task_name: str) -> str:
    """One task across the job's last N finished runs: "failed in 3 of the last 20 runs"."""
    size = runs_asked(request.args)
    past = last_runs(job_id, size)
    found = task_history(past.ordered, task_name)
    template = "_task_runs.html" if is_fragment() else "task_runs.html"
    return render_template(
        template, job_id=job_id, task_name=task_name, past=past, history=found, size=size
    )

"""Routes of runs remembered: a job's failures over time and flaky tasks, a task across runs.
What other pages show of them is in shown.py."""

from __future__ import annotations

from flask import Blueprint, Response, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import NotFound

from ..common.errors import QueryError
from ..common.services import now
from ..common.upstream import blaxel
from ..listing import export
from ..listing.page import is_fragment
from .compare import CSV_COLUMNS, PAGE_SIZE, counts, csv_rows
from .pair import execution_of, ids_asked, last_success, pages_asked, pair
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


@bp.get("/jobs/<id:job_id>/compare")
def compare_runs(job_id: str) -> Response | str:
    """Two runs of the job side by side (`base=`, `head=`); without `base=`, the newest
    succeeded run before head, redirected to so that the link says which."""
    base_id, head_id = ids_asked(request.args)
    pages = pages_asked(request.args)
    api = blaxel()
    head = execution_of(api, job_id, head_id, "head")
    if not base_id:
        found = last_success(api, job_id, head)
        if found is None:
            raise NotFound(
                f"No earlier successful run among the last {settings().runs_compared} finished "
                f"runs of job “{job_id}” before “{head_id}”: pick the run to compare with on the "
                "job's executions page."
            )
        return redirect(url_for(".compare_runs", job_id=job_id, base=found, head=head_id))
    base = execution_of(api, job_id, base_id, "base")
    found = pair(api, job_id, base, head)
    return render_template(
        "compare.html", pair=found, pages=pages, page_size=PAGE_SIZE, counts=counts
    )


@bp.get("/jobs/<id:job_id>/compare.csv")
def compare_export(job_id: str) -> Response:
    """The comparison's task changes as CSV, through the task exports' machinery (formula
    guard, the incomplete marker when a run was not read whole)."""
    base_id, head_id = ids_asked(request.args)
    if not base_id:
        raise QueryError(["“base” must name the run to compare with."])
    api = blaxel()
    base = execution_of(api, job_id, base_id, "base")
    head = execution_of(api, job_id, head_id, "head")
    found = pair(api, job_id, base, head)
    unread = [side.execution.id for side in (found.base, found.head) if not side.whole]
    why = f"not every task of {' and '.join(unread)} was read yet" if unread else ""
    name = export.filename(job_id, f"{base_id}_{head_id}", "csv", now(), "compare")
    return Response(
        export.csv_stream(CSV_COLUMNS, [list(csv_rows(found.comparison))], why),
        content_type=export.MEDIA_TYPES["csv"],
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )

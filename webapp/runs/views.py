"""Routes of runs remembered: a job's failures over time and flaky tasks, a task across runs;
and what the failure groups, the executions list and the execution summary show of them."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask import Blueprint, Flask, current_app, render_template, request
from werkzeug.datastructures import MultiDict

from ..blaxel import Execution, Session
from ..charts import BarChart
from ..config import Settings
from ..errors import QueryError
from ..formatting import span
from ..listing import is_fragment
from ..store import open_digest_rows
from ..triage import Group, Triage
from ..upstream import blaxel
from .kept import Digests
from .reading import (
    MIN_BASELINE,
    Recurrence,
    causes_over_time,
    flaky_tasks,
    recurrence_in,
    slower_than_usual,
    task_history,
    usual,
)
from .window import Window, groups_of, window

bp = Blueprint("runs", __name__)
MAX_RUNS = 200


def register(app: Flask, settings: Settings) -> None:
    """Opens the digests' store (a file it cannot read stops the app here, naming it) and adds
    the routes and the `day` filter."""
    app.extensions["digests"] = Digests(open_digest_rows(settings), settings.runs_kept)
    app.register_blueprint(bp)
    app.jinja_env.filters["day"] = day
    app.jinja_env.globals["slow_runs"] = slow_runs
    app.jinja_env.globals["usual_band"] = usual_band


def digests() -> Digests:
    return current_app.extensions["digests"]


def settings() -> Settings:
    return current_app.extensions["settings"]


def runs_asked(args: MultiDict) -> int:
    """`runs=` of the URL (how many finished runs to read), else WEBAPP_RUNS_COMPARED."""
    raw = args.get("runs", "").strip()
    if not raw:
        return settings().runs_compared
    if not (raw.isascii() and raw.isdigit()) or not 2 <= int(raw) <= MAX_RUNS:
        raise QueryError([f"“runs” must be a whole number from 2 to {MAX_RUNS}."])
    return int(raw)


def day(moment: datetime | float | None) -> str:
    """A day as people say it: today, yesterday, else "12 Nov" (with the year if not this one)."""
    if moment is None:
        return ""
    if not isinstance(moment, datetime):
        moment = datetime.fromtimestamp(moment, UTC)
    today = current_app.extensions["clock"]().date()
    if moment.date() == today:
        return "today"
    if moment.date() == today - timedelta(days=1):
        return "yesterday"
    text = f"{moment.day} {moment:%b}"
    return text if moment.year == today.year else f"{text} {moment.year}"


@dataclass(frozen=True)
class Recurrences:
    """The failure groups' past: each cause among the job's runs before this execution."""

    window: Window

    def of(self, group: Group) -> Recurrence:
        return recurrence_in(self.window.ordered, group.cause.id)


def failure_groups(
    api: Session, ids: tuple[str, str], execution: Execution, *, budget: int, lifetime: float
) -> tuple[Triage, Recurrences | None]:
    """The execution's failure groups (from its digest when kept) and, once they are complete,
    their past among the job's runs, both within one budget of upstream calls."""
    groups: Triage = groups_of(api, digests(), ids, execution, budget=budget, lifetime=lifetime)
    if not groups.complete:
        return groups, None
    left = max(0, budget - spent_by(api))
    past = window(
        api,
        digests(),
        ids[0],
        settings().runs_compared,
        budget=left,
        lifetime=settings().cache_final_ttl,
        before=execution,
    )
    return groups, Recurrences(past)


def spent_by(api: Session) -> int:
    return sum(record.cache not in ("hit", "held") for record in api.scope.records)


@bp.get("/jobs/<id:job_id>/runs")
def job_runs(job_id: str) -> str:
    """The job's last N finished runs read together: its causes over time and its flaky tasks
    (`runs=` N, `cause=` one cause); a panel of the executions page, or a page of its own."""
    size = runs_asked(request.args)
    cause = request.args.get("cause", "").strip()
    past = window(
        blaxel(),
        digests(),
        job_id,
        size,
        budget=settings().scan_budget,
        lifetime=settings().cache_final_ttl,
    )
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
    past = window(
        blaxel(),
        digests(),
        job_id,
        size,
        budget=settings().scan_budget,
        lifetime=settings().cache_final_ttl,
    )
    found = task_history(past.ordered, task_name)
    template = "_task_runs.html" if is_fragment() else "task_runs.html"
    return render_template(
        template, job_id=job_id, task_name=task_name, past=past, history=found, size=size
    )


def slow_runs(job_id: str, runs: list[Execution]) -> defaultdict[str, list[str]]:
    """What of each of these runs was slower than usual ("run time", "queue wait"), from the
    digests' times kept alone (no upstream call); runs that were not are left out."""
    finished = [run for run in runs if run.is_finished and run.id]
    found: defaultdict[str, list[str]] = defaultdict(list)
    if not finished:
        return found
    kept = digests().timings(job_id, settings().runs_kept)
    size = settings().runs_compared
    for run in finished:
        slower = slower_than_usual(run, kept, size)
        if slower:
            found[run.id] = slower
    return found


@dataclass(frozen=True)
class Band:
    """The p50–p95 of a job's run time, as a strip of a run-time chart's viewBox."""

    y: float
    height: float
    text: str


def usual_band(job_id: str, chart: BarChart) -> Band | None:
    """Where the usual run time (p50 to p95 of the job's last finished runs digested) lies on
    a run-time chart; None until enough runs are digested."""
    known = usual(digests().timings(job_id, settings().runs_compared))
    if known.runs < MIN_BASELINE or known.run_p50 is None or known.run_p95 is None:
        return None

    def level(seconds: float) -> float:
        return chart.height - chart.height * min(seconds, chart.top) / chart.top

    top, bottom = level(known.run_p95), level(known.run_p50)
    text = (
        f"Usual run time (p50 to p95 of the last {known.runs} finished runs): "
        f"{span(known.run_p50)} to {span(known.run_p95)}"
    )
    return Band(round(top, 2), round(max(bottom - top, 1.0), 2), text)

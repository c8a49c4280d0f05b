"""What other pages show of runs remembered (hooks, no routes): each failure group's past, a
run slower than usual, the usual run-time band, a day as people say it. Read from the digests
kept; the failure groups' past is made under the request's scan budget."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask import Flask

from ..blaxel import Execution, Session
from ..common import services
from ..common.formatting import span
from ..common.services import settings
from ..failures.triage import Group, Triage
from ..health.charts import BarChart
from .kept import Digests
from .reading import MIN_BASELINE, Recurrence, recurrence_in, slower_than_usual, usual
from .window import Window, groups_of, spent, window


def register(app: Flask) -> None:
    """Gives templates the `day` filter, `slow_runs` and `usual_band` (the digests' store is
    opened by create_app, so that a file it cannot read stops the app at start, naming it)."""
    app.jinja_env.filters["day"] = day
    app.jinja_env.globals["slow_runs"] = slow_runs
    app.jinja_env.globals["usual_band"] = usual_band


def digests() -> Digests:
    return services.services().digests


def day(moment: datetime | float | None) -> str:
    """A day as people say it: today, yesterday, else "12 Nov" (with the year if not this one)."""
    if moment is None:
        return ""
    if not isinstance(moment, datetime):
        moment = datetime.fromtimestamp(moment, UTC)
    today = services.now().date()
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
    left = max(0, budget - spent(api))
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

"""Template filters: times as people read them, counts with separators and their nouns."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import Protocol

from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup, escape

from ..blaxel import Execution
from ..failures.causes import attempts
from .text import FILTERS as TEXT_FILTERS


def iso(moment: datetime | None) -> str:
    """2026-11-28T12:07:57Z."""
    if moment is None:
        return ""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def clock(moment: datetime | None) -> str:
    """2026-11-28 12:07, in UTC."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M") if moment else ""


def relative(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return ""
    seconds = (now - moment).total_seconds()
    past = seconds >= 0
    seconds = abs(seconds)
    if seconds < 45:
        return "just now" if past else "in a few seconds"
    for unit_seconds, unit in ((86400 * 365, "y"), (86400, "d"), (3600, "h"), (60, " min")):
        if seconds >= unit_seconds * 0.95:
            text = f"{max(round(seconds / unit_seconds), 1)}{unit}"
            return f"{text} ago" if past else f"in {text}"
    return "1 min ago" if past else "in 1 min"


def span(seconds: float | None) -> str:
    """A duration in the two largest units that matter: 3 h 05 min, 4 min 12 s, 9 s."""
    if seconds is None or seconds < 0:
        return ""
    whole = int(seconds)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes:02d} min" if minutes else f"{hours} h"
    if minutes:
        return f"{minutes} min {secs:02d} s" if secs else f"{minutes} min"
    return f"{secs} s"


def seconds_text(seconds: int | None) -> str:
    return span(seconds) if seconds else ""


def count(value: int | None) -> str:
    return f"{value:,}" if value is not None else "?"


def noun(value: int | None, one: str, many: str = "") -> str:
    """The noun agreeing with a count shown apart from it: "job" for 1, else "jobs"."""
    return one if value == 1 else many or one + "s"


def plural(value: int | None, one: str, many: str = "") -> str:
    """A count and its noun, agreeing: 1 task, 2 tasks, 2,000 tasks, 0 tasks. Irregular
    plurals are given: plural(n, "match", "matches")."""
    return f"{count(value)} {noun(value, one, many)}"


STATUS_ICONS = {
    status: icon
    for icon, statuses in (
        ("✓", "succeeded DEPLOYED BUILT"),
        ("✕", "failed FAILED"),
        ("▶", "running"),
        ("…", "pending queued"),
        ("↻", "reconciling BUILDING DEPLOYING UPLOADING"),
        ("⊘", "cancelled cancelling DEACTIVATED DEACTIVATING DELETING TERMINATED"),
        ("⧗", "timeout"),
        ("?", "unspecified"),
    )
    for status in statuses.split()
}


def status_icon(status: str) -> str:
    """A shape for each status, so that status never rests on colour alone."""
    return STATUS_ICONS.get(status, "•")


@lru_cache(maxsize=256)  # a handful of statuses, each drawn by the hundred
def badge(status: str, what: str = "") -> Markup:
    """A status as a badge: its shape, then its word; a failure says what failed (`what`:
    "deploy" for a job's deployment, which is not a failing run)."""
    kind = escape(status.lower())
    word = f"{escape(what)} {kind}" if what and status.lower() == "failed" else kind
    icon = escape(status_icon(status))
    return Markup(  # noqa: S704 - every part escaped above
        f'<span class="badge badge-{kind}"><span aria-hidden="true">{icon}</span> {word}</span>'
    )


NOT_YET = Markup('<span class="none" aria-label="not yet">—</span>')


@lru_cache(maxsize=4096)  # rows of the same execution show the same moments request after request
def time_opening(moment: datetime) -> str:
    """The opening <time> tag of a moment in UTC (models.moment and `when` make them so; equal
    instants share a tag): its exact UTC time for machines and on hover."""
    # Moments are UTC whole seconds already (models.moment): isoformat, for rows by the hundred.
    exact = moment.isoformat().replace("+00:00", "Z")
    shown = exact.replace("T", " ").replace("Z", " UTC")
    # Made here from a datetime: digits, letters and spaces, nothing to escape.
    return f'<time datetime="{exact}" title="{shown}">'


def time_markup(moment: datetime | None, now: datetime) -> Markup:
    """A moment as "3 min ago", with the exact UTC time for machines and on hover."""
    if moment is None:
        return NOT_YET
    return Markup(f"{time_opening(moment)}{relative(moment, now)}</time>")  # noqa: S704


@pass_context
def when(context: Context, moment: datetime | None) -> Markup:
    """A moment as "3 min ago", with the exact UTC time on hover and for machines."""
    if moment is not None:
        moment = moment.astimezone(UTC).replace(microsecond=0)
    return time_markup(moment, context["now"])


class Timed(Protocol):
    created_at: datetime | None
    started_at: datetime | None
    completed_at: datetime | None
    updated_at: datetime | None

    @property
    def is_final(self) -> bool: ...


def run_time(item: Timed, now: datetime) -> float | None:
    """Seconds a task or execution ran: to its completion; once final without one, to its last
    update; while it runs, to now. None when nothing says."""
    if item.started_at is None:
        return None
    end = item.completed_at or (item.updated_at if item.is_final else now)
    return (end - item.started_at).total_seconds() if end is not None else None


def wait_time(item: Timed, now: datetime) -> float | None:
    """Seconds from creation to the start: the queue wait (still growing while it waits)."""
    if item.created_at is None:
        return None
    end = item.started_at or (None if item.is_final else now)
    return (end - item.created_at).total_seconds() if end is not None else None


@pass_context
def took(context: Context, item: Timed) -> str:
    """How long a task or execution ran, or has been running; "" when unknown."""
    return span(run_time(item, context["now"]))


@pass_context
def waited(context: Context, item: Timed) -> str:
    """How long a task or execution waited before it started; "" when unknown."""
    return span(wait_time(item, context["now"]))


@pass_context
def run_label(context: Context, run: Execution) -> str:
    """An execution in one line: id, status, start and run time (a strip square's name)."""
    started = run.started_at
    ran = took(context, run)
    text = f"{run.id}: {run.status}, " + (f"started {iso(started)}" if started else "not started")
    if ran:
        text += f", ran {ran}" if run.is_final else f", running for {ran}"
    return text


# Filters rather than macros or globals: rows render by the hundred, and Jinja calls a filter
# directly where a macro or a global goes through its call machinery.
FILTERS = {
    "seconds_text": seconds_text,
    "count": count,
    "plural": plural,
    "noun": noun,
    "badge": badge,
    "status_icon": status_icon,
    "iso": iso,
    "clock": clock,
    "when": when,
    "took": took,
    "waited": waited,
    "attempts": attempts,
    "run_label": run_label,
    **TEXT_FILTERS,
}

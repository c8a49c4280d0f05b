"""What the jobs page shows first: each job's recent runs, and the workspace's failures over a
window.

Blaxel has no such summary. A job's recent runs are one ListJobExecutions (its 20 newest): the
same request for its strip, for the failing-first order and for the first page of the summary's
window, so that all three share each answer through the cache. The summary reads on, a page of
20 at a time, only for jobs that ran more often than that within the window, at most MAX_PAGES
pages each, and says when that was not enough.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import cached_property
from itertools import takewhile
from statistics import median
from typing import ClassVar, TypeVar

from ..blaxel import ErrorKind, Execution, Job, Page, PageRequest, Session, UpstreamError
from ..common.errors import CursorRejected
from ..common.formatting import iso, plural, run_time, span
from ..listing.cursors import CursorSigner, view_binding
from ..listing.query import FAILING_FIRST, ListQuery
from .charts import BarChart

STRIP = 20  # runs in a job's strip
RECENT = PageRequest("createdAt:desc", "", STRIP)
# The jobs the summary and the failing-first order read: one page, the API's largest.
ALL_JOBS = PageRequest("createdAt:desc", "", 200)
MAX_PAGES = 5  # pages of RECENT one job's window may read: its 100 newest runs
WORKERS = 8  # ListJobExecutions calls in flight at once for one request
FAILED = frozenset({"failed", "timeout"})
SALT = "jobs-order-cursor"
R = TypeVar("R")


@dataclass(frozen=True)
class Window:
    name: str
    label: str  # "3 days"
    length: timedelta
    bucket: timedelta
    bucket_label: str  # "hour"


WINDOWS = {
    "24h": Window("24h", "24 hours", timedelta(hours=24), timedelta(hours=1), "hour"),
    "3d": Window("3d", "3 days", timedelta(days=3), timedelta(hours=1), "hour"),
    "7d": Window("7d", "7 days", timedelta(days=7), timedelta(days=1), "day"),
}


@dataclass(frozen=True)
class JobHistory:
    """A job's newest runs, newest first."""

    job: str
    runs: tuple[Execution, ...]

    @property
    def strip(self) -> tuple[Execution, ...]:
        """Oldest first, as time reads left to right."""
        return self.runs[::-1]

    @property
    def last(self) -> Execution | None:
        return self.runs[0] if self.runs else None

    @cached_property
    def finished(self) -> tuple[Execution, ...]:
        return tuple(run for run in self.runs if run.is_finished)

    @property
    def failing(self) -> bool:
        """Its last finished run failed (or timed out)."""
        return bool(self.finished) and self.finished[0].status in FAILED

    @cached_property
    def streak(self) -> int:
        """How many of its last finished runs failed in a row."""
        return len(list(takewhile(lambda run: run.status in FAILED, self.finished)))

    @property
    def failing_since(self) -> datetime | None:
        """When the first run of the current failing streak was created."""
        return self.finished[self.streak - 1].created_at if self.streak else None

    @property
    def failures(self) -> int:
        return sum(run.status in FAILED for run in self.runs)

    @property
    def rank(self) -> int:
        """0: failing now; 1: failed lately, not now (flaky); 2: none of its runs failed."""
        return 0 if self.failing else 1 if self.failures else 2


def fan_out(call: Callable[[str], R], names: Sequence[str]) -> dict[str, R | UpstreamError]:
    """call(name) for each name, WORKERS at a time; a failed call's error is its answer."""
    answers: dict[str, R | UpstreamError] = {}
    if not names:
        return answers
    with ThreadPoolExecutor(min(WORKERS, len(names)), thread_name_prefix="job-runs") as pool:
        futures = {name: pool.submit(call, name) for name in names}
    for name, future in futures.items():
        try:
            answers[name] = future.result()
        except UpstreamError as error:
            answers[name] = error
    return answers


def named(jobs: Iterable[Job]) -> list[str]:
    """The jobs' names; a job Blaxel sent without one cannot be asked about."""
    return [job.name for job in jobs if job.name]


def known(answers: dict[str, R | UpstreamError]) -> dict[str, R]:
    """The answers that came, unless Blaxel asked us to slow down or every call failed: then
    that failure is the page's."""
    errors = [answer for answer in answers.values() if isinstance(answer, UpstreamError)]
    if errors and (
        len(errors) == len(answers) or any(e.kind is ErrorKind.RATE_LIMITED for e in errors)
    ):
        raise errors[0]
    return {
        name: answer for name, answer in answers.items() if not isinstance(answer, UpstreamError)
    }


def recent_runs(session: Session, job_id: str) -> JobHistory:
    return JobHistory(job_id, session.list_executions(job_id, RECENT).items)


# The failing-first order


@dataclass(frozen=True)
class RankedPage:
    """A page of jobs in the app's own order (or filter), with what each job's runs say."""

    items: list[Job]
    has_more: bool
    next_cursor: str
    total: int | None
    histories: dict[str, JobHistory]
    unread: int  # jobs beyond the one page of ALL_JOBS, left out of the order
    total_is_partial: bool = False  # `total` and `unread` are lower bounds


def rank(histories: dict[str, JobHistory], job: Job) -> tuple[int, float, str]:
    """What needs attention first: failing jobs, then running ones, then the rest; the latest
    last run first within each, by name among equals; jobs never run (or unread) last."""
    history = histories.get(job.name)
    last = history.last if history is not None else None
    if last is None or last.created_at is None:
        return (3, 0.0, job.name)
    group = 0 if history.failing else 1 if not last.is_finished else 2
    return (group, -last.created_at.timestamp(), job.name)


def ranked_jobs(session: Session, query: ListQuery, signer: CursorSigner) -> RankedPage:
    """The workspace's jobs (one page of 200) failing first, or only the failing ones, a page
    of `query.limit` from the offset the cursor carries."""
    binding = view_binding("jobs", query.sort, query.search, query.only)
    offset = _offset(query.cursor, binding, signer) if query.cursor else 0
    jobs = session.list_jobs(replace(ALL_JOBS, q=query.search))
    answers = fan_out(lambda name: recent_runs(session, name), named(jobs.items))
    histories = known(answers)
    chosen = list(jobs.items)
    if query.only:
        chosen = [job for job in chosen if job.name in histories and histories[job.name].failing]
    if query.sort == FAILING_FIRST:
        chosen.sort(key=lambda job: rank(histories, job))
    shown = chosen[offset : offset + query.limit]
    more = offset + query.limit < len(chosen)
    following = signer.sign([offset + query.limit], binding) if more else ""
    kept = {job.name: histories[job.name] for job in shown if job.name in histories}
    partial = jobs.total_is_partial
    return RankedPage(shown, more, following, jobs.total, kept, beyond(jobs), partial)


def beyond(jobs: Page[Job]) -> int:
    """How many jobs lie beyond the page read, as far as its total tells (at least one when the
    total is a lower bound and there are more)."""
    if not jobs.has_more:
        return 0
    return max((jobs.total or 0) - len(jobs.items), 1 if jobs.total_is_partial else 0)


def _offset(token: str, binding: str, signer: CursorSigner) -> int:
    match signer.open(token, binding):
        case [int(offset)] if 0 <= offset <= ALL_JOBS.limit:
            return offset
    raise CursorRejected("issued for another view")


# The summary over a window


@dataclass(frozen=True)
class JobWindow:
    """A job's runs created within the window, as far as they were read."""

    history: JobHistory
    runs: tuple[Execution, ...]
    complete: bool  # False: the window reaches further back than MAX_PAGES pages
    deactivated: bool = False  # the job is turned off: it will not run again as it is


@dataclass(frozen=True)
class Bucket:
    """One bar of the summary's chart: an hour (or a day) of the clock, cut to the window."""

    begins: datetime
    ends: datetime
    failed: tuple[tuple[str, Execution], ...]  # (job name, run), oldest first

    @property
    def jobs(self) -> list[str]:
        return sorted({name for name, _ in self.failed})


@dataclass(frozen=True)
class Summary:
    window: Window
    start: datetime
    end: datetime
    jobs: dict[str, JobWindow]
    unread: list[str] = field(default_factory=list)  # jobs whose runs could not be read
    more_jobs: int = 0  # jobs beyond the first 200, not read
    more_jobs_is_partial: bool = False  # more_jobs is a lower bound
    most_read: ClassVar[int] = MAX_PAGES * STRIP  # runs per job the summary reads at most

    @cached_property
    def failed(self) -> list[Execution]:
        return [run for _, run in self.failed_runs]

    @cached_property
    def failed_runs(self) -> list[tuple[str, Execution]]:
        """(job name, run) of each failed run within the window."""
        return [
            (name, run)
            for name, window in self.jobs.items()
            for run in window.runs
            if run.status in FAILED
        ]

    @cached_property
    def failed_by_job(self) -> list[tuple[str, int]]:
        return by_job(self.failed_runs)

    @cached_property
    def failing_jobs(self) -> list[JobHistory]:
        """The jobs whose last finished run failed, among those not deactivated."""
        return self._failing(deactivated=False)

    @cached_property
    def failing_deactivated(self) -> list[JobHistory]:
        """Deactivated jobs whose last run failed: counted apart, they will not run again."""
        return self._failing(deactivated=True)

    def _failing(self, *, deactivated: bool) -> list[JobHistory]:
        found = [
            window.history
            for window in self.jobs.values()
            if window.history.failing and window.deactivated == deactivated
        ]
        return sorted(found, key=lambda history: history.job)

    @cached_property
    def running(self) -> list[tuple[str, Execution]]:
        """(job name, run) of each run in progress: the name the job was asked by."""
        return [
            (name, run)
            for name, window in self.jobs.items()
            for run in window.history.runs
            if not run.is_finished
        ]

    @property
    def partial(self) -> list[str]:
        """Jobs whose runs in the window were not all read."""
        return sorted(name for name, window in self.jobs.items() if not window.complete)

    @property
    def is_partial(self) -> bool:
        return bool(self.partial or self.unread or self.more_jobs)

    @cached_property
    def buckets(self) -> list[Bucket]:
        """The window in hours (or days) of the UTC clock, the first and last cut to it."""
        size = self.window.bucket.total_seconds()
        first = datetime.fromtimestamp(self.start.timestamp() // size * size, UTC)
        slots = max(math.ceil((self.end - first) / self.window.bucket), 1)
        placed: list[list[tuple[str, Execution]]] = [[] for _ in range(slots)]
        for name, run in sorted(self.failed_runs, key=lambda item: item[1].created_at or first):
            index = int((run.created_at - first) / self.window.bucket) if run.created_at else 0
            placed[min(max(index, 0), slots - 1)].append((name, run))
        return [
            Bucket(
                max(first + self.window.bucket * index, self.start),
                min(first + self.window.bucket * (index + 1), self.end),
                tuple(runs),
            )
            for index, runs in enumerate(placed)
        ]

    def within(self, since: datetime | None, until: datetime | None) -> list[tuple[str, Execution]]:
        """(job name, run) of the failed runs created from `since` to before `until`."""
        return [
            (name, run)
            for name, run in self.failed_runs
            if run.created_at is not None
            and (since is None or run.created_at >= since)
            and (until is None or run.created_at < until)
        ]

    @cached_property
    def chart(self) -> BarChart:
        counts = [len(bucket.failed) for bucket in self.buckets]
        titles = []
        for bucket in self.buckets:
            named = ", ".join(f"{name} {count}" for name, count in by_job(bucket.failed))
            titles.append(
                f"{iso(bucket.begins)} to {iso(bucket.ends)}: {len(bucket.failed)} failed"
                + (f" ({named})" if named else "")
            )
        busiest = max(range(len(counts)), key=lambda i: counts[i]) if any(counts) else None
        text = (
            f"Failed executions per {self.window.bucket_label} over the last "
            f"{self.window.label}: {len(self.failed)} in all"
        )
        if busiest is not None:
            text += f"; most ({counts[busiest]}) in the {self.window.bucket_label} from "
            text += f"{iso(self.buckets[busiest].begins)}"
        kinds = ["failed" if count else "none" for count in counts]
        return BarChart.of(counts, titles, kinds, text + ".", height=48)


def by_job(runs: Iterable[tuple[str, Execution]]) -> list[tuple[str, int]]:
    """How many of `runs` each job had, the most first (by name among equals)."""
    counts: dict[str, int] = {}
    for name, _ in runs:
        counts[name] = counts.get(name, 0) + 1
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


def summarise(session: Session, window: Window, now: datetime) -> Summary:
    """Failed executions over `window`, jobs failing now and runs in progress, across the
    workspace's jobs (one page of 200)."""
    start = now - window.length
    jobs = session.list_jobs(ALL_JOBS)
    deactivated = {job.name for job in jobs.items if job.deactivated}

    def read(name: str) -> JobWindow:
        page = session.list_executions(name, RECENT)
        history = JobHistory(name, page.items)
        runs = list(page.items)
        for _ in range(MAX_PAGES - 1):
            if not page.has_more or _reaches_before(page.items, start):
                break
            page = session.list_executions(name, replace(RECENT, cursor=page.next_cursor))
            runs += page.items
        complete = not page.has_more or _reaches_before(page.items, start)
        within = tuple(run for run in runs if run.created_at and run.created_at >= start)
        return JobWindow(history, within, complete, name in deactivated)

    answers = fan_out(read, named(jobs.items))
    read_jobs = known(answers)
    unread = sorted(set(answers) - set(read_jobs))
    partial = jobs.total_is_partial
    return Summary(window, start, now, read_jobs, unread, beyond(jobs), partial)


def _reaches_before(runs: Iterable[Execution], start: datetime) -> bool:
    """Whether a page (newest first) reaches back before the window's start."""
    oldest = [run.created_at for run in runs if run.created_at is not None]
    return bool(oldest) and min(oldest) < start


# The executions page's chart


@dataclass(frozen=True)
class RunsChart:
    """Duration and failed tasks of the listed runs, oldest first, so a regression shows."""

    durations: BarChart
    failures: BarChart
    runs: int

    @classmethod
    def of(cls, runs: Sequence[Execution], now: datetime) -> RunsChart | None:
        if len(runs) < 2:
            return None
        ordered = sorted(runs, key=lambda run: run.created_at or now)
        seconds = [run_time(run, now) or 0.0 for run in ordered]
        failed = [run.stats.failure for run in ordered]
        titles = [
            f"{run.id}: {run.status}, ran {span(s) or 'not yet'}, {plural(f, 'failed task')}"
            for run, s, f in zip(ordered, seconds, failed, strict=True)
        ]
        kinds = [run.status for run in ordered]
        timed = [s for s in seconds if s]
        newest = ordered[-1]
        duration_text = (
            f"Run time of the {plural(len(ordered), 'run')} listed, oldest to newest: from "
            f"{span(min(timed))} to {span(max(timed))}, median {span(median(timed))}; "
            f"the newest, {newest.id}, ran {span(seconds[-1]) or 'not yet'}."
            if timed
            else f"None of the {plural(len(ordered), 'run')} listed has started."
        )
        failure_text = (
            f"Failed tasks of the same runs: {sum(failed):,} in all, at most {max(failed):,} "
            f"in one run; the newest had {failed[-1]:,}."
        )
        return cls(
            BarChart.of(seconds, titles, kinds, duration_text, height=56),
            BarChart.of(
                failed, titles, ["failed" if f else "none" for f in failed], failure_text, height=32
            ),
            len(ordered),
        )

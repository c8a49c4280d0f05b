"""A page of tasks filtered by what Blaxel cannot filter (status, retries, failure cause), or of
executions filtered by status: the app's own walk.

Blaxel lists tasks only in cursor pages of at most 200, each call scanning the execution's whole
event log, so a filtered page is bought with a bounded number of upstream calls, within the
request's deadline. Where a walk pauses, a cursor signed by this app records the upstream
cursor, the row inside that upstream page and how many tasks were scanned, so that the next
request resumes on exactly that row.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Generic, TypeVar

from ..blaxel import (
    ChainStopped,
    ErrorKind,
    Execution,
    Page,
    PageRequest,
    Session,
    Task,
    UpstreamError,
)
from ..common.errors import CursorRejected
from ..failures.causes import attempts, cause_of
from .cursors import CursorSigner, view_binding
from .query import EXECUTIONS, MAX_SHOWN, TASKS, ListQuery, moment_in_link

UPSTREAM_LIMIT = 200
EXECUTIONS_LIMIT = 100  # ListJobExecutions' largest page
T = TypeVar("T")
SALT = "task-scan-cursor"  # what the app signs its walk cursors with
# A walk stops before a call unlikely to finish in the time left: the slowest call so far, and
# half again.
TIME_RESERVE = 1.5


@dataclass(frozen=True)
class TaskSource:
    """Where a request reads an execution's tasks: its session, the execution, how many upstream
    calls a walk may make, the key the walk's cursors are signed with, and the request's moment."""

    api: Session
    job_id: str
    execution_id: str
    budget: int
    secret: str
    moment: datetime


@dataclass(frozen=True)
class ScanProgress:
    """How far the app's own walk of the task chain got, for a page it filtered itself."""

    scanned: int  # tasks read from upstream since the walk's first page
    paused: bool  # the walk paused (call budget or time), not on a full page or the end
    # Tasks per status among those scanned: the counts to show when the execution has no stats.
    counts: dict[str, int] = field(default_factory=dict)
    # Answered from the execution's own counts, without reading a task (see counted_out).
    counted: bool = False


@dataclass(frozen=True)
class FilteredPage:
    """One page of matching tasks, with the cursor that resumes the walk."""

    items: list[Any]  # tasks or executions
    has_more: bool
    next_cursor: str
    total: int | None
    scan: ScanProgress
    # Where each task stands upstream: (cursor of its page of UPSTREAM_LIMIT, row in that page).
    positions: list[tuple[str, int]] = field(default_factory=list)
    total_is_partial: bool = False  # `total` is a lower bound (Blaxel's totalIsPartial)

    def counted(self, total: int) -> FilteredPage:
        """This page with `total` as the exact count, from a source that knows it."""
        return replace(self, total=total, total_is_partial=False)


@dataclass(frozen=True)
class Resume:
    """Where a paused walk resumes: the upstream page's cursor ("" = first) and the row in it."""

    upstream: str = ""
    position: int = 0
    scanned: int = 0  # items read before that row, since the walk's first page
    tally: tuple[int, ...] = ()  # those items per status (and retried); () for none read


def counted_out(execution: Execution, query: ListQuery) -> FilteredPage | None:
    """The empty page a status filter gets at once when a finished execution's own counts say
    none of its tasks has those statuses; None when only a walk can tell."""
    stats = execution.stats
    if not (query.statuses and execution.is_finished and stats.total):
        return None
    counts = {**stats.task_counts(), "retried": stats.retried}
    found = sum(counts.get(status, 0) for status in query.statuses)
    if any(status not in counts for status in query.statuses):
        found += stats.other  # unspecified, pending and reconciling share one count
    if found:
        return None
    return FilteredPage([], False, "", stats.total, ScanProgress(0, False, counted=True))


def filtered_tasks(source: TaskSource, query: ListQuery) -> FilteredPage:
    """Up to `query.limit` tasks in the view, for at most `source.budget` upstream calls."""
    job_id, execution_id = source.job_id, source.execution_id
    binding = view_binding(
        job_id, execution_id, query.sort, query.search, list(query.statuses), query.cause
    )

    def pages(cursor: str) -> Iterator[Page[Task]]:
        start = PageRequest(query.sort, query.search, UPSTREAM_LIMIT, cursor)
        return source.api.walk_tasks(job_id, execution_id, start, shared=True)

    def tally(task: Task) -> Iterator[str]:
        yield task.status
        if attempts(task).retried:
            yield "retried"

    # A walk counts its tasks by status, for the status chips when the execution has no stats.
    signer = CursorSigner(source.secret, SALT)
    walk = Walk(pages, UPSTREAM_LIMIT, TASKS.choices, tally, binding, signer)
    return _filtered(walk, source.api, query, task_filter(query), source.budget)


def filtered_executions(
    session: Session,
    job_id: str,
    query: ListQuery,
    *,
    budget: int,
    signer: CursorSigner,
) -> FilteredPage:
    """Up to `query.limit` executions in one of the query's statuses and created within its
    span, for at most `budget` upstream calls (ListJobExecutions filters by neither)."""
    span = [moment_in_link(query.since), moment_in_link(query.until)]
    binding = view_binding(
        "executions", job_id, query.sort, query.search, list(query.statuses), span
    )
    wanted = frozenset(query.statuses or EXECUTIONS.statuses)

    def pages(cursor: str) -> Iterator[Page[Execution]]:
        start = PageRequest(query.sort, query.search, EXECUTIONS_LIMIT, cursor)
        for page in session.walk_executions(job_id, start):
            yield page
            # Newest first, a page reaching before `since` is the last that can hold a match.
            if query.since and query.sort == "createdAt:desc" and _older(page.items, query.since):
                return

    def matches(execution: Execution) -> bool:
        return execution.status in wanted and query.created_within(execution.created_at)

    def tally(execution: Execution) -> tuple[str, ...]:
        # The status chips count what the time filter keeps, so that they agree with the rows.
        return (execution.status,) if query.created_within(execution.created_at) else ()

    walk = Walk(pages, EXECUTIONS_LIMIT, EXECUTIONS.statuses, tally, binding, signer)
    return _filtered(walk, session, query, matches, budget)


def _older(executions: Iterable[Execution], since: datetime) -> bool:
    return any(e.created_at is not None and e.created_at < since for e in executions)


@dataclass(frozen=True)
class Walk(Generic[T]):
    """What a filtered walk reads: its pages from an upstream cursor, their size, what it counts
    its items by, the view its cursors are bound to and what signs them."""

    pages: Callable[[str], Iterator[Page[T]]]
    page_size: int
    tallied: tuple[str, ...]
    tally: Callable[[T], Iterable[str]]
    binding: str
    signer: CursorSigner


def _filtered(
    walk: Walk[T], session: Session, query: ListQuery, matches: Callable[[T], bool], budget: int
) -> FilteredPage:
    at = _resume(query.cursor, walk) if query.cursor else Resume()
    found: list[T] = []
    positions: list[tuple[str, int]] = []
    scanned, total, partial = at.scanned, None, False
    tally = dict(zip(walk.tallied, at.tally or (0,) * len(walk.tallied), strict=True))

    def result(resume: Resume | None, paused: bool = False) -> FilteredPage:
        next_cursor = ""
        if resume is not None:
            fields = [resume.upstream, resume.position, resume.scanned, list(tally.values())]
            next_cursor = walk.signer.sign(fields, walk.binding)
        progress = ScanProgress(scanned, paused, dict(tally))
        return FilteredPage(
            found, resume is not None, next_cursor, total, progress, positions, partial
        )

    def pause(cursor: str) -> FilteredPage:
        return result(Resume(cursor, 0, scanned), paused=True)

    pages = walk.pages(at.upstream)
    cursor, position, slowest = at.upstream, at.position, 0.0
    for number in range(1, budget + 1):
        began = time.monotonic()
        try:
            page = next(pages)
        except StopIteration:
            return result(None)
        except ChainStopped:
            if session.scope.remaining() <= 0:
                return pause(cursor)
            return result(None)  # the chain misbehaved: what was found is all there is
        except UpstreamError as error:
            if error.kind is not ErrorKind.TIMED_OUT or number == 1:
                raise
            return pause(cursor)  # out of time: try again
        slowest = max(slowest, time.monotonic() - began)
        total, partial = page.total, page.total_is_partial
        for index in range(position, len(page.items)):
            item = page.items[index]
            scanned += 1
            for name in walk.tally(item):
                if name in tally:
                    tally[name] += 1
            if not matches(item):
                continue
            found.append(item)
            positions.append((cursor, index))
            if len(found) == query.limit:
                # Resume on the next row, which may be the first of the next upstream page.
                if index + 1 < len(page.items):
                    return result(Resume(cursor, index + 1, scanned))
                if page.has_more:
                    return result(Resume(page.next_cursor, 0, scanned))
                return result(None)
        if not page.has_more:
            return result(None)
        cursor, position = page.next_cursor, 0
        if session.scope.remaining() < slowest * TIME_RESERVE:
            break
    pages.close()
    return pause(cursor)


def _resume(token: str, walk: Walk[Any]) -> Resume:
    match walk.signer.open(token, walk.binding):
        case [str(upstream), int(position), int(scanned), list(tally)] if (
            0 <= position < walk.page_size
            and 0 <= scanned <= MAX_SHOWN
            and len(tally) == len(walk.tallied)
            and all(isinstance(count, int) and 0 <= count <= scanned for count in tally)
        ):
            return Resume(upstream, position, scanned, tuple(tally))
    raise CursorRejected("issued for another view")


def task_filter(query: ListQuery) -> Callable[[Task], bool]:
    """Whether a task belongs in the view: one of its statuses (or retried), and its cause."""
    wanted = frozenset(query.statuses)
    retried = "retried" in wanted

    def matches(task: Task) -> bool:
        if wanted and not (task.status in wanted or (retried and attempts(task).retried)):
            return False
        if query.cause:
            cause = cause_of(task)
            return cause is not None and cause.id == query.cause
        return True

    return matches

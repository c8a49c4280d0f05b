"""A page of tasks filtered by what Blaxel cannot filter (status, retries, failure cause): the
app's own walk.

Blaxel lists tasks only in cursor pages of at most 200, each call scanning the execution's whole
event log, so a filtered page is bought with a bounded number of upstream calls, within the
request's deadline. Where a walk pauses, a cursor signed by this app records the upstream
cursor, the row inside that upstream page and how many tasks were scanned, so that the next
request resumes on exactly that row.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from .blaxel import (
    ChainStopped,
    ErrorKind,
    PageRequest,
    Session,
    Task,
    UpstreamError,
)
from .causes import attempts, cause_of
from .cursors import CursorSigner, view_binding
from .errors import CursorRejected
from .query import MAX_SHOWN, TASKS, ListQuery

# What a walk counts its tasks by, for the status chips when the execution has no stats.
TALLIED = TASKS.choices

UPSTREAM_LIMIT = 200
SALT = "task-scan-cursor"  # what the app signs its walk cursors with
# A walk stops before a call unlikely to finish in the time left: the slowest call so far, and
# half again.
TIME_RESERVE = 1.5


@dataclass(frozen=True)
class ScanProgress:
    """How far the app's own walk of the task chain got, for a page it filtered itself."""

    scanned: int  # tasks read from upstream since the walk's first page
    paused: bool  # the walk paused (call budget or time), not on a full page or the end
    # Tasks per status among those scanned: the counts to show when the execution has no stats.
    counts: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class FilteredPage:
    """One page of matching tasks, with the cursor that resumes the walk."""

    items: list[Task]
    has_more: bool
    next_cursor: str
    total: int | None
    scan: ScanProgress
    # Where each task stands upstream: (cursor of its page of UPSTREAM_LIMIT, row in that page).
    positions: list[tuple[str, int]] = field(default_factory=list)


@dataclass(frozen=True)
class Resume:
    """Where a paused walk resumes: the upstream page's cursor ("" = first) and the row in it."""

    upstream: str = ""
    position: int = 0
    scanned: int = 0  # tasks read before that row, since the walk's first page
    tally: tuple[int, ...] = (0,) * len(TALLIED)  # those tasks per status (and retried)


def filtered_tasks(
    session: Session,
    job_id: str,
    execution_id: str,
    query: ListQuery,
    matches: Callable[[Task], bool],
    *,
    budget: int,
    signer: CursorSigner,
) -> FilteredPage:
    """Up to `query.limit` tasks for which `matches` holds, for at most `budget` upstream calls."""
    binding = view_binding(
        job_id, execution_id, query.sort, query.search, list(query.statuses), query.cause
    )
    at = _resume(query.cursor, binding, signer) if query.cursor else Resume()
    found: list[Task] = []
    positions: list[tuple[str, int]] = []
    scanned, total = at.scanned, None
    tally = dict(zip(TALLIED, at.tally, strict=True))

    def result(resume: Resume | None, paused: bool = False) -> FilteredPage:
        next_cursor = ""
        if resume is not None:
            fields = [resume.upstream, resume.position, resume.scanned, list(tally.values())]
            next_cursor = signer.sign(fields, binding)
        progress = ScanProgress(scanned, paused, dict(tally))
        return FilteredPage(found, resume is not None, next_cursor, total, progress, positions)

    start = PageRequest(query.sort, query.search, UPSTREAM_LIMIT, at.upstream)
    pages = session.walk_tasks(job_id, execution_id, start, shared=True)
    cursor, position, slowest = at.upstream, at.position, 0.0
    for number in range(1, budget + 1):
        began = time.monotonic()
        try:
            page = next(pages)
        except StopIteration:
            return result(None)
        except ChainStopped:
            if session.scope.remaining() <= 0:
                return result(Resume(cursor, 0, scanned), paused=True)
            return result(None)  # the chain misbehaved: what was found is all there is
        except UpstreamError as error:
            if error.kind is not ErrorKind.TIMED_OUT or number == 1:
                raise
            return result(Resume(cursor, 0, scanned), paused=True)  # out of time: try again
        slowest = max(slowest, time.monotonic() - began)
        total = page.total
        for index in range(position, len(page.items)):
            task = page.items[index]
            scanned += 1
            if task.status in tally:
                tally[task.status] += 1
            if attempts(task).retried:
                tally["retried"] += 1
            if not matches(task):
                continue
            found.append(task)
            positions.append((cursor, index))
            if len(found) == query.limit:
                # Resume on the next row, which may be the first of the next upstream page.
                if index + 1 < len(page.items):
                    return result(Resume(cursor, index + 1, scanned))
                return result(Resume(page.next_cursor, 0, scanned) if page.has_more else None)
        if not page.has_more:
            return result(None)
        cursor, position = page.next_cursor, 0
        if session.scope.remaining() < slowest * TIME_RESERVE:
            break
    pages.close()
    return result(Resume(cursor, 0, scanned), paused=True)


def _resume(token: str, binding: str, signer: CursorSigner) -> Resume:
    match signer.open(token, binding):
        case [str(upstream), int(position), int(scanned), list(tally)] if (
            0 <= position < UPSTREAM_LIMIT
            and 0 <= scanned <= MAX_SHOWN
            and len(tally) == len(TALLIED)
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

"""An execution's tasks read whole, under a budget of upstream calls: for the orders the app makes
(slowest first, longest wait first, failed first) and the timeline, which need every task where
Blaxel hands out 200 at a time.

The walk reads its pages through the cache, the same pages as the failure groups (newest first,
200 each), so only pages not kept yet cost a call: one request reads on by at most `budget` new
pages, and the next, finding those kept, goes further. A finished execution's pages are kept
for the final TTL: once read, its whole task list costs nothing more. Work over a whole
execution gives way to the worker's other requests as it goes (`paced`).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from itertools import repeat
from typing import TypeVar

from ..blaxel import ChainStopped, ErrorKind, PageRequest, Task, UpstreamError
from ..common.errors import CursorRejected
from ..common.formatting import run_time, wait_time
from .cursors import CursorSigner, view_binding
from .filtered import FilteredPage, ScanProgress, TaskSource, task_filter
from .query import FAILED_FIRST, LONGEST_WAIT_FIRST, MAX_SHOWN, ListQuery

PAGE = PageRequest("createdAt:desc", "", 200)
PACE = 250  # items drawn or written between two moments given to the worker's other requests
T = TypeVar("T")
SALT = "slowest-first-cursor"
# Failed first: then cancelled, running, pending (and the statuses before it), succeeded.
FAILED_RANK = {
    "failed": 0,
    "cancelled": 1,
    "running": 2,
    "reconciling": 2,
    "pending": 3,
    "unspecified": 3,
    "succeeded": 4,
}


@dataclass(frozen=True)
class Gathered:
    tasks: list[Task]
    total: int | None  # the execution's tasks, as Blaxel counts them
    complete: bool  # every task was read
    stopped: str = ""  # why the walk ended before the chain did, if it did
    total_is_partial: bool = False  # `total` is a lower bound (Blaxel's totalIsPartial)
    # Where each task was read: (the cursor of its page of 200, its row there), for stepping.
    positions: list[tuple[str, int]] = field(default_factory=list)
    capped: bool = False  # the walk stopped at the `upto` it was given, with more to read


def give_way() -> None:
    """A moment for the worker's other requests. Drawing thousands of bars is work that never
    waits, and the production server's workers switch between requests only where one waits:
    under gevent this sleep is that switch; elsewhere it costs next to nothing."""
    time.sleep(0)


def paced(items: Iterable[T], every: int = PACE) -> Iterator[T]:
    """The items, giving way to the worker's other requests after each `every` of them."""
    for number, item in enumerate(items, 1):
        yield item
        if number % every == 0:
            give_way()


def gather_tasks(source: TaskSource, *, search: str = "", upto: int | None = None) -> Gathered:
    """The execution's tasks, newest first: all of them, or as many as `source.budget` new
    upstream calls reach (or the first `upto`)."""
    # Its own scope: calls made beside this walk must not count against its budget.
    session = source.api.part()
    start = replace(PAGE, q=search)
    pages = session.walk_tasks(source.job_id, source.execution_id, start, shared=True)
    records = session.scope.records
    tasks: list[Task] = []
    positions: list[tuple[str, int]] = []
    total, partial, cursor = None, False, ""
    try:
        for page in pages:
            give_way()  # a page read (or recalled) is work that never waited
            total, partial = page.total, page.total_is_partial
            tasks.extend(page.items)
            positions.extend(zip(repeat(cursor), range(len(page.items))))
            cursor = page.next_cursor
            if not page.has_more:
                return Gathered(tasks, total, True, "", partial, positions)
            if upto is not None and len(tasks) >= upto:
                return Gathered(tasks[:upto], total, False, "", partial, positions[:upto], True)
            if sum(record.cache not in ("hit", "held") for record in records) >= source.budget:
                break
    except ChainStopped as stop:
        if session.scope.remaining() > 0:
            return Gathered(tasks, total, True, stop.reason, partial, positions)
    except UpstreamError as error:
        # Out of time is a pause: the next request reads on from what is kept.
        if error.kind is not ErrorKind.TIMED_OUT or not tasks:
            raise
    finally:
        pages.close()
    return Gathered(tasks, total, False, "", partial, positions)


def app_ordered(source: TaskSource, query: ListQuery) -> FilteredPage:
    """A page of the view's tasks in an order the app makes (the longest run first, the longest
    queue wait first, or failed first), among those read so far. Its cursor says how many tasks
    the order was made among, so that later pages follow the same order."""
    name = {FAILED_FIRST: "failed", LONGEST_WAIT_FIRST: "waited"}.get(query.sort, "slowest")
    binding = view_binding(
        name, source.job_id, source.execution_id, query.search, list(query.statuses), query.cause
    )
    signer = CursorSigner(source.secret, SALT)
    offset, upto = _position(query.cursor, binding, signer) if query.cursor else (0, None)
    gathered = gather_tasks(source, search=query.search, upto=upto)
    tasks, now = gathered.tasks, source.moment
    if query.statuses or query.cause:
        keep = task_filter(query)
        kept = [number for number, task in enumerate(tasks) if keep(task)]
    else:
        kept = list(range(len(tasks)))
    if query.sort == FAILED_FIRST:
        kept = failed_first(tasks, kept)
    elif query.sort == LONGEST_WAIT_FIRST:
        # Still waiting counts as waited so far; a task that never waited (or never says) last.
        kept.sort(key=lambda n: (-(wait_time(tasks[n], now) or -1.0), tasks[n].name))
    else:
        kept.sort(key=lambda n: (-(run_time(tasks[n], now) or -1.0), tasks[n].name))
    chosen = kept[offset : offset + query.limit]
    shown = [tasks[number] for number in chosen]
    positions = [gathered.positions[number] for number in chosen]
    more = offset + query.limit < len(kept)
    read = len(tasks)
    following = signer.sign([offset + query.limit, read], binding) if more else ""
    progress = ScanProgress(read, paused=not gathered.complete)
    partial = gathered.total_is_partial
    return FilteredPage(shown, more, following, gathered.total, progress, positions, partial)


def failed_first(tasks: list[Task], numbers: list[int]) -> list[int]:
    """The numbers of these tasks, failed first (then cancelled, running, pending, succeeded):
    one pass into a list per rank, so that each keeps the walk's order, newest first."""
    ranks: list[list[int]] = [[] for _ in range(max(FAILED_RANK.values()) + 1)]
    for number in numbers:
        ranks[FAILED_RANK.get(tasks[number].status, 3)].append(number)
    return [number for rank in ranks for number in rank]


def _position(token: str, binding: str, signer: CursorSigner) -> tuple[int, int]:
    match signer.open(token, binding):
        case [int(offset), int(read)] if 0 <= offset <= read <= MAX_SHOWN:
            return offset, read
    raise CursorRejected("issued for another view")

"""The app's own walk of an execution's tasks, for the one filter Blaxel lacks: task status.

Blaxel lists tasks only in cursor pages of at most 200, each call scanning the execution's whole
event log, so a filtered page is bought with a bounded number of upstream calls. Where a walk
pauses, a cursor signed by this app records the upstream cursor, the row inside that upstream
page and how many tasks were scanned, so that the next request resumes on exactly that row.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, replace

from itsdangerous import BadSignature, URLSafeSerializer

from .errors import CursorRejected
from .models import TASK_STATUSES, Page, ScanProgress, Task
from .query import MAX_QUERY_LENGTH, MAX_SHOWN, TASKS, ListQuery
from .upstream import BlaxelClient

UPSTREAM_LIMIT = 200
SALT = "task-scan-cursor"


@dataclass(frozen=True)
class ScanCursor:
    """Where a paused walk resumes: the upstream page's cursor ("" = first) and the row in it."""

    upstream: str = ""
    position: int = 0
    scanned: int = 0  # tasks read before that row, since the walk's first page
    tally: tuple[int, ...] = (0,) * len(TASK_STATUSES)  # those tasks per status


def scan_tasks(
    client: BlaxelClient,
    job_id: str,
    execution_id: str,
    query: ListQuery,
    *,
    budget: int,
    secret_key: str,
) -> Page[Task]:
    """Up to `query.limit` tasks with one of `query.statuses`, for at most `budget` calls."""
    binding = _binding(job_id, execution_id, query)
    at = redeem(query.cursor, binding, secret_key) if query.cursor else ScanCursor()
    upstream_query = _upstream_query(query)
    matches: list[Task] = []
    cursor, position, scanned, total = at.upstream, at.position, at.scanned, None
    tally = dict(zip(TASK_STATUSES, at.tally, strict=True))

    def result(resume: ScanCursor | None, budget_spent: bool = False) -> Page[Task]:
        if resume:
            resume = replace(resume, tally=tuple(tally.values()))
        return Page(
            items=matches,
            has_more=resume is not None,
            next_cursor=issue(resume, binding, secret_key) if resume else "",
            total=total,
            scan=ScanProgress(scanned, budget_spent, dict(tally)),
        )

    for _ in range(budget):
        page = client.list_tasks(job_id, execution_id, replace(upstream_query, cursor=cursor))
        total = page.total
        for index in range(position, len(page.items)):
            scanned += 1
            if page.items[index].status in tally:
                tally[page.items[index].status] += 1
            if page.items[index].status not in query.statuses:
                continue
            matches.append(page.items[index])
            if len(matches) == query.limit:
                # Resume on the next row, which may be the first of the next upstream page.
                if index + 1 < len(page.items):
                    return result(ScanCursor(cursor, index + 1, scanned))
                return result(ScanCursor(page.next_cursor, 0, scanned) if page.has_more else None)
        if not page.has_more:
            return result(None)
        cursor, position = page.next_cursor, 0
    return result(ScanCursor(cursor, 0, scanned), budget_spent=True)


def walk_tasks(
    client: BlaxelClient, job_id: str, execution_id: str, query: ListQuery
) -> Iterator[list[Task]]:
    """The whole chain, one upstream page at a time, filtered by status when the query says so.

    Each upstream page is fetched when the previous one has been consumed, so at most one page
    of tasks is held at a time, however long the execution.
    """
    upstream_query = _upstream_query(query)
    cursor = ""
    while cursor is not None:
        # Not shared: a cache would keep every page of the walk.
        page = client.list_tasks(
            job_id, execution_id, replace(upstream_query, cursor=cursor), shared=False
        )
        batch = [task for task in page.items if not query.statuses or task.status in query.statuses]
        cursor = page.next_cursor if page.has_more else None
        # Let go of this page before fetching the next one: one page in memory, not two.
        del page
        yield batch
        del batch


def find_task(
    client: BlaxelClient, job_id: str, execution_id: str, name: str, *, budget: int
) -> Task | None:
    """The task called `name`, found through Blaxel's search, which has no lookup by name."""
    # In name order the exact name comes before every longer name containing it; a name too
    # long to search for is looked for in the whole list instead.
    search = name if len(name.strip()) <= MAX_QUERY_LENGTH else ""
    query = ListQuery(TASKS, sort="name:asc", q=search, limit=UPSTREAM_LIMIT)
    for _ in range(budget):
        page = client.list_tasks(job_id, execution_id, query)
        for task in page.items:
            if task.name == name:
                return task
        if not page.has_more:
            return None
        query = replace(query, cursor=page.next_cursor)
    return None


def issue(at: ScanCursor, binding: str, secret_key: str) -> str:
    return _serializer(secret_key).dumps(
        [at.upstream, at.position, at.scanned, binding, list(at.tally)]
    )


def redeem(token: str, binding: str, secret_key: str) -> ScanCursor:
    """The position a cursor of ours records, if it is ours, intact and for this very query."""
    try:
        payload = _serializer(secret_key).loads(token)
    except BadSignature:
        raise CursorRejected("not signed by this app") from None
    match payload:
        case [str(upstream), int(position), int(scanned), str(bound_to), list(tally)] if (
            bound_to == binding
            and 0 <= position < UPSTREAM_LIMIT
            and 0 <= scanned <= MAX_SHOWN
            and len(tally) == len(TASK_STATUSES)
            and all(isinstance(count, int) and 0 <= count <= scanned for count in tally)
        ):
            return ScanCursor(upstream, position, scanned, tuple(tally))
    raise CursorRejected("issued for another view")


def _upstream_query(query: ListQuery) -> ListQuery:
    """The upstream side of a filtered view: same sort and search, the largest pages, no status."""
    return replace(query.first_page(), limit=UPSTREAM_LIMIT, statuses=())


def _binding(job_id: str, execution_id: str, query: ListQuery) -> str:
    # A cursor resumes only the view it was issued for: same execution, order, search, filter.
    view = [job_id, execution_id, query.sort, query.search, list(query.statuses)]
    return hashlib.sha256(json.dumps(view).encode()).hexdigest()[:16]


def _serializer(secret_key: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret_key, salt=SALT)

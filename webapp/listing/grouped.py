"""A `cause=` view answered from the failure groups' record: the walk that made the groups kept
where each member is (its page and row), so the view lists exactly them without a scan."""

from __future__ import annotations

from ..blaxel import PageRequest, Task
from ..common.errors import CursorRejected
from ..failures.causes import cause_of
from ..failures.triage import PAGE_SIZE, Triage
from .cursors import CursorSigner, view_binding
from .filtered import SALT, FilteredPage, ScanProgress, TaskSource
from .query import ListQuery


def group_page(source: TaskSource, query: ListQuery, walked: Triage) -> FilteredPage | None:
    """A page of a `cause=` view read from the failure groups' record: its members, whole and in
    the walk's order, from the pages that hold them (kept by the walk), without a scan. None when
    the record cannot answer (the walk is not complete, or Blaxel's pages moved under it)."""
    group = walked.group(query.cause)
    if group is None:
        return None
    session, job_id, execution_id = source.api, source.job_id, source.execution_id
    binding = view_binding("group", job_id, execution_id, query.cause, group.count)
    signer = CursorSigner(source.secret, SALT)
    offset = _offset(query.cursor, binding, signer) if query.cursor else 0
    chosen = group.members[offset : offset + query.limit]
    if not chosen:
        raise CursorRejected("past the group's end")
    cursors = [walked.pages[page] for page in sorted({page for page, _ in chosen})]
    requests = [PageRequest(limit=PAGE_SIZE, cursor=cursor) for cursor in cursors]
    fetched = session.together(
        *(lambda asked=asked: session.list_tasks(job_id, execution_id, asked) for asked in requests)
    )
    pages = dict(zip(cursors, fetched, strict=True))
    tasks: list[Task] = []
    for page_number, row in chosen:
        items = pages[walked.pages[page_number]].items
        task = items[row] if row < len(items) else None
        cause = cause_of(task) if task is not None else None
        if cause is None or cause.id != query.cause:
            return None
        tasks.append(task)
    more = offset + query.limit < group.count
    following = signer.sign([offset + query.limit], binding) if more else ""
    positions = [(walked.pages[page], row) for page, row in chosen]
    progress = ScanProgress(walked.scanned, paused=False)
    return FilteredPage(tasks, more, following, walked.total, progress, positions)


def _offset(token: str, binding: str, signer: CursorSigner) -> int:
    match signer.open(token, binding):
        case [int(offset)] if offset >= 0:
            return offset
    raise CursorRejected("issued for another view")

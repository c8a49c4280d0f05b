"""Stepping through a view one task at a time: the task before and after, in the view's order.

A task's link from a listing says where its row stands upstream (`at`: the page's size, the row,
the page's cursor), so its page can find its neighbours in the same upstream page, and walk on
for the next one when it is further away. A `back` position, carried by "next" links, says
where the task that led here stands, so stepping back works across pages too.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..blaxel import Page, PageRequest, Session, Task
from .filtered import task_filter
from .query import ListQuery, cursor_from_link, cursor_in_link

MAX_PAGE = 200


@dataclass(frozen=True)
class Position:
    """Row `index` of the upstream page of `limit` tasks starting at `cursor`."""

    cursor: str
    index: int
    limit: int

    def link(self) -> str:
        return f"{self.limit}:{self.index}:{cursor_in_link(self.cursor)}"

    @classmethod
    def parse(cls, text: str) -> Position | None:
        """The position a link carries, or None if it carries none we could have written."""
        limit, _, rest = text.partition(":")
        index, _, cursor = rest.partition(":")
        upstream = cursor_from_link(cursor)
        if not (limit.isdigit() and index.isdigit() and len(limit) <= 3 and len(index) <= 3):
            return None
        if upstream is None or not 0 <= int(index) < int(limit) <= MAX_PAGE:
            return None
        return cls(upstream, int(index), int(limit))


@dataclass(frozen=True)
class Neighbour:
    task: Task
    at: Position


@dataclass(frozen=True)
class Steps:
    """The task, found where its link said, and its neighbours in the view (when known)."""

    task: Task
    at: Position
    previous: Neighbour | None
    following: Neighbour | None


def steps(
    session: Session,
    job_id: str,
    execution_id: str,
    query: ListQuery,
    name: str,
    at: Position,
    back: Position | None,
    *,
    budget: int,
) -> Steps | None:
    """The task called `name` at `at` in the view, and its neighbours; None when it is no
    longer there (the list changed, or the link was edited)."""
    keep = task_filter(query)

    def page_at(cursor: str, limit: int) -> Page[Task]:
        request = PageRequest(query.sort, query.search, limit, cursor)
        return session.list_tasks(job_id, execution_id, request)

    here = page_at(at.cursor, at.limit)
    if at.index >= len(here.items) or here.items[at.index].name != name:
        return None
    previous = next(
        (
            Neighbour(here.items[row], Position(at.cursor, row, at.limit))
            for row in range(at.index - 1, -1, -1)
            if keep(here.items[row])
        ),
        None,
    )
    if previous is None and back is not None:
        before = page_at(back.cursor, back.limit)
        if back.index < len(before.items):
            previous = Neighbour(before.items[back.index], back)

    def following() -> Neighbour | None:
        """The next task in the view: on in this page, else in the pages after it."""
        page, cursor, limit, start = here, at.cursor, at.limit, at.index + 1
        for _ in range(budget):
            for row in range(start, len(page.items)):
                if keep(page.items[row]):
                    return Neighbour(page.items[row], Position(cursor, row, limit))
            if not page.has_more:
                return None
            cursor, limit, start = page.next_cursor, MAX_PAGE, 0
            page = page_at(cursor, limit)
        return None

    return Steps(here.items[at.index], at, previous, following())

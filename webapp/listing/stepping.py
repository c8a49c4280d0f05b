"""Stepping through a view one task at a time: the task before and after, in the view's order.

A task's link from a listing says where its row stands upstream (`at`: the page's size, the row,
the page's cursor), so its page can find its neighbours in the same upstream page, and walk on
for the next one when it is further away. A `back` position, carried by "next" links, says
where the task that led here stands, so stepping back works across pages too. The task's logs
carry the same trail, so that its neighbours' logs are a step away as well.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from werkzeug.datastructures import MultiDict

from ..blaxel import Page, PageRequest, Session, Task
from .filtered import task_filter
from .query import FAILED_FIRST, TASKS, Args, ListQuery, cursor_from_link, cursor_in_link

MAX_PAGE = 200
# What a task's link keeps of its list's view, besides the search (see Trail).
KEPT = ("sort", "status", "cause")
# On a logs page `q` is the lines' own search: the list's search travels as `tasks_q` there.
LOGS_SEARCH = "tasks_q"


def steps_in(query: ListQuery) -> bool:
    """Whether a view's tasks can be stepped through: in Blaxel's own orders, and failed first
    (Blaxel's newest first, a status at a time); not slowest first, which Blaxel cannot page."""
    return not query.ordered_by_app or query.sort == FAILED_FIRST


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
    trail: Trail,
    name: str,
    *,
    budget: int,
) -> Steps | None:
    """The task called `name` where the trail says it stands in its view, and its neighbours;
    None when it is no longer there (the list changed, or the link was edited)."""
    query, at, back = trail.query, trail.at, trail.back
    if at is None or not steps_in(query):
        return None
    # Failed first is newest first a status at a time: positions are in Blaxel's newest first.
    order = TASKS.default_sort if query.sort == FAILED_FIRST else query.sort

    def page_at(cursor: str, limit: int) -> Page[Task]:
        request = PageRequest(order, query.search, limit, cursor)
        return session.list_tasks(job_id, execution_id, request)

    here = page_at(at.cursor, at.limit)
    if at.index >= len(here.items) or here.items[at.index].name != name:
        return None
    if query.sort == FAILED_FIRST:
        # Its neighbours are those of its status; the next status's tasks are a list away.
        query = replace(query, statuses=(here.items[at.index].status,))
    keep = task_filter(query)
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


@dataclass(frozen=True)
class Trail:
    """The list view a task's page or its logs were opened from, as their URL carries it: the
    view's query, where the task stands in it (`at`) and where the task that led here stands
    (`back`). Without `at`, the page has no neighbours to step to."""

    query: ListQuery
    at: Position | None = None
    back: Position | None = None

    @classmethod
    def parse(cls, args: Args, search: str = "q") -> Trail:
        """The trail in a page's parameters; `search` names the list's search there."""
        view: MultiDict[str, str] = MultiDict(
            [(name, value) for name in KEPT for value in args.getlist(name)]
        )
        view.setlist("q", args.getlist(search))
        at, back = (Position.parse(_one(args, name)) for name in ("at", "back"))
        return cls(ListQuery.parse(view, TASKS), at, back)

    @property
    def stepping(self) -> bool:
        """Whether neighbours can be found (see steps_in)."""
        return self.at is not None and steps_in(self.query)

    def args(self, search: str = "q") -> dict[str, str | int]:
        """The trail as this page's links carry it on (to the task, its logs, the same view)."""
        return self.link_args(self.at, self.back, search=search) if self.at else self.view(search)

    def logs_args(self) -> dict[str, str | int]:
        """The trail as a link to the task's logs carries it."""
        return self.args(LOGS_SEARCH)

    def view(self, search: str = "q") -> dict[str, str | int]:
        args = self.query.view_args()
        if search != "q" and "q" in args:
            args[search] = args.pop("q")
        return args

    def link_args(
        self, at: Position, back: Position | None, *, search: str = "q"
    ) -> dict[str, str | int]:
        """What a link to a task of this view at `at` carries; `back`, the task it comes from."""
        args = {**self.view(search), "at": at.link()}
        return args | {"back": back.link()} if back is not None else args

    def noun(self, task: Task | None) -> str:
        """What the view's tasks are, for the step links to `task`'s neighbours: "failed task",
        "task of this group"."""
        if self.query.sort == FAILED_FIRST and task is not None:
            return f"{task.status} task"  # failed first steps a status at a time
        if self.query.cause:
            return "task of this group"
        if self.query.statuses:
            return " or ".join(self.query.statuses) + " task"
        return "matching task" if self.query.search else "task"


@dataclass(frozen=True)
class StepLink:
    name: str
    url: str


@dataclass(frozen=True)
class StepLinks:
    """The links a task's page or logs show to step through the view (and to go back to it)."""

    previous: StepLink | None
    following: StepLink | None
    noun: str
    list_url: str
    list_label: str

    @classmethod
    def of(
        cls,
        around: Steps | None,
        trail: Trail,
        url: Callable[[str, dict[str, str | int]], str],
        list_url: str,
        search: str = "q",
    ) -> StepLinks:
        """`url(name, args)`: the page of the task called `name` (its page, or its logs) with
        the trail `args`."""
        previous = following = None
        if around is not None and around.previous is not None:
            link = trail.link_args(around.previous.at, None, search=search)
            previous = StepLink(around.previous.task.name, url(around.previous.task.name, link))
        if around is not None and around.following is not None:
            link = trail.link_args(around.following.at, around.at, search=search)
            following = StepLink(around.following.task.name, url(around.following.task.name, link))
        query = trail.query
        if query.cause and not (query.statuses or query.search):
            label = "Back to the group's tasks"
        elif query.filtered or query.search:
            shown = ", ".join(query.statuses) if query.statuses else "matching"
            label = f"Back to the {shown} tasks"
        else:
            label = "Back to the list"
        noun = trail.noun(around.task if around is not None else None)
        return cls(previous, following, noun, list_url, label)


def _one(args: Args, name: str) -> str:
    values = args.getlist(name)
    return values[0] if values else ""

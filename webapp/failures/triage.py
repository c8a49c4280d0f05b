"""Why an execution's tasks failed: every task read once, its failures grouped by cause.

Blaxel has no such summary, so the app walks the execution's whole task chain (pages of 200,
each call scanning the execution's event log upstream). The walk is made once per execution and
shared by everyone through the same store as the upstream answers: kept for the final TTL once
the execution has finished, made again at most once per TTL while it runs. No request pays for
all of it: each walks on by at most the scan budget of pages and saves where it stopped, and the
panel asks again until the groups cover the whole execution.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from ..blaxel import ChainStopped, ErrorKind, PageRequest, Session, Task, UpstreamError
from ..runs.record import task_record
from .causes import Cause, cause_of

PAGE_SIZE = 200
EXAMPLES = 5  # task names kept per group
MAX_GROUPS = 40  # causes beyond these are counted together
OTHER = Cause("other", "", "other causes")


@dataclass
class Group:
    cause: Cause
    count: int = 0
    tasks: list[str] = field(default_factory=list)
    example: str = ""  # one task's own message, as Blaxel sent it
    # Every member, where the walk read it: (its page's number in Triage.pages, its row there).
    members: list[tuple[int, int]] = field(default_factory=list)

    def add(self, task: Task, at: tuple[int, int] | None) -> None:
        self.count += 1
        if at is not None:
            self.members.append(at)
        if len(self.tasks) < EXAMPLES:
            self.tasks.append(task.name)
        if not self.example and task.key_condition is not None:
            self.example = task.key_condition.message[:1000]


@dataclass
class Triage:
    """The failure groups of one execution, as far as its walk has got."""

    groups: dict[str, Group] = field(default_factory=dict)
    scanned: int = 0
    total: int | None = None
    total_is_partial: bool = False  # `total` is a lower bound
    cursor: str = ""  # where the walk resumes; "" with complete=False: not started
    complete: bool = False
    stopped: str = ""  # why the walk ended before the chain did, if it did
    # Each task's record for the execution's digest (webapp/runs), made by the same walk.
    records: dict[str, list] = field(default_factory=dict)
    # The cursor of each page the walk read, in order ("" the first): where the members are.
    pages: list[str] = field(default_factory=list)

    @property
    def ordered(self) -> list[Group]:
        """Failures first, then tasks that needed retries; the largest groups first in each."""
        rank = {"failed": 0, "retried": 1, "recovered": 2}

        def order(group: Group) -> tuple[int, int, str]:
            return (rank.get(group.cause.outcome, 3), -group.count, group.cause.pattern)

        return sorted(self.groups.values(), key=order)

    def cause(self, cause_id: str) -> Cause | None:
        group = self.groups.get(cause_id)
        return group.cause if group is not None else None

    def group(self, cause_id: str) -> Group | None:
        """The group of every member when the walk is complete and knows where each one is."""
        group = self.groups.get(cause_id)
        if not self.complete or self.stopped or group is None:
            return None
        return group if len(group.members) == group.count else None

    def add(self, task: Task, row: int | None = None) -> None:
        """Counts the task in its group; `row`, its row in the page the walk read last, says
        where it is (a task added from elsewhere has none, and its group lists by a walk)."""
        self.scanned += 1
        cause = cause_of(task)
        self.records[task.name] = task_record(task, cause)
        if cause is None:
            return
        key = cause.id
        if key not in self.groups and len(self.groups) >= MAX_GROUPS:
            key = OTHER.id
        group = self.groups.setdefault(key, Group(cause if key == cause.id else OTHER))
        group.add(task, (len(self.pages) - 1, row) if row is not None and self.pages else None)

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Triage:
        groups = {
            key: Group(
                Cause(**value["cause"]),
                value["count"],
                value["tasks"],
                value["example"],
                [(page, row) for page, row in value.get("members", [])],
            )
            for key, value in raw["groups"].items()
        }
        return cls(
            groups,
            raw["scanned"],
            raw["total"],
            raw.get("total_is_partial", False),
            raw["cursor"],
            raw["complete"],
            raw["stopped"],
            raw.get("records", {}),
            raw.get("pages", []),
        )


def triage(
    session: Session,
    job_id: str,
    execution_id: str,
    *,
    budget: int,
    lifetime: float,
    size: int | None = None,
) -> Triage:
    """The shared failure groups of the execution, walked on by at most `budget` pages if the
    walk so far has not covered it; kept for `lifetime` seconds. `size`, the execution's own
    count of its tasks, stands for the listing's total when that is only a lower bound."""
    parts = (job_id, execution_id)
    saved = session.recall("triage", parts)
    state = Triage.from_json(saved) if saved is not None else Triage()
    if state.complete:
        return state
    start = PageRequest(limit=PAGE_SIZE, cursor=state.cursor)
    # The next page is fetched while this one is grouped, up to the budget and no further.
    pages = session.walk_tasks(job_id, execution_id, start, shared=True, ahead=True, pages=budget)
    try:
        for _ in range(budget):
            page = next(pages)
            state.total = size if page.total_is_partial and size is not None else page.total
            state.total_is_partial = page.total_is_partial and size is None
            state.pages.append(state.cursor)
            for row, task in enumerate(page.items):
                state.add(task, row)
            if not page.has_more:
                state.complete = True
                break
            state.cursor = page.next_cursor
    except ChainStopped as stop:
        state.complete, state.stopped = True, stop.reason
    except UpstreamError as error:
        # Out of time is a pause: the next request goes on from here. Anything else is not.
        if error.kind is not ErrorKind.TIMED_OUT or state.scanned == 0:
            raise
    finally:
        pages.close()
    session.remember("triage", parts, asdict(state), lifetime)
    return state

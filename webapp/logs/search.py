"""A search across every task's logs of an execution, or of one failure group: the hits grouped
by task, a count each, and the newest hits of each linked to its task's logs at that line.

Blaxel's logs endpoint takes an execution without a task, but its lines do not say whose they
are. So one execution-wide call counts every hit, and one call per task (its `totalCount`, and
its newest hits) places them: tasks that ran, in the order of the failure groups' shared walk,
failed ones first. The per-task calls stop once they have placed every hit (the tasks left have
none), when the request's time is nearly out, or past MAX_TASKS; the page then says how far it
got, and searching again goes on from the cache.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from ..blaxel import Execution, LogLine, LogPage, LogRequest, Session, UpstreamError, Window
from ..blaxel import logs as contract
from ..common.errors import QueryError
from ..failures.triage import Triage
from ..listing.query import Args, one_value
from ..runs.digest import TaskRecord
from ..runs.kept import Digests
from ..runs.window import groups_of
from .query import search_problems

MAX_TASKS = 400  # tasks one request searches at most
SIDE_BY_SIDE = 8  # per-task calls made at once
HITS_SHOWN = 3  # each task's newest hits shown
TIME_KEPT = 1.5  # seconds of the request's deadline left for the page itself
MAX_CAUSE = 200


@dataclass(frozen=True)
class SearchQuery:
    q: str = ""
    cause: str = ""  # a failure group's id: only its tasks

    @classmethod
    def parse(cls, args: Args) -> SearchQuery:
        problems: list[str] = []
        single = one_value(args, problems)
        q, cause = single("q").strip(), single("cause").strip()
        problems += search_problems(q)
        if len(cause) > MAX_CAUSE or not cause.isprintable():
            problems.append("“cause” must be a failure group's id, as its link gives it.")
        if problems:
            raise QueryError(problems)
        return cls(q, cause)


@dataclass(frozen=True)
class TaskHits:
    task: str
    count: int
    newest: tuple[LogLine, ...]  # its newest hits, oldest first

    @property
    def more(self) -> int:
        return self.count - len(self.newest)


@dataclass
class Searched:
    """What a search found: every hit's count (`total`), and those placed in tasks."""

    window: Window
    total: int = 0
    found: list[TaskHits] = field(default_factory=list)
    searched: int = 0  # tasks searched
    candidates: int = 0  # tasks that ran, of the execution or the group, as far as known
    stopped: str = ""  # why the per-task calls stopped before every candidate, if they did

    @property
    def placed(self) -> int:
        return sum(hits.count for hits in self.found)

    @property
    def every_hit_placed(self) -> bool:
        return self.placed >= self.total

    @property
    def ordered(self) -> list[TaskHits]:
        return sorted(self.found, key=lambda hits: (-hits.count, hits.task))


def searched_first(records: list[TaskRecord], cause: str) -> list[str]:
    """The tasks to search, in the order they are searched: those that ran (an attempt made), of
    the group when `cause` is given; failed ones first, then retried ones, then the rest."""
    ran = [r for r in records if r.attempts > 0 and (not cause or r.cause == cause)]
    ran.sort(key=lambda r: (r.status != "failed", r.attempts <= 1))
    return [r.name for r in ran]


def search(
    session: Session,
    execution: Execution,
    ids: tuple[str, str],
    query: SearchQuery,
    tasks: list[str],
    now: datetime,
    time_left: Callable[[], float],
) -> Searched:
    """The hits of `query.q` over the execution's window: counted by one execution-wide call,
    then placed task by task (`tasks`, in order) within the bounds above. An upstream failure of
    the execution-wide call is raised; one of a task's call ends the search where it is."""
    job_id, execution_id = ids
    window = contract.execution_window(execution, now)
    everyone = LogRequest(job_id, execution_id, "", window, (), query.q, limit=1)
    found = Searched(window, session.task_logs(everyone).total, candidates=len(tasks))
    if found.total == 0:
        return found

    def one(name: str) -> Callable[[], LogPage | UpstreamError]:
        asked = LogRequest(job_id, execution_id, name, window, (), query.q, limit=HITS_SHOWN)

        def call() -> LogPage | UpstreamError:
            try:
                return session.task_logs(asked)
            except UpstreamError as error:
                return error

        return call

    for start in range(0, len(tasks), SIDE_BY_SIDE):
        if found.every_hit_placed:
            break
        if found.searched >= MAX_TASKS:
            found.stopped = f"one search reads at most {MAX_TASKS:,} tasks"
            break
        if time_left() < TIME_KEPT:
            found.stopped = "the time one page may take ran out"
            break
        batch = tasks[start : start + min(SIDE_BY_SIDE, MAX_TASKS - found.searched)]
        for name, answer in zip(batch, session.together(*map(one, batch)), strict=True):
            if isinstance(answer, UpstreamError):
                found.stopped = f"Blaxel failed on the logs of {name} ({answer.kind.value})"
                break
            found.searched += 1
            if answer.total:
                found.found.append(TaskHits(name, answer.total, tuple(answer.oldest_first())))
        if found.stopped:
            break
    return found


def task_records(
    session: Session,
    kept: Digests,
    ids: tuple[str, str],
    execution: Execution,
    *,
    budget: int,
    lifetime: float,
) -> tuple[list[TaskRecord], Triage]:
    """The execution's tasks as the failure groups' walk read them (from its digest when kept,
    else from the shared walk, walked on by at most `budget` pages), and the groups."""
    digest = kept.get(*ids) if execution.is_finished else None
    if digest is not None:
        return digest.tasks(), digest.triage()
    walked = groups_of(session, kept, ids, execution, budget=budget, lifetime=lifetime)
    records = [TaskRecord(name, *raw) for name, raw in walked.records.items()]
    return records, walked

"""What the execution-wide search page receives: the query, the group it is limited to, what the
search found or why it could not, and the links it makes (each hit at its line)."""

from __future__ import annotations

from dataclasses import dataclass

from ..blaxel import LogLine
from ..common.urls import urls
from ..failures.causes import Cause
from .query import url_time
from .search import Searched, SearchQuery
from .text import line_anchor
from .view import LogProblem


@dataclass(frozen=True)
class ExecutionLogs:
    job_id: str
    execution_id: str
    query: SearchQuery
    group: Cause | None  # the failure group the search is limited to
    tasks_known: int  # tasks the failure groups' walk has read
    tasks_total: int | None  # the execution's tasks, when known
    walk_complete: bool
    found: Searched | None = None
    problem: LogProblem | None = None

    @property
    def status(self) -> int:
        return self.problem.status if self.problem else 200

    @property
    def complete(self) -> bool:
        """Every hit placed, or every task that could hold one searched."""
        found = self.found
        if found is None:
            return False
        every_task = self.walk_complete and not found.stopped
        return found.every_hit_placed or (every_task and found.searched >= found.candidates)

    def link(self, **changes: str) -> str:
        """This search with some of its parameters changed ("" leaves one out)."""
        args = {"q": self.query.q, "cause": self.query.cause, **changes}
        return urls.execution_logs(*self._ids, **{k: v for k, v in args.items() if v})

    @property
    def _ids(self) -> tuple[str, str]:
        return self.job_id, self.execution_id

    @property
    def url(self) -> str:
        return self.link()

    @property
    def tasks_url(self) -> str:
        return urls.execution(*self._ids, cause=self.query.cause or None)

    def task_url(self, task: str) -> str:
        """The task's logs, only the lines that match."""
        return urls.logs(*self._ids, task, q=self.query.q)

    def line_url(self, task: str, line: LogLine) -> str:
        """The task's logs, every line, opened at this one and pointing at it."""
        at = url_time(line.moment) if line.moment else None
        page = urls.logs(*self._ids, task, around=at)
        return f"{page}#{line_anchor(line)}"

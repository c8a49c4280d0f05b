"""The API as one purpose sees it (a page, an export): every call shares one CallScope."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Future
from typing import Any

from .cache import CachedClient
from .client import CallScope, PageRequest
from .logs import LogLine, LogPage, LogRequest, oldest_first
from .lookup import find_task
from .models import Execution, Job, Page, Revision, Task
from .walk import walk


class Session:
    """CachedClient's methods with the scope filled in, plus walks and the task lookup."""

    def __init__(self, api: CachedClient, scope: CallScope) -> None:
        self.api = api
        self.scope = scope

    def list_jobs(self, page: PageRequest, *, shared: bool = True) -> Page[Job]:
        return self.api.list_jobs(page, self.scope, shared=shared)

    def list_executions(self, job_id: str, page: PageRequest) -> Page[Execution]:
        return self.api.list_executions(job_id, page, self.scope)

    def get_execution(self, job_id: str, execution_id: str) -> Execution:
        return self.api.get_execution(job_id, execution_id, self.scope)

    def list_job_revisions(self, job_id: str) -> tuple[Revision, ...]:
        return self.api.list_job_revisions(job_id, self.scope)

    def list_tasks(
        self, job_id: str, execution_id: str, page: PageRequest, *, shared: bool = True
    ) -> Page[Task]:
        return self.api.list_tasks(job_id, execution_id, page, self.scope, shared=shared)

    def walk_tasks(
        self,
        job_id: str,
        execution_id: str,
        page: PageRequest,
        *,
        shared: bool = False,
        ahead: bool = False,
        pages: int | None = None,
    ) -> Iterator[Page[Task]]:
        """The task chain from `page.cursor`, page by page (see walk.walk for its bounds)."""

        def fetch(cursor: str) -> Page[Task]:
            request = PageRequest(page.sort, page.q, page.limit, cursor)
            return self.list_tasks(job_id, execution_id, request, shared=shared)

        return walk(
            fetch, self.scope, page_size=page.limit, start=page.cursor, ahead=ahead, pages=pages
        )

    def walk_executions(self, job_id: str, page: PageRequest) -> Iterator[Page[Execution]]:
        """The job's executions from `page.cursor`, page by page, each answer shared."""

        def fetch(cursor: str) -> Page[Execution]:
            return self.list_executions(job_id, PageRequest(page.sort, page.q, page.limit, cursor))

        return walk(fetch, self.scope, page_size=page.limit, start=page.cursor)

    def remember(self, name: str, parts: tuple, value: dict, seconds: float) -> None:
        self.api.remember(name, parts, value, seconds)

    def recall(self, name: str, parts: tuple) -> dict | None:
        return self.api.recall(name, parts)

    def part(self) -> Session:
        """The same session for a part of the work whose own calls are to be counted."""
        return Session(self.api, self.scope.part())

    def together(self, *calls: Callable[[], Any]) -> list[Any]:
        """Independent calls made side by side, within this session's one deadline; their
        answers in order. A failure is raised as if the calls had been made one after the
        other: the first failing call's, once all have ended."""
        others: list[Future[Any]] = [self.api.pool.submit(call) for call in calls[1:]]
        outcomes: list[Any] = []
        failure: BaseException | None = None
        try:
            outcomes.append(calls[0]())
        except Exception as error:  # noqa: BLE001 - raised below, after the others end
            failure = error
        for future in others:
            try:
                outcomes.append(future.result())
            except Exception as error:  # noqa: BLE001 - the first failure wins
                failure = failure or error
        if failure is not None:
            raise failure
        return outcomes

    def find_task(self, job_id: str, execution_id: str, name: str, *, max_pages: int):
        return find_task(
            lambda request: self.list_tasks(job_id, execution_id, request),
            name,
            max_pages=max_pages,
        )

    def task_logs(self, request: LogRequest, *, settled: bool = False) -> LogPage:
        return self.api.task_logs(request, self.scope, settled=settled)

    def walk_logs(self, request: LogRequest, *, settled: bool = False) -> Iterator[list[LogLine]]:
        """Every line of the request's window, oldest first, a page at a time (see
        logs.oldest_first for its bounds)."""
        return oldest_first(
            lambda page: self.task_logs(page, settled=settled), request, self.scope.remaining
        )

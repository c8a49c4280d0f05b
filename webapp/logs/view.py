"""What the logs templates receive: one task's window of lines, or why there are none, and the
links the view makes (earlier lines, following, widening, filters, the download)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import cached_property

from ..blaxel import SEVERITIES, LogLine, LogPage, LogRequest, Task, UpstreamError, Window
from ..blaxel import logs as contract
from ..common.errors import FINAL_KINDS, QueryError, logs_presentation
from ..common.urls import urls
from ..listing.stepping import Trail
from .attempts import Attempt, section_starts, task_attempts
from .query import LogQuery, field_time, url_time

FOLLOW_SECONDS = 5  # how often a followed log asks for new lines
# Lines a follow poll asks for at once; more than this in its window, and it says so.
FOLLOW_LIMIT = 1000
WIDEN = timedelta(hours=1)


@dataclass(frozen=True)
class LogProblem:
    """Why the panel has no lines: a failed logs call, in words."""

    status: int
    title: str
    explanation: str
    detail: str = ""
    retry_after: float | None = None  # a 429's wait, passed on
    retry: bool = True  # whether asking again may help

    @classmethod
    def of(cls, error: UpstreamError) -> LogProblem:
        retry = error.kind not in FINAL_KINDS
        return cls(*logs_presentation(error), error.detail, error.retry_after, retry)


@dataclass(frozen=True)
class LogView:
    job_id: str
    execution_id: str
    task: Task
    query: LogQuery
    window: Window
    request: LogRequest
    now: datetime
    page: LogPage | None = None
    problem: LogProblem | None = None
    # The list the page was opened from: its links keep it, so stepping survives a reload.
    trail: Trail | None = None

    @classmethod
    def of(
        cls,
        job_id: str,
        execution_id: str,
        task: Task,
        query: LogQuery,
        now: datetime,
        limit: int | None = None,
        trail: Trail | None = None,
    ) -> LogView:
        """The view the query asks for; its window is the task's run unless the URL says."""
        default = contract.task_window(task, now)
        window = Window.of(query.start or default.start, query.end or default.end)
        if window.start >= window.end:
            shown = f"{url_time(window.start)} to {url_time(window.end)}"
            raise QueryError([f"That window ({shown}) ends before it starts: give both ends."])
        request = LogRequest(
            job_id,
            execution_id,
            task.name,
            window,
            query.severities,
            query.q,
            limit or query.limit,
            query.offset,
        )
        return cls(job_id, execution_id, task, query, window, request, now, trail=trail)

    def following_from(self, since: datetime) -> LogView:
        """The view a follow poll reads: from `since` (on the follow grain) to now and a margin,
        every line at once."""
        end = contract.follow_end(self.now)
        if self.query.end is not None:
            end = min(end, self.window.end)
        start = max(contract.follow_start(since), self.window.start)
        window = Window.of(start, max(end, start + timedelta(seconds=1)))
        request = replace(self.request, window=window, limit=FOLLOW_LIMIT, offset=0)
        return replace(self, window=window, request=request)

    def counting_from(self, at: datetime) -> LogRequest | None:
        """One line of the lines from `at`'s second to the window's end: its total says how far
        from the newest that moment is. None when `at` is outside the window."""
        if not self.window.start <= at < self.window.end or self.query.offset:
            return None
        window = Window.of(at, self.window.end)
        return replace(self.request, window=window, limit=1, offset=0)

    def placed(self, newer: int) -> LogView:
        """The page holding the line that `newer` lines (itself included) end the window with,
        that line in its middle: the window as read, so that paging keeps its meaning."""
        offset = max(newer - 1 - self.query.limit // 2, 0)
        if offset == 0:  # the newest page has it: the view as it is, following and all
            return replace(self, query=replace(self.query, at=None))
        return replace(self, query=self._frozen(offset), request=self.request.at(offset))

    def with_page(self, page: LogPage) -> LogView:
        return replace(self, page=page)

    def with_problem(self, error: UpstreamError) -> LogView:
        return replace(self, problem=LogProblem.of(error))

    # For the templates: the poll's period and the severity filter's choices.
    follow_seconds = FOLLOW_SECONDS
    severities = SEVERITIES
    # Lines a followed page keeps: a chatty task would otherwise grow it without end.
    kept_while_following = 5000

    @property
    def status(self) -> int:
        return self.problem.status if self.problem else 200

    @property
    def settled(self) -> bool:
        return contract.settled(self.task, self.now)

    @property
    def following(self) -> bool:
        """New lines will append on their own: the first page of a window that reaches now, of a
        task whose lines may still come."""
        return (
            self.problem is None
            and not self.query.offset
            and self.window.end >= self.now
            and contract.still_arriving(self.task, self.now)
        )

    @cached_property
    def lines(self) -> list[LogLine]:
        return self.page.oldest_first() if self.page else []

    @cached_property
    def attempts(self) -> list[Attempt]:
        return task_attempts(self.task)

    @cached_property
    def attempt_starts(self) -> dict[str, Attempt]:
        """Where each attempt's section begins, by line key: only when the page holds every line
        of the window, unfiltered (a part, or only matching lines, cannot tell attempts apart)."""
        if self.page is None or self.earlier or self.query.offset or self.query.filtered:
            return {}
        return section_starts(self.lines, self.attempts)

    @property
    def total(self) -> int:
        return self.page.total if self.page else 0

    @property
    def earlier(self) -> int:
        """Lines before the ones shown."""
        if self.page is None:
            return 0
        return max(self.page.total - self.query.offset - len(self.page.lines), 0)

    @property
    def dated(self) -> bool:
        """Whether lines need their date as well as their time: the window spans two days."""
        return self.window.start.date() != self.window.end.date()

    @property
    def explicit(self) -> bool:
        return self.query.start is not None or self.query.end is not None

    # Links. Each keeps the view's filters; the page's own URL is the whole view.

    def _url(self, endpoint: str, query: LogQuery) -> str:
        # Pages of this view keep its trail; fragments and the download need none.
        kept = self.trail_args if endpoint == "logs.page" else {}
        ids = (self.job_id, self.execution_id, self.task.name)
        return urls.logs(*ids, endpoint=endpoint, **query.url_args(), **kept)

    @property
    def trail_args(self) -> dict[str, str | int]:
        """The list view this page came from, as its links and its controls' form carry it."""
        return self.trail.logs_args() if self.trail is not None else {}

    @property
    def url(self) -> str:
        return self._url("logs.page", self.query.view())

    @property
    def base_url(self) -> str:
        return urls.logs(self.job_id, self.execution_id, self.task.name)

    @property
    def task_url(self) -> str:
        trail = self.trail.args() if self.trail else {}
        return urls.task(self.job_id, self.execution_id, self.task.name, **trail)

    @property
    def list_url(self) -> str:
        """The list this page came from (the execution's tasks, without a trail)."""
        args = self.trail.query.url_args() if self.trail is not None else {}
        return urls.execution(self.job_id, self.execution_id, **args)

    def _frozen(self, offset: int) -> LogQuery:
        # The window as this page read it: offsets stay meaningful while lines keep coming.
        return replace(
            self.query, start=self.window.start, end=self.window.end, offset=offset, at=None
        )

    @property
    def earlier_url(self) -> str:
        """The lines before these, for htmx to put above them."""
        return self._url("logs.lines", self._frozen(self.query.offset + self.query.limit))

    @property
    def earlier_page_url(self) -> str:
        """The same as a page of its own, for browsers without JavaScript."""
        return self._url("logs.page", self._frozen(self.query.offset + self.query.limit))

    @property
    def newer_url(self) -> str:
        return self._url("logs.page", self._frozen(max(self.query.offset - self.query.limit, 0)))

    @property
    def follow_url(self) -> str:
        since = contract.follow_since(self.now)
        return self._url("logs.follow", replace(self.query, since=since, at=None))

    @property
    def download_url(self) -> str:
        kept = replace(self.query.view(), limit=LogQuery().limit, utc=False)
        return self._url("logs.download", kept)

    @property
    def unfiltered_url(self) -> str:
        return self._url("logs.page", replace(self.query.view(), severities=(), q=""))

    @property
    def widenings(self) -> list[tuple[str, str]]:
        """(label, URL) of wider windows: earlier, later (once the window has ended), 3 days."""
        view, window = self.query.view(), self.window
        wider = [("1 h earlier", replace(view, start=window.start - WIDEN))]
        if window.end < self.now:
            wider.append(("1 h later", replace(view, start=window.start, end=window.end + WIDEN)))
        if window.end - window.start < contract.MAX_WINDOW:
            whole = replace(view, start=window.end - contract.MAX_WINDOW, end=self.query.end)
            wider.append(("the 3 days before", whole))
        if self.explicit:
            wider.append(("the task's run", replace(view, start=None, end=None)))
        return [(label, self._url("logs.page", query)) for label, query in wider]

    @property
    def default_window_text(self) -> str:
        default = contract.task_window(self.task, self.now)
        start, end = (field_time(m).replace("T", " ") for m in (default.start, default.end))
        return f"{start} → {end}"

    @property
    def start_field(self) -> str:
        return field_time(self.window.start)

    @property
    def end_field(self) -> str:
        return field_time(self.window.end)

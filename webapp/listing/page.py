"""What a listing's templates receive, and the two helpers every listing view calls."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any, Protocol, TypeVar

from flask import Response, make_response, render_template, request, url_for

from ..blaxel import ErrorKind, Execution, Page, Task, UpstreamError
from ..common.errors import CursorRejected
from .filtered import UPSTREAM_LIMIT, FilteredPage, ScanProgress
from .query import ListQuery, cursor_fits_link
from .stepping import Position

CURSOR_EXPIRED = "That position in the list expired; showing from the start."
P_co = TypeVar("P_co", covariant=True)


def is_fragment() -> bool:
    """htmx asks for the rows alone; everything else gets the whole page."""
    return request.headers.get("HX-Request") == "true"


@dataclass(frozen=True)
class Listing:
    """One page of a listing as shown: its query, its rows, and the links it makes."""

    query: ListQuery
    page: Page[Any] | FilteredPage
    notice: str = ""
    endpoint: str = ""
    path_args: dict[str, str] = field(default_factory=dict)
    # An endpoint taking `fmt` ("csv" or "json") that exports the whole listing, if any.
    export_endpoint: str = ""

    @classmethod
    def of_request(
        cls,
        query: ListQuery,
        page: Page[Any] | FilteredPage,
        notice: str = "",
        export_endpoint: str = "",
    ) -> Listing:
        """The listing the current request shows: its links lead back to the same view."""
        path_args = dict(request.view_args or {})
        return cls(query, page, notice, request.endpoint or "", path_args, export_endpoint)

    @classmethod
    def links_only(cls, query: ListQuery, endpoint: str, **path_args: str) -> Listing:
        """A view's links without a page of its rows, for fragments that link into a listing."""
        return cls(query, Page(data=()), "", endpoint, path_args)

    @cached_property
    def task_defaults(self) -> TaskDefaults:
        """What most tasks on this page are configured with, said once above the rows."""
        return TaskDefaults.of(item.spec for item in self.page.items if isinstance(item, Task))

    @property
    def scan(self) -> ScanProgress | None:
        return self.page.scan if isinstance(self.page, FilteredPage) else None

    @property
    def loaded(self) -> int:
        return self.query.shown + len(self.page.items)

    def url(self, query: ListQuery) -> str:
        return url_for(self.endpoint, **self.path_args, **query.url_args())

    @property
    def first_url(self) -> str:
        return self.url(self.query.first_page())

    @property
    def has_more(self) -> bool:
        return self.page.has_more and cursor_fits_link(self.page.next_cursor)

    @property
    def next_url(self) -> str:
        return self.url(self.query.next_page(self.page.next_cursor, len(self.page.items)))

    @property
    def stop_refresh_url(self) -> str:
        return self.url(replace(self.query, refresh=0))

    @property
    def base_url(self) -> str:
        return url_for(self.endpoint, **self.path_args)

    def status_url(self, *statuses: str) -> str:
        return self.url(self.query.with_statuses(statuses))

    def view_url(self, view: str = "", **extra: str) -> str:
        """This view's tasks as a list ("") or another view of them ("timeline")."""
        args = {**self.path_args, **self.query.first_page().url_args()}
        return url_for(self.endpoint, **args, **({"view": view} if view else {}), **extra)

    def cause_url(self, cause: str = "") -> str:
        return self.url(self.query.with_cause(cause))

    def position(self, row: int) -> Position:
        """Where the task of row `row` stands upstream, for its link (see stepping)."""
        if isinstance(self.page, FilteredPage):
            cursor, index = self.page.positions[row]
            return Position(cursor, index, UPSTREAM_LIMIT)
        return Position(self.query.cursor, row, self.query.limit)

    @property
    def exports(self) -> list[tuple[str, str]]:
        """(label, URL) of each download of this view: same order, search and filter."""
        if not self.export_endpoint:
            return []
        args = {**self.path_args, **self.query.view_args()}
        return [
            (label, url_for(self.export_endpoint, fmt=fmt, **args))
            for fmt, label in (("csv", "Download CSV"), ("json", "Download JSON"))
        ]


@dataclass(frozen=True)
class TaskDefaults:
    """The retries and timeout most tasks share (rows say theirs only where they differ)."""

    max_retries: int | None = None
    timeout: str = ""

    @classmethod
    def of(cls, specs: Iterable[Any]) -> TaskDefaults:
        common = Counter(
            (spec.max_retries, spec.timeout or "") for spec in specs if spec is not None
        ).most_common(1)
        return cls(*common[0][0]) if common else cls()


@dataclass(frozen=True)
class StatusCounts:
    """Tasks per status for the status chips: Blaxel's stats, else what the app's walk has read."""

    counts: Mapping[str, int]
    other: int = 0  # from stats: tasks in none of the counted states
    scanned: int | None = None  # from a walk: the tasks it has read so far

    @classmethod
    def of(cls, execution: Execution | None, scan: ScanProgress | None) -> StatusCounts:
        if execution is not None and execution.stats.total:
            counts = {**execution.stats.task_counts(), "retried": execution.stats.retried}
            return cls(counts, other=execution.stats.other)
        if scan is not None:
            return cls(scan.counts, scanned=scan.scanned)
        return cls({})


class Pages(Protocol[P_co]):
    """Where a listing's pages come from: Blaxel's own, or the app's walk over them."""

    def page(self, query: ListQuery) -> P_co: ...


def shown(pages: Pages[P_co], query: ListQuery) -> tuple[P_co, ListQuery, str]:
    """(page, query, notice): the page the query asks for or, when its cursor was refused,
    the first page of the same view with a notice saying so."""
    try:
        return pages.page(query), query, ""
    except (UpstreamError, CursorRejected) as error:
        # Blaxel answers 400 to a cursor that expired or belongs to another query; the app's
        # own cursors fail the same way after a key change, so both restart the list.
        rejected = isinstance(error, CursorRejected) or error.kind is ErrorKind.REJECTED
        if not (query.cursor and rejected):
            raise
    first = query.first_page()
    return pages.page(first), first, CURSOR_EXPIRED


def view_changed() -> bool:
    """Whether a fragment was asked by the view's controls (`changed=1`, which they add): the view
    changed, so its link goes into the address bar and a task list brings the chips' counts."""
    return request.args.get("changed") == "1"


def rows_response(template: str, listing: Listing, **context: Any) -> Response:
    """The rows of `listing` for htmx, with the headers that tell it where they go."""
    response = make_response(render_template(template, listing=listing, fragment=True, **context))
    if listing.notice:
        # The rows on screen belong to a dead cursor chain: replace them all.
        response.headers["HX-Retarget"] = "#rows"
        response.headers["HX-Reswap"] = "innerHTML"
    # Only the controls change the view; loading more and refreshing keep its link.
    if view_changed():
        response.headers["HX-Push-Url"] = listing.url(listing.query)
    return response

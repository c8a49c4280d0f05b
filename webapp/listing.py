"""The one mechanism behind every listing: parse the URL, fetch a page, render page or rows."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from flask import Response, g, make_response, render_template, request, url_for

from .errors import CursorRejected, ErrorKind, UpstreamError
from .models import Page
from .query import ListingSpec, ListQuery

CONTROLS_ID = "listing-controls"
CURSOR_EXPIRED = "That position in the list expired; showing from the start."


@dataclass(frozen=True)
class Listing:
    """One kind of listing page: its query rules and its two templates."""

    spec: ListingSpec
    page_template: str
    rows_template: str
    columns: int
    total_label: str
    # An endpoint taking `fmt` ("csv" or "json") that exports the whole listing, if any.
    export_endpoint: str = ""


@dataclass(frozen=True)
class ListingView:
    """What the templates of a listing receive."""

    query: ListQuery
    page: Page[Any]
    notice: str
    endpoint: str
    path_args: dict[str, str]
    export_endpoint: str = ""

    @classmethod
    def without_rows(cls, query: ListQuery, endpoint: str, **path_args: str) -> ListingView:
        """A view's links without a page of its rows, for fragments that link into a listing."""
        no_rows = Page([], has_more=False, next_cursor="", total=None)
        return cls(query, no_rows, "", endpoint, path_args)

    @property
    def loaded(self) -> int:
        return self.query.shown + len(self.page.items)

    def url(self, query: ListQuery) -> str:
        return url_for(self.endpoint, **self.path_args, **query.url_args())

    @property
    def first_url(self) -> str:
        return self.url(self.query.first_page())

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

    @property
    def exports(self) -> list[tuple[str, str]]:
        """(label, URL) of each download of this view: same order, search and filter."""
        if not self.export_endpoint:
            return []
        args = {**self.path_args, **self.query.export_args()}
        return [
            (label, url_for(self.export_endpoint, fmt=fmt, **args))
            for fmt, label in (("csv", "Download CSV"), ("json", "Download JSON"))
        ]


def wants_fragment() -> bool:
    """htmx asks for fragments, except when it restores history and needs a whole page."""
    return (
        request.headers.get("HX-Request") == "true"
        and request.headers.get("HX-History-Restore-Request") != "true"
    )


def render_listing(
    listing: Listing,
    fetch: Callable[[ListQuery], Page[Any]],
    page_context: Callable[[], dict[str, Any]] | None = None,
    fragment_context: Callable[[ListQuery], dict[str, Any]] | None = None,
    **context: Any,
) -> Response:
    """Answer a listing URL; `page_context` adds what only the full page shows,
    `fragment_context` what rows for that query bring along out of band."""
    g.listing_columns = listing.columns
    query = ListQuery.parse(request.args, listing.spec)
    if page_context and not wants_fragment():
        context.update(page_context())
    notice = ""
    try:
        page = fetch(query)
    except (UpstreamError, CursorRejected) as error:
        # Blaxel answers 400 to a cursor that expired or belongs to another query; the app's
        # own cursors fail the same way after a key change, so both restart the list.
        rejected = isinstance(error, CursorRejected) or error.kind is ErrorKind.REJECTED
        if not (query.cursor and rejected):
            raise
        query, notice = query.first_page(), CURSOR_EXPIRED
        page = fetch(query)

    view = ListingView(
        query,
        page,
        notice,
        request.endpoint or "",
        dict(request.view_args or {}),
        listing.export_endpoint,
    )
    context.update(columns=listing.columns, total_label=listing.total_label)
    if wants_fragment():
        if fragment_context:
            context.update(fragment_context(query))
        response = make_response(
            render_template(listing.rows_template, view=view, fragment=True, **context)
        )
        if notice:
            # The rows on screen belong to a dead cursor chain: replace them all.
            response.headers["HX-Retarget"] = "#rows"
            response.headers["HX-Reswap"] = "innerHTML"
        # Only the controls change the view; loading more and refreshing keep its link.
        if request.headers.get("HX-Trigger") == CONTROLS_ID:
            response.headers["HX-Push-Url"] = view.url(query)
    else:
        response = make_response(
            render_template(listing.page_template, view=view, fragment=False, **context)
        )
    return response

"""The one mechanism behind every listing: parse the URL, fetch a page, render page or rows."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from flask import Response, g, make_response, render_template, request, url_for

from .errors import ErrorKind, UpstreamError
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


@dataclass(frozen=True)
class ListingView:
    """What the templates of a listing receive."""

    query: ListQuery
    page: Page[Any]
    notice: str
    endpoint: str
    path_args: dict[str, str]

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
    **context: Any,
) -> Response:
    """Answer a listing URL; `page_context` adds what only the full page shows."""
    g.listing_columns = listing.columns
    query = ListQuery.parse(request.args, listing.spec)
    if page_context and not wants_fragment():
        context.update(page_context())
    notice = ""
    try:
        page = fetch(query)
    except UpstreamError as error:
        # Blaxel answers 400 to a cursor that expired or belongs to another query.
        if not (query.cursor and error.kind is ErrorKind.REJECTED):
            raise
        query, notice = query.first_page(), CURSOR_EXPIRED
        page = fetch(query)

    view = ListingView(query, page, notice, request.endpoint or "", dict(request.view_args or {}))
    context.update(columns=listing.columns, total_label=listing.total_label)
    if wants_fragment():
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

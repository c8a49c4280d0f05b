"""Walking a cursor chain: every page from a starting cursor, in order, within bounds.

An API that answers `hasMore` forever, repeats a cursor, sends empty pages, or runs on far past
the `meta.total` it announced must not hold a walk forever: the walk stops, and says why, when
any bound is reached. A total Blaxel marks partial (`totalIsPartial`: a lower bound) bounds
nothing: the walk follows the cursor chain, within the other bounds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

from .client import CallScope
from .errors import ChainStopped
from .models import Page

T = TypeVar("T")

MAX_PAGES = 2500  # 500,000 tasks in pages of 200
# Pages' worth of items beyond meta.total that a walk still reads: items may come and go while
# it goes.
MARGIN_PAGES = 2
MAX_EMPTY_PAGES = 3  # in a row, each saying there is more


def walk(
    fetch: Callable[[str], Page[T]],
    scope: CallScope,
    *,
    page_size: int,
    start: str = "",
    ahead: bool = False,
    pages: int | None = None,
) -> Iterator[Page[T]]:
    """Each page of the chain from the cursor `start` ("" for the first page), in order.

    Ends at the chain's end; raises ChainStopped, after the last page it can vouch for, when the
    chain repeats a cursor, runs past what meta.total announced (unless Blaxel said that total
    was partial), sends empty pages that promise
    more, or passes MAX_PAGES or the scope's deadline. With `ahead`, the next page is fetched
    while the caller works on the current one: one page in hand, one in flight. A caller that
    will read at most `pages` pages says so, and no page is fetched ahead beyond them.
    """
    pool = ThreadPoolExecutor(1, thread_name_prefix="blaxel-walk") if ahead else None
    bounds = _Bounds(start, page_size, scope)
    try:
        page = fetch(start)
        while True:
            following = page.next_cursor if page.has_more else ""
            stop = bounds.after(page, following)
            upcoming: Future[Page[T]] | None = None
            wanted = pages is None or bounds.pages < pages
            if following and not stop and pool is not None and wanted:
                upcoming = pool.submit(fetch, following)
            yield page
            if not following:
                return
            if stop:
                raise ChainStopped(stop)
            page = upcoming.result() if upcoming is not None else fetch(following)
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


class _Bounds:
    """What a walk has seen so far, and whether it may go on."""

    def __init__(self, start: str, page_size: int, scope: CallScope) -> None:
        self.seen = {start}
        self.page_size = page_size
        self.scope = scope
        self.pages = self.items = self.empty = 0
        self.announced: int | None = None
        self.partial = False  # a page said its total was a lower bound

    def after(self, page: Page[T], following: str) -> str:
        """Why the walk may not go on from `page` to `following`; "" when it may."""
        self.pages += 1
        self.items += len(page.items)
        self.empty = self.empty + 1 if not page.items else 0
        if page.total_is_partial:
            self.partial = True
        elif self.announced is None and page.total is not None:
            self.announced = max(page.total, 0)
        if not following:
            return ""
        if following in self.seen:
            return "Blaxel handed out the same page twice"
        self.seen.add(following)
        if self.empty >= MAX_EMPTY_PAGES:
            return "Blaxel sent empty pages that promised more"
        if (
            self.announced is not None
            and not self.partial
            and (self.items > self.announced + MARGIN_PAGES * self.page_size)
        ):
            return f"the list ran on past the {self.announced:,} items Blaxel announced"
        if self.pages >= MAX_PAGES:
            return f"the list ran past {MAX_PAGES:,} pages"
        if self.scope.remaining() <= 0:
            return "the time allowed ran out"
        return ""

"""Finding one task by name, which the API can only do through its search."""

from __future__ import annotations

from collections.abc import Callable

from .client import PageRequest
from .models import Page, Task

MAX_SEARCH = 200  # the API's longest search
PAGE_SIZE = 200


def find_task(list_tasks: Callable[[PageRequest], Page[Task]], name: str, *, max_pages: int):
    """The task called `name` (or None), reading at most `max_pages` pages of `list_tasks`.

    In name order the exact name comes before every longer name containing it; a name too long
    (or too short) to search for is looked for in the whole list instead.
    """
    term = name.strip().lower()
    search = term if 2 <= len(term) <= MAX_SEARCH and term.isprintable() else ""
    page_request = PageRequest(sort="name:asc", q=search, limit=PAGE_SIZE)
    for _ in range(max_pages):
        page = list_tasks(page_request)
        for task in page.items:
            if task.name == name:
                return task
        if not page.has_more:
            return None
        page_request = PageRequest("name:asc", search, PAGE_SIZE, page.next_cursor)
    return None

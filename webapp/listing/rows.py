"""A page of task rows made ready to render: what each row shows, worked out once, in one pass.

Rows come 200 at a time, and a template's work per value is most of a fragment's cost: here each
link is the router's own URL with the row's name written in by the router's own converter, each
time is written once, and the two cells that repeat the name and the link (the name with its
copy buttons, the conditions' disclosure) are made whole, so the template places a few strings.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache, lru_cache
from typing import NamedTuple
from urllib.parse import quote, urlencode

from markupsafe import escape
from werkzeug.routing import Map

from ..blaxel import Task
from ..common.formatting import (
    NOT_YET,
    badge,
    plural,
    relative,
    run_time,
    span,
    time_opening,
    wait_time,
)
from ..common.paths import IdConverter
from ..common.text import inert, inert_text
from ..common.urls import urls
from ..failures.causes import attempts
from .page import Listing
from .query import cursor_in_link
from .stepping import LOGS_SEARCH, Trail, steps_in

# What werkzeug's url_for leaves unquoted in a query string, so that links read the same.
QUERY_SAFE = "!$'()*,/:;?@"
PLACEHOLDER = "x"
# The converter of the app's `<id:...>` segments; what it writes depends on the name alone.
CONVERTER = IdConverter(Map())


class TaskRow(NamedTuple):
    """What a row shows, in the order the template unpacks it (a tuple, so that the template
    reads its fields without an attribute lookup each). Cells are HTML made here, every
    upstream value escaped: the template places them without escaping again."""

    status: str
    name_cell: str  # the name, a link to the task's page
    status_cell: str  # the status badge and a link to the task's logs
    created: str
    started: str
    completed: str
    run: str
    wait: str
    used: int | None  # attempts, None when the conditions do not say
    allowed: int | None
    ran_out: bool  # a failed task that used every attempt
    timeout: str  # the task's timeout, when it differs from most tasks' ("" otherwise)
    conditions_cell: str  # the key condition, and every condition behind a disclosure


NO_CONDITION = '<span class="none">—</span>'


def name_cell(name: str, shown: str, href: str) -> str:
    """The name, a link to the task's page (app.js adds its copy buttons); `shown` is the name
    made inert, `href` the link escaped, once a row."""
    # Long names are cut to the column: the whole name in the tooltip, and on the task's page.
    title = f' title="{escape(inert_text(name))}"' if len(name) > 30 else ""
    return f'<a class="task-link" href="{href}"{title}>{shown or "(unnamed)"}</a>'


def status_cell(status: str, name: str, logs: str) -> str:
    """The status badge and a link to the task's logs; `logs` the link, escaped."""
    return (
        f'{badge(status)} <a class="logs-link" href="{logs}">Logs'
        f'<span class="visually-hidden"> of {name}</span></a>'
    )


def conditions_cell(task: Task, name: str, href: str, inert: Callable[[str], str]) -> str:
    """The key condition; every condition is fetched when the disclosure opens, so that rows
    stay light to render and send: app.js follows the link inside in place (one listener for
    every row, no attributes repeated in each), without JavaScript the link opens the task's
    page. `inert` is text.inert, or a page's memo of it."""
    key = task.key_condition
    if key is None:
        return NO_CONDITION
    # Reason and message each isolated, so that neither can reorder the other.
    text = f"<bdi>{inert(key.reason or key.type)}</bdi>"
    if key.message:
        text += f": <bdi>{inert(key.message)}</bdi>"
    count = len(task.conditions)
    error = " is-error" if key.is_error else ""
    return (
        f'<details><summary><span class="condition-summary{error}">{text}</span> '
        f'<span class="condition-count">({count})</span></summary>'
        f'<div class="condition-list" data-conditions>'
        f'<a href="{href}">{conditions_count(count)} of {name}</a></div></details>'
    )


@lru_cache(maxsize=64)  # "4 conditions", for a few small counts
def conditions_count(count: int) -> str:
    return plural(count, "condition")


# A name's path segment is kept for names of up to this length (the cache stays small).
KEPT_NAME = 200


def write_segment(name: str) -> tuple[str, str]:
    """A task's name as its path segment, written by the router's own converter, and that
    segment escaped for an attribute."""
    segment = CONVERTER.to_url(name)
    return segment, str(escape(segment))


kept_segment = lru_cache(maxsize=4096)(write_segment)  # the same names, page after page


def task_rows(listing: Listing, job_id: str, execution_id: str, now: datetime) -> list[TaskRow]:
    # One URL built: the router builds the path, the converter writes each name into it.
    page = urls.task(job_id, execution_id, PLACEHOLDER)
    base = str(escape(page[: -len(PLACEHOLDER)]))
    view = escape(urlencode(listing.query.view_args(), safe=QUERY_SAFE))
    # The logs' links carry the same view, the list's search under a name of its own there.
    logs_view = escape(urlencode(Trail(listing.query).view(LOGS_SEARCH), safe=QUERY_SAFE))
    stepping = steps_in(listing.query)
    default_timeout = listing.task_defaults.timeout
    now = now.astimezone(UTC)
    # Links are escaped a part at a time (escaping works character by character): the parts
    # every row shares are escaped once.
    joined = f"{view}&amp;" if view else ""
    logs_joined = f"{logs_view}&amp;" if logs_view else ""

    # Tasks made together share their creation time: each moment is written once a page.
    @cache
    def when(moment: datetime | None) -> str:
        if moment is None:
            return NOT_YET
        return f"{time_opening(moment)}{relative(moment, now)}</time>"

    # A page's rows mostly share their upstream page's cursor: each is written once.
    @cache
    def cursor_text(cursor: str) -> str:
        return escape(quote(cursor_in_link(cursor), safe=QUERY_SAFE))

    escaped = cache(escape)  # a page's statuses are a few
    # Reasons (and often messages) repeat from task to task: each is made inert once a page.
    condition_text = cache(inert)

    rows = []
    for number, task in enumerate(listing.page.items):
        name = task.name
        status = task.status
        _, segment = kept_segment(name) if len(name) <= KEPT_NAME else write_segment(name)
        path = base + segment
        if stepping:
            where = listing.position(number)
            at = f"at={where.limit}:{where.index}:{cursor_text(where.cursor)}"
            href, logs = f"{path}?{joined}{at}", f"{path}/logs?{logs_joined}{at}"
        else:
            href = f"{path}?{view}" if view else path
            logs = f"{path}/logs?{logs_view}" if logs_view else f"{path}/logs"
        tries = attempts(task)
        shown = inert(name)
        timeout = task.timeout
        rows.append(
            TaskRow(
                escaped(status),
                name_cell(name, shown, href),
                status_cell(status, shown, logs),
                when(task.created_at),
                when(task.started_at),
                when(task.completed_at),
                span(run_time(task, now)),
                span(wait_time(task, now)),
                tries.used,
                tries.allowed,
                tries.ran_out and status == "failed",
                escape(timeout or "—") if timeout != default_timeout else "",
                conditions_cell(task, shown, href, condition_text),
            )
        )
    return rows

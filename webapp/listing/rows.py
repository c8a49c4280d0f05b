"""A page of task rows made ready to render: what each row shows, worked out once, in one pass.

Rows come 200 at a time, and a template's work per value is most of a fragment's cost: here each
link is the router's own URL with the row's name written in by the router's own converter, each
time is written once, and the two cells that repeat the name and the link (the name with its
copy buttons, the conditions' disclosure) are made whole, so the template places a few strings.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from urllib.parse import quote, urlencode

from flask import current_app
from markupsafe import Markup, escape

from ..blaxel import Task
from ..common.formatting import badge, plural, run_time, span, time_markup, wait_time
from ..common.paths import IdConverter
from ..common.text import inert, inert_text
from ..common.urls import urls
from ..failures.causes import attempts
from .page import Listing

# What werkzeug's url_for leaves unquoted in a query string, so that links read the same.
QUERY_SAFE = "!$'()*,/:;?@"
PLACEHOLDER = "x"


@dataclass(slots=True)
class TaskRow:
    """Each field is Markup (escaped here) or text the app itself made: the template places
    them without escaping again."""

    status: Markup
    name_cell: Markup  # the name, a link to the task's page
    conditions_cell: Markup  # the key condition, and every condition behind a disclosure
    status_cell: Markup  # the status badge and a link to the task's logs
    created: Markup
    started: Markup
    completed: Markup
    run: str
    wait: str
    used: int | None  # attempts, None when the conditions do not say
    allowed: int | None
    ran_out: bool  # a failed task that used every attempt
    timeout: Markup | str  # the task's timeout, when it differs from most tasks' ("" otherwise)


NO_CONDITION = Markup('<span class="none">—</span>')


def name_cell(name: str, shown: Markup, link: str) -> Markup:
    """The name, a link to the task's page (app.js adds its copy buttons); `shown` is the name
    made inert, once a row."""
    href = escape(link)
    # Long names are cut to the column: the whole name in the tooltip, and on the task's page.
    title = f' title="{escape(inert_text(name))}"' if len(name) > 30 else ""
    return Markup(f'<a class="task-link" href="{href}"{title}>{shown or "(unnamed)"}</a>')  # noqa: S704


def status_cell(task: Task, name: Markup, path: str) -> Markup:
    logs = escape(path + "/logs")
    return Markup(  # noqa: S704 - every value escaped
        f'{badge(task.status)} <a class="logs-link" href="{logs}">Logs'
        f'<span class="visually-hidden"> of {name}</span></a>'
    )


def conditions_cell(task: Task, name: Markup, link: str) -> Markup:
    """The key condition; every condition is fetched when the disclosure opens, so that rows
    stay light to render and send (without JavaScript, a link to the task's page)."""
    key = task.key_condition
    if key is None:
        return NO_CONDITION
    # Reason and message each isolated, so that neither can reorder the other.
    text = f"<bdi>{inert(key.reason or key.type)}</bdi>"
    if key.message:
        text += f": <bdi>{inert(key.message)}</bdi>"
    href, count = escape(link), len(task.conditions)
    error = " is-error" if key.is_error else ""
    return Markup(  # noqa: S704 - every value escaped above
        f'<details><summary><span class="condition-summary{error}">{text}</span> '
        f'<span class="condition-count">({count})</span></summary>'
        f'<div class="condition-list" hx-get="{href}" '
        f'hx-trigger="toggle once from:closest details" hx-swap="outerHTML">'
        f'<a href="{href}">{plural(count, "condition")} of {name}</a></div></details>'
    )


def task_rows(listing: Listing, job_id: str, execution_id: str, now: datetime) -> list[TaskRow]:
    converter = IdConverter(current_app.url_map)
    # One url_for each: the router builds the path, the converter writes each name into it.
    page = urls.task(job_id, execution_id, PLACEHOLDER)
    base = page[: -len(PLACEHOLDER)]
    view = urlencode(listing.query.view_args(), safe=QUERY_SAFE)
    stepping = not listing.query.ordered_by_app  # Blaxel cannot page in the app's own orders
    default_timeout = listing.task_defaults.timeout
    now = now.astimezone(UTC)

    # Tasks made together share their creation time: each moment is written once a page.
    @cache
    def when(moment: datetime | None) -> Markup:
        return time_markup(moment, now)

    rows = []
    for number, task in enumerate(listing.page.items):
        path = base + converter.to_url(task.name)
        query = view
        if stepping:
            at = "at=" + quote(listing.position(number).link(), safe=QUERY_SAFE)
            query = f"{view}&{at}" if view else at
        tries = attempts(task)
        link = f"{path}?{query}" if query else path
        name = inert(task.name)
        rows.append(
            TaskRow(
                escape(task.status),
                name_cell(task.name, name, link),
                conditions_cell(task, name, link),
                status_cell(task, name, path),
                when(task.created_at),
                when(task.started_at),
                when(task.completed_at),
                span(run_time(task, now)),
                span(wait_time(task, now)),
                tries.used,
                tries.allowed,
                tries.ran_out and task.status == "failed",
                escape(task.timeout or "—") if task.timeout != default_timeout else "",
            )
        )
    return rows

"""An execution: its live summary, its failure groups, its tasks (filtered, exported) and each
task's own page."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import replace

from flask import (
    Blueprint,
    Response,
    current_app,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from werkzeug.datastructures import MultiDict

from ..blaxel import Execution, Page, PageRequest, Session, Task, UpstreamError
from ..common.errors import QueryError
from ..common.services import now, settings
from ..common.upstream import blaxel, export_session, find_task
from ..failures.causes import Cause, cause_of
from ..failures.triage import Triage
from ..health.bottleneck import bottleneck
from ..health.timeline import MOST_TASKS, timeline
from ..runs import shown as runs
from ..web.limits import take_heavy_share
from . import export
from .cursors import CursorSigner
from .filtered import SALT, UPSTREAM_LIMIT, FilteredPage, counted_out, filtered_tasks, task_filter
from .gather import SALT as SLOWEST_SALT
from .gather import app_ordered, gather_tasks
from .grouped import group_page
from .page import (
    Listing,
    StatusCounts,
    fetch_or_restart,
    is_fragment,
    rows_response,
    view_changed,
)
from .query import FAILED_FIRST, TASKS, ListQuery
from .rows import task_rows
from .stepping import Position, steps

bp = Blueprint("tasks", __name__)
BASE = "/jobs/<id:job_id>/executions/<id:execution_id>"


@bp.get(BASE)
def execution(job_id: str, execution_id: str) -> Response:
    return redirect(url_for(".index", job_id=job_id, execution_id=execution_id))


@bp.get(BASE + "/tasks")
def index(job_id: str, execution_id: str) -> Response | str:
    query = ListQuery.parse(request.args, TASKS)
    api = blaxel()
    if request.args.get("view"):
        return timeline_view(api, job_id, execution_id, query)
    fragment = is_fragment()
    # The rows alone bring the chips' counts when the controls changed or a walk goes on.
    refill = view_changed() or query.filtered

    def read_execution() -> Execution | None:
        if not fragment:
            return api.get_execution(job_id, execution_id)
        return counted_execution(api, job_id, execution_id) if refill else None

    found, (page, query, notice) = rows_beside(api, job_id, execution_id, query, read_execution)
    if found is not None and found.status == "failed":
        # A failed execution opens failed first (a status or a failure group already picks the
        # tasks: those keep Blaxel's order); its links name their order from then on.
        if "sort" not in request.args and not fragment and not query.filtered:
            take_heavy_share()
            query = replace(query, sort=FAILED_FIRST)
            page, query, restarted = fetch_or_restart(task_pages(api, job_id, execution_id), query)
            notice = notice or restarted
        query = replace(query, sort_named=True)
    if page.total_is_partial:
        # Blaxel's count is a lower bound: the execution's own (mostly cached) says how many.
        page = counted(page, found or counted_execution(api, job_id, execution_id))
    listing = Listing.of_request(query, page, notice, export_endpoint="tasks.download")
    tally = StatusCounts.of(found, listing.scan) if found is not None else None
    context = {
        "rows": task_rows(listing, job_id, execution_id, now()),
        "job_id": job_id,
        "execution_id": execution_id,
        "cause": shown_cause(api, job_id, execution_id, query, page),
    }
    if fragment:
        return rows_response("_task_rows.html", listing, refill=tally, **context)
    # The whole page also shows the execution: its summary and the status chips.
    context.update(execution=found, tally=tally, chips=None, refill=None)
    return render_template("tasks.html", listing=listing, **context)


def timeline_view(api: Session, job_id: str, execution_id: str, query: ListQuery) -> str:
    """The execution's tasks over time: the whole execution (its newest MOST_TASKS, unless
    `span=all`) as far as the bounded walk has read it (each request reads on; read pages are
    kept), or those of the list's page (`span=page`)."""
    if request.args.get("view") != "timeline":
        raise QueryError(["“view” can only be “timeline”."])
    span = request.args.get("span", "")
    if span not in ("", "all", "page"):
        raise QueryError(["“span” can only be “all” (every task) or “page” (the list's page)."])
    moment = now()
    execution = api.get_execution(job_id, execution_id)
    cause = None
    if span == "page":
        gathered = None
        page, query, _ = fetch_or_restart(task_pages(api, job_id, execution_id), query)
        tasks = list(page.items)
    else:
        upto = None if span == "all" else MOST_TASKS
        budget = settings().scan_budget
        gathered = gather_tasks(
            api, job_id, execution_id, search=query.search, budget=budget, upto=upto
        )
        tasks = list(filter(task_filter(query), gathered.tasks))
        # What set the run time: said of a finished execution's every task, not of a part.
        whole = gathered.complete and not (gathered.stopped or query.filtered or query.search)
        if whole and execution.is_finished:
            cause = bottleneck(gathered.tasks, execution.parallelism)
    links = Listing.links_only(query, "tasks.index", job_id=job_id, execution_id=execution_id)
    # Thousands of rows link to their task: one url_for, the name appended in the template.
    task_base = url_for(".task", job_id=job_id, execution_id=execution_id, task_name="-")[:-1]
    return render_template(
        "_timeline.html" if is_fragment() else "timeline.html",
        chart=timeline(tasks, moment),
        cause=cause,
        tasks=tasks,
        span=span,
        gathered=gathered,
        execution=execution,
        job_id=job_id,
        execution_id=execution_id,
        links=links,
        task_base=task_base,
    )


def rows_beside(
    api: Session,
    job_id: str,
    execution_id: str,
    query: ListQuery,
    execution: Callable[[], Execution | None],
) -> tuple[Execution | None, tuple[Page[Task] | FilteredPage, ListQuery, str]]:
    """The execution and the page of rows, asked side by side; except that a status filter
    waits for the execution, since a finished one's counts may answer it without a walk."""
    rows = task_pages(api, job_id, execution_id)
    if not query.statuses:
        found, fetched = api.together(execution, lambda: fetch_or_restart(rows, query))
        return found, fetched
    found = execution()
    empty = counted_out(found, query) if found is not None else None
    if empty is not None:
        return found, (empty, query, "")
    return found, fetch_or_restart(rows, query)


def task_pages(
    api: Session, job_id: str, execution_id: str
) -> Callable[[ListQuery], Page[Task] | FilteredPage]:
    """How a view's page is fetched: Blaxel's own page, or, for a filter or an order it cannot
    apply, the app's bounded walk. Made here, where the app's settings are at hand, so that the
    fetch can run beside other calls."""
    budget = settings().scan_budget
    secret = current_app.config["SECRET_KEY"]
    moment = now()

    def fetch(query: ListQuery) -> Page[Task] | FilteredPage:
        if query.ordered_by_app:
            signer = CursorSigner(secret, SLOWEST_SALT)
            return app_ordered(
                api, job_id, execution_id, query, budget=budget, signer=signer, now=moment
            )
        if not query.filtered:
            return api.list_tasks(job_id, execution_id, query.page_request())
        signer = CursorSigner(secret, SALT)
        if query.cause and not (query.statuses or query.search):
            # A failure group's members, as its walk recorded them: no scan.
            saved = api.recall("triage", (job_id, execution_id))
            walked = Triage.from_json(saved) if saved is not None else None
            found = walked and group_page(api, job_id, execution_id, query, walked, signer=signer)
            if found:
                return found
        return filtered_tasks(api, job_id, execution_id, query, budget=budget, signer=signer)

    return fetch


def counted(page: Page[Task] | FilteredPage, execution: Execution | None):
    """The page, its total taken from the execution's own count of its tasks when Blaxel's
    count for the listing is only a lower bound."""
    size = execution.task_count if execution is not None else None
    return page.counted(size) if page.total_is_partial and size is not None else page


def counted_execution(api: Session, job_id: str, execution_id: str) -> Execution | None:
    """The execution for the chips' counts; without it the rows still come, counts unchanged."""
    try:
        return api.get_execution(job_id, execution_id)
    except UpstreamError:
        return None


def shown_cause(
    api: Session, job_id: str, execution_id: str, query: ListQuery, page: Page[Task] | FilteredPage
) -> Cause | None:
    """The failure group a `cause=` view shows, in words: from the shared groups, else from
    a task of the group."""
    if not query.cause:
        return None
    saved = api.recall("triage", (job_id, execution_id))
    known = Triage.from_json(saved).cause(query.cause) if saved is not None else None
    return known or next((cause_of(task) for task in page.items), None)


@bp.get(BASE + "/triage")
def failure_groups(job_id: str, execution_id: str) -> str:
    """The execution's failed and retried tasks grouped by cause: the panel above the rows, or,
    without JavaScript, a page of its own."""
    # The group the rows below show, marked in the panel.
    chosen = ListQuery.parse(request.args, TASKS).cause
    api = blaxel()
    execution = api.get_execution(job_id, execution_id)
    lifetime = settings().cache_final_ttl if execution.is_finished else settings().cache_ttl
    budget = settings().scan_budget
    # Kept digests answer a finished execution; the job's past runs are read on after it.
    groups, past = runs.failure_groups(
        api, (job_id, execution_id), execution, budget=budget, lifetime=lifetime
    )
    query = ListQuery.parse(MultiDict(), TASKS)
    links = Listing.links_only(query, "tasks.index", job_id=job_id, execution_id=execution_id)
    return render_template(
        "_triage.html" if is_fragment() else "triage.html",
        triage=groups,
        chosen=chosen,
        past=past,
        execution=execution,
        job_id=job_id,
        execution_id=execution_id,
        links=links,
    )


@bp.get(BASE + "/tasks.<any(csv, json):fmt>")
def download(job_id: str, execution_id: str, fmt: str) -> Response:
    """The task view's rows over the whole execution, streamed; a page's worth at a time."""
    query = ListQuery.parse(request.args, TASKS)
    session = export_session()
    # An order the app makes itself is not kept: the export streams in Blaxel's own order.
    sort = TASKS.default_sort if query.ordered_by_app else query.sort
    start = PageRequest(sort, query.search, UPSTREAM_LIMIT)
    pages = session.walk_tasks(job_id, execution_id, start, ahead=True)
    # The first upstream call happens now, so its failure is still an ordinary error page.
    first = next(pages)
    name = export.filename(job_id, execution_id, fmt, now())
    return Response(
        stream_with_context(
            export.stream(fmt, itertools.chain([first], pages), task_filter(query))
        ),
        content_type=export.MEDIA_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@bp.get(BASE + "/tasks/<id:task_name>")
def task(job_id: str, execution_id: str, task_name: str) -> str:
    """One task with every condition: a page of its own (with the view's tasks before and after
    it, when its link said where it stands), or the list a row's disclosure loads."""
    api = blaxel()
    budget = settings().scan_budget
    if is_fragment():
        return render_template(
            "_condition_list.html", task=find_task(api, job_id, execution_id, task_name)
        )
    query = ListQuery.parse(request.args, TASKS)
    at = Position.parse(request.args.get("at", ""))
    back = Position.parse(request.args.get("back", ""))
    around = None
    if at is not None and not query.ordered_by_app:
        around = steps(api, job_id, execution_id, query, task_name, at, back, budget=budget)
    found = around.task if around is not None else find_task(api, job_id, execution_id, task_name)
    listing = Listing.links_only(query, "tasks.index", job_id=job_id, execution_id=execution_id)
    return render_template(
        "task.html",
        task=found,
        steps=around,
        listing=listing,
        job_id=job_id,
        execution_id=execution_id,
    )


@bp.get(BASE + "/summary")
def summary(job_id: str, execution_id: str) -> Response | str:
    """The live summary fragment that an unfinished execution's page polls."""
    if not is_fragment():
        return redirect(url_for(".index", job_id=job_id, execution_id=execution_id))
    execution = blaxel().get_execution(job_id, execution_id)
    chips = None
    # The timeline's page has no status chips to refill.
    if execution.stats.total and request.args.get("view") != "timeline":
        # The poll sends the controls form: the chips' count links keep its search and sort.
        try:
            query = ListQuery.parse(request.args, TASKS)
        except QueryError:
            query = ListQuery.parse(MultiDict(), TASKS)
        chips = Listing.links_only(query, "tasks.index", job_id=job_id, execution_id=execution_id)
    return render_template(
        "_execution_summary.html",
        execution=execution,
        job_id=job_id,
        execution_id=execution_id,
        chips=chips,
        tally=StatusCounts.of(execution, None),
    )

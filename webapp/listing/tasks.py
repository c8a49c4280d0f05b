"""An execution: its live summary, its failure groups, its tasks (filtered, exported) and each
task's own page."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace

from flask import (
    Blueprint,
    Response,
    current_app,
    redirect,
    render_template,
    request,
    stream_with_context,
)
from werkzeug.datastructures import MultiDict

from ..blaxel import ErrorKind, Execution, Page, PageRequest, Session, Task, UpstreamError
from ..common.errors import QueryError
from ..common.services import now, settings
from ..common.upstream import blaxel, export_session, find_task
from ..common.urls import urls
from ..failures.causes import Cause, cause_of
from ..failures.triage import Triage
from ..health.bottleneck import bottleneck
from ..health.timeline import MOST_TASKS, timeline
from ..runs import shown as runs
from ..runs.kept import Digests
from ..web.limits import take_heavy_share
from . import export
from .filtered import (
    UPSTREAM_LIMIT,
    FilteredPage,
    TaskSource,
    counted_out,
    filtered_tasks,
    task_filter,
)
from .gather import app_ordered, gather_tasks
from .grouped import group_page
from .page import (
    Listing,
    StatusCounts,
    is_fragment,
    rows_response,
    shown,
    view_changed,
)
from .query import FAILED_FIRST, TASKS, ListQuery
from .rows import task_rows
from .stepping import StepLinks, Trail, steps

bp = Blueprint("tasks", __name__)
BASE = "/jobs/<id:job_id>/executions/<id:execution_id>"


@bp.get(BASE)
def execution(job_id: str, execution_id: str) -> Response:
    return redirect(urls.execution(job_id, execution_id))


@bp.get(BASE + "/tasks")
def index(job_id: str, execution_id: str) -> Response | str:
    query = ListQuery.parse(request.args, TASKS)
    api = blaxel()
    if request.args.get("view"):
        return timeline_view(api, job_id, execution_id, query)
    fragment = is_fragment()
    pages = TaskPages.of(api, job_id, execution_id)
    # The rows alone bring the chips' counts when the controls changed or a walk goes on.
    refill = view_changed() or query.filtered
    found, (page, query, notice) = rows_beside(pages, query, whole=not fragment, counts=refill)
    if found is not None and found.status == "failed":
        # A failed execution opens failed first (a status or a failure group already picks the
        # tasks: those keep Blaxel's order); its links name their order from then on.
        if "sort" not in request.args and not fragment and not query.filtered:
            take_heavy_share()
            query = replace(query, sort=FAILED_FIRST)
            page, query, restarted = shown(pages, query)
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
    pages = TaskPages.of(api, job_id, execution_id)
    execution = api.get_execution(job_id, execution_id)
    cause = None
    if span == "page":
        gathered = None
        page, query, _ = shown(pages, query)
        tasks = list(page.items)
    else:
        upto = None if span == "all" else MOST_TASKS
        gathered = gather_tasks(pages, search=query.search, upto=upto)
        tasks = list(filter(task_filter(query), gathered.tasks))
        # What set the run time: said of a finished execution's every task, not of a part.
        whole = gathered.complete and not (gathered.stopped or query.filtered or query.search)
        if whole and execution.is_finished:
            cause = bottleneck(gathered.tasks, execution.parallelism)
    links = Listing.links_only(query, "tasks.index", job_id=job_id, execution_id=execution_id)
    # Thousands of rows link to their task: one url_for, the name appended in the template.
    task_base = urls.task(job_id, execution_id, "-")[:-1]
    return render_template(
        "_timeline.html" if is_fragment() else "timeline.html",
        chart=timeline(tasks, pages.moment),
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
    pages: TaskPages, query: ListQuery, *, whole: bool, counts: bool
) -> tuple[Execution | None, tuple[Page[Task] | FilteredPage, ListQuery, str]]:
    """The execution and the page of rows, asked side by side; except that a status filter
    waits for the execution, since a finished one's counts may answer it without a walk."""

    def execution() -> Execution | None:
        # The whole page needs the execution; the rows alone only for the chips' counts, if at hand.
        if whole:
            return pages.api.get_execution(pages.job_id, pages.execution_id)
        return counted_execution(pages.api, pages.job_id, pages.execution_id) if counts else None

    if not query.statuses:
        found, fetched = pages.api.together(execution, lambda: shown(pages, query))
        return found, fetched
    found = execution()
    empty = counted_out(found, query) if found is not None else None
    if empty is not None:
        return found, (empty, query, "")
    return found, shown(pages, query)


@dataclass(frozen=True)
class TaskPages(TaskSource):
    """How a view's page is read: Blaxel's own page, or, for a filter or an order it cannot
    apply, the app's bounded walk. Made in the request, where the app's settings are at hand,
    so that it can run beside other calls."""

    kept: Digests  # the runs remembered: a group's members once the walk's record is gone

    @classmethod
    def of(cls, api: Session, job_id: str, execution_id: str) -> TaskPages:
        secret = current_app.config["SECRET_KEY"]
        budget, kept = settings().scan_budget, runs.digests()
        return cls(api, job_id, execution_id, budget, secret, now(), kept)

    def page(self, query: ListQuery) -> Page[Task] | FilteredPage:
        api, job_id, execution_id = self.api, self.job_id, self.execution_id
        if query.ordered_by_app:
            return app_ordered(self, query)
        if not query.filtered:
            return api.list_tasks(job_id, execution_id, query.page_request())
        if query.cause and not (query.statuses or query.search):
            # A failure group's members, as its walk recorded them (shared while the walk is
            # fresh, then in the run's digest): no scan.
            saved = api.recall("triage", (job_id, execution_id))
            digest = self.kept.get(job_id, execution_id) if saved is None else None
            walked = Triage.from_json(saved) if saved is not None else digest and digest.triage()
            try:
                found = walked and group_page(self, query, walked)
            except UpstreamError as error:
                # A page's cursor kept from long ago may have expired: scan instead.
                if error.kind is not ErrorKind.REJECTED:
                    raise
                found = None
            if found:
                return found
        return filtered_tasks(self, query)


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
    trail = Trail.parse(request.args)
    around = None
    if trail.stepping:
        around = steps(api, job_id, execution_id, trail, task_name, budget=budget)
    found = around.task if around is not None else find_task(api, job_id, execution_id, task_name)
    listing = Listing.links_only(
        trail.query, "tasks.index", job_id=job_id, execution_id=execution_id
    )

    def task_url(name: str, args: dict[str, str | int]) -> str:
        return urls.task(job_id, execution_id, name, **args)

    links = StepLinks.of(around, trail, task_url, listing.url(trail.query))
    return render_template(
        "task.html",
        task=found,
        steps=links,
        trail=trail,
        listing=listing,
        job_id=job_id,
        execution_id=execution_id,
    )


@bp.get(BASE + "/summary")
def summary(job_id: str, execution_id: str) -> Response | str:
    """The live summary fragment that an unfinished execution's page polls."""
    if not is_fragment():
        return redirect(urls.execution(job_id, execution_id))
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

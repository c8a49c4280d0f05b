"""A task's logs beside its row: the page, earlier lines, following, and the download."""

from __future__ import annotations

import itertools
import math
from dataclasses import replace

from flask import (
    Blueprint,
    Response,
    make_response,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)

from ..blaxel import Task, UpstreamError
from ..blaxel.logs import MAX_LIMIT, follow_since
from ..common import services
from ..common.errors import QueryError
from ..common.services import now, settings
from ..common.upstream import blaxel, export_session, find_task
from ..common.urls import urls
from ..listing.page import is_fragment, view_changed
from ..listing.stepping import LOGS_SEARCH, StepLinks, Trail, steps
from . import text as logtext
from .hits import ExecutionLogs
from .query import LogQuery, url_time
from .search import SearchQuery, search, searched_first, task_records
from .view import LogProblem, LogView

bp = Blueprint("logs", __name__)
EXECUTION = "/jobs/<id:job_id>/executions/<id:execution_id>"
TASK = EXECUTION + "/tasks/<id:task_name>"


@bp.get(EXECUTION + "/logs")
def search_page(job_id: str, execution_id: str) -> tuple[str, int]:
    """Every task's lines of the execution (or of one failure group) containing `q`: the hits
    grouped by task, a count each, each task's newest hits linked at their line."""
    query = SearchQuery.parse(request.args)
    api = blaxel()
    execution = api.get_execution(job_id, execution_id)
    ids = (job_id, execution_id)
    lifetime = settings().cache_final_ttl if execution.is_finished else settings().cache_ttl
    records, walked = task_records(
        api,
        services.services().digests,
        ids,
        execution,
        budget=settings().scan_budget,
        lifetime=lifetime,
    )
    group = walked.cause(query.cause) if query.cause else None
    if query.cause and group is None and walked.complete:
        raise QueryError([f"This execution has no failure group “{query.cause[:80]}”."])
    page = ExecutionLogs(
        job_id, execution_id, query, group, len(records), walked.total, walked.complete
    )
    if query.q:
        tasks = searched_first(records, query.cause)
        try:
            found = search(api, execution, ids, query, tasks, now(), api.scope.remaining)
            page = replace(page, found=found)
        except UpstreamError as error:
            page = replace(page, problem=LogProblem.of(error))
    return render_template("execution_logs.html", page=page), page.status


@bp.get(TASK + "/logs")
def page(job_id: str, execution_id: str, task_name: str) -> Response:
    """The task's lines, newest page first; for htmx (the controls), the panel alone, and the
    links to the list's tasks before and after, which keep the new filters. Opened from a list,
    the page carries it (its trail), so that those tasks' logs are a step away."""
    query = LogQuery.parse(request.args)
    trail = Trail.parse(request.args, LOGS_SEARCH)
    api = blaxel()
    fragment = is_fragment()
    around = None
    if trail.stepping and (view_changed() or not fragment):
        budget = settings().scan_budget
        around = steps(api, job_id, execution_id, trail, task_name, budget=budget)
    task = around.task if around is not None else find_task(api, job_id, execution_id, task_name)
    view = read(job_id, execution_id, task, query, trail)
    stepped = query.stepped().url_args()

    def logs_url(name: str, args: dict[str, str | int]) -> str:
        return urls.logs(job_id, execution_id, name, **stepped, **args)

    links = StepLinks.of(around, trail, logs_url, view.list_url, LOGS_SEARCH)
    template = "_log_view.html" if fragment else "logs.html"
    body = render_template(template, view=view, steps=links)
    if fragment and around is not None:
        body += render_template("_task_steps.html", steps=links, oob=True)
    response = make_response(body, view.status)
    if is_fragment() and view_changed():
        response.headers["HX-Push-Url"] = view.url
    if view.problem and view.problem.retry_after is not None:
        response.headers["Retry-After"] = str(max(1, math.ceil(view.problem.retry_after)))
    return response


@bp.get(TASK + "/logs/lines")
def lines(job_id: str, execution_id: str, task_name: str) -> Response | tuple[str, int]:
    """Earlier lines, for htmx to put above those shown."""
    query = LogQuery.parse(request.args)
    if not is_fragment():
        return redirect(page_url(query))
    task = find_task(blaxel(), job_id, execution_id, task_name)
    view = read(job_id, execution_id, task, query)
    return render_template("_log_lines.html", view=view), view.status


@bp.get(TASK + "/logs/follow")
def follow(job_id: str, execution_id: str, task_name: str) -> Response | str:
    """A follow poll: the lines from `since` on (those already shown included, which app.js
    drops by key), the next poll or the end of following, and the task's state."""
    query = LogQuery.parse(request.args)
    if not is_fragment():
        return redirect(page_url(query))
    api = blaxel()
    task = find_task(api, job_id, execution_id, task_name)
    shown = LogView.of(job_id, execution_id, task, query, now())
    polled = shown.following_from(query.since or follow_since(shown.now))
    # A failure here goes to the error handler: the poll keeps its lines and says why.
    polled = polled.with_page(api.task_logs(polled.request))
    return render_template("_log_follow_poll.html", view=shown, polled=polled)


@bp.get(TASK + "/logs.txt")
def download(job_id: str, execution_id: str, task_name: str) -> Response:
    """Every line of the view's window, oldest first, streamed a page at a time."""
    query = LogQuery.parse(request.args).view()
    session = export_session()
    task = find_task(session, job_id, execution_id, task_name)
    view = LogView.of(job_id, execution_id, task, query, now(), limit=MAX_LIMIT)
    batches = session.walk_logs(view.request, settled=view.settled)
    # The first upstream call happens now, so its failure is still an ordinary error page.
    first = next(batches)
    heading = (
        f"Logs of task {task.name} of execution {execution_id} of job {job_id}, "
        f"{url_time(view.window.start)} to {url_time(view.window.end)}, oldest first"
        + (f"; severity {', '.join(query.severities)}" if query.severities else "")
        + (f"; lines containing “{query.q}”" if query.q else "")
    )
    name = logtext.filename(job_id, execution_id, task.name, view.now)
    body = logtext.text_lines(heading, itertools.chain([first], batches), view.request.one_severity)
    return Response(
        stream_with_context(body),
        content_type="text/plain; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def read(
    job_id: str, execution_id: str, task: Task, query: LogQuery, trail: Trail | None = None
) -> LogView:
    """The view with its page of lines or, when the logs call fails, the reason in words: the
    rest of the page does not depend on it."""
    api = blaxel()
    view = LogView.of(job_id, execution_id, task, query, now(), trail=trail)
    try:
        counting = view.counting_from(query.at) if query.at else None
        if counting is not None:
            view = view.placed(api.task_logs(counting, settled=view.settled).total)
        return view.with_page(api.task_logs(view.request, settled=view.settled))
    except UpstreamError as error:
        return view.with_problem(error)


def page_url(query: LogQuery) -> str:
    """The page of this request's task, for a fragment's URL opened as a page."""
    return url_for(".page", **(request.view_args or {}), **query.url_args())

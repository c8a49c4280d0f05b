"""The simulator's WSGI app: the four read endpoints of the Blaxel jobs API, errors included,
the task logs the official CLI reads (logs.py), and the one write the web app makes: cancelling
an execution, allowed to the keys given the jobs:delete scope."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from flask import Blueprint, Flask, Response, current_app, g, jsonify, request
from werkzeug.exceptions import HTTPException

from webapp.simulator import cursor, data, logs
from webapp.simulator.latency import Latency

DEMO_WORKSPACE = "demo"
EARLIEST_VERSION = date(2026, 4, 16)
PAGINATED_VERSION = date(2026, 4, 28)
VERSION_FORMAT = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
SORTS = ("createdAt:desc", "createdAt:asc", "name:asc", "name:desc")
JOB_STATUSES = (
    "DELETING", "TERMINATED", "FAILED", "DEACTIVATED", "DEACTIVATING", "UPLOADING", "BUILDING",
    "DEPLOYING", "DEPLOYED", "BUILT",
)  # fmt: skip
MAX_QUERY = 200
# Listings count at most this many items, as Blaxel bounds counting on a large workspace: past
# it, `total` is this lower bound and `totalIsPartial` says so (the 5,000-task execution's list).
COUNTED = 1000
CURSOR_REJECTED = "cursor is invalid, expired or bound to another query"
DOCS = "https://docs.blaxel.ai/api-reference/introduction"
ADVICE = {  # code: (retryable, action, do_not, docs_url)
    "AUTHENTICATION_REQUIRED": (
        False,
        "Send an API key as 'Authorization: Bearer <key>' (the simulator accepts any key)",
        "Do not retry without credentials",
        f"{DOCS}#authentication",
    ),
    "BAD_REQUEST": (
        False,
        "Fix the query parameter named in the message and send the request again",
        "Do not retry the same request unchanged",
        f"{DOCS}#pagination",
    ),
    "WORKLOAD_NOT_FOUND": (
        False,
        "Check the job name and execution id: GET /jobs and GET /jobs/{jobId}/executions list them",
        "Do not retry: the resource does not exist in this workspace",
        "https://docs.blaxel.ai/Jobs/Overview",
    ),
    "NOT_FOUND": (
        False,
        "Check the path: this API serves /v0/jobs and below",
        "Do not retry the same path",
        DOCS,
    ),
    "FORBIDDEN": (
        False,
        "Use an API key with the jobs:delete scope to cancel executions",
        "Do not retry with the same key",
        f"{DOCS}#authentication",
    ),
    "METHOD_NOT_ALLOWED": (
        False,
        "Use GET, or DELETE on an execution to cancel it",
        "Do not retry with the same method",
        DOCS,
    ),
    "INTERNAL_ERROR": (True, "Retry after a short delay", "Do not retry in a tight loop", DOCS),
}
HTTP_CODES = {400: "BAD_REQUEST", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}

v0 = Blueprint("v0", __name__, url_prefix="/v0")


class ApiError(Exception):
    """An error answered with the structured body."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class VersionError(Exception):
    """An error answered with the short body, as the API does for version problems."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


@dataclass(frozen=True)
class Simulator:
    clock: Callable[[], datetime]
    secret: bytes
    anchor: datetime
    latency: Latency | None = None  # None: answer at once
    # Keys with the jobs:delete scope; any other key reads, and is refused a cancel.
    write_tokens: frozenset[str] = frozenset()
    # Executions cancelled so far (see data.Cancels), changed under the lock.
    cancels: dict[tuple[str, str], datetime] = field(default_factory=dict)
    cancelling: threading.Lock = field(default_factory=threading.Lock)


@dataclass(frozen=True)
class ListQuery:
    """One listing request's page parameters, validated and normalized."""

    sort: str
    q: str
    limit: int
    offset: int
    bound_to: str  # the fingerprint of the query its cursors are valid for


def create_simulator(
    clock: Callable[[], datetime] | None = None,
    secret: bytes = b"blaxel-simulator-demo",
    latency: Latency | None = None,
    write_tokens: Iterable[str] = (),
) -> Flask:
    """The simulator as a WSGI app serving /v0; `clock` returns aware UTC datetimes; with a
    `latency`, it answers as slowly as that model of Blaxel says; `write_tokens` may cancel."""
    clock = clock or (lambda: datetime.now(UTC))
    app = Flask(__name__, static_folder=None)
    anchor = clock().astimezone(UTC).replace(second=0, microsecond=0)
    tokens = frozenset(filter(None, write_tokens))
    app.extensions["simulator"] = Simulator(clock, secret, anchor, latency, tokens)
    app.register_blueprint(v0)
    app.register_error_handler(ApiError, _api_error)
    app.register_error_handler(VersionError, _version_error)
    app.register_error_handler(HTTPException, _http_error)
    return app


@v0.before_request
def _authenticate() -> None:
    if not _has_bearer_token():
        message = "Missing credentials: send 'Authorization: Bearer <API key>'"
        raise ApiError(401, "AUTHENTICATION_REQUIRED", message)
    g.workspace = request.headers.get("X-Blaxel-Workspace") or _arg("workspace") or DEMO_WORKSPACE
    g.paginated = _version() >= PAGINATED_VERSION
    if request.endpoint != "v0.list_tasks":  # which takes its own, by the events it reads
        _take_time()


def _take_time(events_scanned: int = 0) -> None:
    """Answer as late as the latency model says, if there is one."""
    latency = _simulator().latency
    if latency is not None:
        latency.wait(events_scanned)


@v0.get("/jobs")
def list_jobs() -> Response:
    statuses = _statuses()
    found = data.jobs(_simulator().anchor, g.workspace)
    if not g.paginated:  # older versions validate `status` but ignore it
        return jsonify(_ordered(found, SORTS[0]))
    query = _list_query("jobs", status=",".join(statuses), default_limit=50, max_limit=200)
    tail = _anchor_end(query)
    matches = [
        job
        for job in found
        if (not statuses or job["status"] in statuses) and _matches(query.q, job)
    ]
    return _page(_ordered(matches, query.sort), query, total=len(found), tail=tail)


@v0.get("/jobs/<job>/executions")
def list_executions(job: str) -> Response:
    if not g.paginated:
        offset, limit = _offset(), _limit(default=20, maximum=100)
        return jsonify(_ordered(_executions(job), SORTS[0])[offset : offset + limit])
    query = _list_query("executions", job, default_limit=20, max_limit=100)
    found = _executions(job)
    matches = [execution for execution in found if query.q in execution["metadata"]["id"].lower()]
    return _page(_ordered(matches, query.sort, name="id"), query, total=len(found))


@v0.get("/jobs/<job>/revisions")
def list_job_revisions(job: str) -> Response:
    """ListJobRevisions: a bare array of RevisionMetadata, not paginated."""
    found = data.revisions(_simulator().anchor, job)
    if found is None:
        raise _not_found(job)
    return jsonify(found)


@v0.get("/jobs/<job>/executions/<execution_id>")
def get_execution(job: str, execution_id: str) -> Response:
    simulator = _simulator()
    found = data.execution(
        simulator.anchor, job, execution_id, simulator.clock(), g.workspace, simulator.cancels
    )
    if found is None:
        raise _not_found(job, execution_id)
    return jsonify(found)


@v0.delete("/jobs/<job>/executions/<execution_id>")
def cancel_execution(job: str, execution_id: str) -> Response:
    """Cancel a queued or running execution: "cancelling" at once, "cancelled" a little later,
    its tasks still under way cancelled then."""
    simulator = _simulator()
    if _bearer_token() not in simulator.write_tokens:
        raise ApiError(403, "FORBIDDEN", "this API key lacks the jobs:delete scope")
    with simulator.cancelling:
        now = simulator.clock()
        found = data.execution(
            simulator.anchor, job, execution_id, now, g.workspace, simulator.cancels
        )
        if found is None:
            raise _not_found(job, execution_id)
        if found["status"] not in ("queued", "running"):
            message = f"execution '{execution_id}' is {found['status']}: only a queued or "
            raise _bad_request(message + "running execution can be cancelled")
        simulator.cancels[(job, execution_id)] = now
        found = data.execution(
            simulator.anchor, job, execution_id, now, g.workspace, simulator.cancels
        )
    return jsonify(found)


@v0.get("/jobs/<job>/executions/<execution_id>/tasks")
def list_tasks(job: str, execution_id: str) -> Response:
    if not g.paginated:
        message = "ListJobExecutionTasks requires Blaxel-Version 2026-04-28 or later"
        raise VersionError("unsupported_api_version", message)
    query = _list_query("tasks", job, execution_id, default_limit=50, max_limit=200)
    simulator = _simulator()
    found = data.tasks(simulator.anchor, job, execution_id, simulator.clock(), simulator.cancels)
    if found is None:
        raise _not_found(job, execution_id)
    # Every call reads the execution's whole event history, whatever the page asked for.
    _take_time(sum(len(task["conditions"]) for task in found))
    matches = [task for task in found if query.q in task["metadata"]["name"].lower()]
    return _page(_ordered(matches, query.sort), query, total=len(found))


@v0.get("/observability/logs")
def task_logs() -> Response:
    try:
        query = logs.LogsQuery.parse(request.args)
    except logs.BadQuery as error:
        raise _bad_request(str(error)) from None
    simulator = _simulator()
    return jsonify(logs.answer(query, simulator.anchor, simulator.clock(), g.workspace))


def _executions(job: str) -> list[dict]:
    simulator = _simulator()
    found = data.executions(
        simulator.anchor, job, simulator.clock(), g.workspace, simulator.cancels
    )
    if found is None:
        raise _not_found(job)
    return found


def _list_query(
    endpoint: str,
    job: str = "",
    execution: str = "",
    status: str = "",
    *,
    default_limit: int,
    max_limit: int,
) -> ListQuery:
    sort = _arg("sort") or SORTS[0]
    if sort not in SORTS:
        raise _bad_request(f"sort must be one of {', '.join(SORTS)}")
    q = _arg("q")
    if len(q) > MAX_QUERY:
        raise _bad_request(f"q must be at most {MAX_QUERY} characters")
    q = q.strip().lower()
    q = q if len(q) >= 2 else ""  # shorter searches fall back to the whole listing
    limit = _limit(default_limit, max_limit)
    bound_to = cursor.fingerprint(g.workspace, endpoint, job, execution, sort, q, status)
    return ListQuery(sort, q, limit, _cursor_offset(bound_to), bound_to)


def _cursor_offset(bound_to: str) -> int:
    token = _arg("cursor")
    if not token:
        return 0
    simulator = _simulator()
    try:
        return cursor.redeem(token, bound_to, simulator.clock(), simulator.secret)
    except cursor.CursorError:
        raise _bad_request(CURSOR_REJECTED) from None


def _page(items: list[dict], query: ListQuery, total: int, tail: bool = False) -> Response:
    start = max(0, len(items) - query.limit) if tail else query.offset
    end = start + query.limit
    more = end < len(items)
    simulator = _simulator()
    next_cursor = (
        cursor.issue(end, query.bound_to, simulator.clock(), simulator.secret) if more else ""
    )
    meta = {"hasMore": more, "nextCursor": next_cursor, "total": min(total, COUNTED)}
    if total > COUNTED:
        meta["totalIsPartial"] = True
    return jsonify(data=list(items[start:end]), meta=meta)


def _ordered(items: list[dict] | tuple[dict, ...], sort: str, name: str = "name") -> list[dict]:
    """Items in `sort` order; ties keep the data's order, and desc is exactly asc reversed."""
    field, direction = sort.split(":")
    key = "createdAt" if field == "createdAt" else name
    ordered = sorted(items, key=lambda item: item["metadata"][key])
    return ordered[::-1] if direction == "desc" else ordered


def _matches(q: str, job: dict) -> bool:
    """Whether the job's name, display name or a label key or value contains q."""
    metadata = job["metadata"]
    labels = metadata.get("labels", {})
    words = [metadata["name"], metadata.get("displayName", ""), *labels, *labels.values()]
    return any(q in word.lower() for word in words)


def _anchor_end(query: ListQuery) -> bool:
    anchor = _arg("anchor")
    if anchor and anchor != "end":
        raise _bad_request("anchor must be 'end'")
    if anchor and not query.sort.startswith("createdAt:"):
        raise _bad_request("anchor=end is only supported with sort createdAt:asc or createdAt:desc")
    return bool(anchor)


def _statuses() -> tuple[str, ...]:
    picked = {part.strip().upper() for part in _arg("status").split(",") if part.strip()}
    unknown = picked.difference(JOB_STATUSES)
    if unknown:
        raise _bad_request(
            f"status must list values among {', '.join(JOB_STATUSES)}"
            f" (unknown: {', '.join(sorted(unknown))})"
        )
    return () if len(picked) == len(JOB_STATUSES) else tuple(sorted(picked))


def _limit(default: int, maximum: int) -> int:
    raw = _arg("limit")
    if not raw:
        return default
    if not (raw.isascii() and raw.isdigit()) or int(raw) < 1:
        raise _bad_request(f"limit must be an integer from 1 to {maximum}")
    return min(int(raw), maximum)


def _offset() -> int:
    raw = _arg("offset")
    if raw and not (raw.isascii() and raw.isdigit()):
        raise _bad_request("offset must be a non-negative integer")
    return int(raw or 0)


def _version() -> date:
    raw = request.headers.get("Blaxel-Version", "").strip()
    if not raw:
        return EARLIEST_VERSION
    try:
        version = date.fromisoformat(raw) if VERSION_FORMAT.fullmatch(raw) else None
    except ValueError:
        version = None
    if version is None or version < EARLIEST_VERSION:
        message = (
            f"Blaxel-Version must be a date YYYY-MM-DD, {EARLIEST_VERSION} or later (got {raw!r})"
        )
        raise VersionError("invalid_api_version", message)
    return version


def _has_bearer_token() -> bool:
    return bool(_bearer_token())


def _bearer_token() -> str:
    for header in ("Authorization", "X-Blaxel-Authorization"):
        scheme, _, token = request.headers.get(header, "").partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
    return ""


def _arg(name: str) -> str:
    return request.args.get(name, "")


def _simulator() -> Simulator:
    return current_app.extensions["simulator"]


def _bad_request(message: str) -> ApiError:
    return ApiError(400, "BAD_REQUEST", message)


def _not_found(job: str, execution_id: str | None = None) -> ApiError:
    if execution_id is None or job not in data.JOBS_BY_NAME:
        message = f"job '{job}' not found in workspace '{g.workspace}'"
    else:
        message = f"execution '{execution_id}' of job '{job}' not found"
    return ApiError(404, "WORKLOAD_NOT_FOUND", message)


def _api_error(error: ApiError) -> tuple[Response, int]:
    retryable, action, do_not, docs_url = ADVICE[error.code]
    body = {
        "code": error.code,
        "message": error.message,
        "status": error.status,
        "retryable": retryable,
        "action": action,
        "do_not": do_not,
        "docs_url": docs_url,
        "origin": "simulator",
        "timestamp": data.iso(_simulator().clock()),
    }
    return jsonify(error=body), error.status


def _version_error(error: VersionError) -> tuple[Response, int]:
    return jsonify(error=error.code, message=error.message), 400


def _http_error(error: HTTPException) -> tuple[Response, int]:
    status = error.code or 500
    message = f"{error.name}: {request.method} {request.path}"
    return _api_error(ApiError(status, HTTP_CODES.get(status, "INTERNAL_ERROR"), message))

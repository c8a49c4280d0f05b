"""The Blaxel control-plane client: one method per endpoint, typed answers, nothing of Flask.

Every method takes a `CallScope`: the deadline shared by all the calls made for one purpose (a
page, an export) and the record of what each call cost, which the web app turns into its request
log and Server-Timing header.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
import msgspec

from . import logs
from .errors import bad_response
from .logs import LogPage, LogRequest
from .models import Execution, Job, Page, Revision, Task
from .redaction import install_redaction, redact
from .transport import ACCEPT_ENCODING, get_json_bytes, network_transport, send_once

API_VERSION = "2026-04-28"
USER_AGENT = "blaxel-tasks-webapp/0.1"
T = TypeVar("T")

DECODERS: dict[Any, msgspec.json.Decoder] = {
    kind: msgspec.json.Decoder(kind)
    for kind in (Page[Job], Page[Execution], Page[Task], Execution, LogPage, tuple[Revision, ...])
}


@dataclass(frozen=True)
class PageRequest:
    """One page of a listing: order, search (sent as given), size and where to start."""

    sort: str = "createdAt:desc"
    q: str = ""
    limit: int = 50
    cursor: str = ""

    def params(self) -> dict[str, str | int]:
        params: dict[str, str | int] = {"limit": self.limit, "sort": self.sort}
        if self.q:
            params["q"] = self.q
        if self.cursor:
            params["cursor"] = self.cursor
        return params


@dataclass(frozen=True)
class CallRecord:
    """One call as the web app reports it: which endpoint, outcome, when and how long, tries,
    cache."""

    endpoint: str
    status: int | None
    seconds: float
    attempts: int
    cache: str = ""  # "hit", "held" (a 429 hold answered), "" (an upstream call)
    started: float = 0.0  # time.monotonic() when it began


def waited(records: list[CallRecord]) -> float:
    """Seconds during which at least one upstream call was under way: calls made side by side
    count once."""
    total, reach = 0.0, float("-inf")
    for call in sorted((r for r in records if not r.cache), key=lambda r: r.started):
        ended = call.started + call.seconds
        if ended > reach:
            total += ended - max(call.started, reach)
            reach = ended
    return total


@dataclass
class CallScope:
    """What the calls made for one purpose share: a deadline (monotonic seconds), the longest
    any one call may take, and the record of every call made."""

    deadline: float
    call_timeout: float
    records: list[CallRecord] = field(default_factory=list)
    # A part of a larger scope tells it of its calls too (see `part`).
    whole: CallScope | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def starting_now(cls, seconds: float, call_timeout: float | None = None) -> CallScope:
        return cls(time.monotonic() + seconds, seconds if call_timeout is None else call_timeout)

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def call_deadline(self) -> float:
        return min(self.deadline, time.monotonic() + self.call_timeout)

    def note(self, record: CallRecord) -> None:
        with self._lock:
            self.records.append(record)
        if self.whole is not None:
            self.whole.note(record)

    def part(self) -> CallScope:
        """A scope for some of this one's calls, under the same deadline: its records are its
        own calls only (others may run side by side), and this scope hears of them too."""
        return CallScope(self.deadline, self.call_timeout, whole=self)


def segment(value: str) -> str:
    """An id as one path segment: "/", "?", "#" and "%" escaped, and the dots of an id made of
    dots only ("." or "..") too, so that no server can take it for a step up the path."""
    if not value:
        raise ValueError("an empty id cannot be a path segment")
    if value.strip(".") == "":
        return "%2E" * len(value)
    return quote(value, safe="")


def execution_path(job_id: str, execution_id: str) -> str:
    return f"jobs/{segment(job_id)}/executions/{segment(execution_id)}"


class BlaxelClient:
    """One long-lived connection pool to the Blaxel API, shared by every request."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        workspace: str = "",
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        headers = {
            "Authorization": f"Bearer {token}",
            "Blaxel-Version": API_VERSION,
            "Accept": "application/json",
            "Accept-Encoding": ACCEPT_ENCODING,
            "User-Agent": USER_AGENT,
        }
        if workspace:
            headers["X-Blaxel-Workspace"] = workspace
        # httpx logs every URL it fetches, cursors included, whoever drives this client.
        install_redaction()
        self.base_url = base_url.rstrip("/") + "/"
        self.workspace = workspace
        self.token = token
        limits = httpx.Limits(max_connections=32, max_keepalive_connections=16)
        self._http = httpx.Client(
            base_url=self.base_url,
            headers=headers,
            limits=limits,
            transport=transport or network_transport(limits),
            follow_redirects=False,
        )

    def __repr__(self) -> str:
        return f"BlaxelClient({self.base_url!r})"

    @property
    def credentials(self) -> tuple[str, str, str]:
        """Who asks whom, for cache keys: base URL, workspace, version; never the token itself."""
        return (self.base_url, self.workspace, API_VERSION)

    def close(self) -> None:
        self._http.close()

    def list_jobs(self, page: PageRequest, scope: CallScope) -> Page[Job]:
        return decode(self._get("ListJobs", "jobs", page.params(), scope), Page[Job])

    def list_executions(self, job_id: str, page: PageRequest, scope: CallScope) -> Page[Execution]:
        path = f"jobs/{segment(job_id)}/executions"
        return decode(self._get("ListJobExecutions", path, page.params(), scope), Page[Execution])

    def get_execution(self, job_id: str, execution_id: str, scope: CallScope) -> Execution:
        path = execution_path(job_id, execution_id)
        return decode(self._get("GetJobExecution", path, {}, scope), Execution)

    def list_job_revisions(self, job_id: str, scope: CallScope) -> tuple[Revision, ...]:
        """The job's revisions, as Blaxel lists them (one answer, not paginated)."""
        path = f"jobs/{segment(job_id)}/revisions"
        body = self._get("ListJobRevisions", path, {}, scope)
        return decode(body, tuple[Revision, ...])

    def list_tasks(
        self, job_id: str, execution_id: str, page: PageRequest, scope: CallScope
    ) -> Page[Task]:
        path = execution_path(job_id, execution_id) + "/tasks"
        body = self._get("ListJobExecutionTasks", path, page.params(), scope)
        return decode(body, Page[Task])

    def task_logs(self, request: LogRequest, scope: CallScope) -> LogPage:
        """One page of a task's lines (GET /observability/logs, see logs.py), newest first."""
        body = self._get(logs.ENDPOINT, logs.PATH, request.params(self.workspace), scope)
        return logs.page_of(body, request.job_id).without(self.token)

    def cancel_execution(self, job_id: str, execution_id: str, scope: CallScope) -> Execution:
        """Ask Blaxel to cancel the execution (scope jobs:delete): the execution as it answers,
        `cancelling` once accepted. Sent once, never retried; only a client holding the write
        key is ever asked to do it."""
        path = execution_path(job_id, execution_id)

        def record(status: int | None, seconds: float, attempts: int) -> None:
            started = time.monotonic() - seconds
            scope.note(CallRecord("DeleteJobExecution", status, seconds, attempts, "", started))

        body = send_once(self._http, "DELETE", path, scope.call_deadline(), self._redact, record)
        return decode(body, Execution)

    def _get(
        self, endpoint: str, path: str, params: Mapping[str, str | int], scope: CallScope
    ) -> bytes:
        def record(status: int | None, seconds: float, attempts: int) -> None:
            started = time.monotonic() - seconds
            scope.note(CallRecord(endpoint, status, seconds, attempts, "", started))

        return get_json_bytes(self._http, path, params, scope.call_deadline(), self._redact, record)

    def _redact(self, text: str) -> str:
        """Upstream text as shown to people: never the token, even if the API echoes it."""
        return redact(text.replace(self.token, "[redacted]") if self.token else text)


def decode(body: bytes, kind: type[T]) -> T:
    """`body` as `kind`, or the BAD_RESPONSE error that any nonsense becomes."""
    try:
        return DECODERS[kind].decode(body)
    except (ValueError, RecursionError) as exc:  # msgspec's errors and UnicodeDecodeError too
        raise bad_response(exc) from None

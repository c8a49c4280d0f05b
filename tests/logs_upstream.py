"""A scripted Blaxel for the logs tests: one execution, one task, and its lines served the way
CONTRACT.md says the logs endpoint serves them (newest first, limit and offset, severity and
search, at most 3 days, lines readable only once ingested, often late)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlsplit

import httpx

from .conftest import EXECUTION, task_json, task_page

T0 = datetime(2026, 11, 28, 8, 0, 0, tzinfo=UTC)
WIRE = "%Y-%m-%dT%H:%M:%S"
NAMES = ("TRACE", "DEBUG", "INFO", "WARNING", "ERROR", "FATAL")


@dataclass
class Line:
    at: datetime
    message: str
    severity: int = 9
    late: float = 0.5  # seconds from `at` until the line can be read

    def wire(self) -> dict:
        return {
            "timestamp": self.at.strftime("%Y-%m-%dT%H:%M:%S.%f") + "123Z",
            "message": self.message,
            "severity": self.severity,
            "trace_id": "",
        }

    @property
    def name(self) -> str:
        return NAMES[(self.severity - 1) // 4] if 1 <= self.severity <= 24 else "UNKNOWN"


def steady_lines(now: datetime, start: datetime = T0) -> list[Line]:
    """A line a second from `start` to `now`; every 7th is ingested 12 s late."""
    count = max(int((now - start).total_seconds()), 0)
    return [
        Line(
            start + timedelta(seconds=n, milliseconds=250),
            f"line {n}",
            late=12.0 if n % 7 == 3 else 0.5,
        )
        for n in range(count)
    ]


@dataclass
class LogsUpstream:
    """Answers GetJobExecution, the task lookup, and the logs endpoint; records every request.

    `status` is the task's; `lines(now)` its lines as printed by `now`; `logs_answer`, when set,
    answers the logs endpoint instead (a failure, a malformed body).
    """

    clock: Callable[[], datetime]
    lines: Callable[[datetime], list[Line]] = steady_lines
    status: str = "running"
    completed: datetime | None = None
    logs_answer: Callable[[httpx.Request], httpx.Response] | None = None
    requests: list[httpx.Request] = field(default_factory=list)

    @property
    def log_requests(self) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.path.endswith("/observability/logs")]

    def task(self) -> dict:
        extra = {
            "startedAt": T0.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "createdAt": T0.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        extra["completedAt"] = (
            self.completed.strftime("%Y-%m-%dT%H:%M:%SZ") if self.completed else None
        )
        return task_json(0, self.status, **extra)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        if path.endswith("/observability/logs"):
            if self.logs_answer is not None:
                return self.logs_answer(request)
            return httpx.Response(200, json=self.answer(dict(request.url.params)))
        if path.endswith("/tasks"):
            return httpx.Response(200, json=task_page([self.task()]))
        if path.endswith("/executions"):
            return httpx.Response(200, json={"data": [EXECUTION], "meta": {"hasMore": False}})
        if path.endswith("/jobs"):
            job = {"metadata": {"name": "nightly"}, "status": "DEPLOYED"}
            return httpx.Response(200, json={"data": [job], "meta": {"hasMore": False}})
        return httpx.Response(200, json=EXECUTION)

    def answer(self, params: dict[str, str]) -> dict:
        start = datetime.strptime(params["start"], WIRE).replace(tzinfo=UTC)
        end = datetime.strptime(params["end"], WIRE).replace(tzinfo=UTC)
        assert timedelta(0) < end - start <= timedelta(days=3), (start, end)
        now = self.clock()
        severities = set(params.get("severity", "").split(","))
        search = params.get("search", "")
        found = [
            line
            for line in self.lines(now)
            if start <= line.at < end
            and line.at + timedelta(seconds=line.late) <= now
            and line.name in severities
            and search in line.message
        ]
        if not found:
            return {}
        found.sort(key=lambda line: line.at, reverse=True)
        offset, limit = int(params.get("offset", 0)), int(params.get("limit", 1000))
        page = found[offset : offset + limit]
        return {
            params["workloadIds"]: {
                "logs": [line.wire() for line in page],
                "totalCount": len(found),
            }
        }


def query_of(head: bytes) -> dict[str, str]:
    """The query of a raw HTTP request head, as a dict."""
    target = head.split(b" ", 2)[1].decode()
    return dict(parse_qsl(urlsplit(target).query, keep_blank_values=True))

"""Typed views of Blaxel's JSON. Parsing tolerates missing and null fields; a wrong shape raises."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

T = TypeVar("T")

TASK_STATUSES = (
    "unspecified",
    "pending",
    "reconciling",
    "running",
    "succeeded",
    "failed",
    "cancelled",
)
EXECUTION_STATUSES = (
    "queued",
    "pending",
    "running",
    "cancelling",
    "cancelled",
    "failed",
    "succeeded",
    "timeout",
)
UNFINISHED_EXECUTION_STATUSES = frozenset({"queued", "pending", "running", "cancelling"})


class ShapeError(ValueError):
    """The upstream JSON does not have the shape of the spec."""


def _object(value: Any, what: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ShapeError(f"{what} is not an object")
    return value


def _text(source: Mapping[str, Any], key: str) -> str:
    value = source.get(key)
    return value if isinstance(value, str) else ""


def _int(source: Mapping[str, Any], key: str) -> int | None:
    value = source.get(key)
    # bool is an int in Python; JSON true is not a count.
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _time(source: Mapping[str, Any], key: str) -> datetime | None:
    value = source.get(key)
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Condition:
    type: str
    state: str
    severity: str
    reason: str
    message: str
    execution_reason: str

    @classmethod
    def from_json(cls, raw: Any) -> Condition:
        body = _object(raw, "condition")
        return cls(
            type=_text(body, "type"),
            state=_text(body, "state"),
            severity=_text(body, "severity"),
            reason=_text(body, "reason"),
            message=_text(body, "message"),
            execution_reason=_text(body, "executionReason"),
        )

    @property
    def is_error(self) -> bool:
        return self.severity.lower() in {"error", "critical", "fatal"}


@dataclass(frozen=True)
class Task:
    name: str
    status: str
    created_at: datetime | None
    scheduled_at: datetime | None
    started_at: datetime | None
    completed_at: datetime | None
    updated_at: datetime | None
    max_retries: int | None
    timeout: str
    conditions: tuple[Condition, ...]

    @classmethod
    def from_json(cls, raw: Any) -> Task:
        body = _object(raw, "task")
        metadata = _object(body.get("metadata"), "task metadata")
        spec = _object(body.get("spec"), "task spec")
        conditions = body.get("conditions") or []
        if not isinstance(conditions, list):
            raise ShapeError("task conditions is not a list")
        return cls(
            name=_text(metadata, "name"),
            status=_text(body, "status") or "unspecified",
            created_at=_time(metadata, "createdAt"),
            scheduled_at=_time(metadata, "scheduledAt"),
            started_at=_time(metadata, "startedAt"),
            completed_at=_time(metadata, "completedAt"),
            updated_at=_time(metadata, "updatedAt"),
            max_retries=_int(spec, "maxRetries"),
            timeout=_text(spec, "timeout"),
            conditions=tuple(Condition.from_json(item) for item in conditions),
        )

    @property
    def key_condition(self) -> Condition | None:
        """The condition that explains the task best: the latest error, else the latest one."""
        for condition in reversed(self.conditions):
            if condition.is_error:
                return condition
        return self.conditions[-1] if self.conditions else None


@dataclass(frozen=True)
class ExecutionStats:
    total: int = 0
    success: int = 0
    failure: int = 0
    running: int = 0
    cancelled: int = 0
    retried: int = 0

    @classmethod
    def from_json(cls, raw: Any) -> ExecutionStats:
        body = _object(raw, "execution stats")
        counts = {name: _int(body, name) or 0 for name in cls.__dataclass_fields__}
        return cls(**counts)

    @property
    def other(self) -> int:
        """Tasks not yet in any counted state (pending, queued)."""
        return max(self.total - self.success - self.failure - self.running - self.cancelled, 0)

    def percent(self, count: int) -> float:
        return round(100 * count / self.total, 2) if self.total else 0.0

    def task_counts(self) -> dict[str, int]:
        """Tasks per task status, for the statuses these stats count one by one."""
        return {
            "succeeded": self.success,
            "failed": self.failure,
            "running": self.running,
            "cancelled": self.cancelled,
        }


@dataclass(frozen=True)
class Execution:
    id: str
    job: str
    status: str
    created_at: datetime | None
    started_at: datetime | None
    completed_at: datetime | None
    parallelism: int | None
    timeout_seconds: int | None
    stats: ExecutionStats

    @classmethod
    def from_json(cls, raw: Any) -> Execution:
        body = _object(raw, "execution")
        metadata = _object(body.get("metadata"), "execution metadata")
        spec = _object(body.get("spec"), "execution spec")
        return cls(
            id=_text(metadata, "id"),
            job=_text(metadata, "job"),
            status=_text(body, "status") or "pending",
            created_at=_time(metadata, "createdAt"),
            started_at=_time(metadata, "startedAt"),
            completed_at=_time(metadata, "completedAt"),
            parallelism=_int(spec, "parallelism"),
            timeout_seconds=_int(spec, "timeout"),
            stats=ExecutionStats.from_json(body.get("stats")),
        )

    @property
    def is_finished(self) -> bool:
        return self.status not in UNFINISHED_EXECUTION_STATUSES


@dataclass(frozen=True)
class Job:
    name: str
    display_name: str
    status: str
    created_at: datetime | None
    updated_at: datetime | None
    labels: dict[str, str] = field(default_factory=dict)
    region: str = ""
    max_retries: int | None = None
    timeout_seconds: int | None = None

    @classmethod
    def from_json(cls, raw: Any) -> Job:
        body = _object(raw, "job")
        metadata = _object(body.get("metadata"), "job metadata")
        spec = _object(body.get("spec"), "job spec")
        runtime = _object(spec.get("runtime"), "job runtime")
        labels = _object(metadata.get("labels"), "job labels")
        return cls(
            name=_text(metadata, "name"),
            display_name=_text(metadata, "displayName"),
            status=_text(body, "status"),
            created_at=_time(metadata, "createdAt"),
            updated_at=_time(metadata, "updatedAt"),
            labels={str(k): v for k, v in labels.items() if isinstance(v, str)},
            region=_text(spec, "region"),
            max_retries=_int(runtime, "maxRetries"),
            timeout_seconds=_int(runtime, "timeout"),
        )


@dataclass(frozen=True)
class ScanProgress:
    """How far the app's own walk of the task chain got, for a page it filtered itself."""

    scanned: int  # tasks read from upstream since the walk's first page
    budget_spent: bool  # the walk paused on its per-request budget, not on a full page
    # Tasks per status among those scanned: the counts to show when the execution has no stats.
    counts: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class StatusCounts:
    """Tasks per status for the status chips: Blaxel's stats, else what the app's walk has read."""

    counts: Mapping[str, int]
    other: int = 0  # from stats: tasks in none of the counted states
    scanned: int | None = None  # from a walk: the tasks it has read so far

    @classmethod
    def of(cls, execution: Execution | None, scan: ScanProgress | None) -> StatusCounts:
        if execution is not None and execution.stats.total:
            return cls(execution.stats.task_counts(), other=execution.stats.other)
        if scan is not None:
            return cls(scan.counts, scanned=scan.scanned)
        return cls({})


@dataclass(frozen=True)
class Page(Generic[T]):
    """One cursor page of a listing."""

    items: list[T]
    has_more: bool
    next_cursor: str
    total: int | None
    scan: ScanProgress | None = None

    @classmethod
    def from_json(cls, raw: Any, parse_item: Callable[[Any], T]) -> Page[T]:
        body = _object(raw, "page")
        data = body.get("data")
        if not isinstance(data, list):
            raise ShapeError("page data is not a list")
        meta = _object(body.get("meta"), "page meta")
        next_cursor = _text(meta, "nextCursor")
        has_more = meta.get("hasMore") is True and bool(next_cursor)
        return cls(
            items=[parse_item(item) for item in data],
            has_more=has_more,
            next_cursor=next_cursor if has_more else "",
            total=_int(meta, "total"),
        )

"""Blaxel's JSON, declared once: msgspec decodes each answer straight into these structs.

Missing and null fields are tolerated (the API omits what it does not know); a value of the wrong
type fails the whole answer. Times stay text as sent and are read when asked for: one that does
not parse, or lies outside the years a person could mean, reads as unknown.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Generic, TypeVar

import msgspec

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
FINAL_TASK_STATUSES = frozenset({"succeeded", "failed", "cancelled"})
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
# A job's deployment statuses for a job that no longer runs.
DEACTIVATED_STATUSES = frozenset({"DEACTIVATED", "DEACTIVATING"})
ERROR_SEVERITIES = frozenset({"error", "critical", "fatal"})
# Moments outside these years are nonsense from upstream, not dates a run could have.
EARLIEST, LATEST = datetime(1970, 1, 1, tzinfo=UTC), datetime(2999, 12, 31, tzinfo=UTC)


class cached_property:  # noqa: N801 - named for what it stands in for
    """functools.cached_property without the lock it takes on every first access in Python
    3.11 (dropped in 3.12): rows read a dozen values each, 200 rows at a time. A struct may be
    read by several requests at once (answers are kept decoded, `cache.Decoded`): each value is
    the struct's own, so two threads computing it at once store the same value."""

    def __init__(self, compute: Callable[[Any], Any]) -> None:
        self.compute = compute
        self.__doc__ = compute.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:
            return self
        value = instance.__dict__[self.name] = self.compute(instance)
        return value


# An execution's tasks are mostly created in the same second: each text is read once.
@lru_cache(maxsize=4096)
def moment(text: str | None) -> datetime | None:
    """An upstream timestamp as an aware UTC datetime; None when absent or unusable."""
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text)
        parsed = (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)
    except (ValueError, OverflowError):
        return None
    # Whole seconds: what a person reads, and what every time and duration here is shown in.
    return parsed.replace(microsecond=0) if EARLIEST <= parsed <= LATEST else None


# The wire objects' fields are read with getattr(..., None): a missing (None) object reads as
# missing fields, the way the API means it.


def _time(field: str) -> cached_property:
    """The object's metadata `field` as a moment, read once."""
    return cached_property(lambda self: moment(getattr(self.metadata, field, None)))


def _nested(*path: str, default: Any = None) -> property:
    """The value down `path` through the object's nested wire objects, `default` if null."""

    def read(value: Any) -> Any:
        for name in path:
            value = getattr(value, name, None)
        return default if value is None else value

    return property(read)


class _Wire(msgspec.Struct, rename="camel", frozen=True):
    """A JSON object of the API: camelCase keys, unknown keys ignored."""


class _Leaf(_Wire, gc=False):
    """An object holding no containers: the garbage collector need not track it."""


class Condition(_Leaf):
    type: str = ""
    state: str = ""
    severity: str = ""
    reason: str = ""
    message: str = ""
    execution_reason: str = ""

    @property
    def is_error(self) -> bool:
        return self.severity.lower() in ERROR_SEVERITIES


class TaskMetadata(_Leaf):
    name: str | None = None
    created_at: str | None = None
    scheduled_at: str | None = None
    started_at: str | None = None
    completed_at: str | None = None
    updated_at: str | None = None


class TaskSpec(_Leaf):
    max_retries: int | None = None
    timeout: str | None = None


class Task(_Wire, dict=True):
    """A task of an execution; `dict=True` lets the parsed times be computed once each."""

    metadata: TaskMetadata | None = None
    spec: TaskSpec | None = None
    reported_status: str | None = msgspec.field(default=None, name="status")
    reported_conditions: tuple[Condition | None, ...] | None = msgspec.field(
        default=None, name="conditions"
    )

    created_at = _time("created_at")
    scheduled_at = _time("scheduled_at")
    started_at = _time("started_at")
    completed_at = _time("completed_at")
    updated_at = _time("updated_at")
    name = _nested("metadata", "name", default="")
    max_retries = _nested("spec", "max_retries")
    timeout = _nested("spec", "timeout", default="")

    @property
    def status(self) -> str:
        return self.reported_status or "unspecified"

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_TASK_STATUSES

    @cached_property
    def conditions(self) -> tuple[Condition, ...]:
        reported = self.reported_conditions or ()
        # Nearly always none is null: the tuple as decoded, without building another.
        return reported if None not in reported else tuple(c for c in reported if c is not None)

    @cached_property
    def key_condition(self) -> Condition | None:
        """The condition that explains the task best: the latest error, else the latest one."""
        for condition in reversed(self.conditions):
            if condition.is_error:
                return condition
        return self.conditions[-1] if self.conditions else None

    def derived(self, name: str, compute: Callable[[Task], T]) -> T:
        """A value the app derives from this task alone, computed once per decoded task: warm
        pages read the same decoded tasks again (`cache.Decoded`). As with the cached
        properties, two threads computing it at once store the same value."""
        try:
            return self.__dict__[name]
        except KeyError:
            value = self.__dict__[name] = compute(self)
            return value


class ExecutionStats(_Leaf):
    total: int = 0
    success: int = 0
    failure: int = 0
    running: int = 0
    cancelled: int = 0
    retried: int = 0

    @property
    def other(self) -> int:
        """Tasks not yet in any counted state (pending, queued)."""
        return max(self.total - self.success - self.failure - self.running - self.cancelled, 0)

    def percent(self, count: int) -> float:
        return round(100 * count / self.total, 2) if self.total > 0 else 0.0

    def task_counts(self) -> dict[str, int]:
        """Tasks per task status, for the statuses these stats count one by one."""
        return {
            "succeeded": self.success,
            "failed": self.failure,
            "running": self.running,
            "cancelled": self.cancelled,
        }


class ExecutionMetadata(_Leaf):
    id: str | None = None
    job: str | None = None
    created_at: str | None = None
    started_at: str | None = None
    completed_at: str | None = None
    updated_at: str | None = None


class ExecutionSpec(_Wire):
    parallelism: int | None = None
    timeout: int | None = None  # seconds
    # The spec's array of the execution's tasks: counted, never read (the task listing is).
    tasks: tuple[msgspec.Raw, ...] | None = None
    # From the newer spec the official SDK is generated from (tests/blaxel-api/CONTRACT.md): the
    # number of tasks, and where their list is kept (decoded, not used), sent instead of `tasks`.
    task_count: int | None = None
    tasks_ref: str | None = None
    memory_override: int | None = None  # megabytes
    # Names of the variables overridden; Blaxel masks their values ("***"), never read here.
    env_override: dict[str, Any] | None = None


NO_STATS = ExecutionStats()


class Execution(_Wire, dict=True):
    metadata: ExecutionMetadata | None = None
    spec: ExecutionSpec | None = None
    reported_stats: ExecutionStats | None = msgspec.field(default=None, name="stats")
    reported_status: str | None = msgspec.field(default=None, name="status")

    created_at = _time("created_at")
    started_at = _time("started_at")
    completed_at = _time("completed_at")
    updated_at = _time("updated_at")
    id = _nested("metadata", "id", default="")
    job = _nested("metadata", "job", default="")
    parallelism = _nested("spec", "parallelism")
    timeout_seconds = _nested("spec", "timeout")

    @property
    def status(self) -> str:
        return self.reported_status or "pending"

    @property
    def stats(self) -> ExecutionStats:
        return self.reported_stats or NO_STATS

    @property
    def is_finished(self) -> bool:
        return self.status not in UNFINISHED_EXECUTION_STATUSES

    @cached_property
    def task_count(self) -> int | None:
        """How many tasks the execution has, before any task call: its `taskCount`, else the
        length of the task list it carries, else its stats' total; None when none says."""
        spec = self.spec
        if spec is not None and spec.task_count is not None:
            return max(spec.task_count, 0)
        if spec is not None and spec.tasks is not None:
            return len(spec.tasks)
        return self.reported_stats.total if self.reported_stats is not None else None

    is_final = is_finished  # the name Task has, for what takes either


class JobMetadata(_Wire):
    name: str | None = None
    display_name: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    labels: dict[str, str | None] | None = None


class JobRuntime(_Leaf):
    max_retries: int | None = None
    timeout: int | None = None


class JobSpec(_Wire):
    enabled: bool | None = None
    region: str | None = None
    runtime: JobRuntime | None = None


class Job(_Wire, dict=True):
    metadata: JobMetadata | None = None
    spec: JobSpec | None = None
    reported_status: str | None = msgspec.field(default=None, name="status")

    created_at = _time("created_at")
    updated_at = _time("updated_at")
    name = _nested("metadata", "name", default="")
    display_name = _nested("metadata", "display_name", default="")
    region = _nested("spec", "region", default="")
    max_retries = _nested("spec", "runtime", "max_retries")
    timeout_seconds = _nested("spec", "runtime", "timeout")

    @property
    def status(self) -> str:
        return self.reported_status or ""

    @property
    def deactivated(self) -> bool:
        """Turned off: it will not run again until someone turns it back on."""
        enabled = self.spec.enabled if self.spec is not None else None
        return enabled is False or self.status.upper() in DEACTIVATED_STATUSES

    @cached_property
    def labels(self) -> dict[str, str]:
        found = getattr(self.metadata, "labels", None) or {}
        return {key: value for key, value in found.items() if value is not None}


class Revision(_Wire, dict=True):
    """One revision of a job (ListJobRevisions' RevisionMetadata)."""

    id: str | None = None
    created_at: str | None = None
    created_by: str | None = None
    status: str | None = None
    active: bool | None = None

    @cached_property
    def created(self) -> datetime | None:
        return moment(self.created_at)


class PageMeta(_Leaf):
    has_more: bool | None = None
    next_cursor: str | None = None
    total: int | None = None
    # From the newer spec (CONTRACT.md): `total` is then a lower bound, never a page count.
    total_is_partial: bool | None = None


class Page(_Wire, Generic[T], dict=True):
    """One cursor page of a listing, as the API sent it."""

    data: tuple[T, ...]
    meta: PageMeta | None = None

    @property
    def items(self) -> tuple[T, ...]:
        return self.data

    @property
    def has_more(self) -> bool:
        meta = self.meta or PageMeta()
        return meta.has_more is True and bool(meta.next_cursor)

    @property
    def next_cursor(self) -> str:
        return (self.meta.next_cursor or "") if self.meta and self.has_more else ""

    @property
    def total(self) -> int | None:
        return self.meta.total if self.meta else None

    @property
    def total_is_partial(self) -> bool:
        """Whether `total` is only a lower bound: the list may hold more."""
        return bool(self.meta and self.meta.total_is_partial and self.meta.total is not None)

    def counted(self, total: int) -> Page[T]:
        """This page with `total` as the exact count, from a source that knows it."""
        meta = msgspec.structs.replace(self.meta or PageMeta(), total=total, total_is_partial=False)
        return msgspec.structs.replace(self, meta=meta)

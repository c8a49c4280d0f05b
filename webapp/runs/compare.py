"""Two runs of a job side by side, from their digests: tasks that broke or mended, tasks in one
run only, causes new, gone, grown or shrunk, the run-time and wait percentiles, the tasks whose
run time changed most, and what was deployed in between (the job's revisions, placed by time)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from ..blaxel import Execution, Revision
from ..failures.causes import Cause
from .digest import Digest, TaskRecord

MOST_CHANGED = 20
PAGE_SIZE = 50
# The task lists of a comparison, as their URL parameter (`broke=2`: its second page) names them.
LISTS = ("broke", "mended", "base_only", "head_only")
CSV_COLUMNS = (
    "change",
    "task",
    "base_status",
    "head_status",
    "base_attempts",
    "head_attempts",
    "base_cause",
    "head_cause",
    "base_run_seconds",
    "head_run_seconds",
)


@dataclass(frozen=True)
class TaskChange:
    name: str
    base: TaskRecord | None
    head: TaskRecord | None

    @property
    def run_change(self) -> float:
        """Head's run time minus base's, seconds (0 when either is unknown)."""
        if self.base is None or self.head is None or None in (self.base.run, self.head.run):
            return 0.0
        return self.head.run - self.base.run  # type: ignore[operator]


@dataclass(frozen=True)
class CauseChange:
    cause: Cause
    base: int
    head: int


@dataclass(frozen=True)
class Spec:
    """What of an execution's spec a comparison shows: the names of environment overrides,
    never their values."""

    parallelism: int | None
    timeout: int | None  # seconds
    memory: int | None  # megabytes, when overridden
    env_names: tuple[str, ...]

    @classmethod
    def of(cls, execution: Execution) -> Spec:
        spec = execution.spec
        overrides = (spec.env_override or {}) if spec is not None else {}
        memory = spec.memory_override if spec is not None else None
        return cls(
            execution.parallelism, execution.timeout_seconds, memory, tuple(sorted(overrides))
        )


@dataclass(frozen=True)
class Comparison:
    base: Digest
    head: Digest
    lists: dict[str, list[TaskChange]]  # by LISTS
    new_causes: list[CauseChange]
    gone_causes: list[CauseChange]
    grown: list[CauseChange]
    shrunk: list[CauseChange]
    most_changed: list[TaskChange]

    def changes(self) -> Iterator[tuple[str, TaskChange]]:
        """Every task change, list by list (the CSV's rows)."""
        for name in LISTS:
            for change in self.lists[name]:
                yield name, change


def compare(base: Digest, head: Digest, *, whole: tuple[bool, bool] = (True, True)) -> Comparison:
    """What differs from `base` to `head`, task by task name and cause by cause key. `whole`:
    whether each run was read whole; a task missing from a run read in part may only be unread,
    so it is listed as in one run only when the other was read whole."""
    lists: dict[str, list[TaskChange]] = {name: [] for name in LISTS}
    timed: list[TaskChange] = []
    for record in head.tasks():
        before = base.task(record.name)
        change = TaskChange(record.name, before, record)
        if before is None:
            if whole[0]:
                lists["head_only"].append(change)
            continue
        if before.status == "succeeded" and record.status == "failed":
            lists["broke"].append(change)
        elif before.status == "failed" and record.status == "succeeded":
            lists["mended"].append(change)
        if change.run_change:
            timed.append(change)
    lists["base_only"] = [
        TaskChange(record.name, record, None)
        for record in base.tasks()
        if whole[1] and head.task(record.name) is None
    ]
    new, gone, grown, shrunk = [], [], [], []
    for key in sorted(set(base.causes) | set(head.causes)):
        found = base.causes.get(key) or head.causes[key]
        before = base.causes[key].count if key in base.causes else 0
        after = head.causes[key].count if key in head.causes else 0
        change = CauseChange(found.cause, before, after)
        if not before:
            new.append(change)
        elif not after:
            gone.append(change)
        elif after > before:
            grown.append(change)
        elif after < before:
            shrunk.append(change)
    largest = lambda change: (-max(change.base, change.head), change.cause.pattern)  # noqa: E731
    timed.sort(key=lambda change: (-abs(change.run_change), change.name))
    return Comparison(
        base,
        head,
        lists,
        sorted(new, key=largest),
        sorted(gone, key=largest),
        sorted(grown, key=largest),
        sorted(shrunk, key=largest),
        timed[:MOST_CHANGED],
    )


def between(revisions: tuple[Revision, ...], start: datetime, end: datetime) -> list[Revision]:
    """The revisions created after `start` and up to `end`, oldest first: Blaxel does not say
    which revision an execution ran, so they are placed by time."""
    if end < start:
        start, end = end, start
    found = [r for r in revisions if r.created is not None and start < r.created <= end]
    return sorted(found, key=lambda revision: revision.created)  # type: ignore[arg-type,return-value]


def csv_rows(comparison: Comparison) -> Iterator[list[str | int | float]]:
    """One row per task change: which change, the task, and its two records."""
    for kind, change in comparison.changes():
        base, head = change.base, change.head
        yield [
            kind,
            change.name,
            base.status if base else "",
            head.status if head else "",
            base.attempts if base else "",
            head.attempts if head else "",
            cause_text(comparison.base, base),
            cause_text(comparison.head, head),
            base.run if base and base.run is not None else "",
            head.run if head and head.run is not None else "",
        ]


def cause_text(digest: Digest, record: TaskRecord | None) -> str:
    if record is None or not record.cause or record.cause not in digest.causes:
        return ""
    return digest.causes[record.cause].cause.pattern


def counts(digest: Digest) -> dict[str, int]:
    """The run's tasks read, per final status, with those that needed more than one attempt."""
    return {
        "succeeded": digest.statuses.get("succeeded", 0),
        "failed": digest.statuses.get("failed", 0),
        "retried": sum(1 for raw in digest.records.values() if raw[1] > 1),
        "cancelled": digest.statuses.get("cancelled", 0),
        "total": digest.total,
    }

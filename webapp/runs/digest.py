"""An execution's digest: what one walk of its tasks found, kept once the execution is finished.

Per task (readable by name): final status, attempts, cause key, run time, queue wait. Per cause:
its count, first tasks, one message and where each member was read (page and row, with the cursor
of each page the walk read), so that a `cause=` view lists the group without a scan. For the
execution: its status, times, totals and the run-time and wait percentiles of its tasks. Kept as
compressed JSON.
"""

from __future__ import annotations

import json
import math
import zlib
from collections import Counter
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

from ..blaxel import FINAL_TASK_STATUSES, Execution
from ..common.formatting import run_time, wait_time
from ..failures.causes import Cause
from ..failures.triage import Group, Triage

VERSION = 1
QUANTILES = (50, 90, 95, 99)


@dataclass(frozen=True)
class TaskRecord:
    name: str
    status: str
    attempts: int
    cause: str  # the cause's id ("" when it neither failed nor needed retries)
    run: float | None  # seconds
    wait: float | None  # seconds

    @property
    def troubled(self) -> bool:
        """Failed, or needed more than one attempt."""
        return self.status == "failed" or self.attempts > 1


@dataclass(frozen=True)
class CauseCount:
    cause: Cause
    count: int
    tasks: list[str]  # the first few tasks, in walk order
    example: str
    # Every member: (its page's number in Digest.pages, its row there); [] in older digests.
    members: list[tuple[int, int]] = field(default_factory=list)


@dataclass(frozen=True)
class Digest:
    job: str
    execution: str
    status: str
    created: float  # seconds since the epoch
    run: float | None  # the execution's own run time, seconds
    wait: float | None  # the execution's queue wait, seconds
    total: int  # tasks read
    complete: bool  # False when the chain stopped before its end (see `stopped`)
    stopped: str
    statuses: dict[str, int]
    causes: dict[str, CauseCount]
    run_percentiles: dict[int, float]
    wait_percentiles: dict[int, float]
    records: dict[str, list] = field(repr=False)
    # The cursor of each page the walk read, in order ("" the first); [] in older digests.
    pages: list[str] = field(default_factory=list, repr=False)

    def task(self, name: str) -> TaskRecord | None:
        """The task's record, by name; None when the execution had no such task."""
        raw = self.records.get(name)
        return TaskRecord(name, *raw) if raw is not None else None

    def tasks(self) -> list[TaskRecord]:
        return [TaskRecord(name, *raw) for name, raw in self.records.items()]

    @property
    def created_at(self) -> datetime:
        return datetime.fromtimestamp(self.created, UTC)

    def triage(self) -> Triage:
        """The failure groups the digest was made from, complete (no walk needed)."""
        groups = {
            key: Group(
                found.cause, found.count, list(found.tasks), found.example, list(found.members)
            )
            for key, found in self.causes.items()
        }
        return Triage(
            groups, self.total, self.total, False, "", True, self.stopped, pages=list(self.pages)
        )

    @classmethod
    def of(cls, ids: tuple[str, str], execution: Execution, walked: Triage) -> Digest | None:
        """The digest of a finished execution (`ids`: its job's and its own) from its complete
        walk; None when it cannot be kept yet (the execution runs, the walk is unfinished, or a
        task read was not final)."""
        if not (execution.is_finished and walked.complete and execution.created_at):
            return None
        if any(raw[0] not in FINAL_TASK_STATUSES for raw in walked.records.values()):
            return None
        return cls.so_far(ids, execution, walked)

    @classmethod
    def so_far(cls, ids: tuple[str, str], execution: Execution, walked: Triage) -> Digest:
        """The digest of what the walk has read, whatever the execution's state: never kept
        unless `of` says it may be (a running run compared as far as it is read)."""
        end = execution.completed_at or execution.updated_at
        runs = sorted(raw[3] for raw in walked.records.values() if raw[3] is not None)
        waits = sorted(raw[4] for raw in walked.records.values() if raw[4] is not None)
        return cls(
            job=ids[0],
            execution=ids[1],
            status=execution.status,
            created=execution.created_at.timestamp() if execution.created_at else 0.0,
            run=run_time(execution, end) if end is not None else None,
            wait=wait_time(execution, end) if end is not None else None,
            total=walked.scanned,
            complete=walked.complete and not walked.stopped,
            stopped=walked.stopped,
            statuses=dict(Counter(raw[0] for raw in walked.records.values())),
            causes={
                key: CauseCount(
                    group.cause, group.count, list(group.tasks), group.example, group.members
                )
                for key, group in walked.groups.items()
            },
            run_percentiles=percentiles(runs),
            wait_percentiles=percentiles(waits),
            records=dict(walked.records),
            pages=list(walked.pages),
        )

    def encode(self) -> bytes:
        # Every field as it is, in order, but the causes: their members are kept apart.
        body = {
            "version": VERSION,
            **vars(self),
            "causes": {
                key: [c.cause.outcome, c.cause.reason, c.cause.pattern, c.count, c.tasks, c.example]
                for key, c in self.causes.items()
            },
            "members": {key: c.members for key, c in self.causes.items() if c.members},
        }
        return zlib.compress(json.dumps(body, separators=(",", ":")).encode(), 6)

    @classmethod
    def decode(cls, blob: bytes) -> Digest:
        raw: dict[str, Any] = json.loads(zlib.decompress(blob))
        members = raw.get("members", {})
        if raw.get("version") != VERSION:
            raise ValueError(
                f"a digest of version {raw.get('version')!r}, this app reads {VERSION}"
            )
        # The fields kept as they are (`pages` missing in older digests), then those converted.
        kept = {each.name: raw[each.name] for each in fields(cls) if each.name in raw}
        kept["causes"] = {
            key: CauseCount(
                Cause(outcome, reason, pattern),
                count,
                tasks,
                example,
                [(page, row) for page, row in members.get(key, [])],
            )
            for key, (outcome, reason, pattern, count, tasks, example) in raw["causes"].items()
        }
        for name in ("run_percentiles", "wait_percentiles"):
            kept[name] = {int(q): v for q, v in raw[name].items()}
        return cls(**kept)


def percentiles(ordered: list[float]) -> dict[int, float]:
    """The 50th, 90th, 95th and 99th percentiles and the maximum (as 100) of sorted values,
    by the nearest rank; {} for none."""
    if not ordered:
        return {}
    found = {q: ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)] for q in QUANTILES}
    return {**found, 100: ordered[-1]}

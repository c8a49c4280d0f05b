"""What a job's runs say together, read from their digests only (no upstream call): whether a
cause is new or recurring, the job's failures over time, its flaky tasks, a run slower than
usual. Digests are given newest first."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from ..blaxel import Execution
from ..common.formatting import run_time, wait_time
from ..failures.causes import Cause
from .digest import Digest, percentiles
from .kept import Digests

DEFAULT_RUNS = 20
MIN_BASELINE = 5  # runs needed before a run can be called slower than usual


@dataclass(frozen=True)
class Recurrence:
    """Where a cause was seen among a job's runs."""

    cause: str  # the cause's id
    hits: list[Digest]  # the runs it was seen in, newest first
    looked_at: int  # runs whose digests were read

    @property
    def new(self) -> bool:
        return not self.hits

    @property
    def first_seen(self) -> Digest | None:
        return self.hits[-1] if self.hits else None

    @property
    def last_seen(self) -> Digest | None:
        return self.hits[0] if self.hits else None


def recurrence_in(digests: Sequence[Digest], cause_id: str) -> Recurrence:
    """The cause among these runs' digests."""
    hits = [digest for digest in digests if cause_id in digest.causes]
    return Recurrence(cause_id, hits, len(digests))


def recurrence(
    kept: Digests, job_id: str, cause_id: str, *, runs: int = DEFAULT_RUNS, excluding: str = ""
) -> Recurrence:
    """Is this cause new or recurring for the job, and in how many of its last `runs` runs kept
    (leaving out the execution `excluding`, the one asking)? From the store alone: runs not
    digested yet are not counted (`looked_at` says how many were)."""
    digests = [d for d in kept.newest(job_id, runs + 1) if d.execution != excluding][:runs]
    return recurrence_in(digests, cause_id)


@dataclass
class CauseOverTime:
    """One cause across the job's runs."""

    cause: Cause
    hits: list[Digest] = field(default_factory=list)  # newest first
    tasks: int = 0  # tasks it took, over all those runs

    @property
    def first_seen(self) -> Digest:
        return self.hits[-1]

    @property
    def last_seen(self) -> Digest:
        return self.hits[0]

    def hit(self, digest: Digest) -> bool:
        return any(d.execution == digest.execution for d in self.hits)


def causes_over_time(digests: Sequence[Digest]) -> list[CauseOverTime]:
    """Every cause of these runs, the most runs hit first, then the most recently seen."""
    found: dict[str, CauseOverTime] = {}
    for digest in digests:
        for key, count in digest.causes.items():
            entry = found.setdefault(key, CauseOverTime(count.cause))
            entry.hits.append(digest)
            entry.tasks += count.count
    order = {digest.execution: index for index, digest in enumerate(digests)}
    return sorted(
        found.values(),
        key=lambda c: (-len(c.hits), order[c.last_seen.execution], c.cause.pattern),
    )


@dataclass
class FlakyTask:
    """A task that failed or needed retries in some runs and succeeded in others."""

    name: str
    troubled: list[Digest] = field(default_factory=list)  # runs it failed or was retried in
    succeeded: int = 0
    present: list[Digest] = field(default_factory=list)  # runs it was part of, newest first

    @property
    def rate(self) -> float:
        return len(self.troubled) / len(self.present)


def task_history(digests: Sequence[Digest], name: str) -> FlakyTask:
    """One task across these runs."""
    found = FlakyTask(name)
    for digest in digests:
        record = digest.task(name)
        if record is None:
            continue
        found.present.append(digest)
        if record.troubled:
            found.troubled.append(digest)
        if record.status == "succeeded":
            found.succeeded += 1
    return found


def flaky_tasks(digests: Sequence[Digest], *, at_least: int = 2) -> list[FlakyTask]:
    """Tasks that failed or needed retries in at least `at_least` of these runs and succeeded
    in at least one: the highest rate first."""
    troubled: dict[str, int] = {}
    for digest in digests:
        for name, raw in digest.records.items():
            if raw[0] == "failed" or raw[1] > 1:
                troubled[name] = troubled.get(name, 0) + 1
    found = [task_history(digests, name) for name, count in troubled.items() if count >= at_least]
    found = [task for task in found if task.succeeded]
    return sorted(found, key=lambda t: (-t.rate, -len(t.troubled), t.name))


@dataclass(frozen=True)
class Usual:
    """The p50 and p95 of a job's finished runs' run time and queue wait."""

    runs: int
    run_p50: float | None
    run_p95: float | None
    wait_p50: float | None
    wait_p95: float | None

    def slower(self, run: float | None, wait: float | None) -> list[str]:
        """What of a run is above the usual p95: "run time", "queue wait", both or neither."""
        if self.runs < MIN_BASELINE:
            return []
        found = []
        if run is not None and self.run_p95 is not None and run > self.run_p95:
            found.append("run time")
        if wait is not None and self.wait_p95 is not None and wait > self.wait_p95:
            found.append("queue wait")
        return found


class Timed(Protocol):
    """A digested run's times: a Digest or a store's Timing."""

    execution: str
    created: float
    run: float | None
    wait: float | None


def usual(digests: Sequence[Timed]) -> Usual:
    runs = percentiles(sorted(d.run for d in digests if d.run is not None))
    waits = percentiles(sorted(d.wait for d in digests if d.wait is not None))
    return Usual(len(digests), runs.get(50), runs.get(95), waits.get(50), waits.get(95))


def slower_than_usual(
    execution: Execution, digests: Sequence[Timed], size: int = DEFAULT_RUNS
) -> list[str]:
    """What of a finished execution is above the p95 of the `size` finished runs before it
    (among these digests, newest first): "run time", "queue wait", or nothing."""
    if not execution.is_finished or execution.created_at is None:
        return []
    start = execution.created_at.timestamp()
    before = [d for d in digests if d.created < start and d.execution != execution.id][:size]
    end = execution.completed_at or execution.updated_at
    if end is None:
        return []
    return usual(before).slower(run_time(execution, end), wait_time(execution, end))

"""What set a finished execution's run time, in one sentence from its tasks' own times: the queue
(tasks waiting for a slot for most of the run), the tail (the last tasks to finish running on
long after the rest), or neither (the tasks' own work).

The run is the tasks' span, from the first created to the last completed. A task's queue wait
is from its creation to its start. The tail is how long the last 1 % of tasks to finish (at least
one) ran on after every other task had finished.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from ..blaxel import Task
from ..common.formatting import span

TAIL_SHARE = 0.01  # the tail: the last 1 % of tasks to finish
QUEUE_BOUND = 0.5  # the queue set the run time when a task waited for half of it or more
TAIL_BOUND = 0.25  # the tail did when it was a quarter of the run or more


@dataclass(frozen=True)
class Bottleneck:
    """The figures, in whole seconds, and the sentence they make."""

    run: int  # from the first task created to the last completed
    longest_wait: int  # the longest a task waited for a slot
    tail: int  # how long the last 1 % of tasks to finish ran on after the rest
    tail_tasks: int  # how many tasks that 1 % is
    longest_run: int  # the longest a task ran
    parallelism: int | None
    finished: int  # tasks completed: the tail's "1 %" is said only of 100 or more

    @property
    def queue_bound(self) -> bool:
        return self.longest_wait >= self.run * QUEUE_BOUND

    @property
    def tail_bound(self) -> bool:
        return self.tail >= self.run * TAIL_BOUND

    @property
    def sentence(self) -> str:
        slot = "for a slot" + (f" at parallelism {self.parallelism}" if self.parallelism else "")
        waited = f"Tasks waited up to {span(self.longest_wait)} {slot} in a run of {span(self.run)}"
        last = "last task" if self.tail_tasks == 1 else f"last {self.tail_tasks:,} tasks"
        share = " (1 %)" if self.finished >= 100 else ""
        tail = f"{last} to finish{share} ran on {span(self.tail)} after the rest"
        if self.queue_bound and self.tail_bound:
            return f"{waited}, and the {tail}: the queue and the tail set the run time."
        if self.queue_bound:
            after = f"; the {tail}" if self.tail else ""
            return f"{waited}: the queue, not the tasks, set the run time{after}."
        if self.tail_bound:
            return (
                f"The {tail}, in a run of {span(self.run)}: the tail, not the queue, set "
                f"the run time (tasks waited at most {span(self.longest_wait)} {slot})."
            )
        after = f", and the {tail}" if self.tail else ""
        return (
            f"The tasks' own work set the run time of {span(self.run)}: they waited at most "
            f"{span(self.longest_wait)} {slot}, the longest ran {span(self.longest_run)}{after}."
        )


def bottleneck(tasks: Sequence[Task], parallelism: int | None) -> Bottleneck | None:
    """What set the run time of these tasks, every one of a finished execution; None when their
    times do not say (no task both created and completed)."""
    created = [task.created_at for task in tasks if task.created_at is not None]
    completed = sorted(task.completed_at for task in tasks if task.completed_at is not None)
    if not created or not completed:
        return None
    first, last = min(created), completed[-1]
    waits = [
        (task.started_at - task.created_at).total_seconds()
        for task in tasks
        if task.started_at is not None and task.created_at is not None
    ]
    runs = [
        (task.completed_at - task.started_at).total_seconds()
        for task in tasks
        if task.completed_at is not None and task.started_at is not None
    ]
    few = max(1, math.ceil(len(completed) * TAIL_SHARE))
    rest_done = completed[-few - 1] if len(completed) > few else last
    return Bottleneck(
        run=round(max((last - first).total_seconds(), 0)),
        longest_wait=round(max(waits, default=0.0)),
        tail=round((last - rest_done).total_seconds()),
        tail_tasks=few,
        longest_run=round(max(runs, default=0.0)),
        parallelism=parallelism,
        finished=len(completed),
    )

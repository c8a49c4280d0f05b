"""One task as its execution's digest keeps it: final status, attempts, cause, run time, wait."""

from __future__ import annotations

from ..blaxel import Task
from ..common.formatting import run_time, wait_time
from ..failures.causes import Cause, attempts


def task_record(task: Task, cause: Cause | None) -> list:
    """[status, attempts, cause id or "", run seconds or None, wait seconds or None]: a list,
    so that 5,000 of them stay small in the walk's saved state and in the digest."""
    # Times are read to the task's last update: a digest is only kept of final tasks.
    moment = task.updated_at or task.completed_at or task.started_at or task.created_at
    ran = run_time(task, moment) if moment is not None else None
    waited = wait_time(task, moment) if moment is not None else None
    return [
        task.status,
        attempts(task).used or 0,
        cause.id if cause is not None else "",
        round(ran, 1) if ran is not None else None,
        round(waited, 1) if waited is not None else None,
    ]

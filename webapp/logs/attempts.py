"""A task's lines in one section per attempt, each with how it ended.

The conditions say how many attempts a task made and how each ended (a retry's message, then the
task's own ending); log lines carry no attempt. Between two attempts the task is restarted after
a back-off, so the lines fall silent: the sections start after the longest silences, as many as
the conditions count attempts less one. That holds only over every line of the window, so a page
showing part of it has no sections.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..blaxel import Condition, LogLine, Task
from ..failures.causes import attempts

# How an attempt ended, as the page says it: (the status badge, words after it).
ENDINGS = {
    "retried": ("failed", "and was retried"),
    "succeeded": ("succeeded", ""),
    "failed": ("failed", ""),
    "cancelled": ("cancelled", ""),
    "running": ("running", ""),
    "unknown": ("unspecified", "the conditions do not say how it ended"),
}


@dataclass(frozen=True)
class Attempt:
    number: int
    allowed: int | None
    ending: str  # a key of ENDINGS
    message: str = ""  # the condition that tells of it

    @property
    def badge(self) -> str:
        return ENDINGS[self.ending][0]

    @property
    def words(self) -> str:
        return ENDINGS[self.ending][1]


def _is_retry(condition: Condition) -> bool:
    return condition.type.lower() == "retrying" or condition.reason == "AttemptFailed"


def task_attempts(task: Task) -> list[Attempt]:
    """Each attempt the conditions account for, oldest first, with its ending: a retry
    condition ends the attempt it tells of; the task's status ends the last one."""
    tries = attempts(task)
    used = tries.used or 0
    retries = [c.message for c in task.conditions if _is_retry(c)]
    last_ending = {"succeeded": "succeeded", "failed": "failed", "cancelled": "cancelled"}.get(
        task.status, "running" if task.status in ("running", "pending") else "unknown"
    )
    # A final task's last condition is the one that ended it.
    last_message = task.conditions[-1].message if task.is_final and task.conditions else ""
    found: list[Attempt] = []
    for number in range(1, used + 1):
        if number <= len(retries) and (number < used or task.status == "reconciling"):
            found.append(Attempt(number, tries.allowed, "retried", retries[number - 1]))
        elif number == used:
            found.append(Attempt(number, tries.allowed, last_ending, last_message))
        else:
            found.append(Attempt(number, tries.allowed, "unknown"))
    return found


def section_starts(lines: list[LogLine], made: list[Attempt]) -> dict[str, Attempt]:
    """The key of the line each attempt's section starts at (lines oldest first, every line of
    the window): the first line, and the line after each of the longest silences."""
    timed = [line for line in lines if line.at_ns]
    if not made or not timed:
        return {}
    silences = sorted(
        range(1, len(timed)),
        key=lambda index: timed[index].at_ns - timed[index - 1].at_ns,
        reverse=True,
    )
    starts = sorted([0, *silences[: len(made) - 1]])
    # Fewer lines than attempts: the later attempts printed nothing to tell apart.
    return {timed[index].key: attempt for index, attempt in zip(starts, made, strict=False)}

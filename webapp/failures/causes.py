"""Why a task failed, as a cause that tasks failing the same way share, and how many attempts
it took. Both read a task's conditions, the only account of its life the API gives.

A cause is the key condition's reason and its message with what varies from task to task (ids,
numbers, quoted values, hosts, paths, times) reduced to placeholders, so that "KeyError: 'text'
after 3 retries" on task-7 and on task-912 fall together. Codes that say what happened (exit
codes, HTTP statuses) are kept: exit 137 is not exit 1.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

from ..blaxel import Condition, Task

# Messages are read this far: enough for any cause, and the patterns below stay fast.
MAX_MESSAGE = 4000
MAX_PATTERN = 240
PLACEHOLDER = "…"
REPLACEMENTS = [
    (re.compile(r"\b[a-z][a-z0-9+.-]{1,15}://\S+", re.IGNORECASE), "‹url›"),
    (re.compile(r"\b[\w.+-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63}){1,8}\b"), "‹email›"),
    (
        re.compile(
            r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?"
        ),
        "‹time›",
    ),
    (re.compile(r"\b[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}\b", re.IGNORECASE), "‹id›"),
    (re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}(?::\d{1,5})?\b"), "‹host›"),
    (re.compile(r"\b(?:[a-z0-9-]{1,63}\.){1,8}[a-z][a-z0-9-]{1,62}:\d{1,5}\b", re.I), "‹host›"),
    (re.compile(r"(?:(?<=[\s(\"'=])|^)[~.]{0,2}(?:/[\w.@%+-]{1,100}){2,30}/?"), "‹path›"),
    (re.compile(r"(?<!\w)(?:'[^'\n]{0,200}'|\"[^\"\n]{0,200}\"|`[^`\n]{0,200}`)(?!\w)"), "‹value›"),
    (re.compile(r"\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{6,64}\b", re.IGNORECASE), "‹id›"),
    (re.compile(r"\b\d+(?:\.\d+)?(?:ms|s|m|h|d)(?:\d+(?:ms|s|m))*\b"), "‹duration›"),
]
# Numbers that name what happened (exit codes, HTTP statuses) are kept; other numbers are not.
NUMBER = re.compile(
    r"\b(code|status|http|exit|exited with|signal|errno|smtp|returned)(\s+)(\d+)\b"
    r"|\b\d+(?:[.,]\d+)*\b",
    re.IGNORECASE,
)
SPACES = re.compile(r"\s+")


def normalise(message: str) -> str:
    """The message with what varies between tasks failing alike reduced to placeholders."""
    text = message[:MAX_MESSAGE]
    if "Traceback (most recent call last):" in text:
        # A Python traceback says where; its last line says what.
        text = next((line for line in reversed(text.splitlines()) if line.strip()), text)
    for pattern, placeholder in REPLACEMENTS:
        text = pattern.sub(placeholder, text)
    text = NUMBER.sub(lambda found: found.group(0) if found.group(1) else "‹n›", text)
    text = SPACES.sub(" ", text).strip()
    return text if len(text) <= MAX_PATTERN else text[: MAX_PATTERN - 1] + PLACEHOLDER


@dataclass(frozen=True)
class Cause:
    """What a group of tasks share: how they ended, the condition's reason, the pattern."""

    outcome: str  # "failed", "recovered" (succeeded after retries) or "retried" (any other)
    reason: str
    pattern: str

    @property
    def id(self) -> str:
        """A short, stable name for the cause, for links (`cause=`)."""
        digest = hashlib.sha256(f"{self.outcome}\0{self.reason}\0{self.pattern}".encode())
        return digest.hexdigest()[:12]

    @property
    def outcome_text(self) -> str:
        return OUTCOMES.get(self.outcome, self.outcome)


OUTCOMES = {
    "failed": "Failed",
    "recovered": "Succeeded after retries",
    "retried": "Retried",
}


ATTEMPT_NUMBER = re.compile(r"\battempt\s+#?(\d{1,4})\b", re.IGNORECASE)
RETRIES_DONE = re.compile(r"\bafter\s+(\d{1,4})\s+retr(?:y|ies)\b", re.IGNORECASE)


def _is_retry(condition: Condition) -> bool:
    # Lengths first (lowering keeps them, for any text that could match): most conditions are
    # told apart without lowering anything, 200 tasks' conditions a page.
    kind, reason = condition.type, condition.reason
    return (len(kind) == 8 and kind.lower() == "retrying") or (
        len(reason) == 13 and reason.lower() == "attemptfailed"
    )


class Attempts(NamedTuple):
    """Attempts a task used and was allowed; `used` is None when its conditions do not say.
    (A tuple: made for every row, 200 at a time.)"""

    used: int | None
    allowed: int | None

    @property
    def ran_out(self) -> bool:
        return self.used is not None and self.allowed is not None and self.used >= self.allowed

    @property
    def retried(self) -> bool:
        return self.used is not None and self.used > 1


# Tasks share their messages ("Container started (attempt 1)"): each is read once. The keys are
# the messages' first MAX_MESSAGE characters, so the cache stays bounded (16 MB at worst).
@lru_cache(maxsize=1024)
def _attempts_told(message: str) -> int:
    """The attempts a message tells of: N for "attempt N", N + 1 for "after N retries", else 0."""
    used = 0
    # Most messages name no attempt at all: a substring test spares them the patterns.
    if "ttempt" in message or "TTEMPT" in message:
        for found in ATTEMPT_NUMBER.findall(message):
            used = max(used, int(found))
    if "etr" in message or "ETR" in message:
        done = RETRIES_DONE.search(message)
        if done:
            used = max(used, int(done.group(1)) + 1)
    return used


def attempts(task: Task) -> Attempts:
    """How many attempts the task's conditions account for (counted once per decoded task: a
    warm page of 200 rows spent a quarter of its time counting them again)."""
    return task.derived("attempts", _count_attempts)


def _count_attempts(task: Task) -> Attempts:
    """How many attempts the task's conditions account for.

    The largest of: "attempt N" in any message; retry conditions (type Retrying or reason
    AttemptFailed) plus the attempt that followed; "after N retries" in a final message plus one.
    A task that started with nothing of the kind made one attempt; one that never started, none
    that anything tells of.
    """
    allowed = task.max_retries + 1 if task.max_retries is not None else None
    used = retries = 0
    for condition in task.conditions:
        used = max(used, _attempts_told(condition.message[:MAX_MESSAGE]))
        if _is_retry(condition):
            retries += 1
    if retries:
        used = max(used, retries + (1 if task.status != "reconciling" else 0))
    if not used and task.started_at is not None:
        used = 1
    return Attempts(used or None, allowed)


def cause_of(task: Task) -> Cause | None:
    """The cause a failed task, or one that needed retries, is grouped under; None otherwise."""
    if task.status == "failed":
        key = task.key_condition
        if key is None:
            return Cause("failed", "", "no condition reported")
        return Cause("failed", key.reason or key.type, normalise(key.message))
    if not attempts(task).retried:
        return None
    retry = next((c for c in reversed(task.conditions) if _is_retry(c)), None)
    if retry is None:
        return None
    outcome = "recovered" if task.status == "succeeded" else "retried"
    return Cause(outcome, retry.execution_reason or retry.reason, normalise(retry.message))

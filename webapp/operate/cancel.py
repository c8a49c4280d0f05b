"""Cancelling an execution: one DELETE with the write key, its answer told to the person, kept in
the audit trail and written as one log line. Nothing of Flask: the route (routes.py) asks."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from ..blaxel import BlaxelClient, CallScope, ErrorKind, Execution, UpstreamError
from ..store import Audit, AuditEntry, StoreUnavailable

log = logging.getLogger(__name__)

# What the app answers for each way Blaxel can refuse or fail a cancel.
STATUS_BY_KIND = {
    ErrorKind.NOT_FOUND: 404,
    ErrorKind.REJECTED: 409,  # e.g. the execution has already ended
    ErrorKind.TIMED_OUT: 504,
}


@dataclass(frozen=True)
class CancelAnswer:
    """What came of one attempt, for the person who made it."""

    outcome: str  # "accepted", "refused" (Blaxel said no), "failed" (no usable answer), "not sent"
    answer: str  # what Blaxel answered, in words
    status: int  # the HTTP status of the app's own answer
    execution: Execution | None = None  # as Blaxel answered, when it accepted
    recorded: bool = True  # kept in the audit trail


def not_sent(reason: str, status: int) -> CancelAnswer:
    return CancelAnswer("not sent", reason, status)


def cancel(write: BlaxelClient, job_id: str, execution_id: str, timeout: float) -> CancelAnswer:
    """Ask Blaxel to cancel, once, and say what it answered."""
    try:
        execution = write.cancel_execution(job_id, execution_id, CallScope.starting_now(timeout))
    except UpstreamError as error:
        if error.upstream_status is None:
            return CancelAnswer("failed", f"no answer from Blaxel ({error.kind.value})", 504)
        said = f": {error.detail}" if error.detail else ""
        answer = f"{error.upstream_status} {error.code or error.kind.value}{said}"
        outcome = "failed" if error.kind is ErrorKind.BAD_RESPONSE else "refused"
        return CancelAnswer(outcome, answer, STATUS_BY_KIND.get(error.kind, 502))
    return CancelAnswer("accepted", f"200: the execution is {execution.status}", 200, execution)


def record(audit: Audit, attempt: AuditEntry) -> bool:
    """The attempt in the audit trail and as one log line; False if the trail could not keep it
    (the log line is written all the same)."""
    log.info(
        "cancel attempt: who=%r job=%r execution=%r outcome=%s answer=%r",
        attempt.who,
        attempt.job,
        attempt.execution,
        attempt.outcome,
        attempt.answer,
    )
    try:
        audit.record(attempt)
    except StoreUnavailable as error:
        log.error("audit trail: the attempt above was not kept (%s)", error)
        return False
    return True

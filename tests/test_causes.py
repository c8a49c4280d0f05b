"""Causes: messages of tasks failing alike fall together, others stay apart; attempts counted
from conditions."""

from __future__ import annotations

import time

import msgspec
import pytest

from webapp.blaxel import Task
from webapp.failures.causes import MAX_PATTERN, Cause, attempts, cause_of, normalise


def task(status: str, *conditions: dict, max_retries: int | None = 3, started: bool = True):
    metadata = {"name": "task-1", "startedAt": "2026-11-28T08:00:00Z" if started else None}
    return msgspec.convert(
        {
            "metadata": metadata,
            "spec": {"maxRetries": max_retries},
            "status": status,
            "conditions": list(conditions),
        },
        Task,
    )


def condition(kind: str, reason: str, message: str, severity: str = "Info", why: str = ""):
    return {
        "type": kind,
        "reason": reason,
        "message": message,
        "severity": severity,
        "executionReason": why,
    }


@pytest.mark.parametrize(
    ("one", "other"),
    [
        (
            "Container exited with code 1 after 3 retries: KeyError: 'text'",
            "Container exited with code 1 after 2 retries: KeyError: 'title'",
        ),
        ("connect to 10.0.3.7:5432 failed", "connect to 10.0.9.12:5432 failed"),
        (
            "Dependency embeddings-api.internal:8080 answered HTTP 503",
            "Dependency embeddings-api.internal:8081 answered HTTP 503",
        ),
        (
            "open /var/data/run-4f9a1c2e/input.json: no such file or directory",
            "open /var/data/run-77ab01ff/input.json: no such file or directory",
        ),
        (
            "GET https://shop.example/sitemap-3.xml answered HTTP 503",
            "GET https://shop.example/sitemap-17.xml?page=2 answered HTTP 503",
        ),
        (
            "job 3f2c9a1b-7d4e-4a6b-9c1d-2e5f6a7b8c9d lost",
            "job 0a1b2c3d-4e5f-4061-8293-a4b5c6d7e8f9 lost",
        ),
        ("Task exceeded timeout of 30m", "Task exceeded timeout of 1h15m"),
        (
            "batch deadbeef42 failed at 2026-11-28T09:00:01Z",
            "batch 0c0ffee7 failed at 2026-11-27 23:59",
        ),
        (
            'Traceback (most recent call last):\n  File "/app/a.py", line 88, in run\n'
            "    x = load()\nValueError: invalid PDF header",
            'Traceback (most recent call last):\n  File "/app/b.py", line 12, in main\n'
            "ValueError: invalid PDF header",
        ),
    ],
)
def test_messages_of_tasks_failing_alike_have_one_pattern(one, other):
    assert normalise(one) == normalise(other)


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("Container exited with code 137 (OOMKilled)", "Container exited with code 1"),
        ("answered HTTP 503 Service Unavailable", "answered HTTP 429 Too Many Requests"),
        ("exit 2", "exit 3"),
        ("ValueError: invalid PDF header", "KeyError: text"),
        ("SMTP 421 Service not available", "SMTP 550 Mailbox unavailable"),
    ],
)
def test_codes_that_say_what_happened_keep_causes_apart(one, other):
    assert normalise(one) != normalise(other)


def test_a_traceback_is_grouped_by_its_last_line():
    message = "Traceback (most recent call last):\n  File \"/app/x.py\", line 3\nKeyError: 'id'"
    assert normalise(message) == "KeyError: ‹value›"


def test_apostrophes_inside_words_are_not_taken_for_quotes():
    assert normalise("can't connect; don't retry") == "can't connect; don't retry"


@pytest.mark.parametrize(
    "message",
    [
        "x" * 1_000_000,
        "/a" * 200_000,
        "'" * 100_000,
        "1." * 300_000,
        "a@" * 100_000,
        "<script>alert(1)</script>\u202eevil\x1b[31m",
        "\ud800 lone surrogate",
    ],
)
def test_hostile_and_huge_messages_give_a_short_pattern_quickly(message):
    started = time.process_time()
    pattern = normalise(message)
    # A bound that only a runaway expression could break, on any machine.
    assert time.process_time() - started < 5
    assert len(pattern) <= MAX_PATTERN


def test_the_same_cause_has_the_same_short_id_and_another_another():
    one = Cause("failed", "BackoffLimitExceeded", "exit code ‹n›")
    assert one.id == Cause("failed", "BackoffLimitExceeded", "exit code ‹n›").id
    assert one.id != Cause("recovered", "BackoffLimitExceeded", "exit code ‹n›").id
    assert len(one.id) == 12 and one.id.isalnum()


def test_a_failed_task_is_grouped_by_its_latest_error():
    failed = task(
        "failed",
        condition("Retrying", "AttemptFailed", "Attempt 1 failed: HTTP 503", "Warning"),
        condition("Failed", "BackoffLimitExceeded", "exit code 137 after 3 retries", "Error"),
        condition("Cleanup", "PodDeleted", "pod removed"),
    )
    cause = cause_of(failed)
    assert (cause.outcome, cause.reason, cause.pattern) == (
        "failed",
        "BackoffLimitExceeded",
        "exit code 137 after ‹n› retries",
    )


def test_a_task_that_succeeded_after_retries_is_grouped_by_what_made_it_retry():
    recovered = task(
        "succeeded",
        condition("Running", "TaskStarted", "Container started (attempt 1)"),
        condition(
            "Retrying", "AttemptFailed", "Attempt 1 failed: HTTP 503 from api", "Warning", "Error"
        ),
        condition("Running", "TaskStarted", "Container started (attempt 2)"),
        condition("Succeeded", "Completed", "done"),
    )
    cause = cause_of(recovered)
    assert cause.outcome == "recovered" and cause.reason == "Error"
    assert cause.outcome_text == "Succeeded after retries"
    assert cause.pattern == "Attempt ‹n› failed: HTTP 503 from api"


def test_a_task_that_succeeded_first_time_has_no_cause():
    assert cause_of(task("succeeded", condition("Succeeded", "Completed", "done"))) is None


@pytest.mark.parametrize(
    ("conditions", "status", "expected"),
    [
        ([condition("Running", "TaskStarted", "Container started (attempt 3)")], "running", 3),
        (
            [
                condition("Retrying", "AttemptFailed", "x"),
                condition("Retrying", "AttemptFailed", "y"),
            ],
            "succeeded",
            3,
        ),
        ([condition("Failed", "BackoffLimitExceeded", "failed after 2 retries")], "failed", 3),
        ([condition("Succeeded", "Completed", "done")], "succeeded", 1),
    ],
)
def test_attempts_are_read_from_the_conditions(conditions, status, expected):
    assert attempts(task(status, *conditions)).used == expected


def test_attempts_are_unknown_when_nothing_tells_and_allowed_is_the_retries_plus_one():
    found = attempts(task("pending", started=False))
    assert (found.used, found.allowed, found.ran_out) == (None, 4, False)
    assert attempts(task("pending", max_retries=None, started=False)).allowed is None


def test_a_decoded_tasks_attempts_are_counted_once_and_each_task_keeps_its_own():
    # Warm pages read the same decoded tasks again: their count is kept on the task itself.
    retried = task("failed", condition("Failed", "BackoffLimitExceeded", "failed after 2 retries"))
    once = task("succeeded", condition("Succeeded", "Completed", "done"))
    assert attempts(retried) is attempts(retried)
    assert (attempts(retried).used, attempts(once).used) == (3, 1)


def test_retries_ran_out_when_every_allowed_attempt_was_used():
    used_up = task(
        "failed", condition("Failed", "BackoffLimitExceeded", "after 3 retries", "Error")
    )
    assert attempts(used_up).ran_out and attempts(used_up).retried

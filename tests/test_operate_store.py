"""The store's operating part (webapp/store.py): the audit trail and the watcher's outbox, alike
in the SQLite file and in Redis, and the forward migration that adds them to an older file."""

from __future__ import annotations

import sqlite3

import pytest

from webapp.common.config import Settings
from webapp.store import (
    FILE_NAME,
    MIGRATIONS,
    AuditEntry,
    Delivery,
    open_audit,
    open_database,
    open_outbox,
)


@pytest.fixture(params=["sqlite", "redis"])
def settings(request, data_dir) -> Settings:
    if request.param == "redis":
        return Settings(cache_url=request.getfixturevalue("redis_url"))
    return Settings(data_dir=str(data_dir))


def test_a_message_is_kept_once_and_claimed_by_one_claimer_at_a_time(settings):
    """Enqueueing (key, webhook) again keeps the first body; a claimed message is nobody
    else's until its lease ends; a retried one is due again at the time given; a delivered one
    is never claimed again."""
    first, second = open_outbox(settings), open_outbox(settings)
    message = Delivery("run-1", "hook#1", '{"n": 1}')
    assert first.enqueue(message, now=100.0) is True
    assert second.enqueue(Delivery("run-1", "hook#1", '{"n": 2}'), now=101.0) is False
    claimed = first.claim(now=100.0, lease=60.0, limit=10)
    assert [(d.key, d.body) for d in claimed] == [("run-1", '{"n": 1}')]
    assert second.claim(now=159.0, lease=60.0, limit=10) == []
    first.retry(claimed[0], at=200.0, error="answered 500")
    assert second.claim(now=199.0, lease=60.0, limit=10) == []
    again = second.claim(now=200.0, lease=60.0, limit=10)
    assert [(d.attempts, d.last_error) for d in again] == [(1, "answered 500")]
    assert [d.key for d in first.pending(10)] == ["run-1"]
    second.delivered(again[0], now=201.0)
    assert first.claim(now=10_000.0, lease=60.0, limit=10) == []
    assert first.pending(10) == []


def test_the_baseline_is_set_once_by_the_first_watcher(settings):
    assert open_outbox(settings).baseline(50.0) == 50.0
    assert open_outbox(settings).baseline(80.0) == 50.0


def test_the_audit_trail_lists_the_latest_attempts_newest_first(settings):
    audit = open_audit(settings)
    for number in range(3):
        audit.record(AuditEntry(float(number), "olga", "job", f"exec-{number}", "accepted", "200"))
    assert [entry.execution for entry in open_audit(settings).recent(2)] == ["exec-2", "exec-1"]


def test_an_older_data_file_is_migrated_forward_and_keeps_what_it_held(data_dir):
    """A file of schema 1 (events only) gains the operating tables, its events kept."""
    path = data_dir / FILE_NAME
    db = sqlite3.connect(path)
    db.executescript(MIGRATIONS[0] + "PRAGMA user_version = 1;")
    db.execute("INSERT INTO events VALUES ('k', 1.0, 2.0)")
    db.commit()
    db.close()
    migrated = open_database(path)
    assert migrated.execute("PRAGMA user_version").fetchone() == (len(MIGRATIONS),)
    assert migrated.execute("SELECT key FROM events").fetchall() == [("k",)]
    assert migrated.execute("SELECT count(*) FROM deliveries").fetchone() == (0,)

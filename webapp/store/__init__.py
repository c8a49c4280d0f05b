"""What every worker process must see alike, kept in a real database: SQLite by default (one file
in the data folder, WAL mode, shared by the processes of one machine), Redis for a team (the
shared cache's). The interface is small: timed events under a key, each kept for a while; and,
for operating (webapp/operate), the audit trail of cancels and the watcher's outbox of messages.

The SQLite file has a schema version (`PRAGMA user_version`) and forward migrations; a file the
app cannot read, or one written by a newer version, stops the app with a message naming it, and
is never deleted.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import astuple, dataclass
from pathlib import Path
from typing import Any, NamedTuple, Protocol

from ..common.config import ConfigError, Settings

log = logging.getLogger(__name__)

FILE_NAME = "webapp.sqlite3"
# Each migration takes the file from the version of its index to the next; append, never edit.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE events (key TEXT NOT NULL, at REAL NOT NULL, expires REAL NOT NULL);
    CREATE INDEX events_by_key ON events (key, at);
    CREATE INDEX events_by_expiry ON events (expires);
    """,
    # Operating (webapp/operate): the audit trail of cancels, and the watcher's outbox.
    """
    CREATE TABLE audit (
        at REAL NOT NULL, who TEXT NOT NULL, job TEXT NOT NULL, execution TEXT NOT NULL,
        outcome TEXT NOT NULL, answer TEXT NOT NULL
    );
    CREATE INDEX audit_by_time ON audit (at);
    CREATE TABLE deliveries (
        key TEXT NOT NULL, webhook TEXT NOT NULL, body TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0, next_at REAL NOT NULL, last_error TEXT NOT NULL
        DEFAULT '', created REAL NOT NULL, sent_at REAL, PRIMARY KEY (key, webhook)
    );
    CREATE INDEX deliveries_due ON deliveries (sent_at, next_at);
    CREATE TABLE watch_state (name TEXT PRIMARY KEY, value REAL NOT NULL);
    """,
    # Digests of finished executions (webapp/runs): one row each, the body compressed JSON.
    """
    CREATE TABLE digests (
        job TEXT NOT NULL,
        execution TEXT NOT NULL,
        created REAL NOT NULL,
        run REAL,
        wait REAL,
        made REAL NOT NULL,
        body BLOB NOT NULL,
        PRIMARY KEY (job, execution)
    );
    CREATE INDEX digests_by_job ON digests (job, created);
    """,
)
# Events kept at once at most: guesses from endless addresses cannot fill the disk.
MAX_EVENTS = 100_000
# How long a process waits for another one's write to the file before giving up on it.
BUSY_SECONDS = 2.0
REDIS_PREFIX = "blaxel-webapp:events:"


class StoreError(ConfigError):
    """The store cannot be opened as it is; the message names the file and what to do."""


class Events(Protocol):
    """Times (seconds since the epoch) of events under a key, each kept `keep` seconds."""

    def add(self, key: str, at: float, keep: float) -> None: ...

    def since(self, key: str, start: float) -> list[float]:
        """The key's events at `start` or later, oldest first."""
        ...

    def drop(self, key: str) -> None: ...

    def close(self) -> None: ...


def data_dir(settings: Settings) -> Path:
    """WEBAPP_DATA_DIR, else the user's data folder ($XDG_DATA_HOME or ~/.local/share) with a
    folder of the app's own."""
    if settings.data_dir:
        return Path(settings.data_dir)
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "blaxel-jobs"


def open_events(settings: Settings) -> Events:
    """Redis when WEBAPP_CACHE_URL is set, else the SQLite file in the data folder."""
    if settings.cache_url:
        return RedisEvents(settings.cache_url)
    return SqliteEvents(data_dir(settings) / FILE_NAME)


def open_database(path: Path) -> sqlite3.Connection:
    """The store's SQLite file, made (with its folder) if missing, migrated to this version."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(
            path, timeout=BUSY_SECONDS, isolation_level=None, check_same_thread=False
        )
    except (OSError, sqlite3.Error) as error:
        problem = f"The data file {path} cannot be opened ({error})."
        raise StoreError(f"{problem} {_WHAT_TO_DO}") from None
    try:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version > len(MIGRATIONS):
            raise StoreError(
                f"The data file {path} was written by a newer version of this app (schema "
                f"{version}; this one knows {len(MIGRATIONS)}). Run that version, or point "
                f"WEBAPP_DATA_DIR at another folder."
            )
        db.execute("PRAGMA journal_mode=WAL")
        for number in range(version, len(MIGRATIONS)):
            _migrate(db, number)
    except sqlite3.Error as error:
        db.close()
        raise StoreError(f"The data file {path} cannot be read ({error}). {_WHAT_TO_DO}") from None
    except StoreError:
        db.close()
        raise
    return db


_WHAT_TO_DO = (
    "It was left as it is. Make it readable and writable by this app, move it aside, or point "
    "WEBAPP_DATA_DIR at another folder."
)


def _migrate(db: sqlite3.Connection, number: int) -> None:
    """One migration and its version number, in one transaction: another process starting at
    the same moment either sees both or neither."""
    with _immediate(db):
        if db.execute("PRAGMA user_version").fetchone()[0] == number:
            for statement in filter(str.strip, MIGRATIONS[number].split(";")):
                db.execute(statement)
            db.execute(f"PRAGMA user_version = {number + 1}")


@contextmanager
def _immediate(db: sqlite3.Connection) -> Iterator[None]:
    """One IMMEDIATE transaction: a process writing at the same moment waits for it to end."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


class _InSqlite:
    """A part of the store kept in the SQLite file: one connection used under a lock, and what a
    failed statement does (see _Failures). The file is opened (and checked) at once; with
    `lazily`, a missing one is made on first use instead."""

    def __init__(self, path: Path, loses: str = "", *, lazily: bool = False) -> None:
        self._path = path
        self._db = open_database(path) if path.exists() or not lazily else None
        self._lock = threading.Lock()
        self._failing = _Failures("data file", (sqlite3.Error, StoreError), loses, detailed=True)

    def close(self) -> None:
        if self._db is not None:
            self._db.close()

    def _transaction(self, work: Callable[[sqlite3.Connection], Any]) -> Any:
        def inside(db: sqlite3.Connection) -> Any:
            with _immediate(db):
                return work(db)

        return self._run(inside)

    def _run(self, work: Callable[[sqlite3.Connection], Any]) -> Any:
        def opened() -> Any:
            if self._db is None:
                self._db = open_database(self._path)
            return work(self._db)

        with self._lock:
            return self._failing.run(opened)


class SqliteEvents(_InSqlite):
    """Events in the SQLite file: every process of this machine that opens it sees them."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, loses=SIGNINS_LOST)

    def add(self, key: str, at: float, keep: float) -> None:
        def write(db: sqlite3.Connection) -> None:
            db.execute("DELETE FROM events WHERE expires <= ?", (at,))
            db.execute("INSERT INTO events VALUES (?, ?, ?)", (key, at, at + keep))
            db.execute(
                "DELETE FROM events WHERE rowid <= (SELECT max(rowid) FROM events) - ?",
                (MAX_EVENTS,),
            )

        self._transaction(write)

    def since(self, key: str, start: float) -> list[float]:
        query = "SELECT at FROM events WHERE key = ? AND at >= ? ORDER BY at"
        rows = self._run(lambda db: db.execute(query, (key, start)).fetchall())
        return [row[0] for row in rows or ()]

    def drop(self, key: str) -> None:
        self._run(lambda db: db.execute("DELETE FROM events WHERE key = ?", (key,)))


SIGNINS_LOST = "sign-in failures go uncounted"


class _InRedis:
    """A part of the store kept in Redis: its connection, and what a failed command does (see
    _Failures)."""

    def __init__(self, url: str, timeout: float, connect: float, loses: str = "") -> None:
        import redis

        self._redis = redis.Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=connect
        )
        self._failing = _Failures("shared store", (redis.RedisError, OSError), loses)

    def close(self) -> None:
        self._redis.close()

    def _run(self, work: Callable[[], Any]) -> Any:
        return self._failing.run(work)


class RedisEvents(_InRedis):
    """Events in Redis, one sorted set per key: every process and host using it sees them."""

    def __init__(self, url: str) -> None:
        super().__init__(url, timeout=1.0, connect=1.0, loses=SIGNINS_LOST)

    def add(self, key: str, at: float, keep: float) -> None:
        name = REDIS_PREFIX + key

        def write() -> None:
            with self._redis.pipeline(transaction=True) as pipe:
                pipe.zremrangebyscore(name, "-inf", f"({at - keep}")
                pipe.zadd(name, {f"{at!r}:{secrets.token_hex(4)}": at})
                # Redis's own clock forgets the set once its newest event would have expired.
                pipe.expire(name, max(1, int(keep) + 1))
                pipe.execute()

        self._run(write)

    def since(self, key: str, start: float) -> list[float]:
        found = self._run(
            lambda: self._redis.zrangebyscore(REDIS_PREFIX + key, start, "+inf", withscores=True)
        )
        return [score for _, score in found or ()]

    def drop(self, key: str) -> None:
        self._run(lambda: self._redis.delete(REDIS_PREFIX + key))


class _Failures:
    """What a failed command of a store's part does. With `loses`, what the part keeps is lost
    while the failure lasts (nothing is refused for it): the failure is logged once, and its
    return, since whoever runs the app should know. Without, the command raises StoreUnavailable
    naming the store (and, when `detailed`, the error's own words)."""

    def __init__(
        self, what: str, errors: tuple[type[Exception], ...], loses: str, *, detailed: bool = False
    ) -> None:
        self.what, self.errors = what, errors
        self.loses, self.detailed = loses, detailed
        self._down = False

    def run(self, work: Callable[[], Any]) -> Any:
        try:
            result = work()
        except self.errors as error:
            if not self.loses:
                words = f": {error}" if self.detailed else ""
                raise StoreUnavailable(f"{self.what}: {type(error).__name__}{words}") from None
            if not self._down:
                self._down = True
                log.warning(
                    "%s failing (%s): %s until it is back",
                    self.what,
                    type(error).__name__,
                    self.loses,
                )
            return None
        if self._down:
            self._down = False
            log.warning("%s is back", self.what)
        return result


# --- Operating: the audit trail of cancels and the watcher's outbox (webapp/operate) ---------

AUDIT_KEPT = 100_000  # entries kept at most, the oldest dropped first
# A delivered message is remembered this long: an execution older than this is never notified.
DELIVERED_KEPT = 30 * 86400
REDIS_OPERATE = "blaxel-webapp:operate:"


class StoreUnavailable(RuntimeError):
    """The store could not be read or written just now; the message says which store."""


@dataclass(frozen=True)
class AuditEntry:
    """One attempt to cancel an execution: who, what, when, and what Blaxel answered."""

    at: float
    who: str
    job: str
    execution: str
    outcome: str  # "accepted", "refused", "failed"
    answer: str  # Blaxel's answer (status and message), as told to the person


class Audit(Protocol):
    def record(self, entry: AuditEntry) -> None: ...

    def recent(self, limit: int) -> list[AuditEntry]:
        """The latest entries, newest first."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Delivery:
    """One message for one webhook: `key` names what it tells (execution and kind), `webhook`
    the webhook's label (never its URL, which is a secret), `body` the message as JSON."""

    key: str
    webhook: str
    body: str
    attempts: int = 0
    next_at: float = 0.0
    last_error: str = ""


class Outbox(Protocol):
    """Messages to webhooks, each kept until delivered. Enqueueing the same (key, webhook) twice
    keeps the first; claiming hands each due message to one claimer only, for `lease` seconds."""

    def baseline(self, now: float) -> float:
        """When watching began: set by the first watcher ever, read by every later one."""
        ...

    def enqueue(self, delivery: Delivery, now: float) -> bool:
        """Keep the message unless one with its key and webhook exists; True if it was new."""
        ...

    def claim(self, now: float, lease: float, limit: int) -> list[Delivery]: ...

    def delivered(self, delivery: Delivery, now: float) -> None: ...

    def retry(self, delivery: Delivery, at: float, error: str) -> None:
        """Not delivered: tried once more, due again at `at`."""
        ...

    def pending(self, limit: int) -> list[Delivery]:
        """Messages not yet delivered, the longest-waiting first."""
        ...

    def close(self) -> None: ...


def open_audit(settings: Settings) -> Audit:
    if settings.cache_url:
        return RedisOperate(settings.cache_url)
    return SqliteOperate(data_dir(settings) / FILE_NAME)


def open_outbox(settings: Settings) -> Outbox:
    if settings.cache_url:
        return RedisOperate(settings.cache_url)
    return SqliteOperate(data_dir(settings) / FILE_NAME)


class SqliteOperate(_InSqlite):
    """The audit trail and the outbox in the SQLite file; a claim is one IMMEDIATE transaction,
    so two processes never claim the same message."""

    def record(self, entry: AuditEntry) -> None:
        def write(db: sqlite3.Connection) -> None:
            db.execute("INSERT INTO audit VALUES (?, ?, ?, ?, ?, ?)", astuple(entry))
            db.execute(
                "DELETE FROM audit WHERE rowid <= (SELECT max(rowid) FROM audit) - ?",
                (AUDIT_KEPT,),
            )

        self._transaction(write)

    def recent(self, limit: int) -> list[AuditEntry]:
        query = "SELECT * FROM audit ORDER BY at DESC, rowid DESC LIMIT ?"
        rows = self._run(lambda db: db.execute(query, (limit,)).fetchall())
        return [AuditEntry(*row) for row in rows]

    def baseline(self, now: float) -> float:
        def write(db: sqlite3.Connection) -> float:
            db.execute("INSERT OR IGNORE INTO watch_state VALUES ('baseline', ?)", (now,))
            return db.execute("SELECT value FROM watch_state WHERE name = 'baseline'").fetchone()[0]

        return self._transaction(write)

    def enqueue(self, delivery: Delivery, now: float) -> bool:
        def write(db: sqlite3.Connection) -> bool:
            db.execute(
                "DELETE FROM deliveries WHERE sent_at IS NOT NULL AND sent_at < ?",
                (now - DELIVERED_KEPT,),
            )
            added = db.execute(
                "INSERT OR IGNORE INTO deliveries (key, webhook, body, next_at, created) "
                "VALUES (?, ?, ?, ?, ?)",
                (delivery.key, delivery.webhook, delivery.body, now, now),
            )
            return added.rowcount == 1

        return self._transaction(write)

    def claim(self, now: float, lease: float, limit: int) -> list[Delivery]:
        def write(db: sqlite3.Connection) -> list[Delivery]:
            rows = db.execute(
                "SELECT key, webhook, body, attempts, next_at, last_error FROM deliveries "
                "WHERE sent_at IS NULL AND next_at <= ? ORDER BY next_at LIMIT ?",
                (now, limit),
            ).fetchall()
            db.executemany(
                "UPDATE deliveries SET next_at = ? WHERE key = ? AND webhook = ?",
                [(now + lease, row[0], row[1]) for row in rows],
            )
            return [Delivery(*row) for row in rows]

        return self._transaction(write)

    def delivered(self, delivery: Delivery, now: float) -> None:
        self._transaction(
            lambda db: db.execute(
                "UPDATE deliveries SET sent_at = ?, attempts = attempts + 1, last_error = '' "
                "WHERE key = ? AND webhook = ?",
                (now, delivery.key, delivery.webhook),
            )
        )

    def retry(self, delivery: Delivery, at: float, error: str) -> None:
        self._transaction(
            lambda db: db.execute(
                "UPDATE deliveries SET next_at = ?, attempts = attempts + 1, last_error = ? "
                "WHERE key = ? AND webhook = ? AND sent_at IS NULL",
                (at, error, delivery.key, delivery.webhook),
            )
        )

    def pending(self, limit: int) -> list[Delivery]:
        query = (
            "SELECT key, webhook, body, attempts, next_at, last_error FROM deliveries "
            "WHERE sent_at IS NULL ORDER BY created LIMIT ?"
        )
        rows = self._run(lambda db: db.execute(query, (limit,)).fetchall())
        return [Delivery(*row) for row in rows]


# Atomic in Redis: keep the message unless its key exists, and make it due now.
_ENQUEUE = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'key', ARGV[1], 'webhook', ARGV[2], 'body', ARGV[3],
           'attempts', 0, 'next_at', ARGV[4], 'last_error', '', 'created', ARGV[4])
redis.call('ZADD', KEYS[2], ARGV[4], KEYS[1])
return 1
"""
# Atomic in Redis: the due messages, each pushed `lease` seconds ahead so no one else takes it.
_CLAIM = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[3])
for _, item in ipairs(due) do redis.call('ZADD', KEYS[1], ARGV[2], item) end
return due
"""


class RedisOperate(_InRedis):
    """The audit trail (a capped list) and the outbox (a hash per message, a sorted set of
    pending ones by when they are due) in the shared Redis."""

    def __init__(self, url: str) -> None:
        super().__init__(url, timeout=2.0, connect=2.0)
        self._enqueue = self._redis.register_script(_ENQUEUE)
        self._claim = self._redis.register_script(_CLAIM)
        self._due = REDIS_OPERATE + "due"

    def record(self, entry: AuditEntry) -> None:
        def write() -> None:
            with self._redis.pipeline(transaction=True) as pipe:
                pipe.lpush(REDIS_OPERATE + "audit", json.dumps(astuple(entry)))
                pipe.ltrim(REDIS_OPERATE + "audit", 0, AUDIT_KEPT - 1)
                pipe.execute()

        self._run(write)

    def recent(self, limit: int) -> list[AuditEntry]:
        rows = self._run(lambda: self._redis.lrange(REDIS_OPERATE + "audit", 0, limit - 1))
        return [AuditEntry(*json.loads(row)) for row in rows]

    def baseline(self, now: float) -> float:
        name = REDIS_OPERATE + "baseline"
        self._run(lambda: self._redis.set(name, repr(now), nx=True))
        return float(self._run(lambda: self._redis.get(name)))

    def enqueue(self, delivery: Delivery, now: float) -> bool:
        item = self._item(delivery)
        args = (delivery.key, delivery.webhook, delivery.body, repr(now))
        return self._run(lambda: self._enqueue(keys=(item, self._due), args=args)) == 1

    def claim(self, now: float, lease: float, limit: int) -> list[Delivery]:
        args = (repr(now), repr(now + lease), limit)
        items = self._run(lambda: self._claim(keys=(self._due,), args=args))
        return [found for item in items if (found := self._read(item)) is not None]

    def delivered(self, delivery: Delivery, now: float) -> None:
        item = self._item(delivery)

        def write() -> None:
            with self._redis.pipeline(transaction=True) as pipe:
                pipe.zrem(self._due, item)
                pipe.hset(item, mapping={"sent_at": repr(now), "last_error": ""})
                pipe.hincrby(item, "attempts", 1)
                pipe.expire(item, DELIVERED_KEPT)
                pipe.execute()

        self._run(write)

    def retry(self, delivery: Delivery, at: float, error: str) -> None:
        item = self._item(delivery)

        def write() -> None:
            with self._redis.pipeline(transaction=True) as pipe:
                pipe.hset(item, mapping={"next_at": repr(at), "last_error": error})
                pipe.hincrby(item, "attempts", 1)
                pipe.zadd(self._due, {item: at}, xx=True)
                pipe.execute()

        self._run(write)

    def pending(self, limit: int) -> list[Delivery]:
        items = self._run(lambda: self._redis.zrange(self._due, 0, limit - 1))
        found = [self._read(item) for item in items]
        return [delivery for delivery in found if delivery is not None]

    def _item(self, delivery: Delivery) -> str:
        digest = hashlib.sha256(f"{delivery.key}\0{delivery.webhook}".encode()).hexdigest()
        return f"{REDIS_OPERATE}item:{digest}"

    def _read(self, item: bytes | str) -> Delivery | None:
        fields = self._run(lambda: self._redis.hgetall(item))
        if not fields:
            return None
        value = {key.decode(): raw.decode() for key, raw in fields.items()}
        return Delivery(
            value["key"],
            value["webhook"],
            value["body"],
            int(value["attempts"]),
            float(value["next_at"]),
            value["last_error"],
        )


# Digests of finished executions (webapp/runs keeps them here): the store's second interface.

REDIS_DIGESTS = "blaxel-webapp:digest:"  # one string per execution, the compressed body
REDIS_DIGEST_INDEX = "blaxel-webapp:digests:"  # one sorted set per job, scored by creation
REDIS_DIGEST_TIMES = "blaxel-webapp:digest-times:"  # one hash per job: execution → [run, wait]
DIGESTS_LOST = "digests of runs are made again and not kept"


class Timing(NamedTuple):
    """A digested execution's times, readable without its digest."""

    execution: str
    created: float  # seconds since the epoch
    run: float | None  # seconds
    wait: float | None


class DigestRows(Protocol):
    """Compressed digests of finished executions, each under (job, execution), ordered by the
    execution's creation time; at most `keep` per job, the newest kept. Never expire."""

    def put(self, timing: Timing, job: str, body: bytes, keep: int) -> bool:
        """Keeps the body unless the execution has one already; True if this call stored it."""
        ...

    def get(self, job: str, executions: list[str]) -> dict[str, bytes]:
        """The bodies kept of these executions of the job (those missing are left out)."""
        ...

    def timings(self, job: str, count: int) -> list[Timing]:
        """The times of the job's newest `count` executions kept, newest first."""
        ...

    def drop(self, job: str, execution: str) -> None:
        """Forgets one execution's digest (one this version cannot read), to be made again."""
        ...

    def close(self) -> None: ...


def open_digest_rows(settings: Settings) -> DigestRows:
    """Redis when WEBAPP_CACHE_URL is set, else the SQLite file in the data folder."""
    if settings.cache_url:
        return RedisDigestRows(settings.cache_url)
    return SqliteDigestRows(data_dir(settings) / FILE_NAME)


class SqliteDigestRows(_InSqlite):
    """Digests in the SQLite file, shared by every process of this machine. A file already there
    is opened (and checked) at once; a missing one is made on first use."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, loses=DIGESTS_LOST, lazily=True)

    def put(self, timing: Timing, job: str, body: bytes, keep: int) -> bool:
        def write(db: sqlite3.Connection) -> bool:
            row = (job, *timing, time.time(), body)  # the columns, in the table's order
            stored = db.execute(
                "INSERT OR IGNORE INTO digests VALUES (?, ?, ?, ?, ?, ?, ?)", row
            ).rowcount
            db.execute(
                "DELETE FROM digests WHERE job = ? AND execution NOT IN (SELECT execution "
                "FROM digests WHERE job = ? ORDER BY created DESC, execution DESC LIMIT ?)",
                (job, job, keep),
            )
            return stored == 1

        return bool(self._transaction(write))

    def get(self, job: str, executions: list[str]) -> dict[str, bytes]:
        found: dict[str, bytes] = {}
        # SQLite binds at most a few hundred values at once.
        for start in range(0, len(executions), 200):
            chunk = executions[start : start + 200]
            marks = ",".join("?" * len(chunk))
            query = f"SELECT execution, body FROM digests WHERE job = ? AND execution IN ({marks})"  # noqa: S608 - only placeholders
            rows = self._run(lambda db, q=query, c=chunk: db.execute(q, (job, *c)).fetchall())
            found.update((name, bytes(body)) for name, body in rows or ())
        return found

    def timings(self, job: str, count: int) -> list[Timing]:
        query = (
            "SELECT execution, created, run, wait FROM digests WHERE job = ? "
            "ORDER BY created DESC, execution DESC LIMIT ?"
        )
        rows = self._run(lambda db: db.execute(query, (job, count)).fetchall())
        return [Timing(*row) for row in rows or ()]

    def drop(self, job: str, execution: str) -> None:
        query = "DELETE FROM digests WHERE job = ? AND execution = ?"
        self._run(lambda db: db.execute(query, (job, execution)))


class RedisDigestRows(_InRedis):
    """Digests in Redis, shared by every app server using it: a string per execution (set once)
    and a sorted set per job that orders them and bounds how many are kept."""

    def __init__(self, url: str) -> None:
        super().__init__(url, timeout=2.0, connect=1.0, loses=DIGESTS_LOST)

    def put(self, timing: Timing, job: str, body: bytes, keep: int) -> bool:
        index, times = REDIS_DIGEST_INDEX + job, REDIS_DIGEST_TIMES + job

        def write() -> bool:
            # SET NX: of two workers making the same digest, one stores it.
            if not self._redis.set(self._key(job, timing.execution), body, nx=True):
                return False
            with self._redis.pipeline(transaction=True) as pipe:
                pipe.hset(times, timing.execution, json.dumps([timing.run, timing.wait]))
                pipe.zadd(index, {timing.execution: timing.created})
                pipe.execute()
            dropped = [name.decode() for name in self._redis.zrange(index, 0, -keep - 1)]
            if dropped:
                with self._redis.pipeline(transaction=True) as pipe:
                    pipe.zrem(index, *dropped)
                    pipe.hdel(times, *dropped)
                    pipe.delete(*(self._key(job, name) for name in dropped))
                    pipe.execute()
            return True

        return bool(self._run(write))

    def get(self, job: str, executions: list[str]) -> dict[str, bytes]:
        if not executions:
            return {}
        bodies = self._run(lambda: self._redis.mget([self._key(job, e) for e in executions]))
        return {name: body for name, body in zip(executions, bodies or (), strict=False) if body}

    def timings(self, job: str, count: int) -> list[Timing]:
        def read() -> list[Timing]:
            index = REDIS_DIGEST_INDEX + job
            named = self._redis.zrevrange(index, 0, count - 1, withscores=True)
            names = [name.decode() for name, _ in named]
            times = self._redis.hmget(REDIS_DIGEST_TIMES + job, names) if names else []
            return [
                Timing(name, created, *(json.loads(raw) if raw else (None, None)))
                for (name, created), raw in zip(
                    ((n, score) for n, (_, score) in zip(names, named, strict=True)),
                    times,
                    strict=True,
                )
            ]

        return self._run(read) or []

    def drop(self, job: str, execution: str) -> None:
        def forget() -> None:
            with self._redis.pipeline(transaction=True) as pipe:
                pipe.delete(self._key(job, execution))
                pipe.zrem(REDIS_DIGEST_INDEX + job, execution)
                pipe.hdel(REDIS_DIGEST_TIMES + job, execution)
                pipe.execute()

        self._run(forget)

    @staticmethod
    def _key(job: str, execution: str) -> str:
        return f"{REDIS_DIGESTS}{job}:{execution}"

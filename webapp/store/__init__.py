"""What every worker process must see alike, kept in a real database: SQLite by default (one file
in the data folder, WAL mode, shared by the processes of one machine), Redis for a team (the
shared cache's). The interface is small: timed events under a key, each kept for a while.

The SQLite file has a schema version (`PRAGMA user_version`) and forward migrations; a file the
app cannot read, or one written by a newer version, stops the app with a message naming it, and
is never deleted.
"""

from __future__ import annotations

import logging
import os
import secrets
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

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
    return SqliteEvents(open_database(data_dir(settings) / FILE_NAME))


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
    db.execute("BEGIN IMMEDIATE")
    try:
        if db.execute("PRAGMA user_version").fetchone()[0] == number:
            for statement in filter(str.strip, MIGRATIONS[number].split(";")):
                db.execute(statement)
            db.execute(f"PRAGMA user_version = {number + 1}")
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


class SqliteEvents:
    """Events in the SQLite file: every process of this machine that opens it sees them."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db
        self._lock = threading.Lock()
        self._failing = _OnceAnOutage("data file")

    def add(self, key: str, at: float, keep: float) -> None:
        def write(db: sqlite3.Connection) -> None:
            db.execute("BEGIN IMMEDIATE")
            try:
                db.execute("DELETE FROM events WHERE expires <= ?", (at,))
                db.execute("INSERT INTO events VALUES (?, ?, ?)", (key, at, at + keep))
                db.execute(
                    "DELETE FROM events WHERE rowid <= (SELECT max(rowid) FROM events) - ?",
                    (MAX_EVENTS,),
                )
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

        self._run(write)

    def since(self, key: str, start: float) -> list[float]:
        query = "SELECT at FROM events WHERE key = ? AND at >= ? ORDER BY at"
        rows = self._run(lambda db: db.execute(query, (key, start)).fetchall())
        return [row[0] for row in rows or ()]

    def drop(self, key: str) -> None:
        self._run(lambda db: db.execute("DELETE FROM events WHERE key = ?", (key,)))

    def close(self) -> None:
        self._db.close()

    def _run(self, work: Callable[[sqlite3.Connection], Any]) -> Any:
        with self._lock:
            try:
                result = work(self._db)
            except sqlite3.Error as error:
                self._failing.failed(error)
                return None
        self._failing.worked()
        return result


class RedisEvents:
    """Events in Redis, one sorted set per key: every process and host using it sees them."""

    def __init__(self, url: str) -> None:
        import redis

        self._errors = (redis.RedisError, OSError)
        self._redis = redis.Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)
        self._failing = _OnceAnOutage("shared store")

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

    def close(self) -> None:
        self._redis.close()

    def _run(self, work: Callable[[], Any]) -> Any:
        try:
            result = work()
        except self._errors as error:
            self._failing.failed(error)
            return None
        self._failing.worked()
        return result


class _OnceAnOutage:
    """Logs a store's failure once while it lasts, and its return: what it counts is lost
    meanwhile (nothing is refused for it), and whoever runs the app should know."""

    def __init__(self, what: str) -> None:
        self.what = what
        self._down = False

    def failed(self, error: BaseException) -> None:
        if not self._down:
            self._down = True
            log.warning(
                "%s failing (%s): sign-in failures go uncounted until it is back",
                self.what,
                type(error).__name__,
            )

    def worked(self) -> None:
        if self._down:
            self._down = False
            log.warning("%s is back", self.what)

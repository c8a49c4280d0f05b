"""A short-lived cache of upstream answers: one upstream call serves every identical request.

Two backends share one interface: `LocalCache` (this process) and `RedisCache` (every worker and
host that points at the same Redis). Both coalesce: while one request calls upstream, identical
requests wait for its answer instead of making their own call.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import secrets
import threading
import time
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import asdict, dataclass, replace
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

from .errors import ErrorKind, UpstreamError

log = logging.getLogger(__name__)

# Bump when the shape of what is stored changes, so old entries are never read.
NAMESPACE = "blaxel-webapp:1:"
MAX_HOLD_SECONDS = 300.0
DEFAULT_HOLD_SECONDS = 1.0


def request_key(*parts: Any) -> str:
    """A fixed-length key for a request; parts must be JSON-serialisable."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def token_digest(token: str) -> str:
    """Stands for the token in keys, so no cache ever holds the token itself."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass
class CallTimings:
    """What one request spent on upstream calls, for its Server-Timing header."""

    upstream: float = 0.0
    hits: int = 0
    misses: int = 0

    def add(self, seconds: float, hit: bool | None) -> None:
        self.upstream += seconds
        if hit is True:
            self.hits += 1
        elif hit is False:
            self.misses += 1


request_timings: ContextVar[CallTimings | None] = ContextVar("request_timings", default=None)


def retry_after_seconds(value: str | None, now: float | None = None) -> float:
    """Retry-After (seconds or an HTTP date) as seconds from now, bounded; nonsense: the default."""
    try:
        seconds = float(value) if value else DEFAULT_HOLD_SECONDS
    except ValueError:
        try:
            moment = parsedate_to_datetime(value or "")
        except (TypeError, ValueError):
            moment = None
        if moment is None or moment.tzinfo is None:
            seconds = DEFAULT_HOLD_SECONDS
        else:
            seconds = moment.timestamp() - (time.time() if now is None else now)
    if not math.isfinite(seconds) or seconds <= 0:
        seconds = DEFAULT_HOLD_SECONDS
    return min(seconds, MAX_HOLD_SECONDS)


def _held_error(fields: dict[str, Any], remaining: float) -> UpstreamError:
    return UpstreamError(
        ErrorKind.RATE_LIMITED,
        detail=fields.get("detail", ""),
        upstream_status=fields.get("upstream_status"),
        code=fields.get("code", ""),
        retry_after=str(max(1, math.ceil(remaining))),
    )


Lifetime = float | Callable[[Any], float]


def _seconds_for(ttl: Lifetime, value: Any) -> float:
    return ttl(value) if callable(ttl) else ttl


class UpstreamCache(ABC):
    """get-or-load with coalescing, plus two small memories: finished executions and 429 holds."""

    def __init__(self, ttl: float, final_ttl: float) -> None:
        self.ttl = ttl
        self.final_ttl = final_ttl

    @abstractmethod
    def fetch(self, key: str, load: Callable[[], Any], ttl: Lifetime) -> tuple[Any, bool]:
        """(value, hit): a stored value, another request's answer, or `load()`'s own.

        `ttl` is in seconds, or a function of the loaded value that says it.
        """

    @abstractmethod
    def mark(self, key: str, seconds: float, value: dict[str, Any]) -> None:
        """Remember a small fact for `seconds`."""

    @abstractmethod
    def recall(self, key: str) -> tuple[dict[str, Any], float] | None:
        """(fact, seconds left) if still remembered."""

    def remember_finished(self, execution_key: str) -> None:
        self.mark("finished:" + execution_key, self.final_ttl, {})

    def is_finished(self, execution_key: str) -> bool:
        return self.recall("finished:" + execution_key) is not None

    def hold(self, scope: str, error: UpstreamError) -> None:
        """After a 429, every call with these credentials waits out the Retry-After."""
        fields = {"detail": error.detail, "upstream_status": error.upstream_status}
        fields["code"] = error.code
        self.mark("hold:" + scope, retry_after_seconds(error.retry_after), fields)

    def check_hold(self, scope: str) -> None:
        held = self.recall("hold:" + scope)
        if held is not None:
            raise _held_error(*held)

    def close(self) -> None:  # noqa: B027 - only the Redis backend holds anything to release
        pass


class _Call:
    """One upstream call in flight that identical requests wait on."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.value: Any = None
        self.error: BaseException | None = None


class LocalCache(UpstreamCache):
    """Entries in this process: a bounded, least-recently-used dict with expiry times."""

    def __init__(
        self,
        ttl: float,
        final_ttl: float,
        *,
        max_entries: int = 256,
        wait_limit: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(ttl, final_ttl)
        self.max_entries = max_entries
        self.wait_limit = wait_limit
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, tuple[float, Any]] = OrderedDict()
        self._calls: dict[str, _Call] = {}
        self._marks: OrderedDict[str, tuple[float, dict[str, Any]]] = OrderedDict()

    def fetch(self, key: str, load: Callable[[], Any], ttl: Lifetime) -> tuple[Any, bool]:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry[0] > self._clock():
                self._entries.move_to_end(key)
                return entry[1], True
            call = self._calls.get(key)
            leading = call is None
            if call is None:
                call = self._calls[key] = _Call()
        if not leading:
            if not call.done.wait(self.wait_limit):
                return load(), False
            if call.error is not None:
                # A copy each: one exception object raised in several threads tangles tracebacks.
                error = call.error
                raise replace(error) if isinstance(error, UpstreamError) else error
            return call.value, True
        try:
            call.value = load()
        except BaseException as error:
            call.error = error
            raise
        finally:
            with self._lock:
                del self._calls[key]
                seconds = 0.0 if call.error else _seconds_for(ttl, call.value)
                if seconds > 0:
                    self._store(self._entries, key, (self._clock() + seconds, call.value))
            call.done.set()
        return call.value, False

    def mark(self, key: str, seconds: float, value: dict[str, Any]) -> None:
        with self._lock:
            self._store(self._marks, key, (self._clock() + seconds, value))

    def recall(self, key: str) -> tuple[dict[str, Any], float] | None:
        with self._lock:
            found = self._marks.get(key)
        if found is None:
            return None
        left = found[0] - self._clock()
        return (found[1], left) if left > 0 else None

    def _store(self, table: OrderedDict[str, Any], key: str, item: tuple[float, Any]) -> None:
        table[key] = item
        table.move_to_end(key)
        now = self._clock()
        for stale in [k for k, (expires, _) in table.items() if expires <= now]:
            del table[stale]
        while len(table) > self.max_entries:
            table.popitem(last=False)


# Deletes the lock only if it is still ours (it may have expired and been taken by another).
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


class RedisCache(UpstreamCache):
    """Entries in Redis, shared by every process; coalescing through a short `SET NX PX` lock.

    If Redis fails, calls go straight upstream (the page is served; the log says so once per
    outage) and Redis is tried again a second later.
    """

    def __init__(
        self,
        url: str,
        ttl: float,
        final_ttl: float,
        *,
        lock_seconds: float = 30.0,
        poll_seconds: float = 0.005,
        retry_seconds: float = 1.0,
    ) -> None:
        import redis

        super().__init__(ttl, final_ttl)
        self._errors = (redis.RedisError, OSError)
        self._redis = redis.Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)
        self._release = self._redis.register_script(_RELEASE)
        parts = urlsplit(url)
        # Host and port only: a Redis URL may carry a password.
        self.where = f"{parts.hostname or 'localhost'}:{parts.port or 6379}"
        self.lock_seconds = lock_seconds
        self.poll_seconds = poll_seconds
        self.retry_seconds = retry_seconds
        self._state_lock = threading.Lock()
        self._down = False
        self._retry_at = 0.0

    def close(self) -> None:
        self._redis.close()

    def fetch(self, key: str, load: Callable[[], Any], ttl: Lifetime) -> tuple[Any, bool]:
        if self._skipping():
            return load(), False
        data, lock = NAMESPACE + "data:" + key, NAMESPACE + "lock:" + key
        try:
            found = self._redis.get(data)
            self._up()
            if found is not None:
                return json.loads(found), True
            deadline = time.monotonic() + self.lock_seconds
            while True:
                claim = secrets.token_hex(8)
                if self._redis.set(lock, claim, nx=True, px=int(self.lock_seconds * 1000)):
                    break
                outcome = self._follow(data, lock, deadline)
                if outcome is not None:
                    return outcome, True
                if time.monotonic() > deadline:
                    return load(), False
        except self._errors as error:
            self._went_down(error)
            return load(), False
        return self._lead(data, lock, claim, load, ttl), False

    def _follow(self, data: str, lock: str, deadline: float) -> Any:
        """Wait for the lock holder's answer; None when the lock went without one."""
        holder = self._redis.get(lock)
        pause = self.poll_seconds
        while time.monotonic() < deadline:
            found, current = self._redis.mget(data, lock)
            if found is not None:
                return json.loads(found)
            if current != holder or current is None:
                failed = self._redis.get(NAMESPACE + "failed:" + (holder or b"").decode())
                if failed is not None:
                    raise UpstreamError(**_error_fields(json.loads(failed)))
                return None
            time.sleep(pause)
            pause = min(pause * 1.5, 0.05)
        return None

    def _lead(self, data: str, lock: str, claim: str, load: Callable[[], Any], ttl: Lifetime):
        try:
            value = load()
        except UpstreamError as error:
            # Not cached: only the requests already waiting on this call see its error.
            failed = json.dumps(_error_json(error))
            self._quietly(lambda: self._redis.set(NAMESPACE + "failed:" + claim, failed, px=5000))
            self._quietly(lambda: self._release(keys=[lock], args=[claim]))
            raise
        except BaseException:
            self._quietly(lambda: self._release(keys=[lock], args=[claim]))
            raise
        seconds = _seconds_for(ttl, value)
        if seconds > 0:
            encoded = json.dumps(value, separators=(",", ":"))
            self._quietly(lambda: self._redis.set(data, encoded, px=max(1, int(seconds * 1000))))
        self._quietly(lambda: self._release(keys=[lock], args=[claim]))
        return value

    def mark(self, key: str, seconds: float, value: dict[str, Any]) -> None:
        encoded = json.dumps(value)
        self._quietly(
            lambda: self._redis.set(NAMESPACE + key, encoded, px=max(1, int(seconds * 1000)))
        )

    def recall(self, key: str) -> tuple[dict[str, Any], float] | None:
        def read() -> tuple[Any, Any]:
            with self._redis.pipeline(transaction=False) as pipe:
                return tuple(pipe.get(NAMESPACE + key).pttl(NAMESPACE + key).execute())

        found = self._quietly(read)
        if not found or found[0] is None:
            return None
        return json.loads(found[0]), max(found[1], 1) / 1000

    def _quietly(self, action: Callable[[], Any]) -> Any:
        if self._skipping():
            return None
        try:
            result = action()
        except self._errors as error:
            self._went_down(error)
            return None
        self._up()
        return result

    def _skipping(self) -> bool:
        return self._down and time.monotonic() < self._retry_at

    def _went_down(self, error: BaseException) -> None:
        with self._state_lock:
            self._retry_at = time.monotonic() + self.retry_seconds
            if self._down:
                return
            self._down = True
        log.warning(
            "shared cache at %s unreachable (%s): calling Blaxel directly until it is back",
            self.where,
            type(error).__name__,
        )

    def _up(self) -> None:
        if not self._down:
            return
        with self._state_lock:
            was_down, self._down = self._down, False
        if was_down:
            log.warning("shared cache at %s is back", self.where)


def _error_json(error: UpstreamError) -> dict[str, Any]:
    fields = asdict(error)
    fields["kind"] = error.kind.value
    return fields


def _error_fields(raw: dict[str, Any]) -> dict[str, Any]:
    return {**raw, "kind": ErrorKind(raw["kind"])}


def make_cache(
    url: str, ttl: float, final_ttl: float, clock: Callable[[], float] = time.monotonic
) -> UpstreamCache | None:
    """The cache the settings ask for: none (TTL 0), Redis (a URL), else this process's.

    `clock` (seconds) times the in-process cache; Redis times its own entries.
    """
    if ttl <= 0:
        return None
    if url:
        return RedisCache(url, ttl, final_ttl)
    return LocalCache(ttl, final_ttl, clock=clock)

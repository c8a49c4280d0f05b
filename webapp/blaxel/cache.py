"""The client's methods, shared: one upstream call serves everyone asking the same thing.

`CachedClient` wraps a `BlaxelClient` with the same methods and holds the policy: how long an
answer is kept (finished executions keep theirs longer, searched views do not), the hold that a
429 puts on every call made with the same credentials, and what is too large to keep. The two
stores hold encoded answers in bytes: `LocalStore` in this process within a byte budget,
`RedisStore` shared by every worker and host. Both coalesce: while one request calls upstream,
identical requests wait for its answer instead of making their own call.
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
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from typing import Any, TypeVar
from urllib.parse import urlsplit

import msgspec

from . import logs
from .client import BlaxelClient, CallRecord, CallScope, PageRequest, decode, execution_path
from .errors import ErrorKind, UpstreamError
from .logs import LogPage, LogRequest
from .models import Execution, Job, Page, Revision, Task
from .transport import DEFAULT_RETRY_AFTER_SECONDS

log = logging.getLogger(__name__)
T = TypeVar("T")

# Bump when the shape of what is stored changes, so old entries are never read.
NAMESPACE = "blaxel-webapp:2:"
# Answers larger than this are not kept: a few of them would crowd out everything else.
MAX_ENTRY_BYTES = 1024 * 1024
DEFAULT_BUDGET_BYTES = 64 * 1024 * 1024
# The longest a 429 holds every call back, whatever its Retry-After asks (a setting).
DEFAULT_MAX_HOLD_SECONDS = 60.0

_encoder = msgspec.json.Encoder()


def request_key(*parts: Any) -> str:
    """A fixed-length key for a request; parts must be JSON-serialisable or dataclasses."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=asdict).encode()).hexdigest()


Lifetime = Callable[[bytes], float]


class Store(ABC):
    """get-or-load of byte strings with coalescing, plus small facts remembered for a while."""

    @abstractmethod
    def fetch(
        self,
        key: str,
        load: Callable[[], bytes],
        lifetime: Lifetime,
        deadline: float | None = None,
    ) -> tuple[bytes, bool]:
        """(value, hit): a stored value, another request's answer, or `load()`'s own, kept for
        `lifetime(value)` seconds (0: not kept). Another request's call is waited on until
        `deadline` (monotonic) at most: then the wait ends as a timeout, as a call would."""

    @abstractmethod
    def extend(self, key: str, seconds: float) -> None:
        """Keep a stored value for `seconds` from now, if it is still there."""

    @abstractmethod
    def mark(self, key: str, seconds: float, value: dict[str, Any]) -> None:
        """Remember a small fact for `seconds`."""

    @abstractmethod
    def recall(self, key: str) -> tuple[dict[str, Any], float] | None:
        """(fact, seconds left) if still remembered."""

    def close(self) -> None:  # noqa: B027 - only the Redis store holds anything to release
        pass


# Answers kept decoded in this process, by the bytes of their JSON: a warm page reads the same
# answers again (a failed-first view its execution's every page), and decoding is most of its
# work. Bounded by those bytes; decoded objects take about twice as much.
DECODED_BYTES = 16 * 1024 * 1024


class Decoded:
    """The decoded answer of each key as long as its stored bytes are the same: a value made of
    those bytes alone, the same for whoever asked (the key already names who asks whom)."""

    def __init__(self, max_bytes: int = DECODED_BYTES) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[tuple[str, Any], tuple[bytes, Any]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: str, body: bytes, kind: type[T]) -> T:
        with self._lock:
            kept = self._entries.get((key, kind))
            if kept is not None and (kept[0] is body or kept[0] == body):
                self._entries.move_to_end((key, kind))
                return kept[1]
        value = decode(body, kind)
        self.put(key, body, kind, value)
        return value

    def put(self, key: str, body: bytes, kind: Any, value: Any) -> None:
        if len(body) > self.max_bytes:
            return
        with self._lock:
            old = self._entries.pop((key, kind), None)
            self._bytes += len(body) - (len(old[0]) if old else 0)
            self._entries[(key, kind)] = (body, value)
            while self._bytes > self.max_bytes:
                _, (dropped, _) = self._entries.popitem(last=False)
                self._bytes -= len(dropped)


class CachedClient:
    """A BlaxelClient's methods through a Store."""

    def __init__(
        self,
        client: BlaxelClient,
        store: Store,
        *,
        ttl: float,
        final_ttl: float,
        max_hold: float = DEFAULT_MAX_HOLD_SECONDS,
    ) -> None:
        self.client = client
        # Where a request's independent calls run side by side (Session.together).
        self.pool = ThreadPoolExecutor(32, thread_name_prefix="blaxel-call")
        self.store = store
        self.ttl = ttl
        self.final_ttl = final_ttl
        self.max_hold = max_hold
        self.max_entry_bytes = MAX_ENTRY_BYTES
        # Who is asking whom: every key starts with it (the token only as a digest, so that no
        # cache ever holds the token itself).
        digest = hashlib.sha256(client.token.encode()).hexdigest()
        self._scope = request_key(*client.credentials, digest)
        # Task pages kept for the short TTL while their execution's state was not yet known, by
        # execution: a GetJobExecution made side by side that then says finished keeps them for
        # the final TTL too, whichever of the two calls answered first.
        self._provisional: OrderedDict[str, list[str]] = OrderedDict()
        self._provisional_lock = threading.Lock()
        self.decoded = Decoded()

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.client.close()
        self.store.close()

    def list_jobs(self, page: PageRequest, scope: CallScope, *, shared: bool = True) -> Page[Job]:
        load = lambda: self.client.list_jobs(page, scope)  # noqa: E731
        return self._through("ListJobs", ("jobs", page), load, Page[Job], scope, shared=shared)

    def list_executions(self, job_id: str, page: PageRequest, scope: CallScope) -> Page[Execution]:
        load = lambda: self.client.list_executions(job_id, page, scope)  # noqa: E731
        key = ("executions", job_id, page)
        return self._through("ListJobExecutions", key, load, Page[Execution], scope)

    def get_execution(self, job_id: str, execution_id: str, scope: CallScope) -> Execution:
        load = lambda: self.client.get_execution(job_id, execution_id, scope)  # noqa: E731
        key = ("execution", job_id, execution_id)
        finished = self._finished(job_id, execution_id)

        def lifetime(body: bytes) -> float:
            if finished or decode(body, Execution).is_finished:
                return self.final_ttl
            return self.ttl

        execution = self._through("GetJobExecution", key, load, Execution, scope, lifetime)
        if execution.is_finished and not finished:
            self.store.mark(self._finished_key(job_id, execution_id), self.final_ttl, {})
            with self._provisional_lock:
                pages = self._provisional.pop(execution_path(job_id, execution_id), [])
            for stored in pages:
                self.store.extend(stored, self.final_ttl)
        return execution

    def list_job_revisions(self, job_id: str, scope: CallScope) -> tuple[Revision, ...]:
        load = lambda: self.client.list_job_revisions(job_id, scope)  # noqa: E731
        key = ("revisions", job_id)
        return self._through("ListJobRevisions", key, load, tuple[Revision, ...], scope)

    def list_tasks(
        self,
        job_id: str,
        execution_id: str,
        page: PageRequest,
        scope: CallScope,
        *,
        shared: bool = True,
    ) -> Page[Task]:
        """`shared=False`: past the cache (walks of a whole execution), under the 429 hold."""
        load = lambda: self.client.list_tasks(job_id, execution_id, page, scope)  # noqa: E731

        key = ("tasks", job_id, execution_id, page)

        def lifetime(_: bytes) -> float:
            # A finished execution's pages no longer change. Searched ones are not kept long,
            # since every distinct search would otherwise stay for the final TTL.
            if page.q:
                return self.ttl
            if self._finished(job_id, execution_id):
                return self.final_ttl
            self._provisionally(execution_path(job_id, execution_id), key)
            return self.ttl

        return self._through(
            "ListJobExecutionTasks", key, load, Page[Task], scope, lifetime, shared=shared
        )

    def _provisionally(self, execution: str, key_parts: tuple[Any, ...]) -> None:
        """Note a task page kept for the short TTL; the last 256 executions' last 16 pages."""
        stored = request_key(self._scope, key_parts)
        with self._provisional_lock:
            pages = self._provisional.setdefault(execution, [])
            self._provisional.move_to_end(execution)
            pages[:] = [*pages[-15:], stored]
            while len(self._provisional) > 256:
                self._provisional.popitem(last=False)

    def remember(self, name: str, parts: tuple[Any, ...], value: dict[str, Any], seconds: float):
        """Keep a small value the app made from these credentials' answers, shared like them."""
        if seconds > 0:
            self.store.mark(self._note_key(name, parts), seconds, value)

    def recall(self, name: str, parts: tuple[Any, ...]) -> dict[str, Any] | None:
        found = self.store.recall(self._note_key(name, parts))
        return found[0] if found is not None else None

    def _note_key(self, name: str, parts: tuple[Any, ...]) -> str:
        return f"note:{name}:" + request_key(self._scope, parts)

    def task_logs(self, request: LogRequest, scope: CallScope, *, settled: bool = False) -> LogPage:
        """A task's lines change while it runs (and for a while after, as late lines arrive):
        kept for the TTL only, unless `settled` (see logs.settled); searches never for long."""
        load = lambda: self.client.task_logs(request, scope)  # noqa: E731
        ttl = self.final_ttl if settled and not request.search else self.ttl
        key = ("logs", *request.cache_key())
        return self._through(logs.ENDPOINT, key, load, LogPage, scope, lambda _: ttl)

    def _finished_key(self, job_id: str, execution_id: str) -> str:
        return "finished:" + request_key(self._scope, execution_path(job_id, execution_id))

    def _finished(self, job_id: str, execution_id: str) -> bool:
        """Whether GetJobExecution was seen to say final: such answers no longer change."""
        return self.store.recall(self._finished_key(job_id, execution_id)) is not None

    def _through(
        self,
        endpoint: str,
        key_parts: tuple[Any, ...],
        load: Callable[[], T],
        kind: type[T],
        scope: CallScope,
        lifetime: Lifetime | None = None,
        *,
        shared: bool = True,
    ) -> T:
        loaded: list[T] = []

        def load_bytes() -> bytes:
            loaded.append(load())
            return _encoder.encode(loaded[0])

        def kept_for(body: bytes) -> float:
            if len(body) > self.max_entry_bytes:
                return 0.0
            return lifetime(body) if lifetime else self.ttl

        self._check_hold(endpoint, scope)
        started = time.monotonic()
        try:
            if not shared or (self.ttl <= 0 and self.final_ttl <= 0):
                return load()  # nothing would be kept: no store, no copy of the answer
            key = request_key(self._scope, key_parts)
            body, _ = self.store.fetch(key, load_bytes, kept_for, scope.call_deadline())
        except UpstreamError as error:
            if error.kind is ErrorKind.RATE_LIMITED:
                # The page that met the 429 tells the same wait as the pages held after it.
                error.retry_after = self._hold(error)
            raise
        if loaded:
            self.decoded.put(key, body, kind, loaded[0])
            return loaded[0]
        scope.note(CallRecord(endpoint, 200, time.monotonic() - started, 0, "hit", started))
        return self.decoded.get(key, body, kind)

    def _hold(self, error: UpstreamError) -> float:
        """After a 429, every call with these credentials waits out the Retry-After, at most
        max_hold seconds (a date far ahead would hold every page for long); the hold's length."""
        seconds = min(error.retry_after or DEFAULT_RETRY_AFTER_SECONDS, self.max_hold)
        fields = {"detail": error.detail, "upstream_status": error.upstream_status}
        self.store.mark("hold:" + self._scope, seconds, {**fields, "code": error.code})
        return seconds

    def _check_hold(self, endpoint: str, scope: CallScope) -> None:
        held = self.store.recall("hold:" + self._scope)
        if held is None:
            return
        fields, remaining = held
        scope.note(CallRecord(endpoint, 429, 0.0, 0, "held", time.monotonic()))
        retry_after = float(max(1, math.ceil(remaining)))
        raise UpstreamError(ErrorKind.RATE_LIMITED, retry_after=retry_after, **fields)


class _Call:
    """One upstream call in flight that identical requests wait on."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.value: bytes = b""
        self.error: BaseException | None = None


class LocalStore(Store):
    """Entries in this process: least recently used first out, within a byte budget."""

    def __init__(
        self, *, max_bytes: int = DEFAULT_BUDGET_BYTES, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.max_bytes = max_bytes
        self.max_facts = 4096  # holds, finished executions and notes remembered at once
        self.wait_limit = 60.0  # seconds a request waits on an identical call before its own
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._bytes = 0
        self._calls: dict[str, _Call] = {}
        self._facts: OrderedDict[str, tuple[float, dict[str, Any]]] = OrderedDict()

    @property
    def size(self) -> int:
        """Bytes of answers held now."""
        return self._bytes

    def fetch(
        self,
        key: str,
        load: Callable[[], bytes],
        lifetime: Lifetime,
        deadline: float | None = None,
    ) -> tuple[bytes, bool]:
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
            wait, cut_short = _wait(self.wait_limit, deadline)
            if not call.done.wait(wait):
                if cut_short:
                    raise UpstreamError(ErrorKind.TIMED_OUT, "no answer in time")
                return load(), False
            if call.error is not None:
                raise _copy(call.error)
            return call.value, True
        try:
            call.value = load()
        except BaseException as error:
            call.error = error
            raise
        finally:
            # Asked outside the lock: a lifetime may look at facts this store remembers.
            seconds = 0.0 if call.error else lifetime(call.value)
            with self._lock:
                del self._calls[key]
                if seconds > 0 and len(call.value) <= self.max_bytes:
                    self._keep(key, self._clock() + seconds, call.value)
            call.done.set()
        return call.value, False

    def extend(self, key: str, seconds: float) -> None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry[0] > self._clock():
                self._entries[key] = (self._clock() + seconds, entry[1])

    def mark(self, key: str, seconds: float, value: dict[str, Any]) -> None:
        with self._lock:
            self._facts[key] = (self._clock() + seconds, value)
            self._facts.move_to_end(key)
            while len(self._facts) > self.max_facts:
                self._facts.popitem(last=False)

    def recall(self, key: str) -> tuple[dict[str, Any], float] | None:
        with self._lock:
            found = self._facts.get(key)
        if found is None:
            return None
        left = found[0] - self._clock()
        return (found[1], left) if left > 0 else None

    def _keep(self, key: str, expires: float, value: bytes) -> None:
        old = self._entries.pop(key, None)
        if old is not None:
            self._bytes -= len(old[1])
        self._entries[key] = (expires, value)
        self._bytes += len(value)
        now = self._clock()
        for stale in [k for k, (until, _) in self._entries.items() if until <= now]:
            self._bytes -= len(self._entries.pop(stale)[1])
        while self._bytes > self.max_bytes:
            self._bytes -= len(self._entries.popitem(last=False)[1][1])


def _wait(limit: float, deadline: float | None) -> tuple[float, bool]:
    """How long to wait on another request's call, and whether the deadline cut that short."""
    if deadline is None or deadline - time.monotonic() >= limit:
        return limit, False
    return max(deadline - time.monotonic(), 0.0), True


def _copy(error: BaseException) -> BaseException:
    # A copy each: one exception object raised in several threads tangles tracebacks.
    if isinstance(error, UpstreamError):
        return UpstreamError(**error.fields())
    return error


# Deletes the lock only if it is still ours (it may have expired and been taken by another).
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


class RedisStore(Store):
    """Entries in Redis, shared by every process; coalescing through a short `SET NX PX` lock.

    If Redis fails, calls go straight upstream (the page is served; the log says so once per
    outage) and Redis is tried again a second later. Redis bounds its own memory: run it with
    `maxmemory` and `maxmemory-policy volatile-lru` (every key here expires).
    """

    def __init__(self, url: str) -> None:
        import redis

        self._errors = (redis.RedisError, OSError)
        self._redis = redis.Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)
        self._release = self._redis.register_script(_RELEASE)
        parts = urlsplit(url)
        # Host and port only: a Redis URL may carry a password.
        self.where = f"{parts.hostname or 'localhost'}:{parts.port or 6379}"
        self.lock_seconds = 30.0  # the longest one call holds a key's lock
        self.poll_seconds = 0.005  # the first pause between looks for the holder's answer
        self.retry_seconds = 1.0  # after a failure, Redis is left alone this long
        self._state_lock = threading.Lock()
        self._down = False
        self._retry_at = 0.0

    def close(self) -> None:
        self._redis.close()

    def fetch(
        self,
        key: str,
        load: Callable[[], bytes],
        lifetime: Lifetime,
        deadline: float | None = None,
    ) -> tuple[bytes, bool]:
        if self._skipping():
            return load(), False
        data, lock = NAMESPACE + "data:" + key, NAMESPACE + "lock:" + key
        try:
            found = self._redis.get(data)
            self._up()
            if found is not None:
                return found, True
            wait, cut_short = _wait(self.lock_seconds, deadline)
            until = time.monotonic() + wait
            while True:
                claim = secrets.token_hex(8)
                if self._redis.set(lock, claim, nx=True, px=int(self.lock_seconds * 1000)):
                    # The lock's last holder may have stored its answer between our first look
                    # and this claim: then that answer serves, and no second call goes out.
                    found = self._redis.get(data)
                    if found is None:
                        break
                    self._release(keys=[lock], args=[claim])
                    return found, True
                outcome = self._follow(data, lock, until)
                if outcome is not None:
                    return outcome, True
                if time.monotonic() >= until:
                    if cut_short:
                        raise UpstreamError(ErrorKind.TIMED_OUT, "no answer in time")
                    return load(), False
                # The lock went: its holder may have stored an answer just before letting go.
                found = self._redis.get(data)
                if found is not None:
                    return found, True
        except self._errors as error:
            self._went_down(error)
            return load(), False
        return self._lead(data, lock, claim, load, lifetime), False

    def _follow(self, data: str, lock: str, deadline: float) -> bytes | None:
        """Wait for the lock holder's answer; None when the lock went without one."""
        holder = self._redis.get(lock)
        pause = self.poll_seconds
        while time.monotonic() < deadline:
            found, current = self._redis.mget(data, lock)
            if found is not None:
                return found
            if current != holder or current is None:
                failed = self._redis.get(NAMESPACE + "failed:" + (holder or b"").decode())
                if failed is not None:
                    raw = json.loads(failed)
                    raise UpstreamError(**{**raw, "kind": ErrorKind(raw["kind"])})
                return None
            time.sleep(pause)
            pause = min(pause * 1.5, 0.05)
        return None

    def _lead(
        self, data: str, lock: str, claim: str, load: Callable[[], bytes], lifetime: Lifetime
    ) -> bytes:
        try:
            value = load()
        except UpstreamError as error:
            # Not cached: only the requests already waiting on this call see its error.
            failed = _encoder.encode(error)
            self._quietly(lambda: self._redis.set(NAMESPACE + "failed:" + claim, failed, px=5000))
            self._quietly(lambda: self._release(keys=[lock], args=[claim]))
            raise
        except BaseException:
            self._quietly(lambda: self._release(keys=[lock], args=[claim]))
            raise
        seconds = lifetime(value)
        if seconds > 0:
            self._quietly(lambda: self._redis.set(data, value, px=max(1, int(seconds * 1000))))
        self._quietly(lambda: self._release(keys=[lock], args=[claim]))
        return value

    def extend(self, key: str, seconds: float) -> None:
        data = NAMESPACE + "data:" + key
        self._quietly(lambda: self._redis.pexpire(data, max(1, int(seconds * 1000))))

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

"""The Blaxel control-plane client: HTTP and Blaxel, nothing of Flask."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Mapping
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar
from urllib.parse import quote

import httpx

from .cache import Lifetime, UpstreamCache, request_key, request_timings, token_digest
from .errors import ErrorKind, UpstreamError
from .models import Execution, Job, Page, ShapeError, Task
from .query import ListQuery
from .redaction import install_redaction

API_VERSION = "2026-04-28"
USER_AGENT = "blaxel-tasks-webapp/0.1"
MAX_BODY_BYTES = 8 * 1024 * 1024
# Reads are idempotent: a transient failure is retried twice at most, within the same deadline.
RETRIES = 2
BACKOFF_SECONDS = 0.2
MIN_ATTEMPT_SECONDS = 0.05
RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})
# Called after each upstream call with (status or None, seconds, attempts); see requestlog.py.
Observer = Callable[[int | None, float, int], None]
T = TypeVar("T")


_sleep = time.sleep


def _segment(value: str) -> str:
    # safe="" so "/", "?", "#" and "%" cannot change the upstream route.
    return quote(value, safe="")


def _execution_path(job_id: str, execution_id: str) -> str:
    return f"jobs/{_segment(job_id)}/executions/{_segment(execution_id)}"


class BlaxelClient:
    """One long-lived connection pool to the Blaxel API."""

    observer: Observer | None = None

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        workspace: str = "",
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
        cache: UpstreamCache | None = None,
    ) -> None:
        headers = {
            "Authorization": f"Bearer {token}",
            "Blaxel-Version": API_VERSION,
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
        }
        if workspace:
            headers["X-Blaxel-Workspace"] = workspace
        # httpx logs every URL it fetches, cursors included, whoever drives this client.
        install_redaction()
        self.timeout = timeout
        self.cache = cache
        # Who is asking whom: every cache key starts with it (the token only as a digest).
        self._scope = request_key(base_url, workspace, API_VERSION, token_digest(token))
        self._http = httpx.Client(
            base_url=base_url.rstrip("/") + "/",
            headers=headers,
            timeout=httpx.Timeout(timeout),
            limits=httpx.Limits(max_connections=32, max_keepalive_connections=16),
            transport=transport,
            follow_redirects=False,
        )

    def __repr__(self) -> str:
        return f"BlaxelClient({str(self._http.base_url)!r})"

    def close(self) -> None:
        self._http.close()

    def list_jobs(self, query: ListQuery, *, shared: bool = True) -> Page[Job]:
        body = self._cached_json("jobs", query.upstream_params(), shared=shared)
        return self._parse(lambda: Page.from_json(body, Job.from_json))

    def list_executions(self, job_id: str, query: ListQuery) -> Page[Execution]:
        path = f"jobs/{_segment(job_id)}/executions"
        body = self._cached_json(path, query.upstream_params())
        return self._parse(lambda: Page.from_json(body, Execution.from_json))

    def get_execution(self, job_id: str, execution_id: str) -> Execution:
        path = _execution_path(job_id, execution_id)
        finished = self._finished(path)
        body = self._cached_json(path, {}, finished=finished, final=_final_execution)
        execution = self._parse(lambda: Execution.from_json(body))
        if self.cache is not None and execution.is_finished and not finished:
            self.cache.remember_finished(request_key(self._scope, path))
        return execution

    def list_tasks(
        self, job_id: str, execution_id: str, query: ListQuery, *, shared: bool = True
    ) -> Page[Task]:
        """One page of tasks; `shared=False` keeps it out of the cache (walks of a whole list)."""
        execution_path = _execution_path(job_id, execution_id)
        path = execution_path + "/tasks"
        finished = self._finished(execution_path)
        body = self._cached_json(path, query.upstream_params(), finished=finished, shared=shared)
        return self._parse(lambda: Page.from_json(body, Task.from_json))

    @staticmethod
    def _parse(build: Callable[[], T]) -> T:
        try:
            return build()
        except ShapeError as exc:
            raise UpstreamError(ErrorKind.BAD_RESPONSE, str(exc)) from None

    def _finished(self, execution_path: str) -> bool:
        """Whether GetJobExecution was seen to say final: such answers no longer change."""
        return self.cache is not None and self.cache.is_finished(
            request_key(self._scope, execution_path)
        )

    def _cached_json(
        self,
        path: str,
        params: Mapping[str, str | int],
        *,
        finished: bool = False,
        final: Callable[[Any], bool] | None = None,
        shared: bool = True,
    ) -> Any:
        """`_get_json` through the cache, if there is one; the time spent goes to the request.

        Answers about a finished execution (`finished`, or `final` says so of the answer) are
        kept for the cache's final TTL, since they no longer change.
        """
        started = time.perf_counter()
        hit: bool | None = None
        try:
            if self.cache is None or not shared:
                return self._get_json(path, params)
            self.cache.check_hold(self._scope)
            key = request_key(self._scope, "GET", path, sorted(params.items()))
            cache = self.cache
            ttl: Lifetime = cache.final_ttl if finished else cache.ttl
            if final is not None and not finished:
                ttl = lambda body: cache.final_ttl if final(body) else cache.ttl  # noqa: E731
            try:
                body, hit = self.cache.fetch(key, lambda: self._get_json(path, params), ttl)
            except UpstreamError as error:
                if error.kind is ErrorKind.RATE_LIMITED:
                    self.cache.hold(self._scope, error)
                raise
            return body
        finally:
            timings = request_timings.get()
            if timings is not None:
                timings.add(time.perf_counter() - started, hit)

    def _get_json(self, path: str, params: Mapping[str, str | int]) -> Any:
        # One total deadline covers every attempt, backoff pauses included.
        started = time.monotonic()
        deadline = started + self.timeout
        attempt = 0
        status: int | None = None
        try:
            while True:
                try:
                    status, raw = self._exchange(path, params, deadline)
                    break
                except UpstreamError as error:
                    status = error.upstream_status
                    pause = _retry_pause(error, attempt, deadline)
                    if pause is None:
                        raise
                    attempt += 1
                    _sleep(pause)
        finally:
            if self.observer is not None:
                self.observer(status, time.monotonic() - started, attempt + 1)
        try:
            return json.loads(raw)
        except (UnicodeDecodeError, ValueError):
            raise UpstreamError(ErrorKind.BAD_RESPONSE, "not JSON", 200) from None

    def _exchange(
        self, path: str, params: Mapping[str, str | int], deadline: float
    ) -> tuple[int, bytes]:
        """One GET: (200, body) or an UpstreamError; httpx's timeout bounds each read."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise UpstreamError(ErrorKind.TIMED_OUT, "no answer in time")
        answered = False
        try:
            with self._http.stream("GET", path, params=params, timeout=remaining) as response:
                answered = True
                body = bytearray()
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > MAX_BODY_BYTES:
                        raise UpstreamError(ErrorKind.BAD_RESPONSE, "answer too large", 200)
                    if time.monotonic() > deadline:
                        raise UpstreamError(ErrorKind.TIMED_OUT, "answer too slow")
        except httpx.TimeoutException:
            raise UpstreamError(ErrorKind.TIMED_OUT, "no answer in time") from None
        except httpx.HTTPError as exc:
            # Nothing was answered (refused, or a pooled connection the server had closed):
            # sending the same read again is safe.
            transient = not answered and isinstance(
                exc, httpx.ConnectError | httpx.RemoteProtocolError
            )
            raise UpstreamError(
                ErrorKind.UNAVAILABLE, type(exc).__name__, transient=transient
            ) from None
        if response.status_code != 200:
            raise _classify(response, bytes(body))
        return 200, bytes(body)


def _retry_pause(error: UpstreamError, attempt: int, deadline: float) -> float | None:
    """Seconds to wait before sending the read again, or None to give up now."""
    if not error.transient or attempt >= RETRIES:
        return None
    # Jittered exponential backoff, so many viewers do not retry in step.
    pause = BACKOFF_SECONDS * 2**attempt * random.uniform(0.5, 1.0)  # noqa: S311 - not crypto
    asked = _retry_after_seconds(error.retry_after)
    if error.kind is ErrorKind.RATE_LIMITED and asked is None:
        return None  # a 429 without Retry-After gives no safe moment to come back
    if asked is not None:
        pause = max(pause, asked)
    # Wait only if the pause leaves time for the attempt itself.
    if time.monotonic() + pause + MIN_ATTEMPT_SECONDS > deadline:
        return None
    return pause


def _retry_after_seconds(value: str | None) -> float | None:
    """Retry-After in seconds, from either of its forms (delay seconds or an HTTP-date)."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        return None
    return max(0.0, moment.timestamp() - time.time())


def _final_execution(body: Any) -> bool:
    try:
        return Execution.from_json(body).is_finished
    except ShapeError:
        return False


def _error_body(raw: bytes) -> tuple[str, str, bool | None]:
    """(code, message, retryable) from either of Blaxel's two error shapes."""
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, ValueError):
        return "", "", None
    if not isinstance(body, dict):
        return "", "", None
    error = body.get("error")
    if isinstance(error, dict):
        code, message = error.get("code"), error.get("message")
        retryable = error.get("retryable")
    else:
        code, message, retryable = error, body.get("message"), None
    return (
        code if isinstance(code, str) else "",
        message[:500] if isinstance(message, str) else "",
        retryable if isinstance(retryable, bool) else None,
    )


def _classify(response: httpx.Response, raw: bytes) -> UpstreamError:
    status = response.status_code
    code, message, retryable = _error_body(raw)
    if status == 404:
        kind = ErrorKind.NOT_FOUND
    elif status in (401, 403):
        kind = ErrorKind.CREDENTIALS_REFUSED
    elif status == 429:
        kind = ErrorKind.RATE_LIMITED
    elif status >= 500 or retryable:
        kind = ErrorKind.UNAVAILABLE
    else:
        kind = ErrorKind.REJECTED
    retry_after = response.headers.get("Retry-After")
    return UpstreamError(
        kind,
        detail=message,
        upstream_status=status,
        code=code,
        retry_after=retry_after if retry_after and len(retry_after) < 64 else None,
        transient=status in RETRYABLE_STATUSES or retryable is True,
    )

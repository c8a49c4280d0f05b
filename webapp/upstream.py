"""The Blaxel control-plane client: HTTP and Blaxel, nothing of Flask."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar
from urllib.parse import quote

import httpx

from .cache import Lifetime, UpstreamCache, request_key, request_timings, token_digest
from .errors import ErrorKind, UpstreamError
from .models import Execution, Job, Page, ShapeError, Task
from .query import ListQuery

API_VERSION = "2026-04-28"
USER_AGENT = "blaxel-tasks-webapp/0.1"
MAX_BODY_BYTES = 8 * 1024 * 1024
T = TypeVar("T")


def _segment(value: str) -> str:
    # safe="" so "/", "?", "#" and "%" cannot change the upstream route.
    return quote(value, safe="")


class BlaxelClient:
    """One long-lived connection pool to the Blaxel API."""

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

    def list_jobs(self, query: ListQuery) -> Page[Job]:
        body = self._cached_json("jobs", query.upstream_params())
        return self._parse(lambda: Page.from_json(body, Job.from_json))

    def list_executions(self, job_id: str, query: ListQuery) -> Page[Execution]:
        path = f"jobs/{_segment(job_id)}/executions"
        body = self._cached_json(path, query.upstream_params())
        return self._parse(lambda: Page.from_json(body, Execution.from_json))

    def get_execution(self, job_id: str, execution_id: str) -> Execution:
        path = f"jobs/{_segment(job_id)}/executions/{_segment(execution_id)}"
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
        execution_path = f"jobs/{_segment(job_id)}/executions/{_segment(execution_id)}"
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
        # httpx's timeout bounds each read; the deadline bounds the whole exchange.
        deadline = time.monotonic() + self.timeout
        try:
            with self._http.stream("GET", path, params=params) as response:
                body = bytearray()
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > MAX_BODY_BYTES:
                        raise UpstreamError(ErrorKind.BAD_RESPONSE, "answer too large")
                    if time.monotonic() > deadline:
                        raise UpstreamError(ErrorKind.TIMED_OUT, "answer too slow")
        except httpx.TimeoutException:
            raise UpstreamError(ErrorKind.TIMED_OUT, "no answer in time") from None
        except httpx.HTTPError as exc:
            raise UpstreamError(ErrorKind.UNAVAILABLE, type(exc).__name__) from None

        if response.status_code != 200:
            raise _classify(response, bytes(body))
        try:
            return json.loads(body)
        except (UnicodeDecodeError, ValueError):
            raise UpstreamError(ErrorKind.BAD_RESPONSE, "not JSON", 200) from None


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
    )

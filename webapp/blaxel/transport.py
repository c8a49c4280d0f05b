"""One call to the API, within a deadline, in bounded memory, retried when that is safe.

- The deadline bounds every socket operation: httpx's timeouts apply per read, so an answer that
  trickles (headers included) would otherwise hold a call forever. A network backend wrapped
  around httpcore's own gives each read, write and connect only the time left.
- Bodies are read raw and decoded here, gzip only and at most once, while counting the decoded
  bytes: httpx would inflate a 1.6 kB brotli bomb whole before any cap could see it.
- Transient failures of these idempotent reads are retried twice at most, within the deadline.
  A write (`send_once`) is sent once: whether a lost answer means it was done is unknowable.
"""

from __future__ import annotations

import json
import math
import random
import time
import zlib
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from email.utils import parsedate_to_datetime
from typing import Any

import httpcore
import httpx

from .errors import ErrorKind, UpstreamError

MAX_BODY_BYTES = 8 * 1024 * 1024
RETRIES = 2
BACKOFF_SECONDS = 0.2
MIN_ATTEMPT_SECONDS = 0.05
RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})
# What a 429 holds back, at most and when Retry-After makes no sense.
MAX_RETRY_AFTER_SECONDS = 300.0
DEFAULT_RETRY_AFTER_SECONDS = 1.0
# The one encoding asked for and accepted besides none: bounded inflating needs zlib's max_length.
ACCEPT_ENCODING = "gzip"
GZIP_OR_ZLIB = 32 + zlib.MAX_WBITS

_deadline: ContextVar[float | None] = ContextVar("blaxel_deadline", default=None)
_sleep = time.sleep


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """Retry-After (delay seconds or an HTTP date) as seconds from now, at most 300; None if
    absent or unreadable."""
    if not value or len(value) > 64:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        seconds = float(value)
    else:
        try:
            moment = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if moment.tzinfo is None:
            return None
        seconds = moment.timestamp() - (time.time() if now is None else now)
    if not math.isfinite(seconds):
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_SECONDS)


def _time_left(timeout: float | None, error: type[Exception]) -> float | None:
    deadline = _deadline.get()
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise error("the call's deadline has passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, _time_left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, _time_left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None, timeout=None):
        left = _time_left(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._stream.start_tls(ssl_context, server_hostname, left))

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class DeadlineBackend(httpcore.NetworkBackend):
    """httpcore's network backend, each operation limited to the current call's time left."""

    def __init__(self) -> None:
        self._inner = httpcore.SyncBackend()

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        left = _time_left(timeout, httpcore.ConnectTimeout)
        stream = self._inner.connect_tcp(host, port, left, local_address, socket_options)
        return _DeadlineStream(stream)

    def connect_unix_socket(self, path, timeout=None, socket_options=None):
        left = _time_left(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._inner.connect_unix_socket(path, left, socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def network_transport(limits: httpx.Limits) -> httpx.HTTPTransport:
    """httpx's own transport over sockets, with every socket operation bound to the deadline."""
    transport = httpx.HTTPTransport(limits=limits)
    # The pool hands its backend to each new connection; httpx has no argument for it.
    transport._pool._network_backend = DeadlineBackend()  # noqa: SLF001
    return transport


def get_json_bytes(
    http: httpx.Client,
    path: str,
    params: Mapping[str, str | int],
    deadline: float,
    redact: Callable[[str], str],
    record: Callable[[int | None, float, int], None],
) -> bytes:
    """The body of a 200 answer to GET `path`, or an UpstreamError; retried within `deadline`.
    `record` learns how the call went, whatever the outcome: the status it ended on, how long it
    took, how many tries."""
    started = time.monotonic()
    attempt = 0
    status: int | None = None
    try:
        while True:
            try:
                answer, body = _exchange(http, path, params, deadline)
                status = answer.status_code
                if status == 200:
                    return body
                raise _classify(answer, body, redact)
            except UpstreamError as error:
                status = error.upstream_status
                pause = _retry_pause(error, attempt, deadline)
                if pause is None:
                    raise
                attempt += 1
                _sleep(pause)
    finally:
        record(status, time.monotonic() - started, attempt + 1)


def send_once(
    http: httpx.Client,
    method: str,
    path: str,
    deadline: float,
    redact: Callable[[str], str],
    record: Callable[[int | None, float, int], None],
) -> bytes:
    """The body of a 2xx answer to one `method` request (a write), or an UpstreamError; never
    retried, so the same write is never sent twice."""
    started = time.monotonic()
    status: int | None = None
    try:
        answer, body = _exchange(http, path, {}, deadline, method)
        status = answer.status_code
        if 200 <= status < 300:
            return body
        raise _classify(answer, body, redact)
    finally:
        record(status, time.monotonic() - started, 1)


def _exchange(
    http: httpx.Client,
    path: str,
    params: Mapping[str, str | int],
    deadline: float,
    method: str = "GET",
) -> tuple[httpx.Response, bytes]:
    """One attempt: the answer and its body, whatever its status."""
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise UpstreamError(ErrorKind.TIMED_OUT, "no answer in time")
    answered = False
    token = _deadline.set(deadline)
    try:
        with http.stream(method, path, params=params, timeout=remaining) as answer:
            answered = True
            return answer, _read_body(answer, deadline)
    except httpx.TimeoutException:
        raise UpstreamError(ErrorKind.TIMED_OUT, "no answer in time") from None
    except httpx.HTTPError as exc:
        # Nothing was answered (refused, reset, a pooled connection the server had closed):
        # sending the same read again is safe.
        raise UpstreamError(
            ErrorKind.UNAVAILABLE, type(exc).__name__, transient=not answered
        ) from None
    finally:
        _deadline.reset(token)


def _read_body(answer: httpx.Response, deadline: float) -> bytes:
    if answer.is_stream_consumed:
        # An answer made in memory (a test's transport): httpx has read and decoded it already.
        if time.monotonic() > deadline:
            raise UpstreamError(ErrorKind.TIMED_OUT, "answer too slow")
        if len(answer.content) > MAX_BODY_BYTES:
            raise UpstreamError(ErrorKind.BAD_RESPONSE, "answer too large", 200)
        return answer.content
    encoding = answer.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding not in ("identity", "gzip", "x-gzip"):
        # Stacked ("gzip, gzip") or unasked-for encodings: refused, not inflated.
        raise UpstreamError(ErrorKind.BAD_RESPONSE, f"answer encoded as {encoding[:40]}", 200)
    inflate = zlib.decompressobj(GZIP_OR_ZLIB) if encoding != "identity" else None
    body = bytearray()
    for chunk in answer.iter_raw():
        if inflate is not None:
            try:
                # max_length: never more than one byte past the cap, whatever the ratio.
                chunk = inflate.decompress(chunk, MAX_BODY_BYTES + 1 - len(body))
            except zlib.error:
                raise UpstreamError(ErrorKind.BAD_RESPONSE, "corrupt gzip", 200) from None
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise UpstreamError(ErrorKind.BAD_RESPONSE, "answer too large", 200)
        if time.monotonic() > deadline:
            raise UpstreamError(ErrorKind.TIMED_OUT, "answer too slow")
    return bytes(body)


def _retry_pause(error: UpstreamError, attempt: int, deadline: float) -> float | None:
    """Seconds to wait before sending the read again, or None to give up now."""
    if not error.transient or attempt >= RETRIES:
        return None
    # Jittered exponential backoff, so many viewers do not retry in step.
    pause = BACKOFF_SECONDS * 2**attempt * random.uniform(0.5, 1.0)  # noqa: S311 - not crypto
    if error.kind is ErrorKind.RATE_LIMITED and error.retry_after is None:
        return None  # a 429 without Retry-After gives no safe moment to come back
    if error.retry_after is not None:
        pause = max(pause, error.retry_after)
    # Wait only if the pause leaves time for the attempt itself.
    if time.monotonic() + pause + MIN_ATTEMPT_SECONDS > deadline:
        return None
    return pause


def _error_body(raw: bytes) -> tuple[str, str, bool | None]:
    """(code, message, retryable) from either of Blaxel's two error shapes."""
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return "", "", None
    if not isinstance(body, dict):
        return "", "", None
    error = body.get("error")
    if isinstance(error, dict):
        code, message, retryable = error.get("code"), error.get("message"), error.get("retryable")
    else:
        code, message, retryable = error, body.get("message"), None
    return (
        code[:100] if isinstance(code, str) else "",
        message[:500] if isinstance(message, str) else "",
        retryable if isinstance(retryable, bool) else None,
    )


def _classify(answer: httpx.Response, raw: bytes, redact: Callable[[str], str]) -> UpstreamError:
    status = answer.status_code
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
    return UpstreamError(
        kind,
        detail=redact(message),
        upstream_status=status,
        code=redact(code),
        retry_after=retry_after_seconds(answer.headers.get("Retry-After")),
        transient=status in RETRYABLE_STATUSES or retryable is True,
    )

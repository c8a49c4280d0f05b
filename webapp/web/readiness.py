"""/healthz and /readyz, for load balancers: open to all, saying nothing else. Ready when the
token reaches the Blaxel API, asked at most every few seconds.

One probe at a time: while it is in flight, everyone else gets the last answer at once instead
of queueing behind it (a probe may take the whole BLAXEL_TIMEOUT).
"""

from __future__ import annotations

import threading
import time

from flask import Blueprint

from ..blaxel import CachedClient, CallScope, ErrorKind, PageRequest, UpstreamError
from ..common.services import services

bp = Blueprint("health", __name__)

# The cheapest call that proves the token works: one job.
PROBE = PageRequest(limit=1)


class Readiness:
    def __init__(self, client: CachedClient, timeout: float, ttl: float) -> None:
        self.client = client
        self.timeout = timeout
        self.ttl = ttl
        self._probing = threading.Lock()
        self._checked_at: float | None = None
        self._ready = False

    def ready(self) -> bool:
        due = self._checked_at is None or time.monotonic() - self._checked_at >= self.ttl
        if due and self._probing.acquire(blocking=False):
            try:
                self._ready = self._probe()
                self._checked_at = time.monotonic()
            finally:
                self._probing.release()
        return self._ready

    def _probe(self) -> bool:
        try:
            # Not shared: a cached answer would say nothing about Blaxel now.
            self.client.list_jobs(PROBE, CallScope.starting_now(self.timeout), shared=False)
        except UpstreamError as error:
            # A 429 (or the hold after one) means the token reached Blaxel: this instance is as
            # ready as every other, and a balancer that pulled them all would serve nothing.
            return error.kind is ErrorKind.RATE_LIMITED
        return True


@bp.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@bp.get("/readyz")
def readyz() -> tuple[dict[str, str], int]:
    if services().ready():
        return {"status": "ready"}, 200
    return {"status": "unavailable"}, 503

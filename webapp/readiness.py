"""/readyz: can the token reach the Blaxel API? Asked at most every few seconds, answered bare."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from werkzeug.datastructures import MultiDict

from .errors import UpstreamError
from .query import JOBS, ListQuery
from .upstream import BlaxelClient

# The cheapest call that proves the token works: one job.
PROBE = ListQuery.parse(MultiDict({"limit": "1"}), JOBS)


class Readiness:
    """Caches the last probe for `ttl` seconds, so load balancers cannot hammer the API."""

    def __init__(
        self, client: BlaxelClient, ttl: float = 5.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.client = client
        self.ttl = ttl
        self.clock = clock
        self._lock = threading.Lock()
        self._checked_at: float | None = None
        self._ready = False

    def ready(self) -> bool:
        with self._lock:
            now = self.clock()
            if self._checked_at is None or now - self._checked_at >= self.ttl:
                try:
                    # Not shared: a cached answer would say nothing about Blaxel now.
                    self.client.list_jobs(PROBE, shared=False)
                    self._ready = True
                except UpstreamError:
                    self._ready = False
                self._checked_at = self.clock()
            return self._ready

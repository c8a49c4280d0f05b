"""The digests kept: the store's digest rows (SQLite or Redis, see store.py) read as Digests."""

from __future__ import annotations

import logging
import threading
import zlib
from collections import OrderedDict

from ..store import DigestRows, Timing
from .digest import Digest

log = logging.getLogger(__name__)
# Digests read lately, decoded, per process: a kept digest never changes, so a copy is never stale.
DECODED = 64


class Digests:
    """Digests of finished executions, at most `keep` per job (the newest kept)."""

    def __init__(self, rows: DigestRows, keep: int) -> None:
        self.rows = rows
        self.keep = keep
        self._decoded: OrderedDict[tuple[str, str], Digest] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, digest: Digest) -> bool:
        """Keeps the digest unless one of its execution is kept already; True if this call did."""
        timing = Timing(digest.execution, digest.created, digest.run, digest.wait)
        return self.rows.put(timing, digest.job, digest.encode(), self.keep)

    def get(self, job: str, execution: str) -> Digest | None:
        return self.many(job, [execution]).get(execution)

    def many(self, job: str, executions: list[str]) -> dict[str, Digest]:
        """The digests kept of these executions, by execution id."""
        found: dict[str, Digest] = {}
        with self._lock:
            for execution in executions:
                digest = self._decoded.get((job, execution))
                if digest is not None:
                    self._decoded.move_to_end((job, execution))
                    found[execution] = digest
        missing = [execution for execution in executions if execution not in found]
        for execution, body in (self.rows.get(job, missing) if missing else {}).items():
            digest = _decoded(body)
            if digest is None:
                self.rows.drop(job, execution)  # made again by the next walk of the run
            else:
                found[execution] = digest
                with self._lock:
                    self._decoded[(job, execution)] = digest
                    while len(self._decoded) > DECODED:
                        self._decoded.popitem(last=False)
        return found

    def newest(self, job: str, count: int) -> list[Digest]:
        """The job's newest `count` digests kept, newest first."""
        names = [timing.execution for timing in self.timings(job, count)]
        found = self.many(job, names)
        return [found[name] for name in names if name in found]

    def timings(self, job: str, count: int) -> list[Timing]:
        """The times of the job's newest `count` executions kept, newest first (cheap: no
        digest is read)."""
        return self.rows.timings(job, count)

    def close(self) -> None:
        self.rows.close()


def _decoded(body: bytes) -> Digest | None:
    """A digest, or None (logged) for a body this version cannot read: it is made again."""
    try:
        return Digest.decode(body)
    except (ValueError, KeyError, TypeError, zlib.error) as error:
        log.warning("a kept digest could not be read (%s): it will be made again", error)
        return None

"""What the run digests (webapp/runs: what the app remembers of past runs) say of a run the
watcher reports: each failure cause new or recurring, and whether the run was slower than usual.

Only digests already kept are read (no upstream call): those the pages, `blaxel-jobs digest` and
the watcher itself have made. A run with no digested predecessor is neither new nor recurring
as far as anyone can tell, and its messages leave the mark out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..blaxel import Execution
from ..runs.kept import Digests
from ..runs.reading import recurrence_in, slower_than_usual

Mark = Literal["new", "recurring"]


@dataclass(frozen=True)
class Marks:
    """Reads the job's last `runs` finished runs' digests in `kept`."""

    kept: Digests
    runs: int

    def mark(self, job: str, execution: Execution, cause_key: str) -> tuple[Mark, int, int] | None:
        """("new" or "recurring", runs it was seen in, runs read) for this cause of the job's
        run, among the digested runs created before it; None when none is. `cause_key` is
        `causes.Cause.id`, the key of the failure groups' `cause=` links."""
        if execution.created_at is None:
            return None
        start = execution.created_at.timestamp()
        earlier = [d for d in self.kept.newest(job, self.runs * 2) if d.created < start]
        found = recurrence_in(earlier[: self.runs], cause_key)
        if not found.looked_at:
            return None
        return ("new" if found.new else "recurring"), len(found.hits), found.looked_at

    def slower_than_usual(self, job: str, execution: Execution) -> list[str]:
        """What of the finished run is above the p95 of the job's digested runs before it:
        "run time", "queue wait", or nothing (also when too few runs are digested to say)."""
        return slower_than_usual(execution, self.kept.newest(job, self.runs + 1), self.runs)

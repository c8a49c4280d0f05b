"""The seam to the run digests (what the app remembers of past runs): not on this branch yet.

The watcher asks these two functions about every failed run it reports. Both answer None
("unknown") until they are wired to the digests; the messages then leave the mark out. Wire them
by replacing their bodies, keeping their signatures:

- `mark(job, cause_key)`: whether this job's runs have failed for this cause before. `cause_key`
  is `causes.Cause.id`, the same 12-character key the failure groups use in `cause=` links.
- `slower_than_usual(job, execution)`: whether this run took clearly longer than the job's
  recent runs; only asked when WEBAPP_WATCH_SLOWER is on.
"""

from __future__ import annotations

from typing import Literal

from ..blaxel import Execution

Mark = Literal["new", "recurring"]


def mark(job: str, cause_key: str) -> Mark | None:
    """ "new" if no earlier run of `job` failed for this cause, "recurring" if one did; None while
    the digests are not wired in (the message then says neither)."""
    return None


def slower_than_usual(job: str, execution: Execution) -> bool | None:
    """Whether the finished run took clearly longer than the job's recent runs; None while the
    digests are not wired in (no "slower than usual" message is sent)."""
    return None

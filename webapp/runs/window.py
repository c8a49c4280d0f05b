"""A job's last N finished runs and their digests: those kept are read from the store, those
missing are made by the failure-groups walk, under the request's scan budget (each request goes
on where the last stopped; the walk's state is shared, the way the failure groups' is)."""

from __future__ import annotations

from dataclasses import dataclass

from ..blaxel import ChainStopped, Execution, PageRequest, Session, UpstreamError
from ..failures.triage import Triage, triage
from .digest import Digest
from .kept import Digests

RUNS_PAGE = PageRequest("createdAt:desc", "", 100)
MAX_LISTING_PAGES = 5  # executions listed at most to find the window: 500


@dataclass(frozen=True)
class Window:
    """The job's last `size` finished runs before a point (newest first) and those analysed."""

    job: str
    size: int  # N, as asked
    runs: list[Execution]
    digests: dict[str, Digest]
    stopped: str = ""  # why analysing stopped early this time (an upstream failure), if it did
    # Runs walked whole that cannot be digested yet (a task read was not final then).
    unkept: frozenset[str] = frozenset()
    listed: bool = True  # False: no budget was left to list the runs; the next request will

    @property
    def analysed(self) -> int:
        return sum(run.id in self.digests for run in self.runs)

    @property
    def complete(self) -> bool:
        """Nothing more to read now: every run digested, or walked as far as it can be."""
        return self.listed and all(
            run.id in self.digests or run.id in self.unkept for run in self.runs
        )

    @property
    def ordered(self) -> list[Digest]:
        """The digests of the window's runs, newest first."""
        return [self.digests[run.id] for run in self.runs if run.id in self.digests]


def groups_of(
    api: Session,
    kept: Digests,
    ids: tuple[str, str],
    execution: Execution,
    *,
    budget: int,
    lifetime: float,
) -> Triage:
    """The failure groups of the execution (`ids`: its job's and its own, as its URL says): from
    its digest when kept (no upstream call), else from the shared walk, by at most `budget`
    pages; the digest is kept once the finished execution's walk is complete."""
    job_id, execution_id = ids
    if execution.is_finished:
        digest = kept.get(job_id, execution_id)
        if digest is not None:
            return digest.triage()
    size = execution.task_count
    walked = triage(api, job_id, execution_id, budget=budget, lifetime=lifetime, size=size)
    digest = Digest.of(ids, execution, walked) if walked.complete else None
    if digest is not None:
        kept.put(digest)
    return walked


def finished_runs(
    api: Session, job_id: str, size: int, *, before: Execution | None = None
) -> list[Execution]:
    """The job's newest `size` finished executions (created before `before`, if given), newest
    first; from at most MAX_LISTING_PAGES pages of the listing."""
    found: list[Execution] = []
    pages = api.walk_executions(job_id, RUNS_PAGE)
    start = before.created_at if before is not None else None
    try:
        for _, page in zip(range(MAX_LISTING_PAGES), pages, strict=False):
            for run in page.items:
                if not run.id or not run.is_finished or (before and run.id == before.id):
                    continue
                if start is not None and (run.created_at is None or run.created_at > start):
                    continue
                found.append(run)
                if len(found) == size:
                    return found
            if not page.has_more:
                break
    except ChainStopped:
        pass  # a chain that loops or ends early: the runs listed before it are the window
    finally:
        pages.close()
    return found


def window(
    api: Session,
    kept: Digests,
    job_id: str,
    size: int,
    *,
    budget: int,
    lifetime: float,
    before: Execution | None = None,
) -> Window:
    """The window of `size` finished runs, its missing digests made under `budget` upstream
    calls in all (listing the runs included); the rest are made by the next request."""
    if budget <= 0:
        return Window(job_id, size, [], {}, listed=False)
    part = api.part()
    try:
        runs = finished_runs(part, job_id, size, before=before)
    except UpstreamError as error:
        # The runs are an addition to the page: without them, the page still answers.
        return Window(job_id, size, [], {}, error.kind.value.replace("_", " "))
    digests = kept.many(job_id, [run.id for run in runs])
    stopped, unkept = "", set()
    for run in runs:
        if run.id in digests:
            continue
        left = budget - spent(part)
        if left <= 0:
            break
        try:
            groups = groups_of(part, kept, (job_id, run.id), run, budget=left, lifetime=lifetime)
        except UpstreamError as error:
            stopped = error.kind.value.replace("_", " ")
            break
        digest = kept.get(job_id, run.id)
        if digest is not None:
            digests[run.id] = digest
        elif groups.complete:
            unkept.add(run.id)
    return Window(job_id, size, runs, digests, stopped, frozenset(unkept))


def spent(api: Session) -> int:
    """Upstream calls the session's scope has made (answers kept already cost none)."""
    return sum(record.cache not in ("hit", "held") for record in api.scope.records)


def fill(api: Session, kept: Digests, job_id: str, runs: list[Execution], *, lifetime: float):
    """Every digest of these finished runs made, whatever it costs (`blaxel-jobs digest`)."""
    for run in runs:
        while kept.get(job_id, run.id) is None:
            walked = groups_of(
                api.part(), kept, (job_id, run.id), run, budget=25, lifetime=lifetime
            )
            if walked.complete:
                break  # kept now, or a task was not final when read: nothing to keep yet

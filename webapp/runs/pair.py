"""The two runs a comparison asks for, read: each execution, its digest (kept, else made by the
failure-groups walk under the request's scan budget, a running one as far as it is read) and
the job's revisions between them (the one call made for two digested runs besides the
executions, which are cached once final)."""

from __future__ import annotations

from dataclasses import dataclass

from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import NotFound

from ..blaxel import ErrorKind, Execution, Revision, Session, UpstreamError
from ..common.errors import PRESENTATION, QueryError
from .compare import LISTS, Comparison, Spec, between, compare
from .digest import Digest
from .shown import digests, settings
from .window import finished_runs, groups_of, spent


class RunMissing(NotFound):
    """A run a comparison names is not one of the job's: the 404 says which side."""

    def __init__(self, side: str, execution_id: str, job_id: str) -> None:
        super().__init__(f"The {side} run “{execution_id}” is not a run of job “{job_id}”.")


@dataclass(frozen=True)
class Side:
    execution: Execution
    digest: Digest
    whole: bool  # every task read (a finished run's digest, kept or made now)


@dataclass(frozen=True)
class Pair:
    job_id: str
    base: Side
    head: Side
    comparison: Comparison
    revisions: list[Revision]
    revisions_error: str  # why Blaxel would not list them, if it would not

    @property
    def specs(self) -> tuple[Spec, Spec]:
        return Spec.of(self.base.execution), Spec.of(self.head.execution)

    @property
    def reversed(self) -> bool:
        """The base run was created after the head run."""
        return self.base.digest.created > self.head.digest.created


def ids_asked(args: MultiDict) -> tuple[str, str]:
    """`base=` and `head=` of the URL; base may be left out (the last successful run)."""
    base, head = args.get("base", "").strip(), args.get("head", "").strip()
    if not head:
        raise QueryError(["“head” must name the run to compare."])
    if base == head:
        raise QueryError([f"“base” and “head” are the same run ({head}): pick two runs."])
    return base, head


def pages_asked(args: MultiDict) -> dict[str, int]:
    """Which page of each task list to show (`broke=2`), 1 unless the URL says."""
    pages = {}
    for name in LISTS:
        raw = args.get(name, "1").strip() or "1"
        if not (raw.isascii() and raw.isdigit()) or int(raw) < 1 or len(raw) > 6:
            raise QueryError([f"“{name}” must be a page number from 1."])
        pages[name] = int(raw)
    return pages


def execution_of(api: Session, job_id: str, execution_id: str, side: str) -> Execution:
    try:
        execution = api.get_execution(job_id, execution_id)
    except UpstreamError as error:
        if error.kind is ErrorKind.NOT_FOUND:
            raise RunMissing(side, execution_id, job_id) from None
        raise
    if execution.job and execution.job != job_id:
        raise RunMissing(side, execution_id, job_id)
    return execution


def last_success(api: Session, job_id: str, head: Execution) -> str | None:
    """The newest succeeded run created before `head`, among the job's last
    WEBAPP_RUNS_COMPARED finished runs before it; None when none of them succeeded."""
    runs = finished_runs(api, job_id, settings().runs_compared, before=head)
    return next((run.id for run in runs if run.status == "succeeded"), None)


def side_of(api: Session, job_id: str, execution: Execution) -> Side:
    """The run's digest: kept, else made by the walk within what is left of the scan budget."""
    ids = (job_id, execution.id)
    if execution.is_finished:
        kept = digests().get(*ids)
        if kept is not None:
            return Side(execution, kept, True)
    left = max(0, settings().scan_budget - spent(api))
    lifetime = settings().cache_final_ttl if execution.is_finished else settings().cache_ttl
    walked = groups_of(api, digests(), ids, execution, budget=left, lifetime=lifetime)
    kept = digests().get(*ids) if execution.is_finished else None
    if kept is not None:
        return Side(execution, kept, True)
    return Side(execution, Digest.so_far(ids, execution, walked), False)


def revisions_of(api: Session, job_id: str) -> tuple[tuple[Revision, ...], str]:
    """The job's revisions, or why Blaxel would not list them (the page shows the rest)."""
    try:
        return api.list_job_revisions(job_id), ""
    except UpstreamError as error:
        return (), PRESENTATION[error.kind][1]


def pair(api: Session, job_id: str, base: Execution, head: Execution) -> Pair:
    base_side, head_side = side_of(api, job_id, base), side_of(api, job_id, head)
    revisions, refused = revisions_of(api, job_id)
    start, end = base_side.digest.created_at, head_side.digest.created_at
    return Pair(
        job_id,
        base_side,
        head_side,
        compare(base_side.digest, head_side.digest, whole=(base_side.whole, head_side.whole)),
        between(revisions, start, end),
        refused,
    )

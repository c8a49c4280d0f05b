"""Deterministic demo data: the jobs, executions and tasks the simulator serves.

History is laid out relative to an anchor (the simulator's start, in whole minutes) and seeded
from ids, so one anchor always yields the same data. Tasks are folded from an event history, as
the real API derives them. The sitemap-crawler job is live: its executions follow the clock.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import heapq
import random
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

LIVE_JOB = "sitemap-crawler"
CYCLE = timedelta(minutes=5)
LIVE_WINDOW = 12  # cycles the live job keeps listable: one hour
# An execution of at most this many tasks lists them in its answer (`spec.tasks` and `tasks`, as
# the spec gives them); a larger one says where the list is kept (`spec.tasksRef`) instead.
# Every one says how many it has (`spec.taskCount`).
LISTED_TASKS = 100
QUEUED = timedelta(seconds=10)  # every execution waits this long before its first task starts
BACKOFF = timedelta(seconds=10)
STALL = timedelta(minutes=2)  # a frozen task has been running at least this long
TERMINAL = frozenset({"succeeded", "failed", "cancelled"})
NODES = ("mk3-use1-a7", "mk3-use1-b2", "mk3-use1-c4", "mk3-usw2-a1", "mk3-usw2-d9", "mk3-euw1-b3")
OWNERS = ("ml-platform@acme.dev", "data-eng@acme.dev", "finance-ops@acme.dev", "ci-deploy@acme.dev")


@dataclass(frozen=True)
class Failure:
    execution_reason: str
    attempt: str  # why one attempt failed, as a retry warning says it
    final: str  # the Failed condition's message; may name {retries} and {timeout}
    reason: str = "BackoffLimitExceeded"
    retryable: bool = True


OOM = Failure(
    "OOMKilled",
    "exit code 137 (OOMKilled)",
    "Container exited with code 137 (OOMKilled) after {retries} retries",
)
TIMEOUT = Failure(
    "Timeout", "timed out", "Task exceeded timeout of {timeout}", "DeadlineExceeded", False
)
# Tonight's new cause (runs remembered): the model was swapped for one with another vocabulary.
TOKENIZER = Failure(
    "Error",
    "exit code 1 (ValueError)",
    "ValueError: tokenizer vocabulary mismatch: model expects 50257 tokens, got 32000"
    " after {retries} retries",
)
NOVEL_FAILURE = TOKENIZER
EMBEDDINGS_503 = Failure(
    "Error",
    "HTTP 503 from embeddings-api.internal:8080",
    "Dependency embeddings-api.internal:8080 answered HTTP 503 Service Unavailable"
    " after {retries} retries",
)
RATE_LIMITED = Failure(
    "Error",
    "HTTP 429 from api.openai.com",
    "api.openai.com answered HTTP 429 Too Many Requests (rate limit) after {retries} retries",
)
KEY_ERROR = Failure(
    "Error",
    "exit code 1 (KeyError: 'text')",
    "Container exited with code 1 after {retries} retries: KeyError: 'text'",
)
BAD_PDF = Failure(
    "Error",
    "exit code 1 (ValueError: invalid PDF header)",
    "Traceback (most recent call last):\n"
    '  File "/app/ocr/extract.py", line 88, in extract\n'
    "    document = pdf.open(blob)\n"
    '  File "/app/ocr/pdf.py", line 31, in open\n'
    '    raise ValueError("invalid PDF header")\n'
    "ValueError: invalid PDF header",
)
SMTP_421 = Failure(
    "Error",
    "SMTP 421 from smtp.mailgun.org",
    "smtp.mailgun.org answered 421 Service not available after {retries} retries",
)
DNS = Failure(
    "Error",
    "getaddrinfo ENOTFOUND cdn.shop-images.example",
    "getaddrinfo ENOTFOUND cdn.shop-images.example after {retries} retries",
)
SITE_503 = Failure(
    "Error",
    "HTTP 503 from www.example-shop.com",
    "GET https://www.example-shop.com/sitemap-3.xml answered HTTP 503 Service Unavailable"
    " after {retries} retries",
)
ORDERS_SCHEMA = Failure(  # the warehouse renamed a column: every run since fails the same way
    "Error",
    "exit code 1 (KeyError: 'customer_id')",
    "Container exited with code 1 after {retries} retries: KeyError: 'customer_id'",
)
FFMPEG = Failure(  # a corrupt input fails the same way every time: not retried
    "Error",
    "exit code 1 (ffmpeg)",
    "ffmpeg exited with code 1: Invalid data found when processing input (frame 1184)",
    "InvalidInput",
    False,
)


@dataclass(frozen=True)
class JobSeed:
    name: str
    display_name: str
    labels: dict[str, str]
    age_days: int
    status: str = "DEPLOYED"
    region: str = "us-pdx-1"
    generation: str = "mk3"
    memory: int = 2048
    max_retries: int = 3
    timeout: int = 1800  # seconds, per task
    failures: tuple[Failure, ...] = (KEY_ERROR, OOM)
    schedule: str | None = None
    runs: int = 3  # past executions besides the named ones
    every: timedelta = timedelta(days=2)
    last_run: timedelta = timedelta(hours=9)
    sizes: tuple[int, int] = (1, 120)
    parallelism: int = 4
    seconds: tuple[int, int] = (20, 240)
    # How its past runs ended, newest first, one letter each (see OUTCOMES); "" draws them.
    outcomes: str = ""
    # A task (by index) that needs a retry in about one run in three: a flaky task.
    flaky: int | None = None
    # A past run (by number, newest 0) whose tasks all ran three times longer: a slow night.
    slow_run: int | None = None


OUTCOMES = {"S": "succeeded", "F": "failed", "C": "cancelled", "T": "timeout"}
STRAGGLE = 8  # a straggler's successful attempt runs this many times longer


@dataclass(frozen=True)
class ExecutionSeed:
    id: str
    age: timedelta  # created this long before the anchor
    tasks: int
    parallelism: int
    seconds: tuple[int, int] = (60, 150)  # how long a successful attempt runs
    failed: int = 0  # tasks failing for good
    cancelled: int = 0  # tasks cancelled one by one
    retried: int = 0  # tasks succeeding after failed attempts
    cancel_after: timedelta | None = None  # the whole execution is cancelled this long after start
    timed_out: bool = False  # its failed tasks hit their timeout: the execution ends in "timeout"
    stalled: bool = False  # still running at the anchor, frozen there
    memory_override: int | None = None
    env_override: tuple[str, ...] = ()
    stragglers: int = 0  # tasks whose successful attempt runs STRAGGLE times longer
    novel: int = 0  # tasks failing for good of a cause no earlier run had (NOVEL_FAILURE)


JOBS = (
    JobSeed(
        "nightly-embeddings", "Nightly embeddings", {"team": "ml", "env": "prod"}, 161,
        memory=4096, failures=(OOM, EMBEDDINGS_503, KEY_ERROR), runs=29,
        every=timedelta(days=1), last_run=timedelta(hours=6), sizes=(150, 600), parallelism=25,
        seconds=(70, 150), flaky=17, slow_run=3,
    ),
    JobSeed(
        "invoice-ocr", "Invoice OCR", {"team": "finance", "env": "prod"}, 97, region="eu-lon-1",
        max_retries=2, timeout=900, failures=(BAD_PDF, RATE_LIMITED), runs=6,
        every=timedelta(days=1), last_run=timedelta(days=1, hours=3), sizes=(80, 400),
        parallelism=16,
    ),
    JobSeed(
        "weekly-digest", "Weekly digest e-mails", {"team": "growth", "env": "prod"}, 203,
        memory=1024, max_retries=2, timeout=600, failures=(SMTP_421,), runs=7,
        every=timedelta(days=7), last_run=timedelta(days=2, hours=5), sizes=(4, 4), parallelism=2,
    ),
    JobSeed(
        "thumbnail-render", "Thumbnail render", {"team": "media", "env": "prod"}, 64, memory=8192,
        max_retries=2, timeout=3600, failures=(FFMPEG, OOM), runs=4, last_run=timedelta(hours=5),
        sizes=(20, 90), parallelism=8, seconds=(300, 840),
    ),
    JobSeed(
        LIVE_JOB, "Sitemap crawler", {"team": "search", "env": "prod"}, 48, memory=1024,
        max_retries=1, timeout=300, failures=(SITE_503, DNS), schedule="*/5 * * * *", runs=0,
    ),
    JobSeed(
        "churn-model-train", "Churn model training", {"team": "ml", "env": "staging"}, 133,
        generation="mk2", memory=16384, max_retries=1, timeout=7200, failures=(OOM,),
        sizes=(1, 4), parallelism=1, seconds=(900, 3000),
    ),
    JobSeed("pdf-redaction", "PDF redaction", {"team": "legal", "env": "prod"}, 88,
            failures=(BAD_PDF,), region="eu-lon-1"),
    JobSeed("call-transcripts", "Call transcription", {"team": "support", "env": "prod"}, 121,
            failures=(RATE_LIMITED, TIMEOUT), timeout=900, runs=5),
    JobSeed("product-feed-sync", "Product feed sync", {"team": "commerce", "env": "prod"}, 230,
            failures=(DNS, KEY_ERROR), every=timedelta(hours=12)),
    JobSeed("image-moderation", "Image moderation", {"team": "trust-safety", "env": "prod"}, 75,
            failures=(RATE_LIMITED,), runs=5),
    JobSeed("legacy-etl", "Legacy ETL (warehouse v1)", {"team": "data", "env": "prod"}, 412,
            status="DEACTIVATED", generation="mk2", last_run=timedelta(days=70)),
    JobSeed("fraud-score-backfill", "Fraud score backfill", {"team": "risk", "env": "staging"},
            12, status="FAILED", runs=0),
    JobSeed("docs-translation", "Docs translation", {"team": "docs", "env": "prod"}, 57,
            region="eu-lon-1", failures=(RATE_LIMITED,)),
    JobSeed("contact-dedupe", "Contact de-duplication", {"team": "crm", "env": "prod"}, 143),
    JobSeed("video-captions", "Video captions", {"team": "media", "env": "staging"}, 39,
            failures=(FFMPEG, TIMEOUT, OOM), timeout=900),
    JobSeed("search-reindex", "Search re-index", {"team": "search", "env": "prod"}, 188, runs=2),
    JobSeed("llm-regression-evals", "LLM regression evals", {"team": "ml", "env": "ci"}, 27,
            failures=(RATE_LIMITED, KEY_ERROR), runs=6, every=timedelta(hours=20)),
    JobSeed("receipt-classifier", "Receipt classifier", {"team": "finance", "env": "staging"},
            66, runs=1),
    JobSeed("geo-enrichment", "Geo enrichment", {"team": "data", "env": "prod"}, 175,
            region="us-was-1", failures=(DNS,)),
    JobSeed("sentiment-batch", "Sentiment scoring", {"team": "support", "env": "staging"}, 3,
            status="DEPLOYING", runs=0),
    JobSeed("backup-verify", "Backup verification", {"team": "infra", "env": "prod"}, 300,
            region="us-was-1", every=timedelta(days=7)),
    JobSeed("sbom-scan", "SBOM scan", {"team": "security", "env": "prod"}, 109, runs=4),
    JobSeed("bounce-sweep", "E-mail bounce sweep", {"team": "growth", "env": "staging"}, 251,
            status="DEACTIVATED", last_run=timedelta(days=40)),
    JobSeed("pricing-snapshot", "Pricing snapshot",
            {"team": "commerce", "env": "prod", "cost-center": "cc-204"}, 22),
    # Health at a glance: one job failing for its last four runs, one flaky, one with stragglers.
    JobSeed("orders-export", "Orders export", {"team": "data", "env": "prod"}, 140,
            failures=(ORDERS_SCHEMA,), runs=14, every=timedelta(hours=8),
            last_run=timedelta(hours=2), sizes=(20, 60), parallelism=6, seconds=(30, 120),
            outcomes="FFFF" + "S" * 10),
    JobSeed("price-scraper", "Competitor price scraper", {"team": "commerce", "env": "prod"}, 95,
            failures=(RATE_LIMITED, SITE_503), runs=20, every=timedelta(hours=4),
            last_run=timedelta(minutes=50), sizes=(10, 40), parallelism=5, seconds=(15, 60),
            outcomes="SFSSFSFSSSFSSFSSSFSS"),
    JobSeed("report-render", "Monthly report render", {"team": "finance", "env": "prod"}, 180,
            failures=(OOM,), runs=3, every=timedelta(days=1), sizes=(30, 120), parallelism=8,
            seconds=(40, 90)),
)  # fmt: skip
JOBS_BY_NAME = {job.name: job for job in JOBS}

NAMED_EXECUTIONS = {
    "nightly-embeddings": ExecutionSeed(
        "exec-5k-embeddings", timedelta(hours=6), tasks=5000, parallelism=50, seconds=(70, 150),
        failed=113, cancelled=50, retried=175, memory_override=6144,
        env_override=("BATCH_SIZE", "EMBEDDING_MODEL"), novel=12,  # 125 failed in all
    ),
    "invoice-ocr": ExecutionSeed(
        "exec-320-invoices", timedelta(days=1, hours=3), tasks=320, parallelism=16,
        seconds=(20, 90), retried=14,
    ),
    "weekly-digest": ExecutionSeed(
        "exec-4-digest", timedelta(days=2, hours=5), tasks=4, parallelism=2, seconds=(40, 120),
    ),
    "thumbnail-render": ExecutionSeed(
        "exec-slow-thumbnails", timedelta(minutes=40), tasks=60, parallelism=8,
        seconds=(480, 840), failed=2, retried=3, stalled=True,
    ),
    "report-render": ExecutionSeed(
        "exec-stragglers", timedelta(hours=3), tasks=240, parallelism=8, seconds=(40, 90),
        retried=6, stragglers=5,
    ),
}  # fmt: skip


class Event(NamedTuple):
    at: datetime
    status: str  # the task's status once this happened
    stamp: str | None  # the metadata timestamp this sets, if any
    condition: dict[str, str]


class Snapshot(NamedTuple):
    """One execution as seen at one moment, tasks included."""

    job: JobSeed
    seed: ExecutionSeed
    created: datetime
    tasks: tuple[dict, ...]
    status: str
    stats: dict[str, int]
    times: dict[str, str]
    plans: list[list[Event]]  # each task's whole planned history, future events included
    seen_at: datetime  # the moment it is seen as of: a frozen execution stays at its anchor


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def jobs(anchor: datetime, workspace: str) -> list[dict]:
    """Every job, ordered by name."""
    return [_job(job, anchor, workspace) for job in sorted(JOBS, key=lambda job: job.name)]


# Executions cancelled through the API, by (job, execution id): when the cancel was asked for.
Cancels = Mapping[tuple[str, str], datetime]
CANCELLING = timedelta(seconds=5)  # how long a cancelled execution reads "cancelling"


def executions(
    anchor: datetime, job: str, at: datetime, workspace: str, cancels: Cancels | None = None
) -> list[dict] | None:
    """The job's executions as of `at`, ordered by id; None for an unknown job."""
    if job not in JOBS_BY_NAME:
        return None
    found = _live_snapshots(at) if job == LIVE_JOB else _frozen_snapshots(anchor, job)
    found = [_as_cancelled(shot, cancels or {}, at) for shot in found]
    return sorted(
        (_execution(shot, workspace) for shot in found), key=lambda e: e["metadata"]["id"]
    )


def execution(
    anchor: datetime,
    job: str,
    execution_id: str,
    at: datetime,
    workspace: str,
    cancels: Cancels | None = None,
) -> dict | None:
    shot = _find(anchor, job, execution_id, at)
    return None if shot is None else _execution(_as_cancelled(shot, cancels or {}, at), workspace)


def tasks(
    anchor: datetime, job: str, execution_id: str, at: datetime, cancels: Cancels | None = None
) -> tuple[dict, ...] | None:
    """The execution's tasks as of `at`, in index order; None for an unknown job or execution."""
    shot = _find(anchor, job, execution_id, at)
    return None if shot is None else _as_cancelled(shot, cancels or {}, at).tasks


def _as_cancelled(shot: Snapshot, cancels: Cancels, at: datetime) -> Snapshot:
    """The execution as a cancel asked for at `cancels[...]` leaves it: "cancelling" for
    CANCELLING, then "cancelled", each task still under way cancelled at that moment."""
    asked = cancels.get((shot.job.name, shot.seed.id))
    if asked is None:
        return shot
    stop = asked + CANCELLING
    if at < stop:
        return shot._replace(status="cancelling")
    # A frozen execution is seen at its anchor: nothing planned past it happens before the stop.
    until = min(shot.seen_at, stop)
    plans = [_stopped(_seen(events, until) or events[:1], stop) for events in shot.plans]
    seed = dataclasses.replace(shot.seed, cancel_after=stop - shot.created)
    cancelled = _snapshot(shot.job, seed, shot.created, plans, max(at, stop))
    times = {"startedAt": iso(shot.created + QUEUED), **cancelled.times, "completedAt": iso(stop)}
    return cancelled._replace(status="cancelled", times=times)


def _stopped(events: list[Event], at: datetime) -> list[Event]:
    """A task's history when the cancel takes effect at `at`: cancelled unless already over."""
    if events[-1].status in TERMINAL:
        return events
    started = any(event.stamp == "startedAt" for event in events)
    message = "Execution cancelled by user" + (
        "; task stopped" if started else " before the task started"
    )
    condition = _condition("Cancelled", "ExecutionCancelled", message, "Warning", "Cancelled")
    return [*events, Event(at, "cancelled", "completedAt", condition)]


def live_execution_id(at: datetime) -> str:
    """The id of the live job's execution for the 5-minute cycle containing `at`."""
    return f"exec-crawl-{_cycle_start(at):%Y%m%d-%H%M}"


def _job(job: JobSeed, anchor: datetime, workspace: str) -> dict:
    rng = seeded(job.name, "job")
    created = anchor - timedelta(days=job.age_days, minutes=rng.randint(0, 1439))
    updated = created + (anchor - created) * rng.uniform(0.1, 0.9)
    runtime = {
        "generation": job.generation,
        "image": f"registry.blaxel.ai/demo/{job.name}:{_digest(job.name)[:7]}",
        "maxRetries": job.max_retries,
        "memory": job.memory,
        "timeout": job.timeout,
    }
    spec = {"enabled": job.status != "DEACTIVATED", "region": job.region, "runtime": runtime}
    if job.schedule:
        trigger = {"id": "schedule", "type": "cron", "enabled": True}
        spec["triggers"] = [{**trigger, "configuration": {"schedule": job.schedule}}]
    metadata = {
        "name": job.name,
        "displayName": job.display_name,
        "labels": dict(job.labels),
        "workspace": workspace,
        "createdAt": iso(created),
        "updatedAt": iso(updated.replace(microsecond=0)),
        "createdBy": rng.choice(OWNERS),
        "updatedBy": rng.choice(OWNERS),
    }
    return {"metadata": metadata, "spec": spec, "status": job.status}


def _execution(shot: Snapshot, workspace: str) -> dict:
    metadata = {
        "id": shot.seed.id,
        "job": shot.job.name,
        "workspace": workspace,
        "cluster": f"{shot.job.generation}-{shot.job.region}",
        **shot.times,
    }
    if shot.job.name == LIVE_JOB:
        metadata["expiredAt"] = iso(shot.created + CYCLE * LIVE_WINDOW)
    spec = {"parallelism": shot.seed.parallelism, "timeout": shot.job.timeout}
    if shot.seed.memory_override:
        spec["memoryOverride"] = shot.seed.memory_override
    if shot.seed.env_override:
        spec["envOverride"] = dict.fromkeys(shot.seed.env_override, "***")
    spec["taskCount"] = len(shot.tasks)
    found = {"metadata": metadata, "spec": spec, "stats": shot.stats, "status": shot.status}
    if len(shot.tasks) <= LISTED_TASKS:
        spec["tasks"] = found["tasks"] = list(shot.tasks)
    else:
        spec["tasksRef"] = f"tasks/{workspace}/{shot.job.name}/{shot.seed.id}"
    return found


def _find(anchor: datetime, job: str, execution_id: str, at: datetime) -> Snapshot | None:
    if job == LIVE_JOB:
        found = (cycle for cycle in _live_cycles(at) if cycle[0].id == execution_id)
        return next((_snapshot(JOBS_BY_NAME[job], *cycle, at) for cycle in found), None)
    if job not in JOBS_BY_NAME or execution_id not in _execution_seeds(job):
        return None
    return _frozen(anchor, job, execution_id)


def _frozen_snapshots(anchor: datetime, job: str) -> list[Snapshot]:
    return [_frozen(anchor, job, execution_id) for execution_id in _execution_seeds(job)]


@functools.lru_cache(maxsize=256)
def _frozen(anchor: datetime, job_name: str, execution_id: str) -> Snapshot:
    """A past execution, seen at the anchor; cached because the big ones are read page by page."""
    job, seed = JOBS_BY_NAME[job_name], _execution_seeds(job_name)[execution_id]
    created = anchor - seed.age
    plans = _plan(job, seed, created)
    if seed.stalled:
        _stall(plans, anchor)
    return _snapshot(job, seed, created, plans, anchor)


def _live_snapshots(at: datetime) -> list[Snapshot]:
    return [_snapshot(JOBS_BY_NAME[LIVE_JOB], *cycle, at) for cycle in _live_cycles(at)]


def _live_cycles(at: datetime) -> list[tuple[ExecutionSeed, datetime, list[list[Event]]]]:
    """The live job's cycles still listable at `at`, newest first."""
    current = _cycle_start(at)
    return [_cycle(current - CYCLE * back) for back in range(LIVE_WINDOW)]


@functools.lru_cache(maxsize=2 * LIVE_WINDOW)
def _cycle(start: datetime) -> tuple[ExecutionSeed, datetime, list[list[Event]]]:
    number = int(start.timestamp()) // int(CYCLE.total_seconds())
    execution_id = live_execution_id(start)
    seed = ExecutionSeed(
        execution_id,
        age=timedelta(0),  # unused: a live cycle is placed by its start, not by the anchor
        tasks=24,
        parallelism=6,
        seconds=(20, 35),
        failed=2 if number % 3 == 0 else 0,
        retried=1 + number % 3,
    )
    return seed, start, _plan(JOBS_BY_NAME[LIVE_JOB], seed, start)


def _cycle_start(at: datetime) -> datetime:
    at = at.astimezone(UTC)
    return at.replace(minute=at.minute - at.minute % 5, second=0, microsecond=0)


@functools.cache
def _execution_seeds(job_name: str) -> dict[str, ExecutionSeed]:
    job = JOBS_BY_NAME[job_name]
    named = [NAMED_EXECUTIONS[job_name]] if job_name in NAMED_EXECUTIONS else []
    return {seed.id: seed for seed in [*named, *_history(job)]}


def _history(job: JobSeed) -> Iterator[ExecutionSeed]:
    rng = seeded(job.name, "history")
    for number in range(job.runs):
        size = rng.randint(*job.sizes)
        outcome = rng.choices(("succeeded", "failed", "cancelled", "timeout"), (16, 3, 1, 1))[0]
        if job.outcomes:  # drawn all the same, so that other draws stay where they were
            outcome = OUTCOMES[job.outcomes[number]]
        natural = size * sum(job.seconds) // 2 // job.parallelism
        slow = number == job.slow_run
        yield ExecutionSeed(
            "exec-" + _digest(f"{job.name}/{number}")[:8],
            job.last_run + job.every * (number + 1) + timedelta(minutes=rng.randint(0, 90)),
            tasks=size,
            parallelism=job.parallelism,
            seconds=(job.seconds[0] * 3, job.seconds[1] * 3) if slow else job.seconds,
            failed=max(1, size // 40) if outcome in ("failed", "timeout") else 0,
            retried=size // 25,
            cancel_after=timedelta(seconds=natural // 2 + 30) if outcome == "cancelled" else None,
            timed_out=outcome == "timeout",
            memory_override=job.memory * 2 if number % 5 == 4 else None,
            env_override=("LOG_LEVEL",) if number % 4 == 1 else (),
        )


def _plan(job: JobSeed, seed: ExecutionSeed, created: datetime) -> list[list[Event]]:
    """Each task's event history: tasks take free slots in index order, `parallelism` at once."""
    rng = seeded(job.name, seed.id)
    pool = range(seed.parallelism * 2 if seed.stalled else seed.tasks)  # stalled: early troubles
    special = rng.sample(pool, seed.failed + seed.cancelled + seed.retried)
    failing = set(special[: seed.failed])
    cancelled = set(special[seed.failed : seed.failed + seed.cancelled])
    finals = (TIMEOUT,) if seed.timed_out else job.failures
    transient = [failure for failure in job.failures if failure.retryable]
    # Among the last tasks to start, so they hold the execution open; drawn apart from `rng`, so
    # that executions without stragglers keep every draw they had.
    late = range(seed.tasks * 3 // 4, seed.tasks)
    slow = set(seeded(job.name, seed.id, "stragglers").sample(late, seed.stragglers))
    # Drawn apart too: tonight's new cause, and the flaky task's retry about one run in three.
    plain = [index for index in range(seed.tasks) if index not in special]
    novel = set(seeded(job.name, seed.id, "novel").sample(plain, min(seed.novel, len(plain))))
    flaky = job.flaky is not None and seeded(job.name, seed.id, "flaky").random() < 0.35
    slots = [created + QUEUED] * seed.parallelism
    plans = []
    for index in range(seed.tasks):
        if index in failing:
            failure = rng.choice(finals)
            attempts = [failure] * (job.max_retries + 1 if failure.retryable else 1)
        elif index in novel:
            attempts = [NOVEL_FAILURE] * (job.max_retries + 1)
        elif flaky and index == job.flaky and index not in special and transient:
            attempts = [transient[0], None]
        elif index in cancelled or index not in special:
            attempts = [None]
        else:
            attempts = [rng.choice(transient)] * rng.randint(1, job.max_retries) + [None]
        born = created + timedelta(seconds=index // 100)  # tasks are created in batches of 100
        scheduled = max(heapq.heappop(slots), born)
        events = _run(
            rng, job, seed, born, scheduled, attempts, index in cancelled, slow=index in slow
        )
        heapq.heappush(slots, events[-1].at)
        plans.append(events)
    if seed.cancel_after:
        plans = [_cut(events, created + QUEUED + seed.cancel_after) for events in plans]
    return plans


def _run(
    rng: random.Random,
    job: JobSeed,
    seed: ExecutionSeed,
    born: datetime,
    scheduled: datetime,
    attempts: list[Failure | None],
    cancel: bool,
    *,
    slow: bool = False,
) -> list[Event]:
    waiting = f"Waiting for a free slot (parallelism {seed.parallelism})"
    placed = f"Task scheduled on node {rng.choice(NODES)}"
    events = [
        Event(born, "pending", None, _condition("Pending", "TaskCreated", waiting)),
        Event(
            scheduled, "pending", "scheduledAt", _condition("Scheduled", "TaskScheduled", placed)
        ),
    ]
    first = at = scheduled + timedelta(seconds=1)
    for number, failure in enumerate(attempts, start=1):
        events.append(Event(at, "running", "startedAt", _started(number)))
        if cancel:
            at += timedelta(seconds=rng.randint(5, seed.seconds[0]))
            why = "Task cancelled by user request"
            cancelled = _condition("Cancelled", "TaskCancelled", why, "Warning", "Cancelled")
            events.append(Event(at, "cancelled", "completedAt", cancelled))
            break
        length = _attempt_length(rng, job, seed, failure)
        at += length * STRAGGLE if slow and failure is None else length
        if failure is None:
            done = _condition("Succeeded", "Completed", f"Task completed in {span(at - first)}")
            events.append(Event(at, "succeeded", "completedAt", done))
        elif number < len(attempts):
            events.append(Event(at, "reconciling", None, _retrying(number, failure)))
            at += BACKOFF
        else:
            message = failure.final.format(retries=number - 1, timeout=span(job.timeout))
            failed = _condition(
                "Failed", failure.reason, message, "Error", failure.execution_reason
            )
            events.append(Event(at, "failed", "completedAt", failed))
    return events


def _attempt_length(
    rng: random.Random, job: JobSeed, seed: ExecutionSeed, failure: Failure | None
) -> timedelta:
    low, high = seed.seconds
    if failure is TIMEOUT:
        return timedelta(seconds=job.timeout)
    if failure:
        return timedelta(seconds=rng.randint(low // 4 + 1, low))  # failing attempts die early
    return timedelta(seconds=rng.randint(low, high))


def _cut(events: list[Event], at: datetime) -> list[Event]:
    """The task's history when its execution is cancelled at `at`."""
    kept = [event for event in events if event.at < at]
    if kept[-1].status in TERMINAL:
        return kept
    started = any(event.stamp == "startedAt" for event in kept)
    message = "Execution cancelled by user" + (
        "; task stopped" if started else " before the task started"
    )
    condition = _condition("Cancelled", "ExecutionCancelled", message, "Warning", "Cancelled")
    return [*kept, Event(at, "cancelled", "completedAt", condition)]


def _stall(plans: list[list[Event]], at: datetime) -> None:
    """Freeze two long-running tasks as a slow execution shows them: retrying, and node lost."""
    running = [
        events
        for events in plans
        if (last := _seen(events, at)[-1]).status == "running" and last.at <= at - STALL
    ]
    retrying, lost = running[:2]
    failed_at = at - timedelta(seconds=4)
    retrying[len(_seen(retrying, at)) :] = [
        Event(failed_at, "reconciling", None, _retrying(1, OOM)),
        Event(failed_at + BACKOFF, "running", "startedAt", _started(2)),
    ]
    lost_contact = "Lost contact with the node running this task; state unknown"
    unknown = _condition("Unknown", "NodeLost", lost_contact, "Warning", state="Unknown")
    lost[len(_seen(lost, at)) :] = [Event(at - timedelta(seconds=90), "unspecified", None, unknown)]


def _snapshot(
    job: JobSeed, seed: ExecutionSeed, created: datetime, plans: list[list[Event]], at: datetime
) -> Snapshot:
    spec = {"maxRetries": job.max_retries, "timeout": span(job.timeout)}
    found = tuple(_task(index, events, spec, at) for index, events in enumerate(plans))
    counts = Counter(task["status"] for task in found)
    stats = {
        "total": len(found),
        "success": counts["succeeded"],
        "failure": counts["failed"],
        "running": counts["running"],
        "cancelled": counts["cancelled"],
        "retried": sum(_was_retried(task) for task in found),
    }
    updates = [task["metadata"]["updatedAt"] for task in found]
    times = {"createdAt": iso(created), "updatedAt": max([iso(created), *updates])}
    finished = all(task["status"] in TERMINAL for task in found)
    if at < created + QUEUED:
        status = "queued"
    else:
        times["startedAt"] = iso(created + QUEUED)
        status = _outcome(seed, counts) if finished else "running"
    if status not in ("queued", "running"):
        times["completedAt"] = max(task["metadata"]["completedAt"] for task in found)
    return Snapshot(job, seed, created, found, status, stats, times, plans, at)


def _outcome(seed: ExecutionSeed, counts: Counter) -> str:
    if seed.cancel_after:
        return "cancelled"
    if seed.timed_out:
        return "timeout"
    return "failed" if counts["failed"] else "succeeded"


def _task(index: int, events: list[Event], spec: dict, at: datetime) -> dict:
    """The task as its event history reads at `at`."""
    seen = _seen(events, at)
    metadata = {"name": f"task-{index}", "createdAt": iso(events[0].at)}
    for event in seen:
        if event.stamp:
            metadata.setdefault(event.stamp, iso(event.at))
    metadata["updatedAt"] = iso(seen[-1].at)
    conditions = [event.condition for event in seen]
    return {"metadata": metadata, "spec": spec, "status": seen[-1].status, "conditions": conditions}


def _seen(events: list[Event], at: datetime) -> list[Event]:
    return [event for event in events if event.at <= at]


def _was_retried(task: dict) -> bool:
    return any(condition["type"] == "Retrying" for condition in task["conditions"])


def _started(number: int) -> dict[str, str]:
    return _condition("Running", "TaskStarted", f"Container started (attempt {number})")


def _retrying(number: int, failure: Failure) -> dict[str, str]:
    seconds = int(BACKOFF.total_seconds())
    message = f"Attempt {number} failed: {failure.attempt}; retrying in {seconds}s"
    return _condition("Retrying", "AttemptFailed", message, "Warning", failure.execution_reason)


def _condition(
    kind: str,
    reason: str,
    message: str,
    severity: str = "Info",
    execution_reason: str = "",
    state: str = "True",
) -> dict[str, str]:
    return {
        "type": kind,
        "state": state,
        "severity": severity,
        "reason": reason,
        "message": message,
        "executionReason": execution_reason,
    }


def span(length: timedelta | int) -> str:
    """A duration as Blaxel writes it: 1h, 30m, 1m42s."""
    seconds = int(length.total_seconds()) if isinstance(length, timedelta) else length
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [(hours, "h"), (minutes, "m"), (seconds, "s")]
    return "".join(f"{value}{unit}" for value, unit in parts if value) or "0s"


def seeded(*parts: str) -> random.Random:
    """A generator seeded from ids, so the data never depends on the global random state."""
    seed = int.from_bytes(hashlib.sha256("/".join(parts).encode()).digest()[:8], "big")
    return random.Random(seed)  # noqa: S311 - demo data, not secrets


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class TaskRun(NamedTuple):
    """One task's whole planned history (future events included), for the simulator's logs."""

    job: JobSeed
    execution: ExecutionSeed
    index: int
    events: tuple[Event, ...]
    seen_at: datetime  # the moment the task is shown as of: a frozen execution stays at its anchor


def task_runs(anchor: datetime, job: str, execution_id: str, at: datetime) -> list[TaskRun] | None:
    """Every task of the execution with its planned history; None for an unknown execution."""
    shot = _find(anchor, job, execution_id, at)
    if shot is None:
        return None
    return [
        TaskRun(shot.job, shot.seed, index, tuple(events), shot.seen_at)
        for index, events in enumerate(shot.plans)
    ]

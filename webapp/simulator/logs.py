"""The simulator's task logs (GET /v0/observability/logs): what each demo task printed.

Lines follow each task's own history: every attempt (a "Running" event to the event that ends it)
prints a start line, its job's work, and an ending that says what the task's conditions say: a
succeeded attempt its summary, a failed one its error (a traceback for the Python failures, the
OOM kill for exit 137) and then the condition's own message, so a failed task's log ends with the
error its conditions report. Retried tasks show each attempt. A frozen execution's tasks are
shown as of the simulator's anchor; the live crawl's as of the clock, so its running tasks print
lines as time goes by.

As in Blaxel, where lines are ingested in batches, each line becomes readable a little after its
timestamp, some much later than the lines after them. The answer has the contract's shape
(CONTRACT.md, "Task logs"): an object keyed by job name, lines newest first, `totalCount`.
"""

from __future__ import annotations

import functools
import random
import re
import string
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from webapp.simulator import data
from webapp.simulator.data import Event, Failure, TaskRun

SEVERITIES = ("FATAL", "ERROR", "WARNING", "INFO", "DEBUG", "TRACE", "UNKNOWN")
WIRE_TIME = "%Y-%m-%dT%H:%M:%S"
MAX_RANGE = timedelta(days=3)
MAX_LIMIT = 1000
TRACE, DEBUG, INFO, WARNING, ERROR, FATAL = 1, 5, 9, 13, 17, 21
SECOND = 1_000_000_000


class Line(NamedTuple):
    ns: int  # nanoseconds since 1970
    severity: int  # OpenTelemetry's SeverityNumber
    message: str
    trace_id: str
    readable_ns: int  # from when a reader can see it: ingestion is late

    def wire(self) -> dict:
        whole, fraction = divmod(self.ns, SECOND)
        stamp = datetime.fromtimestamp(whole, UTC).strftime(WIRE_TIME)
        return {
            "timestamp": f"{stamp}.{fraction:09d}Z",
            "message": self.message,
            "severity": self.severity,
            "trace_id": self.trace_id,
        }


def severity_name(number: int) -> str:
    if not 1 <= number <= 24:
        return "UNKNOWN"
    return ("TRACE", "DEBUG", "INFO", "WARNING", "ERROR", "FATAL")[(number - 1) // 4]


@dataclass(frozen=True)
class Script:
    """How a job's worker talks: lines as it starts, one line of work every few seconds (each
    `(severity, template)`), and its summary when an attempt succeeds."""

    begin: tuple[tuple[int, str], ...]
    work: tuple[tuple[int, str], ...]
    done: str
    every: int = 3  # seconds between lines of work, on average
    process: str = "python3"


SCRIPTS = {
    "nightly-embeddings": Script(
        (
            (INFO, "Loading model text-embedding-3-large (3072 dimensions)"),
            (DEBUG, "Reading shard {shard} from s3://acme-ml/corpus/shard-{shard}.parquet"),
        ),
        (
            (INFO, "Embedded batch {k}: 64 chunks in {ms} ms"),
            (INFO, "Embedded batch {k}: 64 chunks in {ms} ms"),
            (10, "Upserted {n} vectors into index docs-prod ({ms} ms)"),
            (DEBUG, "GPU memory {mem} MiB in use"),
        ),
        "Shard {shard} done: {k} batches embedded in {took}",
    ),
    "invoice-ocr": Script(
        ((INFO, "Fetched invoice batch {shard} ({n} PDFs) from s3://acme-finance/inbox"),),
        (
            (INFO, "OCR INV-{id}.pdf page 1: {n} fields, confidence 0.9{digit}"),
            (INFO, "OCR INV-{id}.pdf page 2: {n} fields, confidence 0.9{digit}"),
            (WARNING, "Low confidence (0.6{digit}) on INV-{id}.pdf field 'total'; flagged"),
        ),
        "Batch {shard}: {k} pages read, invoices written to ledger-import",
        every=2,
    ),
    "weekly-digest": Script(
        ((INFO, "Rendering the weekly digest for segment {shard}"),),
        (
            (INFO, "Rendered e-mail for user {id} ({ms} ms)"),
            (INFO, "Sent batch {k} via smtp.mailgun.org: 250 OK"),
        ),
        "Segment {shard}: {k} batches sent",
    ),
    "thumbnail-render": Script(
        (
            (INFO, "ffmpeg version 6.1.1 Copyright (c) 2000-2023 the FFmpeg developers"),
            (INFO, "Input #0, mov,mp4,m4a,3gp,3g2,mj2, from 's3://acme-media/raw/{id}.mp4':"),
            (DEBUG, "  Stream #0:0: Video: h264 (High), yuv420p, 3840x2160, 24 fps"),
        ),
        (
            (INFO, "frame={frame} fps={fps} q=28.0 size={kb}kB time={clock} speed=0.{digit}x"),
            (INFO, "frame={frame} fps={fps} q=28.0 size={kb}kB time={clock} speed=0.{digit}x"),
            (TRACE, "[swscaler @ 0x55d0c8a4c2c0] frame {frame} scaled to 640x360"),
        ),
        "Rendered 12 thumbnails of {id}.mp4 in {took}",
        every=2,
        process="ffmpeg",
    ),
    data.LIVE_JOB: Script(
        (
            (INFO, "crawler v2.4.1 starting (node v20.11.1)"),
            (INFO, "Fetching https://www.example-shop.com/sitemap-{shard}.xml"),
        ),
        (
            (INFO, "\x1b[32m200\x1b[0m GET https://www.example-shop.com/products/{slug} {ms}ms"),
            (INFO, "\x1b[32m200\x1b[0m GET https://www.example-shop.com/products/{slug} {ms}ms"),
            (WARNING, "\x1b[33m301\x1b[0m GET https://www.example-shop.com/p/{slug} → /products"),
            (DEBUG, "queue: {n} pending, {k} done"),
        ),
        "\x1b[1mCrawled {k} URLs\x1b[0m from sitemap-{shard}.xml in {took}",
        every=1,
        process="node",
    ),
    "churn-model-train": Script(
        ((INFO, "Loading features from the warehouse (2,418,330 rows)"),),
        (
            (INFO, "epoch {k}: loss=0.{loss} val_auc=0.8{digit}{digit}"),
            (DEBUG, "checkpoint saved to /ckpt/epoch-{k}.pt"),
        ),
        "Training finished after {k} epochs; model registered as churn-v{n}",
        every=6,
    ),
}
GENERIC = Script(
    ((INFO, "Starting {job} worker"),),
    ((INFO, "Processed item {k} ({ms} ms)"), (DEBUG, "heartbeat: {n} items queued")),
    "Processed {k} items in {took}",
)

TRACEBACK = (
    "Traceback (most recent call last):\n"
    '  File "/app/worker.py", line 57, in <module>\n'
    "    main()\n"
    '  File "/app/worker.py", line 49, in main\n'
    "    {call}\n"
    '  File "{file}", line {line}, in {function}\n'
    "    {code}\n"
    "{error}"
)


def _raised(**where: str | int) -> tuple[tuple[int, str], ...]:
    """What a Python worker prints as it dies of an exception: its traceback, as one line."""
    return ((ERROR, TRACEBACK.format(**where)),)


# What each failure prints before the task ends: (severity, text), with {memory} and {process}.
FAILURE_OUTPUT: dict[str, tuple[tuple[int, str], ...]] = {
    "exit code 137 (OOMKilled)": (
        (WARNING, "Memory usage at 97% of the {memory} MiB limit"),
        (
            FATAL,
            "Out of memory: Killed process 7 ({process}) total-vm:{vm}kB, anon-rss:{rss}kB,"
            " file-rss:0kB, shmem-rss:0kB",
        ),
    ),
    "exit code 1 (KeyError: 'text')": _raised(
        call="handle(record)",
        file="/app/worker.py",
        line=21,
        function="handle",
        code='text = record["text"]',
        error="KeyError: 'text'",
    ),
    "exit code 1 (ValueError: invalid PDF header)": ((ERROR, data.BAD_PDF.final),),
    "exit code 1 (KeyError: 'customer_id')": _raised(
        call="rows = [export_row(order) for order in batch]",
        file="/app/export.py",
        line=33,
        function="export_row",
        code='customer = order["customer_id"]',
        error="KeyError: 'customer_id'",
    ),
    "HTTP 503 from embeddings-api.internal:8080": _raised(
        call="vectors = embed(batch)",
        file="/app/embed/client.py",
        line=64,
        function="embed",
        code="response.raise_for_status()",
        error="httpx.HTTPStatusError: Server error '503 Service Unavailable' for url"
        " 'http://embeddings-api.internal:8080/v1/embed'",
    ),
    "HTTP 429 from api.openai.com": _raised(
        call="result = complete(prompt)",
        file="/app/llm.py",
        line=88,
        function="complete",
        code="return client.chat.completions.create(**request)",
        error="openai.RateLimitError: Error code: 429 - Rate limit reached for requests",
    ),
    "SMTP 421 from smtp.mailgun.org": _raised(
        call="send(batch)",
        file="/usr/lib/python3.12/smtplib.py",
        line=1012,
        function="sendmail",
        code="raise SMTPSenderRefused(code, resp, from_addr)",
        error="smtplib.SMTPServerDisconnected: 421 Service not available",
    ),
    "getaddrinfo ENOTFOUND cdn.shop-images.example": (
        (
            ERROR,
            "Error: getaddrinfo ENOTFOUND cdn.shop-images.example\n"
            "    at GetAddrInfoReqWrap.onlookupall [as oncomplete] (node:dns:118:26)",
        ),
    ),
    "HTTP 503 from www.example-shop.com": (
        (
            ERROR,
            "Error: GET https://www.example-shop.com/sitemap-3.xml answered HTTP 503 Service"
            " Unavailable\n    at fetchSitemap (/app/src/sitemap.js:41:11)",
        ),
    ),
    "exit code 1 (ffmpeg)": (
        (ERROR, "[h264 @ 0x55d0c8a4c2c0] Invalid data found when processing input (frame 1184)"),
        (ERROR, "Error while decoding stream #0:0: Invalid data found when processing input"),
    ),
    "timed out": ((WARNING, "Timeout of {timeout} reached: sending SIGTERM"),),
}
FAILURES = tuple(dict.fromkeys([data.TIMEOUT, *(f for job in data.JOBS for f in job.failures)]))
# Each Failed condition's whole message, its numbers left open: many share their first words.
FINALS = {
    failure: re.compile(
        "".join(
            re.escape(text) + (".+" if field else "")
            for text, field, _, _ in string.Formatter().parse(failure.final)
        )
    )
    for failure in FAILURES
}


class BadQuery(ValueError):
    """A query the API would refuse with 400."""


@dataclass(frozen=True)
class LogsQuery:
    """One logs query, checked as the API checks it."""

    start_ns: int
    end_ns: int
    resource_type: str
    jobs: tuple[str, ...]
    execution_id: str
    task_name: str
    severities: frozenset[str]
    search: str
    limit: int
    offset: int

    @classmethod
    def parse(cls, args: Mapping[str, str]) -> LogsQuery:
        start, end = _wire_time(args, "start"), _wire_time(args, "end")
        if end < start:
            raise BadQuery("end must not be before start")
        if end - start > MAX_RANGE:
            raise BadQuery("the time range may not exceed 3 days")
        picked = {part.strip().upper() for part in args.get("severity", "").split(",")}
        picked -= {"", "ALL"}
        unknown = picked.difference(SEVERITIES)
        if unknown:
            raise BadQuery(f"severity must list values among {', '.join(SEVERITIES)}")
        return cls(
            int(start.timestamp()) * SECOND,
            int(end.timestamp()) * SECOND,
            args.get("resourceType", "jobs"),
            tuple(name.strip() for name in args.get("workloadIds", "").split(",") if name.strip()),
            args.get("executionId", ""),
            args.get("taskId", ""),
            frozenset(picked or SEVERITIES),
            args.get("search", "").lower(),
            min(_count(args, "limit", MAX_LIMIT, low=1), MAX_LIMIT),
            _count(args, "offset", 0, low=0),
        )

    def keeps(self, line: Line) -> bool:
        return (
            self.start_ns <= line.ns < self.end_ns
            and severity_name(line.severity) in self.severities
            and (not self.search or self.search in line.message.lower())
        )


def answer(query: LogsQuery, anchor: datetime, now: datetime, workspace: str) -> dict:
    """The answer to one query: each job with lines in the window, and its page of them."""
    found = {}
    if query.resource_type != "jobs":
        return found
    for job in query.jobs:
        runs = _runs(query, job, anchor, now, workspace)
        lines = [line for run in runs for line in readable_lines(run, now) if query.keeps(line)]
        if lines:
            lines.sort(key=lambda line: line.ns, reverse=True)  # newest first
            page = lines[query.offset : query.offset + query.limit]
            found[job] = {"logs": [line.wire() for line in page], "totalCount": len(lines)}
    return found


def _runs(
    query: LogsQuery, job: str, anchor: datetime, now: datetime, workspace: str
) -> Iterator[TaskRun]:
    executions = (
        [query.execution_id]
        if query.execution_id
        else [e["metadata"]["id"] for e in data.executions(anchor, job, now, workspace) or ()]
    )
    for execution_id in executions:
        for run in data.task_runs(anchor, job, execution_id, now) or ():
            if not query.task_name or query.task_name == f"task-{run.index}":
                yield run


def readable_lines(run: TaskRun, now: datetime) -> list[Line]:
    """The task's lines a reader can see now: printed by the moment the task is shown as of,
    and ingested by now."""
    until = _ns(min(now, run.seen_at))
    reader = _ns(now)
    return [line for line in task_lines(run) if line.ns <= until and line.readable_ns <= reader]


def task_lines(run: TaskRun) -> tuple[Line, ...]:
    """Every line the task prints in its planned history, oldest first.

    A task's plan is fixed by its job, execution, place and first moment, and so are its lines:
    they are kept for the tasks read last, so that a search of a whole execution (every task's
    lines, 204,000 for the demo's 5,000 tasks, seconds to make) is made once, not per call."""
    return _planned_lines(_Planned(run))


class _Planned:
    """A task's run, hashed and compared by what fixes its plan (its events hold dicts)."""

    __slots__ = ("key", "run")

    def __init__(self, run: TaskRun) -> None:
        self.run = run
        first = run.events[0].at if run.events else None
        self.key = (run.job.name, run.execution.id, run.index, first)

    def __hash__(self) -> int:
        return hash(self.key)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Planned) and other.key == self.key


@functools.lru_cache(maxsize=6_000)  # the demo's biggest execution and a few more tasks
def _planned_lines(planned: _Planned) -> tuple[Line, ...]:
    run = planned.run
    lines: list[Line] = []
    node = next(
        (e.condition["message"].rsplit(" ", 1)[-1] for e in run.events if e.stamp == "scheduledAt"),
        "unknown",
    )
    for number, (began, ended) in enumerate(_attempts(run), start=1):
        rng = data.seeded("logs", run.job.name, run.execution.id, str(run.index), str(number))
        lines += _attempt(run, number, node, began, ended, rng)
    return tuple(lines)


def _attempts(run: TaskRun) -> Iterator[tuple[Event, Event | None]]:
    """(the event starting each attempt, the event ending it, or None while it runs)."""
    for event, following in zip(run.events, (*run.events[1:], None), strict=True):
        if event.condition["type"] == "Running":
            yield event, following


def _attempt(
    run: TaskRun, number: int, node: str, began: Event, ended: Event | None, rng: random.Random
) -> list[Line]:
    job, script = run.job, SCRIPTS.get(run.job.name, GENERIC)
    start = _ns(began.at) + rng.randrange(200_000_000, 900_000_000)
    # An attempt still running prints until the moment the task is shown as of.
    stop = _ns(ended.at) if ended is not None else _ns(run.seen_at)
    values = _values(run, rng)
    printed = [(start, INFO, f"Attempt {number} of up to {job.max_retries + 1} on node {node}")]
    at = start
    for severity, template in script.begin:
        at += rng.randrange(50_000_000, 400_000_000)
        printed.append((at, severity, template.format(**values)))
    # The work fills the attempt up to its ending, a line every `every` seconds or so.
    until = stop - 3 * SECOND
    k = 0
    while True:
        at += rng.randrange(script.every * SECOND // 2, script.every * SECOND * 3 // 2)
        if at >= until:
            break
        k += 1
        values.update(_step(k, rng))
        severity, template = script.work[rng.randrange(len(script.work))]
        printed.append((at, severity, template.format(**values)))
    if ended is not None:
        values.update(k=k, took=data.span((stop - start) // SECOND))
        printed += [
            (stop - back - rng.randrange(1_000_000, 90_000_000), level, text)
            for back, level, text in _ending(run, ended, values)
        ]
    return [_line(at, severity, text, rng) for at, severity, text in printed]


def _ending(run: TaskRun, ended: Event, values: dict) -> list[tuple[int, int, str]]:
    """What an attempt prints as it ends, each line this many ns before the end: its summary,
    or the failure's own output and then the condition's message, as the platform reports it."""
    message = ended.condition["message"]
    if ended.status == "succeeded":
        return [(SECOND // 5, INFO, SCRIPTS.get(run.job.name, GENERIC).done.format(**values))]
    if ended.status == "cancelled":
        return [
            (SECOND, WARNING, "Received SIGTERM: stopping after the current item"),
            (0, WARNING, message),
        ]
    failure = _failure(message)
    if failure is None:  # the node was lost: the task's output simply stops
        return []
    output = FAILURE_OUTPUT[failure.attempt]
    last = WARNING if ended.status == "reconciling" else FATAL if failure is data.OOM else ERROR
    printed = [
        ((len(output) - place) * SECOND // 2, level, text.format(**values))
        for place, (level, text) in enumerate(output)
    ]
    return [*printed, (0, last, message)]


def _failure(message: str) -> Failure | None:
    """The failure a Retrying or Failed condition's message tells of."""
    for failure in FAILURES:
        if f"failed: {failure.attempt};" in message or FINALS[failure].fullmatch(message):
            return failure
    return None


def _values(run: TaskRun, rng: random.Random) -> dict:
    """What a task's lines may mention, fixed for the attempt."""
    return {
        "job": run.job.name,
        "shard": f"{run.index:05d}",
        "memory": run.job.memory,
        "process": SCRIPTS.get(run.job.name, GENERIC).process,
        "timeout": data.span(run.job.timeout),
        "vm": run.job.memory * 1100 + rng.randrange(1000),
        "rss": run.job.memory * 1020 + rng.randrange(1000),
        "n": rng.randint(10, 500),
        "id": f"{rng.randrange(16**6):06x}",
        **_step(0, rng),
    }


def _step(k: int, rng: random.Random) -> dict:
    """What one line of work may mention."""
    seconds = k * 2
    return {
        "k": k,
        "ms": rng.randint(12, 950),
        "n": rng.randint(10, 500),
        "mem": rng.randint(2000, 7800),
        "digit": rng.randint(0, 9),
        "id": f"{rng.randrange(16**6):06x}",
        "slug": f"item-{rng.randrange(10**5):05d}",
        "frame": k * 48,
        "fps": rng.randint(18, 31),
        "kb": k * 211,
        "clock": f"00:{seconds // 60:02d}:{seconds % 60:02d}.00",
        "loss": f"{max(900 - k * 7, 120) + rng.randrange(40):03d}",
    }


def _line(at: int, severity: int, message: str, rng: random.Random) -> Line:
    # Most lines are readable a second or three after they are printed; some much later.
    delay = rng.uniform(5, 20) if rng.random() < 0.15 else rng.uniform(0.5, 3)
    traced = severity >= WARNING or "GET " in message
    trace_id = f"{rng.getrandbits(128):032x}" if traced else ""
    return Line(at, severity, message, trace_id, at + int(delay * SECOND))


def _wire_time(args: Mapping[str, str], name: str) -> datetime:
    try:
        return datetime.strptime(args.get(name, ""), WIRE_TIME).replace(tzinfo=UTC)
    except ValueError:
        raise BadQuery("start and end must be UTC times formatted YYYY-MM-DDTHH:MM:SS") from None


def _count(args: Mapping[str, str], name: str, default: int, low: int) -> int:
    raw = args.get(name, "")
    if not raw:
        return default
    if not (raw.isascii() and raw.isdigit()) or int(raw) < low:
        raise BadQuery(f"{name} must be an integer of at least {low}")
    return int(raw)


def _ns(moment: datetime) -> int:
    return int(moment.timestamp()) * SECOND + moment.microsecond * 1000

"""A task's logs: everything that depends on Blaxel's logs contract, in one place.

`GET /observability/logs` is not in the official spec; CONTRACT.md ("Task logs") gathers what the
official CLI sends and reads back. When a real workspace shows otherwise, this is the module to
correct: the request's parameters and its 3-day limit, the answer's shape, what the severity
numbers mean, the key that tells two lines apart, and how pages (newest first, limit and offset)
are walked. Lines are ingested in batches, so they arrive late and out of order: callers overlap
their windows and de-duplicate by `LogLine.key`, as the CLI does.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any

import msgspec

from .errors import ChainStopped, bad_response
from .models import EARLIEST, LATEST, Execution, Task

PATH = "observability/logs"
ENDPOINT = "TaskLogs"  # how the calls are named in records and logs; the API gives it no name
SEVERITIES = ("FATAL", "ERROR", "WARNING", "INFO", "DEBUG", "TRACE", "UNKNOWN")
MAX_WINDOW = timedelta(days=3)  # the API refuses longer ranges
MAX_LIMIT = 1000  # what the CLI asks for; nothing says the API gives more
WIRE_TIME = "%Y-%m-%dT%H:%M:%S"  # UTC, no zone suffix, whole seconds
# A line may show up this long after later ones: the CLI's follow overlaps its windows by 30 s.
LATE = timedelta(seconds=30)
# Once a task is final and this long past, its lines have all arrived: they no longer change.
SETTLED_AFTER = timedelta(minutes=5)
# The default window: a little before the task began, to a little after it ended (or now).
BEFORE, AFTER = timedelta(minutes=1), timedelta(minutes=2)
# A follow poll's window starts on this grain, so viewers of one task share cached answers.
FOLLOW_GRAIN = 15
# Lines a walk re-reads from the page before, so lines arriving mid-walk shift nothing past it.
OVERLAP_LINES = 50
MAX_WALK_PAGES = 5000
TIMESTAMP = re.compile(
    r"(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2})(?:\.(\d{1,9})\d*)?(Z|z|[+-]\d{2}:?\d{2})?"
)


def severity_name(number: int) -> str:
    """OpenTelemetry's SeverityNumber as the API's severity names (CONTRACT.md: the likely
    meaning, not confirmed); 0 and anything out of range read as UNKNOWN."""
    if not 1 <= number <= 24:
        return "UNKNOWN"
    return ("TRACE", "DEBUG", "INFO", "WARNING", "ERROR", "FATAL")[(number - 1) // 4]


def nanoseconds(text: str) -> int | None:
    """An RFC 3339 timestamp (nanoseconds kept) as nanoseconds since 1970; None if unusable."""
    found = TIMESTAMP.fullmatch(text.strip())
    if found is None:
        return None
    try:
        # No zone means UTC; fromisoformat takes "Z" (not "z") and a space before the time.
        moment = datetime.fromisoformat(found[1] + (found[3] or "Z").upper())
    except ValueError:
        return None
    if not EARLIEST <= moment <= LATEST:
        return None
    whole = int(moment.timestamp()) * 1_000_000_000
    return whole + int((found[2] or "").ljust(9, "0"))


def readable(text: str) -> str:
    """Text that can be written out as UTF-8: lone surrogates (from `\\ud800` escapes) become
    U+FFFD."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


class LogLine(msgspec.Struct, frozen=True, dict=True):
    """One line as the API sends it: any field may be missing, `severity` may be a name."""

    timestamp: str | None = None
    message: str | None = None
    severity: int | str | None = None
    trace_id: str | None = None

    @property
    def text(self) -> str:
        return self.message or ""

    @cached_property
    def at_ns(self) -> int:
        """When, in nanoseconds since 1970; 0 when unknown, so such lines sort first (as the
        CLI does)."""
        return nanoseconds(self.timestamp or "") or 0

    @cached_property
    def moment(self) -> datetime | None:
        """When, to the microsecond; `at_ns` has the nanoseconds."""
        if not self.at_ns:
            return None
        whole, fraction = divmod(self.at_ns, 1_000_000_000)
        return datetime.fromtimestamp(whole, UTC).replace(microsecond=fraction // 1000)

    @property
    def stamp(self) -> str:
        """The timestamp written by us, nanoseconds kept ("" when unknown): never the raw text,
        which could hold anything."""
        if not self.at_ns:
            return ""
        return f"{self.moment:%Y-%m-%dT%H:%M:%S}.{self.at_ns % 1_000_000_000:09d}Z"

    @cached_property
    def key(self) -> str:
        """What makes a line itself, as the CLI de-duplicates: its timestamp and its message."""
        raw = f"{self.timestamp or ''}\x00{self.text}".encode()
        return hashlib.blake2b(raw, digest_size=8).hexdigest()

    @property
    def sort_key(self) -> str:
        """Sortable as text: nanoseconds, zero-padded."""
        return f"{self.at_ns:020d}"

    def severity_name(self, assumed: str = "") -> str:
        """The line's severity by name. A number the mapping cannot place (0, out of range)
        reads as `assumed` when the request asked for one severity only."""
        if isinstance(self.severity, str):
            name = self.severity.strip().upper()
            name = "WARNING" if name == "WARN" else name
            return name if name in SEVERITIES else (assumed or "UNKNOWN")
        named = severity_name(self.severity) if self.severity is not None else "UNKNOWN"
        return assumed if named == "UNKNOWN" and assumed else named


class WorkloadLogs(msgspec.Struct, frozen=True):
    logs: tuple[LogLine | None, ...] | None = None
    total_count: int | None = msgspec.field(default=None, name="totalCount")


class LogPage(msgspec.Struct, frozen=True):
    """One page of a task's lines: newest first, as Blaxel sends them, and how many match in
    the whole window (`totalCount`)."""

    lines: tuple[LogLine, ...] = ()
    total: int = 0

    def oldest_first(self) -> list[LogLine]:
        # Stable: lines of one moment keep the order Blaxel gave them, reversed with the rest.
        return sorted(reversed(self.lines), key=lambda line: line.at_ns)

    def without(self, secret: str) -> LogPage:
        """The page with `secret` cut out of every message (the server's own token, if a task
        ever printed it)."""
        if not secret or not any(secret in line.text for line in self.lines):
            return self
        lines = tuple(
            msgspec.structs.replace(line, message=line.text.replace(secret, "[redacted]"))
            if secret in line.text
            else line
            for line in self.lines
        )
        return LogPage(lines, self.total)


Answer = dict[str, WorkloadLogs]
_answer_decoder = msgspec.json.Decoder(Answer)


def page_of(body: bytes, job_id: str) -> LogPage:
    """The job's lines in an answer, or the BAD_RESPONSE error that any nonsense becomes. A job
    with no lines in the window may be absent: that is an empty page."""
    try:
        answer = _answer_decoder.decode(body)
    except msgspec.ValidationError as exc:
        raise bad_response(exc) from None
    except (msgspec.DecodeError, UnicodeDecodeError):
        # Log text is whatever a task printed: invalid UTF-8 and lone surrogate escapes must
        # cost one line its characters, not the whole page.
        answer = _lenient(body)
    except (ValueError, RecursionError) as exc:
        raise bad_response(exc) from None
    found = answer.get(job_id)
    if found is None:
        return LogPage()
    lines = tuple(line for line in found.logs or () if line is not None)
    total = found.total_count if found.total_count is not None else len(lines)
    return LogPage(lines, max(total, len(lines)))


def _lenient(body: bytes) -> Answer:
    try:
        raw = json.loads(body.decode("utf-8", "replace"), object_hook=_readable_object)
        return msgspec.convert(raw, Answer)
    except (ValueError, RecursionError) as exc:
        raise bad_response(exc) from None


def _readable_object(pairs: dict[str, Any]) -> dict[str, Any]:
    return {readable(k): readable(v) if isinstance(v, str) else v for k, v in pairs.items()}


@dataclass(frozen=True)
class Window:
    """The time range asked for, in whole seconds, within the API's 3-day limit."""

    start: datetime
    end: datetime
    narrowed: bool = False  # a longer range was cut to the last 3 days of it

    @classmethod
    def of(cls, start: datetime, end: datetime) -> Window:
        start, end = _floor(start, 1), _ceil(end, 1)
        if end - start > MAX_WINDOW:
            return cls(end - MAX_WINDOW, end, narrowed=True)
        return cls(start, end)


def task_window(task: Task, now: datetime) -> Window:
    """The task's own run: a minute before it was created or started (the earlier, so every
    attempt is in), to two minutes after it completed or, while it runs, after now."""
    began = min((m for m in (task.created_at, task.started_at) if m is not None), default=None)
    ended = task.completed_at if task.is_final else None
    end = _ceil((ended or now) + AFTER, 60)
    start = _floor(began - BEFORE, 60) if began is not None else end - timedelta(hours=1)
    return Window.of(min(start, end - timedelta(minutes=1)), end)


def execution_window(execution: Execution, now: datetime) -> Window:
    """Every task's run of the execution: a minute before it was created, to two minutes after
    it completed or, while it runs, after now (its last 3 days when it ran longer)."""
    ended = execution.completed_at if execution.is_finished else None
    end = _ceil((ended or now) + AFTER, 60)
    began = execution.created_at or execution.started_at
    start = _floor(began - BEFORE, 60) if began is not None else end - timedelta(hours=1)
    return Window.of(min(start, end - timedelta(minutes=1)), end)


def still_arriving(task: Task, now: datetime) -> bool:
    """Whether new lines may still come: the task runs, or ended so recently that late lines
    may be on their way."""
    return not task.is_final or (task.completed_at is not None and now < task.completed_at + LATE)


def settled(task: Task, now: datetime) -> bool:
    """Whether the task's lines no longer change: final, and long enough ago."""
    return (
        task.is_final and task.completed_at is not None and now - task.completed_at > SETTLED_AFTER
    )


def follow_since(now: datetime) -> datetime:
    """Where the next follow poll's window starts: far enough back for late lines."""
    return follow_start(now - LATE)


def follow_start(since: datetime) -> datetime:
    """A poll's `since` down to the grain, whatever the browser sent: polls that differ by
    seconds ask Blaxel the same thing, and all but the first are answered from the cache."""
    return _floor(since, FOLLOW_GRAIN)


def follow_end(now: datetime) -> datetime:
    return _ceil(now + AFTER, 60)


@dataclass(frozen=True)
class LogRequest:
    """One page of one task's lines (of every task of the execution when `task_name` is empty,
    as the contract allows): the window, filters, and where in the newest-first list."""

    job_id: str
    execution_id: str
    task_name: str
    window: Window
    severities: tuple[str, ...] = ()  # empty: every severity
    search: str = ""
    limit: int = 200
    offset: int = 0

    def __post_init__(self) -> None:
        # Never send what the API refuses: it would read as a failure of Blaxel's.
        if not timedelta(0) < self.window.end - self.window.start <= MAX_WINDOW:
            raise ValueError("a log window must end after it starts, at most 3 days later")
        if not 1 <= self.limit <= MAX_LIMIT or self.offset < 0:
            raise ValueError("limit must be 1 to 1000 and offset at least 0")
        if not set(self.severities) <= set(SEVERITIES):
            raise ValueError("unknown severity")

    @property
    def one_severity(self) -> str:
        """The severity every line has, when only one was asked for."""
        return self.severities[0] if len(self.severities) == 1 else ""

    def params(self, workspace: str) -> dict[str, str | int]:
        """The query the CLI sends (CONTRACT.md), this request's values in it."""
        return {
            "start": self.window.start.astimezone(UTC).strftime(WIRE_TIME),
            "end": self.window.end.astimezone(UTC).strftime(WIRE_TIME),
            "resourceType": "jobs",
            "workloadIds": self.job_id,
            "executionId": self.execution_id,
            "taskId": self.task_name,
            "severity": ",".join(self.severities or SEVERITIES),
            "search": self.search,
            "limit": self.limit,
            "offset": self.offset,
            "type": "all",
            "traceId": "",
            "interval": 60,
            "workspace": workspace,
        }

    def cache_key(self) -> tuple[str | int, ...]:
        return (
            self.job_id,
            self.execution_id,
            self.task_name,
            self.window.start.isoformat(),
            self.window.end.isoformat(),
            ",".join(self.severities),
            self.search,
            self.limit,
            self.offset,
        )

    def at(self, offset: int) -> LogRequest:
        return replace(self, offset=offset)


def oldest_first(
    fetch: Callable[[LogRequest], LogPage], request: LogRequest, time_left: Callable[[], float]
) -> Iterator[list[LogLine]]:
    """Every line of the request's window, oldest first, one page at a time.

    Pages come newest first, so the walk starts from the last one and works towards offset 0,
    each page overlapping the one before by OVERLAP_LINES: a few lines arriving meanwhile shift
    the offsets without losing any, and the overlap's repeats are dropped by key. Raises
    ChainStopped when more lines arrive between two pages than the overlap absorbs, when time
    runs out, or past MAX_WALK_PAGES.
    """
    size = max(request.limit, OVERLAP_LINES * 2)
    first = fetch(request.at(0))
    if first.total <= len(first.lines):
        yield first.oldest_first()
        return
    # The last page reaches OVERLAP_LINES past the known end, for lines arriving meanwhile.
    known, offset = first.total, max(first.total - size + OVERLAP_LINES, 0)
    del first  # one page in memory at a time
    seen: frozenset[str] = frozenset()
    for _ in range(MAX_WALK_PAGES):
        if time_left() <= 0:
            raise ChainStopped("the time allowed ran out")
        page = fetch(replace(request, limit=size, offset=offset))
        if page.total - known > OVERLAP_LINES:
            raise ChainStopped("lines arrived faster than the download could place them")
        known = page.total
        yield [line for line in page.oldest_first() if line.key not in seen]
        if offset == 0:
            return
        seen = frozenset(line.key for line in page.lines)
        offset = max(offset - (size - OVERLAP_LINES), 0)
    raise ChainStopped(f"the log ran past {MAX_WALK_PAGES:,} pages")


def _floor(moment: datetime, seconds: int) -> datetime:
    stamp = int(moment.astimezone(UTC).timestamp() // seconds) * seconds
    return datetime.fromtimestamp(stamp, UTC)


def _ceil(moment: datetime, seconds: int) -> datetime:
    floor = _floor(moment, seconds)
    return floor if floor == moment else floor + timedelta(seconds=seconds)

"""A task view exported whole, streamed while the walk goes: CSV for spreadsheets, JSON for code.

Rows leave as each upstream page arrives, while the next one is fetched, so memory holds one
page and the one in flight however long the execution. Once the first byte is sent the status
code is fixed, so anything that stops the file early (Blaxel failing, a chain that runs on
without end, the time allowed, a body we cannot write) ends it with a marker instead: a last CSV
row saying the export is incomplete, and a JSON array left unclosed after an error object, so no
parser can take a partial export for a whole one.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

import msgspec

from ..blaxel import ChainStopped, Page, Task, UpstreamError
from ..common.errors import why_incomplete
from ..common.formatting import iso

log = logging.getLogger(__name__)

MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "json": "application/json"}
CSV_COLUMNS = (
    "name",
    "status",
    "created_at",
    "scheduled_at",
    "started_at",
    "completed_at",
    "updated_at",
    "duration_seconds",
    "max_retries",
    "timeout",
    "key_condition_severity",
    "key_condition_reason",
    "key_condition_message",
    "condition_count",
    "conditions",
)
INCOMPLETE = "# EXPORT INCOMPLETE"
# A spreadsheet may run a cell starting with these as a formula, their full-width and small forms
# included; cells starting with white space or a control character are defused too, since some
# spreadsheets strip those first.
FORMULA_STARTS = frozenset("=+-@\uff1d\uff0b\uff0d\uff20\ufe62\ufe63")
UNSAFE_IN_FILENAME = re.compile(r"[^A-Za-z0-9._-]+")


def filename(job_id: str, execution_id: str, fmt: str, now: datetime) -> str:
    parts = [UNSAFE_IN_FILENAME.sub("_", part)[:80] for part in (job_id, execution_id)]
    return f"{parts[0]}_{parts[1]}_tasks_{now.astimezone(UTC):%Y%m%dT%H%M%SZ}.{fmt}"


def stream(fmt: str, pages: Iterable[Page[Task]], keep: Callable[[Task], bool]) -> Iterator[str]:
    """The file, chunk by chunk: the kept tasks of each page as the page arrives."""
    batches = ([task for task in page.items if keep(task)] for page in pages)
    return _csv(batches) if fmt == "csv" else _json(batches)


def spreadsheet_safe(cell: str) -> str:
    if cell and (cell[0] in FORMULA_STARTS or cell[0].isspace() or not cell[0].isprintable()):
        return "'" + cell
    return cell


def csv_row(task: Task) -> list[str | int]:
    key = task.key_condition
    duration = (
        int((task.completed_at - task.started_at).total_seconds())
        if task.started_at and task.completed_at
        else ""
    )
    cells: list[str | int] = [
        task.name,
        task.status,
        iso(task.created_at),
        iso(task.scheduled_at),
        iso(task.started_at),
        iso(task.completed_at),
        iso(task.updated_at),
        duration,
        task.max_retries if task.max_retries is not None else "",
        task.timeout,
        key.severity if key else "",
        key.reason if key else "",
        key.message if key else "",
        len(task.conditions),
        # Conditions flattened into one cell, one line each, oldest first.
        "\n".join(
            f"[{c.severity or '-'}] {c.type or '-'} {c.state or '-'} · {c.reason or '-'}: "
            f"{c.message or '-'}" + (f" ({c.execution_reason})" if c.execution_reason else "")
            for c in task.conditions
        ),
    ]
    return [spreadsheet_safe(cell) if isinstance(cell, str) else cell for cell in cells]


def task_json(task: Task) -> dict[str, Any]:
    return {
        "name": task.name,
        "status": task.status,
        "createdAt": iso(task.created_at) or None,
        "scheduledAt": iso(task.scheduled_at) or None,
        "startedAt": iso(task.started_at) or None,
        "completedAt": iso(task.completed_at) or None,
        "updatedAt": iso(task.updated_at) or None,
        "maxRetries": task.max_retries,
        "timeout": task.timeout or None,
        # Each condition as Blaxel sends it: every field, camelCase keys.
        "conditions": msgspec.to_builtins(task.conditions),
    }


def _csv(batches: Iterable[list[Task]]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    # The byte-order mark tells spreadsheet programs the file is UTF-8.
    writer.writerow(["\ufeff" + CSV_COLUMNS[0], *CSV_COLUMNS[1:]])
    try:
        for batch in batches:
            writer.writerows(csv_row(task) for task in batch)
            del batch  # before the next upstream page arrives
            yield _drain(buffer)
    except Exception as error:  # noqa: BLE001 - whatever stops it, the file must say so
        _log(error)
        writer.writerow([INCOMPLETE, f"{_why(error)}; rows stop here."])
    yield _drain(buffer)


def _json(batches: Iterable[list[Task]]) -> Iterator[str]:
    separator = "[\n"
    try:
        for batch in batches:
            chunk = []
            for task in batch:
                chunk.append(separator + json.dumps(task_json(task), ensure_ascii=False))
                separator = ",\n"
            del batch  # before the next upstream page arrives
            yield "".join(chunk)
    except Exception as error:  # noqa: BLE001 - whatever stops it, the file must say so
        _log(error)
        marker = {"error": f"export incomplete: {_why(error)}"}
        yield separator + json.dumps(marker) + "\n"
        return
    yield ("[" if separator == "[\n" else "") + "\n]\n"


def _drain(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text


def _why(error: Exception) -> str:
    if isinstance(error, UpstreamError | ChainStopped):
        return why_incomplete(error)
    return "this server failed while writing it"


def _log(error: Exception) -> None:
    if isinstance(error, UpstreamError):
        log.warning(
            "export stopped: upstream %s (upstream status %s, code %s)",
            error.kind.value,
            error.upstream_status,
            error.code or "-",
        )
    elif isinstance(error, ChainStopped):
        log.warning("export stopped: %s", error.reason)
    else:
        log.error("export stopped by an unexpected error", exc_info=error)

"""Log lines as people get them: inert and readable on the page, whole in the download."""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime

from markupsafe import Markup, escape

from ..blaxel import ChainStopped, LogLine, UpstreamError
from ..blaxel.logs import readable
from ..common.errors import why_incomplete
from ..common.text import inert
from ..listing.export import INCOMPLETE, UNSAFE_IN_FILENAME

log = logging.getLogger(__name__)

# Terminal escape sequences: colours (CSI ... m), cursor moves, titles (OSC), two-byte escapes.
ANSI = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]|\x9b[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"
    r"|\x1b[@-Z\\-_]"
)
MAX_SHOWN = 20_000  # characters of one line on the page; the download has them all
SEVERITY_SHAPES = {
    "FATAL": "■",
    "ERROR": "✕",
    "WARNING": "▲",
    "INFO": "●",
    "DEBUG": "○",
    "TRACE": "·",
    "UNKNOWN": "?",
}


def log_message(text: str) -> Markup:
    """A message as inert text: colour codes stripped, carriage returns as line breaks, control
    and bidi characters shown as marks, at most MAX_SHOWN characters."""
    text = ANSI.sub("", readable(text)).replace("\r\n", "\n").replace("\r", "\n")
    shown = inert(text[:MAX_SHOWN])
    if len(text) > MAX_SHOWN:
        shown += Markup(
            '<span class="cut">… {:,} more characters: the download has the whole line.</span>'
        ).format(len(text) - MAX_SHOWN)
    return shown


def log_time(line: LogLine, dated: bool = False) -> Markup:
    """The line's moment in UTC to the millisecond; app.js shows it in the reader's zone."""
    moment = line.moment
    if moment is None:
        return Markup('<span class="none" title="no readable timestamp">—</span>')
    millis = f"{moment.microsecond // 1000:03d}"
    machine = f"{moment:%Y-%m-%dT%H:%M:%S}.{millis}Z"
    shown = f"{moment:%m-%d %H:%M:%S}" if dated else f"{moment:%H:%M:%S}"
    title = line.stamp.replace("T", " ").replace("Z", " UTC")
    # Made here from numbers: nothing to escape. data-clock: a clock reading of its own, which
    # the page-wide relative/absolute switch (app.js) leaves alone.
    return Markup(  # noqa: S704
        f'<time datetime="{machine}" title="{title}" data-clock>{shown}.{millis}</time>'
    )


def line_anchor(line: LogLine) -> str:
    """A line's id on the page, and the `#…` of a link to it: its time to the nanosecond (fixed
    width, so ids compare as times do) and a short hash of its message. The same line gets the
    same id after a reload, in a follow poll and on an earlier page; ids are plain ASCII."""
    when = f"{line.moment:%Y%m%dT%H%M%S}{line.at_ns % 1_000_000_000:09d}" if line.moment else ""
    digest = hashlib.blake2b(readable(line.text).encode(), digest_size=4).hexdigest()
    return f"L{when or '0' * 24}-{digest}"


def severity_badge(name: str) -> Markup:
    """A severity as its shape and its word, never colour alone."""
    shape = SEVERITY_SHAPES.get(name, "?")
    word = escape(name.lower())
    return Markup(  # noqa: S704 - the shape is ours, the word escaped
        f'<span class="sev sev-{word}"><span aria-hidden="true">{shape}</span> {word}</span>'
    )


FILTERS = {
    "log_message": log_message,
    "log_time": log_time,
    "line_anchor": line_anchor,
    "severity_badge": severity_badge,
}


def filename(job_id: str, execution_id: str, task_name: str, now: datetime) -> str:
    parts = [UNSAFE_IN_FILENAME.sub("_", part)[:80] for part in (job_id, execution_id, task_name)]
    return f"{parts[0]}_{parts[1]}_{parts[2]}_logs_{now.astimezone(UTC):%Y%m%dT%H%M%SZ}.txt"


def text_lines(heading: str, batches: Iterable[list[LogLine]], assumed: str = "") -> Iterator[str]:
    """The download: a heading, then one line per log line (timestamp, severity, message as
    the task printed it), a page at a time; a failure midway ends it with the marker."""
    yield f"# {heading}\n"
    try:
        for batch in batches:
            yield "".join(
                f"{line.stamp or '-'} {line.severity_name(assumed):<7} {readable(line.text)}\n"
                for line in batch
            )
    except (UpstreamError, ChainStopped) as error:
        log.warning("logs download stopped: %s", error)
        yield f"{INCOMPLETE}: {why_incomplete(error)}; lines stop here.\n"
    except Exception:  # whatever stops it, the file must say so
        log.exception("logs download stopped by an unexpected error")
        yield f"{INCOMPLETE}: this server failed while writing it; lines stop here.\n"

"""A logs view's state, parsed from its URL: window, severities, search, page, time zone."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from ..blaxel import SEVERITIES
from ..common.errors import QueryError
from ..listing.query import Args, one_value

LIMIT_CHOICES = (100, 200, 500, 1000)
DEFAULT_LIMIT = 200
MAX_SEARCH = 200
MAX_OFFSET = 10_000_000


def search_problems(q: str) -> list[str]:
    """What is wrong with the text a search looks for, in words (nothing when it is fine)."""
    if len(q) > MAX_SEARCH:
        return [f"The search is {len(q)} characters long; at most {MAX_SEARCH} work."]
    if any(unicodedata.category(ch) in {"Cc", "Cs"} for ch in q):
        return ["The search contains control characters; remove them."]
    return []


# What the window fields and links carry: UTC, to the second or the minute, "Z" optional (a
# datetime-local field sends it without).
URL_TIME = re.compile(r"(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2})(:\d{2})?(?:\.\d+)?Z?")


@dataclass(frozen=True)
class LogQuery:
    start: datetime | None = None  # None: the task's own run decides
    end: datetime | None = None
    severities: tuple[str, ...] = ()  # empty: every severity
    q: str = ""
    limit: int = DEFAULT_LIMIT
    offset: int = 0
    utc: bool = False  # show times in UTC rather than the browser's zone
    since: datetime | None = None  # a follow poll: lines from here on
    at: datetime | None = None  # open the page at the lines of this second (a link to a line)

    @classmethod
    def parse(cls, args: Args) -> LogQuery:
        problems: list[str] = []
        single = one_value(args, problems)

        start = _time(single("start"), "start", problems)
        end = _time(single("end"), "end", problems)
        if start and end and start >= end:
            problems.append("“start” must be before “end”.")
        since = _time(single("since"), "since", problems)
        at = _time(single("around"), "around", problems)
        q = single("q").strip()
        problems += search_problems(q)
        limit = _number(single("limit"), "limit", DEFAULT_LIMIT, 1, LIMIT_CHOICES[-1], problems)
        offset = _number(single("offset"), "offset", 0, 0, MAX_OFFSET, problems)
        tz = single("tz")
        if tz not in ("", "utc", "local"):
            problems.append("“tz” must be utc or local.")
        severities = _severities(args.getlist("severity"), problems)
        if problems:
            raise QueryError(problems)
        return cls(start, end, severities, q, limit, offset, tz == "utc", since, at)

    def url_args(self) -> dict[str, str | int]:
        """The canonical URL parameters of this view: defaults left out."""
        args = {
            "start": self.start and url_time(self.start),
            "end": self.end and url_time(self.end),
            "severity": ",".join(self.severities),
            "q": self.q,
            "limit": self.limit if self.limit != DEFAULT_LIMIT else 0,
            "offset": self.offset,
            "tz": "utc" if self.utc else "",
            "since": self.since and url_time(self.since),
            "around": self.at and url_time(self.at),
        }
        return {name: value for name, value in args.items() if value}

    @property
    def filtered(self) -> bool:
        return bool(self.severities or self.q)

    def view(self) -> LogQuery:
        """The view this request belongs to: its first page, not a poll, at no line."""
        return replace(self, offset=0, since=None, at=None)

    def stepped(self) -> LogQuery:
        """The view another task's logs open with, stepping from these: the same filters, over
        that task's own run."""
        return replace(self.view(), start=None, end=None)

    @property
    def limit_choices(self) -> list[int]:
        return sorted(set(LIMIT_CHOICES) | {self.limit})


def url_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def field_time(moment: datetime) -> str:
    """As a datetime-local field shows it (the field is labelled UTC)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def _time(raw: str, name: str, problems: list[str]) -> datetime | None:
    if not raw:
        return None
    found = URL_TIME.fullmatch(raw.strip())
    try:
        if found is None:
            raise ValueError
        moment = datetime.fromisoformat(f"{found[1]}T{found[2]}{found[3] or ':00'}+00:00")
    except ValueError:
        problems.append(f"“{name}” must be a UTC time such as 2026-11-28T09:30:00Z.")
        return None
    if not 1970 <= moment.year <= 2999:
        problems.append(f"“{name}” must be between the years 1970 and 2999.")
        return None
    return moment


def _number(raw: str, name: str, default: int, low: int, high: int, problems: list[str]) -> int:
    if raw == "":
        return default
    if not raw.isascii() or not raw.isdigit() or len(raw) > 9 or not low <= int(raw) <= high:
        problems.append(f"“{name}” must be a whole number from {low} to {high}.")
        return default
    return int(raw)


def _severities(raw: list[str], problems: list[str]) -> tuple[str, ...]:
    """Repeated `severity` (a plain form) and `severity=a,b` (a link) alike; canonical order."""
    picked = {part.strip().upper() for value in raw for part in value.split(",") if part.strip()}
    unknown = sorted(picked.difference(SEVERITIES))
    if unknown:
        shown = ", ".join(f"“{value[:20]}”" for value in unknown[:5])
        problems.append(f"“severity” must be among {', '.join(SEVERITIES)}; not {shown}.")
        return ()
    # Every severity at once filters nothing: the same view as none.
    chosen = tuple(name for name in SEVERITIES if name in picked)
    return () if len(chosen) == len(SEVERITIES) else chosen

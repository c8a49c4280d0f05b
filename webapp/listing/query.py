"""A listing view's state, parsed from its URL: one ListQuery for jobs, executions and tasks."""

from __future__ import annotations

import base64
import binascii
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Protocol

from ..blaxel import EXECUTION_STATUSES, TASK_STATUSES, PageRequest
from ..common.errors import QueryError

SORTS = {
    "createdAt:desc": "Newest first",
    "createdAt:asc": "Oldest first",
    "name:asc": "Name A → Z",
    "name:desc": "Name Z → A",
}
# Orders the app makes itself (Blaxel sorts only by name or creation time): a walk, not a page.
FAILING_FIRST = "failing"
SLOWEST_FIRST = "duration:desc"
LONGEST_WAIT_FIRST = "wait:desc"  # the queue wait: from a task's creation to its start
# Failed, cancelled, running, pending, then succeeded; newest first in each. A failed
# execution's tasks open in this order.
FAILED_FIRST = "failed"
# The jobs page's summary window (`window`), the first being the default.
WINDOWS = ("3d", "24h", "7d")
MAX_QUERY_LENGTH = 200
MIN_QUERY_LENGTH = 2
# A cursor is carried in links as it is when it looks like Blaxel's (base64-encoded JSON) or the
# app's own, and as "~" + base64url otherwise, so that any cursor Blaxel hands out can be followed.
PLAIN_CURSOR = re.compile(r"[A-Za-z0-9_\-+/=.]+")
ENCODED_CURSOR = re.compile(r"~[A-Za-z0-9_-]+")
# Longer cursors would not fit a request line (gunicorn reads up to 8,190 bytes).
MAX_CURSOR_LENGTH = 6000
MAX_SHOWN = 10_000_000
MAX_ID_LENGTH = 256
# Characters an id sent upstream may not hold: the Unicode categories Cc, Cs, Zl and Zp.
NOT_IN_ID = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\u2028\u2029]")
MIN_REFRESH, MAX_REFRESH = 5, 3600
CAUSE_ID = re.compile(r"[0-9a-f]{12}")


class Args(Protocol):
    def getlist(self, key: str) -> list[str]: ...


@dataclass(frozen=True)
class ListingKind:
    """One kind of listing: what it lists, its table, and what its URL may say."""

    noun: str  # the plural: "tasks"
    one: str  # the singular: "task"
    columns: int
    where: str  # what the upstream total counts: "tasks *in this execution*"
    sorts: dict[str, str]
    default_limit: int = 50
    limit_choices: tuple[int, ...] = (25, 50, 100, 200)  # the largest is the most allowed
    default_sort: str = "createdAt:desc"
    # The statuses the page can filter by (the app walks upstream for them); empty: no filter.
    statuses: tuple[str, ...] = ()
    # Choices beside them that are not statuses of their own ("retried": more than one attempt).
    kinds_of: tuple[str, ...] = ()
    # Whether `cause` (a failure group of the execution) may narrow the listing.
    by_cause: bool = False
    # Whether the listing knows its jobs' recent runs: `only=failing` and the summary's `window`.
    health: bool = False
    # Whether `since` and `until` (when its rows were created) may narrow the listing.
    by_time: bool = False

    @property
    def choices(self) -> tuple[str, ...]:
        """What the status filter offers: the statuses, then the other choices."""
        return self.statuses + self.kinds_of


TASKS = ListingKind(
    "tasks",
    "task",
    8,
    "in this execution",
    {
        **SORTS,
        FAILED_FIRST: "Failed first",
        SLOWEST_FIRST: "Slowest first",
        LONGEST_WAIT_FIRST: "Longest wait first",
    },
    statuses=TASK_STATUSES,
    kinds_of=("retried",),
    by_cause=True,
)
# The jobs open on what needs attention: failing, then running, then by last run.
JOBS = ListingKind(
    "jobs",
    "job",
    6,
    "in the workspace",
    {FAILING_FIRST: "Failing first", **SORTS},
    default_sort=FAILING_FIRST,
    health=True,
)
EXECUTIONS = ListingKind(
    "executions",
    "execution",
    7,
    "of this job",
    {**SORTS, "name:asc": "Id A → Z", "name:desc": "Id Z → A"},
    default_limit=20,
    limit_choices=(20, 50, 100),
    statuses=EXECUTION_STATUSES,
    by_time=True,
)


@dataclass(frozen=True)
class ListQuery:
    kind: ListingKind
    sort: str
    q: str
    limit: int
    cursor: str = ""
    shown: int = 0
    refresh: int = 0
    statuses: tuple[str, ...] = ()
    cause: str = ""  # a failure group's id (causes.Cause.id)
    only: str = ""  # "failing": the jobs whose last finished run failed
    window: str = ""  # the jobs page's summary window; "" for the default
    # Created at or after `since` and before `until` (either may be open).
    since: datetime | None = None
    until: datetime | None = None
    # Links name the order even when it is the kind's default: a failed execution's tasks open
    # failed first, so there a link without `sort` would mean another order.
    sort_named: bool = False

    @classmethod
    def parse(cls, args: Args, kind: ListingKind) -> ListQuery:
        problems: list[str] = []
        single = one_value(args, problems)

        sort = single("sort") or kind.default_sort
        if sort not in kind.sorts:
            problems.append(f"“sort” must be one of {', '.join(kind.sorts)}.")
            sort = kind.default_sort

        q = single("q")
        if len(q.strip()) > MAX_QUERY_LENGTH:
            problems.append(
                f"The search is {len(q.strip())} characters long; at most {MAX_QUERY_LENGTH} work."
            )
        elif any(unicodedata.category(ch) in {"Cc", "Cs"} for ch in q):
            problems.append("The search contains control characters; remove them.")

        most = max(kind.limit_choices)
        limit = _bounded_int(single("limit"), "limit", kind.default_limit, 1, most, problems)
        shown = _bounded_int(single("shown"), "shown", 0, 0, MAX_SHOWN, problems)
        refresh = _bounded_int(single("refresh"), "refresh", 0, 0, MAX_REFRESH, problems)
        if 0 < refresh < MIN_REFRESH:
            problems.append(f"“refresh” must be at least {MIN_REFRESH} seconds (or 0 for never).")

        cursor = cursor_from_link(single("cursor"))
        if cursor is None:
            problems.append("“cursor” is not a cursor this app handed out.")
            cursor = ""

        statuses = _statuses(args.getlist("status"), kind, problems)
        cause = single("cause").strip().lower()
        if cause and not kind.by_cause:
            problems.append(f"The {kind.noun} cannot be filtered by cause; remove “cause”.")
        elif cause and not CAUSE_ID.fullmatch(cause):
            problems.append("“cause” is not a failure group this app links to.")

        only = single("only").strip().lower()
        window = single("window").strip().lower()
        if (only or window) and not kind.health:
            problems.append(f"The {kind.noun} take neither “only” nor “window”; remove them.")
        elif only not in ("", "failing"):
            problems.append("“only” can only be “failing”.")
        elif window and window not in WINDOWS:
            problems.append(f"“window” must be one of {', '.join(WINDOWS)}.")

        since, until = time_span(single, problems)
        if (since or until) and not kind.by_time:
            problems.append(f"The {kind.noun} take neither “since” nor “until”; remove them.")

        if problems:
            raise QueryError(problems)
        query = cls(kind, sort, q, limit, cursor, shown, refresh, statuses, cause, only)
        return replace(query.with_window(window), since=since, until=until)

    @property
    def filtered(self) -> bool:
        """Whether the app, not Blaxel, decides which rows belong (status, cause, failing,
        time)."""
        return bool(self.statuses or self.cause or self.only or self.timed)

    @property
    def timed(self) -> bool:
        """Whether the rows are narrowed to a span of creation times."""
        return self.since is not None or self.until is not None

    def created_within(self, moment: datetime | None) -> bool:
        """Whether a row created at `moment` is within `since`/`until` (unknown: only if open)."""
        if moment is None:
            return not self.timed
        return (self.since is None or moment >= self.since) and (
            self.until is None or moment < self.until
        )

    @property
    def ordered_by_app(self) -> bool:
        """Whether the app, not Blaxel, orders the rows (failing first, slowest first, longest
        wait first)."""
        return self.sort not in SORTS

    @property
    def window_name(self) -> str:
        return self.window or WINDOWS[0]

    @property
    def search(self) -> str:
        """The search as the API applies it: trimmed and lowercased, empty when too short."""
        term = self.q.strip().lower()
        return term if len(term) >= MIN_QUERY_LENGTH else ""

    @property
    def search_too_short(self) -> bool:
        return bool(self.q.strip()) and not self.search

    def page_request(self) -> PageRequest:
        """The page to ask Blaxel for."""
        return PageRequest(self.sort, self.search, self.limit, self.cursor)

    def url_args(self) -> dict[str, str | int]:
        """The canonical URL parameters of this view: defaults left out, so links stay short."""
        args: dict[str, str | int] = {
            "sort": self.sort if self.names_sort else "",
            "q": self.q.strip(),
            "status": ",".join(self.statuses),
            "cause": self.cause,
            "only": self.only,
            "window": self.window,
            "since": moment_in_link(self.since),
            "until": moment_in_link(self.until),
            "limit": self.limit if self.limit != self.kind.default_limit else 0,
            "refresh": self.refresh,
            "cursor": cursor_in_link(self.cursor),
            "shown": self.shown if self.cursor else 0,
        }
        return {key: value for key, value in args.items() if value}

    def view_args(self) -> dict[str, str | int]:
        """What an export or a task's link keeps of this view: what is shown and in which
        order, not how far or how often."""
        args = self.first_page().url_args()
        return {
            key: value
            for key, value in args.items()
            if key in {"sort", "q", "status", "cause", "since", "until"}
        }

    @property
    def names_sort(self) -> bool:
        """Whether links say the order: another than the default, or any on a failed execution's
        unfiltered tasks (a filter keeps the default order there too)."""
        return self.sort != self.kind.default_sort or (self.sort_named and not self.filtered)

    def picking(self) -> ListQuery:
        """The first page, about to be filtered: failed first gives way to the default order,
        since a status or a group already picks the tasks."""
        first = self.first_page()
        return replace(first, sort=self.kind.default_sort) if self.sort == FAILED_FIRST else first

    def with_statuses(self, statuses: tuple[str, ...]) -> ListQuery:
        """This view filtered by `statuses` instead, from the first page."""
        return replace(self.picking(), statuses=_canonical(statuses, self.kind))

    def without_time(self) -> ListQuery:
        """This view at any creation time, from the first page."""
        return replace(self.first_page(), since=None, until=None)

    def with_window(self, window: str) -> ListQuery:
        """This view with the summary over another window (the rows stay where they are)."""
        return replace(self, window="" if window == WINDOWS[0] else window)

    def with_cause(self, cause: str) -> ListQuery:
        """This view narrowed to one failure group instead, from the first page."""
        return replace(self.picking(), cause=cause)

    def first_page(self) -> ListQuery:
        return replace(self, cursor="", shown=0)

    def next_page(self, next_cursor: str, loaded: int) -> ListQuery:
        return replace(self, cursor=next_cursor, shown=self.shown + loaded)

    @property
    def limit_choices(self) -> list[int]:
        return sorted(set(self.kind.limit_choices) | {self.limit})


def one_value(args: Args, problems: list[str]) -> Callable[[str], str]:
    """A reader of parameters given at most once: a repeated one adds a problem, "" if absent."""

    def single(name: str) -> str:
        values = args.getlist(name)
        if len(values) > 1:
            problems.append(f"“{name}” was given {len(values)} times; give it once.")
        return values[0] if values else ""

    return single


def time_span(
    single: Callable[[str], str], problems: list[str]
) -> tuple[datetime | None, datetime | None]:
    """`since` and `until`, UTC moments such as 2026-12-03T11:00:00Z; until after since."""
    moments = []
    for name in ("since", "until"):
        raw = single(name).strip()
        moment = parse_moment(raw) if raw else None
        if raw and moment is None:
            problems.append(f"“{name}” must be a UTC time such as 2026-12-03T11:00:00Z.")
        moments.append(moment)
    since, until = moments
    if since and until and until <= since:
        problems.append("“until” must come after “since”.")
    return since, until


def parse_moment(text: str) -> datetime | None:
    """A moment from an ISO 8601 text with its offset (Z or ±hh:mm), in UTC; None otherwise."""
    if len(text) > 40:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return moment.astimezone(UTC)


def moment_in_link(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if moment else ""


def cursor_in_link(cursor: str) -> str:
    if not cursor or PLAIN_CURSOR.fullmatch(cursor):
        return cursor
    return "~" + base64.urlsafe_b64encode(cursor.encode()).rstrip(b"=").decode()


def cursor_from_link(text: str) -> str | None:
    """The cursor a link carries ("" for none), or None if no link of ours carries that."""
    if not text:
        return ""
    if len(text) > MAX_CURSOR_LENGTH * 4 // 3 + 1:
        return None
    if PLAIN_CURSOR.fullmatch(text):
        return text if len(text) <= MAX_CURSOR_LENGTH else None
    if not ENCODED_CURSOR.fullmatch(text):
        return None
    try:
        cursor = base64.urlsafe_b64decode(text[1:] + "=" * (-len(text[1:]) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return cursor if cursor_fits_link(cursor) else None


def cursor_fits_link(cursor: str) -> bool:
    """Whether a cursor from Blaxel can be carried by a link: printable ASCII, not too long."""
    return 0 < len(cursor) <= MAX_CURSOR_LENGTH and cursor.isascii() and cursor.isprintable()


def _bounded_int(
    raw: str, name: str, default: int, low: int, high: int, problems: list[str]
) -> int:
    if raw == "":
        return default
    if raw.isascii() and raw.isdigit() and len(raw) <= 9 and low <= int(raw) <= high:
        return int(raw)
    problems.append(f"“{name}” must be a whole number from {low} to {high}.")
    return default


def _statuses(raw: list[str], kind: ListingKind, problems: list[str]) -> tuple[str, ...]:
    """Repeated `status` (a plain form) and `status=a,b` (a link) alike; canonical order."""
    picked = {part.strip().lower() for value in raw for part in value.split(",") if part.strip()}
    if not picked:
        return ()
    if not kind.choices:
        problems.append(f"The {kind.noun} cannot be filtered by status; remove “status”.")
        return ()
    unknown = sorted(picked.difference(kind.choices))
    if unknown:
        shown = ", ".join(f"“{value[:40]}”" for value in unknown[:5])
        problems.append(f"“status” must be among {', '.join(kind.choices)}; not {shown}.")
        return ()
    return _canonical(tuple(picked), kind)


def _canonical(statuses: tuple[str, ...], kind: ListingKind) -> tuple[str, ...]:
    # Every status at once filters nothing: the same view as none, and no walk.
    if set(kind.statuses) <= set(statuses):
        return ()
    return tuple(choice for choice in kind.choices if choice in statuses)


def is_valid_id(value: str) -> bool:
    """Ids go into upstream paths (percent-encoded, dots of a dots-only id included): refuse
    the empty, the overlong and control characters."""
    return not (not value or len(value) > MAX_ID_LENGTH or NOT_IN_ID.search(value))


def check_id(value: str, what: str) -> str:
    if not is_valid_id(value):
        raise QueryError([f"That is not a valid {what}."])
    return value

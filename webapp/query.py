"""A listing view's state, parsed from its URL: one ListQuery for jobs, executions and tasks."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, replace
from typing import Protocol

from .errors import QueryError
from .models import TASK_STATUSES

SORTS = {
    "createdAt:desc": "Newest first",
    "createdAt:asc": "Oldest first",
    "name:asc": "Name A → Z",
    "name:desc": "Name Z → A",
}
MAX_QUERY_LENGTH = 200
MIN_QUERY_LENGTH = 2
# Blaxel's cursors are base64-encoded JSON; anything else cannot be one.
CURSOR_PATTERN = re.compile(r"[A-Za-z0-9_\-+/=.~]{1,2048}")
MAX_SHOWN = 10_000_000
MAX_ID_LENGTH = 256
# Characters an id may not hold: "/" and the Unicode categories Cc, Cs, Zl and Zp, spelled out
# (rows check every task name, and one search beats a category lookup per character).
NOT_IN_ID = re.compile("[/\x00-\x1f\x7f-\x9f\ud800-\udfff\u2028\u2029]")
MIN_REFRESH, MAX_REFRESH = 5, 3600


class Args(Protocol):
    def getlist(self, key: str) -> list[str]: ...


@dataclass(frozen=True)
class ListingSpec:
    """What one upstream listing accepts and what the page offers."""

    noun: str
    default_limit: int
    max_limit: int
    limit_choices: tuple[int, ...]
    sorts: dict[str, str]
    default_sort: str = "createdAt:desc"
    # The statuses the page can filter by (the app walks upstream for them); empty: no filter.
    statuses: tuple[str, ...] = ()


TASKS = ListingSpec("tasks", 50, 200, (25, 50, 100, 200), SORTS, statuses=TASK_STATUSES)
JOBS = ListingSpec("jobs", 50, 200, (25, 50, 100, 200), SORTS)
EXECUTIONS = ListingSpec(
    "executions",
    20,
    100,
    (20, 50, 100),
    {**SORTS, "name:asc": "Id A → Z", "name:desc": "Id Z → A"},
)


@dataclass(frozen=True)
class ListQuery:
    spec: ListingSpec
    sort: str
    q: str
    limit: int
    cursor: str = ""
    shown: int = 0
    refresh: int = 0
    statuses: tuple[str, ...] = ()

    @classmethod
    def parse(cls, args: Args, spec: ListingSpec) -> ListQuery:
        problems: list[str] = []

        def single(name: str) -> str:
            values = args.getlist(name)
            if len(values) > 1:
                problems.append(f"“{name}” was given {len(values)} times; give it once.")
            return values[0] if values else ""

        sort = single("sort") or spec.default_sort
        if sort not in spec.sorts:
            choices = ", ".join(spec.sorts)
            problems.append(f"“sort” must be one of {choices}.")
            sort = spec.default_sort

        q = single("q")
        if len(q.strip()) > MAX_QUERY_LENGTH:
            problems.append(f"The search is {len(q.strip())} characters long; at most 200 work.")
        elif any(unicodedata.category(ch) in {"Cc", "Cs"} for ch in q):
            problems.append("The search contains control characters; remove them.")

        limit = _bounded_int(
            single("limit"), "limit", spec.default_limit, 1, spec.max_limit, problems
        )
        shown = _bounded_int(single("shown"), "shown", 0, 0, MAX_SHOWN, problems)
        refresh = _bounded_int(single("refresh"), "refresh", 0, 0, MAX_REFRESH, problems)
        if 0 < refresh < MIN_REFRESH:
            problems.append(f"“refresh” must be at least {MIN_REFRESH} seconds (or 0 for never).")

        cursor = single("cursor")
        if cursor and not CURSOR_PATTERN.fullmatch(cursor):
            problems.append("“cursor” is not a cursor this app handed out.")

        statuses = _statuses(args.getlist("status"), spec, problems)

        if problems:
            raise QueryError(problems)
        return cls(spec, sort, q, limit, cursor, shown, refresh, statuses)

    @property
    def search(self) -> str:
        """The search as the API applies it: trimmed and lowercased, empty when too short."""
        term = self.q.strip().lower()
        return term if len(term) >= MIN_QUERY_LENGTH else ""

    @property
    def search_too_short(self) -> bool:
        return bool(self.q.strip()) and not self.search

    def upstream_params(self) -> dict[str, str | int]:
        params: dict[str, str | int] = {"limit": self.limit, "sort": self.sort}
        if self.search:
            params["q"] = self.search
        if self.cursor:
            params["cursor"] = self.cursor
        return params

    def url_args(self) -> dict[str, str | int]:
        """The canonical URL parameters of this view: defaults left out, so links stay short."""
        args: dict[str, str | int] = {}
        if self.sort != self.spec.default_sort:
            args["sort"] = self.sort
        if self.q.strip():
            args["q"] = self.q.strip()
        if self.statuses:
            args["status"] = ",".join(self.statuses)
        if self.limit != self.spec.default_limit:
            args["limit"] = self.limit
        if self.refresh:
            args["refresh"] = self.refresh
        if self.cursor:
            args["cursor"] = self.cursor
            if self.shown:
                args["shown"] = self.shown
        return args

    def export_args(self) -> dict[str, str | int]:
        """What an export of this view keeps: what is shown, not how far or how often."""
        args = self.first_page().url_args()
        return {key: value for key, value in args.items() if key in {"sort", "q", "status"}}

    def with_statuses(self, statuses: tuple[str, ...]) -> ListQuery:
        """This view filtered by `statuses` instead, from the first page."""
        return replace(self.first_page(), statuses=_canonical(statuses, self.spec))

    def first_page(self) -> ListQuery:
        return replace(self, cursor="", shown=0)

    def next_page(self, next_cursor: str, loaded: int) -> ListQuery:
        return replace(self, cursor=next_cursor, shown=self.shown + loaded)

    @property
    def limit_choices(self) -> list[int]:
        return sorted(set(self.spec.limit_choices) | {self.limit})


def _bounded_int(
    raw: str, name: str, default: int, low: int, high: int, problems: list[str]
) -> int:
    if raw == "":
        return default
    if not raw.isascii() or not raw.isdigit() or len(raw) > 9:
        problems.append(f"“{name}” must be a whole number from {low} to {high}.")
        return default
    value = int(raw)
    if not low <= value <= high:
        problems.append(f"“{name}” must be a whole number from {low} to {high}.")
        return default
    return value


def _statuses(raw: list[str], spec: ListingSpec, problems: list[str]) -> tuple[str, ...]:
    """Repeated `status` (a plain form) and `status=a,b` (a link) alike; canonical order."""
    picked = {part.strip().lower() for value in raw for part in value.split(",") if part.strip()}
    if not picked:
        return ()
    if not spec.statuses:
        problems.append(f"The {spec.noun} cannot be filtered by status; remove “status”.")
        return ()
    unknown = sorted(picked.difference(spec.statuses))
    if unknown:
        shown = ", ".join(f"“{value[:40]}”" for value in unknown[:5])
        problems.append(f"“status” must be among {', '.join(spec.statuses)}; not {shown}.")
        return ()
    return _canonical(tuple(picked), spec)


def _canonical(statuses: tuple[str, ...], spec: ListingSpec) -> tuple[str, ...]:
    # Every status at once filters nothing: the same view as none, and no walk.
    chosen = tuple(status for status in spec.statuses if status in statuses)
    return () if len(chosen) == len(spec.statuses) else chosen


def is_valid_id(value: str) -> bool:
    """Ids go into upstream paths; refuse any that could be mistaken for path syntax."""
    return not (
        not value or value in {".", ".."} or len(value) > MAX_ID_LENGTH or NOT_IN_ID.search(value)
    )


def check_id(value: str, what: str) -> str:
    if not is_valid_id(value):
        raise QueryError([f"That is not a valid {what}."])
    return value

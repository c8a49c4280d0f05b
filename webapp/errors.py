"""Failures as values: each has a kind that one error handler turns into a page or a fragment."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class ErrorKind(enum.Enum):
    NOT_FOUND = "not_found"
    CREDENTIALS_REFUSED = "credentials_refused"
    RATE_LIMITED = "rate_limited"
    REJECTED = "rejected"
    UNAVAILABLE = "unavailable"
    TIMED_OUT = "timed_out"
    BAD_RESPONSE = "bad_response"


# What a person sees for each kind: (HTTP status we answer with, headline, explanation).
PRESENTATION: dict[ErrorKind, tuple[int, str, str]] = {
    ErrorKind.NOT_FOUND: (
        404,
        "Not found",
        "Blaxel has no such job or execution in this workspace. Check the link, or start "
        "again from the list of jobs.",
    ),
    ErrorKind.CREDENTIALS_REFUSED: (
        502,
        "Blaxel refused this server's credentials",
        "The API key configured on this server was rejected by Blaxel, or lacks the "
        "permission for this page. Ask whoever runs this app to check BLAXEL_API_KEY "
        "and BLAXEL_WORKSPACE.",
    ),
    ErrorKind.RATE_LIMITED: (
        503,
        "Blaxel asked us to slow down",
        "Too many requests reached the Blaxel API. Try again in a moment.",
    ),
    ErrorKind.REJECTED: (
        502,
        "Blaxel rejected the request",
        "The Blaxel API refused a request this app made on your behalf.",
    ),
    ErrorKind.UNAVAILABLE: (
        502,
        "Blaxel is not answering properly",
        "The Blaxel API failed or could not be reached. Try again in a moment.",
    ),
    ErrorKind.TIMED_OUT: (
        504,
        "Blaxel took too long to answer",
        "The Blaxel API did not answer in time. Try again in a moment.",
    ),
    ErrorKind.BAD_RESPONSE: (
        502,
        "Blaxel sent an answer we could not read",
        "The Blaxel API answered with something other than the data we expected.",
    ),
}


@dataclass
class UpstreamError(Exception):
    """A failed call to the Blaxel API, already classified."""

    kind: ErrorKind
    detail: str = ""
    upstream_status: int | None = None
    code: str = ""
    retry_after: str | None = None
    # Worth sending the same read again (connect failure, 502/503/504, 429, retryable: true).
    transient: bool = False

    def __str__(self) -> str:
        return f"{self.kind.value}: {self.detail}" if self.detail else self.kind.value

    @property
    def status(self) -> int:
        return PRESENTATION[self.kind][0]

    @property
    def title(self) -> str:
        return PRESENTATION[self.kind][1]

    @property
    def explanation(self) -> str:
        return PRESENTATION[self.kind][2]

    @property
    def retryable(self) -> bool:
        return self.kind in {ErrorKind.RATE_LIMITED, ErrorKind.UNAVAILABLE, ErrorKind.TIMED_OUT}


@dataclass
class QueryError(Exception):
    """The view's query (URL parameters or path ids) is invalid; nothing was sent upstream."""

    problems: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return "; ".join(self.problems)


class CursorRejected(Exception):
    """A cursor the app signed no longer fits: another query, another key, or altered by hand."""

"""What a person is told about each failure: the web side of the errors."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ..blaxel import ChainStopped, ErrorKind, UpstreamError

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


# Failures that asking again cannot mend: the same answer would come back.
FINAL_KINDS = frozenset({ErrorKind.NOT_FOUND, ErrorKind.CREDENTIALS_REFUSED, ErrorKind.REJECTED})


def why_incomplete(error: UpstreamError | ChainStopped) -> str:
    """One line for the end of an export that stopped early."""
    if isinstance(error, ChainStopped):
        return f"the walk stopped: {error.reason}"
    return f"Blaxel failed mid-way ({PRESENTATION[error.kind][1]})"


@dataclass
class QueryError(Exception):
    """The view's query (URL parameters or path ids) is invalid; nothing was sent upstream."""

    problems: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return "; ".join(self.problems)


class CursorRejected(Exception):
    """A cursor the app signed no longer fits: another query, another key, or altered by hand."""


# A failed logs call, said in the logs panel; the rest of the page (and every other page) works.
LOGS_PRESENTATION: dict[ErrorKind, tuple[str, str]] = {
    ErrorKind.CREDENTIALS_REFUSED: (
        "This server's key may not read logs",
        "Blaxel refused to show this task's logs to the API key configured on this server. The "
        "key needs log access as well as jobs:get; the task list and other pages do not depend "
        "on it.",
    ),
    ErrorKind.NOT_FOUND: (
        "Blaxel has no logs endpoint here",
        "Blaxel answered 404 to GET /observability/logs, the call its own CLI makes for task "
        "logs. This workspace or API may not offer task logs.",
    ),
}


def presentation(error: UpstreamError) -> tuple[int, str, str]:
    """(status, headline, explanation) of a failed call; a 429's says how long calls pause."""
    status, headline, explanation = PRESENTATION[error.kind]
    if error.kind is ErrorKind.RATE_LIMITED and error.retry_after is not None:
        seconds = max(1, math.ceil(error.retry_after))
        explanation = (
            f"Too many requests reached the Blaxel API, so this server pauses its calls to it "
            f"for {seconds} second{'' if seconds == 1 else 's'}. Try again after that."
        )
    return status, headline, explanation


def logs_presentation(error: UpstreamError) -> tuple[int, str, str]:
    """(status, headline, explanation) of a failed logs call: the logs' own words where the
    general ones would mislead (a 404 is not a missing job), else the general ones."""
    if error.kind in LOGS_PRESENTATION:
        return (502, *LOGS_PRESENTATION[error.kind])
    return presentation(error)

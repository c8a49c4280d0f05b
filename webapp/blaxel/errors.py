"""Failed calls as values: each has a kind that the web app turns into a page or a fragment."""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass
from typing import Any

import msgspec


class ErrorKind(enum.Enum):
    NOT_FOUND = "not_found"
    CREDENTIALS_REFUSED = "credentials_refused"
    RATE_LIMITED = "rate_limited"
    REJECTED = "rejected"
    UNAVAILABLE = "unavailable"
    TIMED_OUT = "timed_out"
    BAD_RESPONSE = "bad_response"


@dataclass
class UpstreamError(Exception):
    """A failed call to the Blaxel API, already classified."""

    kind: ErrorKind
    detail: str = ""
    upstream_status: int | None = None
    code: str = ""
    # Seconds to wait before asking again, already bounded (see transport.retry_after_seconds).
    retry_after: float | None = None
    # Worth sending the same read again (no answer, 502/503/504, 429, retryable: true).
    transient: bool = False

    def __str__(self) -> str:
        return f"{self.kind.value}: {self.detail}" if self.detail else self.kind.value

    def fields(self) -> dict[str, Any]:
        return {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}


def bad_response(error: Exception) -> UpstreamError:
    """What an answer that does not decode becomes: msgspec's reason for a value of the wrong
    type, "not JSON" for anything else."""
    detail = str(error)[:200] if isinstance(error, msgspec.ValidationError) else "not JSON"
    return UpstreamError(ErrorKind.BAD_RESPONSE, detail, 200)


class ChainStopped(Exception):
    """A walk of a cursor chain stopped before its end, for the reason given."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

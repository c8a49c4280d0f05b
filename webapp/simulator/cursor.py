"""Page cursors: base64url JSON {o: offset, t: issued at, f: query fingerprint} plus an HMAC tag.

The tag makes tampering detectable; the fingerprint binds a cursor to the query that issued it.
"""

import base64
import binascii
import hashlib
import hmac
import json
from datetime import datetime

MAX_AGE_SECONDS = 24 * 3600


class CursorError(ValueError):
    """The cursor is malformed, forged, expired or bound to another query."""


def fingerprint(*parts: str) -> str:
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:16]


def issue(offset: int, bound_to: str, now: datetime, secret: bytes) -> str:
    fields = {"o": offset, "t": int(now.timestamp()), "f": bound_to}
    payload = _encode(json.dumps(fields, separators=(",", ":")).encode())
    return f"{payload}.{_encode(_sign(payload, secret))}"


def redeem(cursor: str, bound_to: str, now: datetime, secret: bytes) -> int:
    """The offset the cursor points at, if it is genuine, fresh and issued for this query."""
    try:
        payload, tag = cursor.split(".")
        genuine = hmac.compare_digest(_decode(tag), _sign(payload, secret))
        fields = json.loads(_decode(payload))
        offset, issued, bound = int(fields["o"]), int(fields["t"]), fields["f"]
    except (ValueError, KeyError, TypeError, binascii.Error) as error:
        raise CursorError(cursor) from error
    if not genuine or bound != bound_to or offset < 0 or now.timestamp() - issued > MAX_AGE_SECONDS:
        raise CursorError(cursor)
    return offset


def _sign(payload: str, secret: bytes) -> bytes:
    return hmac.new(secret, payload.encode(), hashlib.sha256).digest()


def _encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))

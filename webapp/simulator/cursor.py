"""Page cursors: base64url JSON {o: offset, t: issued at, f: query fingerprint}, signed with
itsdangerous. The signature makes tampering detectable; the fingerprint binds a cursor to the
query that issued it; the issue time lets it expire after 24 h, by the simulator's own clock.
"""

import hashlib
import json
from datetime import datetime

from itsdangerous import BadSignature, URLSafeSerializer

MAX_AGE_SECONDS = 24 * 3600
SALT = "blaxel-simulator-cursor"


class CursorError(ValueError):
    """The cursor is malformed, forged, expired or bound to another query."""


def fingerprint(*parts: str) -> str:
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:16]


def issue(offset: int, bound_to: str, now: datetime, secret: bytes) -> str:
    fields = {"o": offset, "t": int(now.timestamp()), "f": bound_to}
    return URLSafeSerializer(secret, salt=SALT).dumps(fields)


def redeem(cursor: str, bound_to: str, now: datetime, secret: bytes) -> int:
    """The offset the cursor points at, if it is genuine, fresh and issued for this query."""
    try:
        fields = URLSafeSerializer(secret, salt=SALT).loads(cursor)
    except BadSignature as error:
        raise CursorError(cursor) from error
    match fields:
        case {"o": int(offset), "t": int(issued), "f": str(bound)} if (
            bound == bound_to and offset >= 0 and now.timestamp() - issued <= MAX_AGE_SECONDS
        ):
            return offset
    raise CursorError(cursor)

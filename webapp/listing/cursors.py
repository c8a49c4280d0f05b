"""Cursors the app signs: a position of its own walks, bound to the view it was issued for."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer

from ..common.errors import CursorRejected


def view_binding(*parts: Any) -> str:
    """A short fingerprint of the view (execution, order, search, filter) a cursor belongs to."""
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:16]


class CursorSigner:
    """Signs and opens cursors with the app's secret key (itsdangerous)."""

    def __init__(self, secret_key: str, salt: str) -> None:
        self._serializer = URLSafeSerializer(secret_key, salt=salt)

    def sign(self, fields: list[Any], binding: str) -> str:
        return self._serializer.dumps([binding, *fields])

    def open(self, token: str, binding: str) -> list[Any]:
        """The fields a cursor of ours carries, if it is ours, intact and for this very view."""
        try:
            payload = self._serializer.loads(token)
        except BadSignature:
            raise CursorRejected("not signed by this app") from None
        if not isinstance(payload, list) or not payload or payload[0] != binding:
            raise CursorRejected("issued for another view")
        return payload[1:]

"""Ids in our own URLs: every name the API can return gets a path segment that leads back to it.

A name is written as it is, unless a browser or server would take it for path syntax ("/", "."
and "..") or it starts with "~": such names are written "~" + base64url of the name instead.
"""

from __future__ import annotations

import base64
import binascii

from werkzeug.routing import BaseConverter, ValidationError

ENCODED = "~"


def needs_encoding(name: str) -> bool:
    return not name or "/" in name or name in (".", "..") or name.startswith(ENCODED)


class IdConverter(BaseConverter):
    """`<id:job_id>`: one path segment holding any job, execution or task name."""

    def to_python(self, value: str) -> str:
        if not value.startswith(ENCODED):
            return value
        packed = value[len(ENCODED) :]
        try:
            name = base64.urlsafe_b64decode(packed + "=" * (-len(packed) % 4)).decode()
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise ValidationError() from None
        if not needs_encoding(name):
            raise ValidationError()  # one URL per name: a plain name is never written encoded
        return name

    def to_url(self, value: str) -> str:
        if needs_encoding(value):
            value = ENCODED + base64.urlsafe_b64encode(value.encode()).rstrip(b"=").decode()
        return super().to_url(value)

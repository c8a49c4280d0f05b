"""No secrets in logs: cursor values and bearer tokens are cut out of every message that could
print them. Free of Flask, so that the upstream client can hold to it wherever it runs."""

from __future__ import annotations

import logging
import re

# Cursor values are bearer-like (they reopen a view of the data): never let a URL log them.
CURSOR_VALUE = re.compile(r"(cursor=)[^&\s\"']*")
BEARER = re.compile(r"(Bearer\s+)[^\s\"',}]+", re.IGNORECASE)


def redact(text: str) -> str:
    return BEARER.sub(r"\1[redacted]", CURSOR_VALUE.sub(r"\1[redacted]", text))


class Redact(logging.Filter):
    """Rewrites a record's message without cursor values or Authorization headers."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


# The third-party loggers that print request URLs (with their cursors).
URL_LOGGERS = ("werkzeug", "httpx", "gunicorn.access", "gunicorn.error")


def install_redaction() -> None:
    for name in URL_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(existing, Redact) for existing in logger.filters):
            logger.addFilter(Redact())

"""Operating the workspace: cancelling an execution (with a separate write key, by operators,
with a CSRF token, into an audit trail) and the watcher that posts failed runs to webhooks.

cancel.py and routes.py serve the web app; watch.py, webhooks.py and marks.py are the
`blaxel-jobs watch` process. Both keep what they must not forget in the app's store
(webapp/store: the audit trail, the outbox of messages).
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Flask
from flask_wtf.csrf import CSRFProtect

from ..common.config import Settings
from .access import may_cancel


def register(app: Flask, settings: Settings) -> None:
    """CSRF protection for every POST, and what templates use (the routes are registered by the
    shell, with the write client: webapp/web/routes.py)."""
    # Every POST of the app needs the form's token (kept in the session cookie); GETs stay as
    # they are. The app sends no Referer (Referrer-Policy: no-referrer), so Flask-WTF's extra
    # HTTPS check of it would refuse every form: the token and a SameSite cookie do the work.
    app.config.setdefault("WTF_CSRF_SSL_STRICT", False)
    app.config["SESSION_COOKIE_SAMESITE"] = app.config["SESSION_COOKIE_SAMESITE"] or "Lax"
    app.config["SESSION_COOKIE_SECURE"] = app.config["SESSION_COOKIE_SECURE"] or settings.https
    CSRFProtect(app)
    app.jinja_env.globals["may_cancel"] = may_cancel
    app.jinja_env.filters["moment"] = lambda at: datetime.fromtimestamp(at, UTC)

"""Operating the workspace: cancelling an execution (with a separate write key, by operators,
with a CSRF token, into an audit trail) and the watcher that posts failed runs to webhooks.

cancel.py and routes.py serve the web app; watch.py, webhooks.py and marks.py are the
`blaxel-jobs watch` process. Both keep what they must not forget in the app's store
(webapp/store.py: the audit trail, the outbox of messages).
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Flask
from flask_wtf.csrf import CSRFProtect

from ..blaxel import BlaxelClient
from ..config import Settings
from ..store import open_audit
from .access import may_cancel
from .routes import blueprint


def register(app: Flask, settings: Settings, write: BlaxelClient | None) -> None:
    """The write client (None without BLAXEL_WRITE_API_KEY), CSRF protection for every POST,
    the audit trail, and the routes."""
    app.extensions["blaxel_write"] = write
    # Every POST of the app needs the form's token (kept in the session cookie); GETs stay as
    # they are. The app sends no Referer (Referrer-Policy: no-referrer), so Flask-WTF's extra
    # HTTPS check of it would refuse every form: the token and a SameSite cookie do the work.
    app.config.setdefault("WTF_CSRF_SSL_STRICT", False)
    app.config["SESSION_COOKIE_SAMESITE"] = app.config["SESSION_COOKIE_SAMESITE"] or "Lax"
    app.config["SESSION_COOKIE_SECURE"] = app.config["SESSION_COOKIE_SECURE"] or settings.https
    CSRFProtect(app)
    if write is not None:
        # Opened here, so a data file the app cannot read stops it at start, naming the file;
        # without a write key, only when an operator first reads /audit.
        app.extensions["audit"] = open_audit(settings)
    app.jinja_env.globals["may_cancel"] = may_cancel
    app.jinja_env.filters["moment"] = lambda at: datetime.fromtimestamp(at, UTC)
    app.register_blueprint(blueprint(write))

"""Blaxel jobs web front end: create_app() builds the Flask application."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import httpx
from flask import Flask

from .. import operate
from ..blaxel import BlaxelClient, CachedClient, LocalStore, RedisStore, Store
from ..common.config import Settings
from ..common.formatting import FILTERS
from ..common.services import KEY, Services
from ..common.urls import urls
from ..logs import text as logtext
from ..runs import shown as runs
from ..runs.kept import Digests
from ..store import open_audit, open_digest_rows
from . import auth, delivery, errorpage, limits, requestlog
from . import routes as views
from .readiness import Readiness
from .resources import STATIC, TEMPLATES

log = logging.getLogger(__name__)


def create_app(
    settings: Settings | Mapping[str, Any] | None = None,
    *,
    client: BlaxelClient | None = None,
    clock: Callable[[], datetime] | None = None,
    transport: httpx.BaseTransport | None = None,
    readiness_ttl: float = 5.0,
    signin_hash_wait: float = 2.0,
) -> Flask:
    """The app from `settings`: a Settings, or setting names over the environment (Flask's own
    keys, such as TESTING, go to its config). The keywords are what tests put in place."""
    app = Flask(__name__, template_folder=str(TEMPLATES), static_folder=str(STATIC))
    if not isinstance(settings, Settings):
        app.config.from_mapping(settings or {})
        settings = Settings.load(settings)
    app.config["SECRET_KEY"] = settings.secret_key
    now = clock or (lambda: datetime.now(UTC))

    tour = None
    # The client that may cancel executions: its own key, never the read key (docs/operating.md).
    write = None
    if client is None and settings.demo:
        from .demo import demo_clients, demo_tour

        client, write = demo_clients(clock=now, write_key=settings.write_api_key)
        tour = demo_tour
        log.info("No BLAXEL_API_KEY set: serving demo data from the built-in simulator")
    elif client is None:
        client, write = (
            BlaxelClient(settings.api_url, key, workspace=settings.workspace, transport=transport)
            if key
            else None
            for key in (settings.api_key, settings.write_api_key)
        )
    # Cached answers age with the app's clock: a clock set by hand (tests, demos) moves them too.
    store_clock = (lambda: now().timestamp()) if clock else time.monotonic
    store: Store = (
        RedisStore(settings.cache_url)
        if settings.cache_url
        else LocalStore(max_bytes=settings.cache_max_bytes, clock=store_clock)
    )
    # WEBAPP_CACHE_TTL=0 keeps nothing, not even finished executions.
    final_ttl = settings.cache_final_ttl if settings.cache_ttl > 0 else 0.0
    cached = CachedClient(
        client,
        store,
        ttl=settings.cache_ttl,
        final_ttl=final_ttl,
        max_hold=settings.rate_limit_max_hold,
    )
    readiness = Readiness(cached, settings.timeout, ttl=readiness_ttl)
    # Opened here, so a data file the app cannot read stops it at start, naming the file; the
    # audit trail only with a write key (without one, when an operator first reads /audit).
    digests = Digests(open_digest_rows(settings), settings.runs_kept)
    audit = open_audit(settings) if write is not None else None
    app.extensions[KEY] = Services(  # read through webapp/common/services.py
        settings, now, cached, readiness.ready, tour, digests, write=write, audit=audit
    )

    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
    app.jinja_env.filters.update(FILTERS, **logtext.FILTERS)
    app.jinja_env.globals.update(demo=settings.demo, workspace=settings.workspace, urls=urls)

    @app.context_processor
    def time_helpers() -> dict[str, Any]:
        return {"now": now()}

    # First, so that its clock starts before anything else a request goes through.
    requestlog.register(app)
    auth.register(app, settings, now, signin_hash_wait)
    limits.register(app, settings)
    errorpage.register(app)
    operate.register(app, settings)
    runs.register(app)
    views.register(app)
    # Last, so its after_request runs first: ETags and timings see the body before compression.
    delivery.register(app, STATIC)
    return app

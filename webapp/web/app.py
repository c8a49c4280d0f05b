"""Blaxel jobs web front end: create_app() builds the Flask application."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from flask import Flask

from .. import operate
from ..blaxel import BlaxelClient, CachedClient, LocalStore, RedisStore, Store
from ..common.config import Settings
from ..common.formatting import FILTERS
from ..common.services import KEY, Services
from ..logs import text as logtext
from ..runs import shown as runs
from ..runs.kept import Digests
from ..store import open_audit, open_digest_rows
from . import auth, delivery, errorpage, limits, requestlog
from . import routes as views
from .readiness import Readiness
from .resources import STATIC, TEMPLATES

log = logging.getLogger(__name__)


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    app = Flask(__name__, template_folder=str(TEMPLATES), static_folder=str(STATIC))
    settings = Settings.load(test_config)
    app.config["SECRET_KEY"] = settings.secret_key
    app.config.from_mapping(test_config or {})
    clock = app.config.get("CLOCK") or (lambda: datetime.now(UTC))

    tour = None
    client = app.config.get("BLAXEL_CLIENT")
    # The client that may cancel executions: its own key, never the read key (docs/operating.md).
    write = app.config.get("BLAXEL_WRITE_CLIENT")
    if client is None and settings.demo:
        from .demo import demo_clients, demo_tour

        simulator_clock = app.config.get("SIMULATOR_CLOCK") or clock
        client, write = demo_clients(clock=simulator_clock, write_key=settings.write_api_key)
        tour = demo_tour
        log.info("No BLAXEL_API_KEY set: serving demo data from the built-in simulator")
    elif client is None:
        client = BlaxelClient(
            settings.api_url,
            settings.api_key,
            workspace=settings.workspace,
            transport=app.config.get("BLAXEL_TRANSPORT"),
        )
        if settings.write_api_key:
            write = BlaxelClient(
                settings.api_url,
                settings.write_api_key,
                workspace=settings.workspace,
                transport=app.config.get("BLAXEL_TRANSPORT"),
            )
    # Cached answers age with the app's clock: a clock set by hand (tests, demos) moves them too.
    store_clock = (lambda: clock().timestamp()) if app.config.get("CLOCK") else time.monotonic
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
    readiness = Readiness(cached, settings.timeout, ttl=float(app.config.get("READINESS_TTL", 5)))
    # Opened here, so a data file the app cannot read stops it at start, naming the file; the
    # audit trail only with a write key (without one, when an operator first reads /audit).
    digests = Digests(open_digest_rows(settings), settings.runs_kept)
    audit = open_audit(settings) if write is not None else None
    app.extensions[KEY] = Services(  # read through webapp/common/services.py
        settings, clock, cached, readiness.ready, tour, digests, write=write, audit=audit
    )

    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
    app.jinja_env.filters.update(FILTERS, **logtext.FILTERS)
    app.jinja_env.globals.update(demo=settings.demo, workspace=settings.workspace)

    @app.context_processor
    def time_helpers() -> dict[str, Any]:
        return {"now": clock()}

    # First, so that its clock starts before anything else a request goes through.
    requestlog.register(app)
    auth.register(app, settings, clock)
    limits.register(app, settings)
    errorpage.register(app)
    operate.register(app, settings)
    runs.register(app)
    views.register(app)
    # Last, so its after_request runs first: ETags and timings see the body before compression.
    delivery.register(app, STATIC)
    return app

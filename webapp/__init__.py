"""Blaxel jobs web front end: create_app() builds the Flask application."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from flask import Flask

from . import auth, delivery, handlers, limits, requestlog
from .cache import make_cache
from .config import Settings
from .formatting import FILTERS
from .models import StatusCounts
from .readiness import Readiness
from .resources import STATIC, TEMPLATES
from .upstream import BlaxelClient
from .views import bp

log = logging.getLogger(__name__)


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    app = Flask(
        __name__,
        template_folder=str(TEMPLATES),
        static_folder=str(STATIC),
    )
    settings = Settings.load(test_config)
    app.config["SECRET_KEY"] = settings.secret_key
    app.config.from_mapping(test_config or {})
    clock = app.config.get("CLOCK") or (lambda: datetime.now(UTC))
    # Cached answers age with the app's clock: a clock set by hand (tests, demos) moves them too.
    cache_clock = (lambda: clock().timestamp()) if app.config.get("CLOCK") else time.monotonic

    client = app.config.get("BLAXEL_CLIENT")
    tour = None
    cache = None
    if client is None:
        cache = make_cache(
            settings.cache_url, settings.cache_ttl, settings.cache_final_ttl, cache_clock
        )
    if client is None and settings.demo:
        from .demo import demo_client, demo_tour

        simulator_clock = app.config.get("SIMULATOR_CLOCK") or clock
        client = demo_client(settings.timeout, clock=simulator_clock, cache=cache)
        tour = lambda: demo_tour(simulator_clock())  # noqa: E731
        log.info("No BLAXEL_API_KEY set: serving demo data from the built-in simulator")
    elif client is None:
        client = BlaxelClient(
            settings.api_url,
            settings.api_key,
            workspace=settings.workspace,
            timeout=settings.timeout,
            transport=app.config.get("BLAXEL_TRANSPORT"),
            cache=cache,
        )
    app.extensions["blaxel"] = client
    app.extensions["settings"] = settings
    app.extensions["demo_tour"] = tour
    app.extensions["clock"] = clock
    if isinstance(client, BlaxelClient):
        client.observer = requestlog.note_upstream
    app.extensions["readiness"] = Readiness(client, ttl=float(app.config.get("READINESS_TTL", 5)))

    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
    app.jinja_env.filters.update(FILTERS)
    app.jinja_env.globals.update(
        demo=settings.demo, workspace=settings.workspace, status_counts=StatusCounts.of
    )

    @app.context_processor
    def time_helpers() -> dict[str, Any]:
        return {"now": clock()}

    requestlog.register(app)
    auth.register(app, settings)
    limits.register(app, settings)
    handlers.register(app)
    app.register_blueprint(bp)
    # Last, so its after_request runs first: ETags and timings see the body before compression.
    delivery.register(app, STATIC)
    if cache is not None:
        delivery.share_rendered(app, settings.cache_ttl, cache_clock)
    return app

"""The app's services, typed, in one place: what create_app() made for this app (settings, clock,
the cached Blaxel client, the write client, the kept run digests, ...), read by every area
through these functions, never by a string."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING

from flask import Flask, current_app

from ..blaxel import BlaxelClient, CachedClient, Session
from .config import Settings

if TYPE_CHECKING:  # the areas above this one, named for the types only
    from ..runs.kept import Digests
    from ..store import Audit
    from ..web.limits import Kind
    from ..web.users import UsersFile

KEY = "webapp.services"


@dataclass(frozen=True)
class Services:
    settings: Settings
    clock: Callable[[], datetime]
    client: CachedClient
    ready: Callable[[], bool]
    demo_tour: Callable[[Session], object] | None  # demo mode: where the jobs page's tour starts
    digests: Digests  # what the app remembers of finished runs (webapp/runs)
    # The client holding BLAXEL_WRITE_API_KEY, the only one that may cancel; None without it.
    write: BlaxelClient | None = None
    audit: Audit | None = None  # the audit trail of cancels, opened with the write key
    users: UsersFile | None = None  # with WEBAPP_AUTH=basic: the users file, roles included
    # The heavy pages' shares, for a view that finds only as it runs that it walks an execution.
    heavy_pages: Kind | None = None


def services_of(app: Flask) -> Services:
    return app.extensions[KEY]


def provide(app: Flask, **parts: object) -> None:
    """Adds what a part of the shell made at start (the users file, the audit trail)."""
    app.extensions[KEY] = replace(services_of(app), **parts)


def services() -> Services:
    return services_of(current_app)


def settings() -> Settings:
    return services().settings


def now() -> datetime:
    return services().clock()


def client() -> CachedClient:
    return services().client

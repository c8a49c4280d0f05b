"""The app's services, typed, in one place: what create_app() made for this app (settings, clock,
the cached Blaxel client, ...), read by every area through these functions, never by a string."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from flask import Flask, current_app

from ..blaxel import CachedClient
from .config import Settings


@dataclass(frozen=True)
class Services:
    settings: Settings
    clock: Callable[[], datetime]
    client: CachedClient
    ready: Callable[[], bool]
    demo_tour: Callable[[], object] | None  # demo mode: where the jobs page's tour starts


def services_of(app: Flask) -> Services:
    return app.extensions["webapp.services"]


def services() -> Services:
    return services_of(current_app)


def settings() -> Settings:
    return services().settings


def now() -> datetime:
    return services().clock()


def client() -> CachedClient:
    return services().client

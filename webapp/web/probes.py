"""Liveness and readiness, for load balancers: open to all, saying nothing else."""

from __future__ import annotations

from flask import Blueprint, current_app

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@bp.get("/readyz")
def readyz() -> tuple[dict[str, str], int]:
    """Ready when the token reaches the Blaxel API."""
    if current_app.extensions["readiness"].ready():
        return {"status": "ready"}, 200
    return {"status": "unavailable"}, 503

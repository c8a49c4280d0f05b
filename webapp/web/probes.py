"""Liveness and readiness, for load balancers: open to all, saying nothing else."""

from __future__ import annotations

from flask import Blueprint

from ..common.services import services

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@bp.get("/readyz")
def readyz() -> tuple[dict[str, str], int]:
    """Ready when the token reaches the Blaxel API."""
    if services().ready():
        return {"status": "ready"}, 200
    return {"status": "unavailable"}, 503

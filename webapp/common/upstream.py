"""The Blaxel API as the current request sees it: one Session, one deadline for all its calls.

Made on first use and kept on `g`, the way flaskr keeps its database connection; the request log
and the Server-Timing header read what its calls cost from the same record.
"""

from __future__ import annotations

from flask import g
from werkzeug.exceptions import NotFound

from ..blaxel import CallRecord, CallScope, Session, Task
from .services import client, settings


def blaxel() -> Session:
    """This request's session: every call it makes shares one deadline (BLAXEL_TIMEOUT)."""
    if "blaxel" not in g:
        g.blaxel = Session(client(), CallScope.starting_now(settings().timeout))
    return g.blaxel


def export_session() -> Session:
    """A session for a streamed export: each call within BLAXEL_TIMEOUT, the whole walk within
    WEBAPP_EXPORT_SECONDS."""
    scope = CallScope.starting_now(settings().export_seconds, call_timeout=settings().timeout)
    g.blaxel = Session(client(), scope)
    return g.blaxel


def calls() -> list[CallRecord]:
    """The upstream calls the current request has made so far."""
    session = g.get("blaxel")
    return list(session.scope.records) if session is not None else []


def find_task(api: Session, job_id: str, execution_id: str, task_name: str) -> Task:
    """A task of an execution, found by name within WEBAPP_SCAN_BUDGET pages; else a 404."""
    found = api.find_task(job_id, execution_id, task_name, max_pages=settings().scan_budget)
    if found is None:
        raise NotFound(f"Execution {execution_id} of job {job_id} has no task named {task_name}.")
    return found

"""The operating routes: cancel an execution (only with a write key), and the audit trail."""

from __future__ import annotations

from dataclasses import replace

from flask import Blueprint, current_app, g, render_template, request
from werkzeug.wrappers import Response

from ..blaxel import BlaxelClient
from ..common import services
from ..store import Audit, AuditEntry, open_audit
from ..web.errorpage import error_page
from . import cancel as cancelling
from .access import is_operator

AUDIT_SHOWN = 200  # the latest entries on /audit


def blueprint(write: BlaxelClient | None) -> Blueprint:
    """The routes of one app: the cancel route exists only when a write key is set, so without
    one it answers 404 whoever asks."""
    bp = Blueprint("operate", __name__)
    bp.add_url_rule("/audit", view_func=audit_trail)
    if write is not None:
        rule = "/jobs/<id:job_id>/executions/<id:execution_id>/cancel"
        bp.add_url_rule(rule, view_func=cancel, methods=["POST"])
    return bp


def audit() -> Audit:
    """The audit trail: opened at start with a write key, else when an operator first reads it."""
    found = services.services().audit
    if found is None:
        found = open_audit(services.settings())
        services.provide(current_app, audit=found)
    return found


def cancel(job_id: str, execution_id: str) -> Response:
    """POST (its CSRF token checked before this runs): the person typed the execution's id."""
    settings = services.settings()
    attempt = AuditEntry(services.now().timestamp(), g.identity, job_id, execution_id, "", "")
    if not is_operator():
        answer = cancelling.not_sent("refused by this app: not an operator", 403)
    elif request.form.get("confirm", "").strip() != execution_id:
        answer = cancelling.not_sent("refused by this app: the id typed did not match", 400)
    else:
        write = services.services().write
        answer = cancelling.cancel(write, job_id, execution_id, settings.timeout)
    attempt = replace(attempt, outcome=answer.outcome, answer=answer.answer)
    recorded = cancelling.record(audit(), attempt)
    if answer.status == 403:
        return error_page(
            403,
            "Only operators can cancel runs",
            "Your account may read this workspace but not cancel its executions. Ask whoever "
            "runs this app to make you an operator.",
        )
    body = render_template(
        "cancel_answer.html",
        answer=replace(answer, recorded=recorded),
        job_id=job_id,
        execution_id=execution_id,
        execution=answer.execution,
        chips=None,
    )
    return Response(body, answer.status, mimetype="text/html")


def audit_trail() -> Response | str:
    if not is_operator():
        return error_page(
            403,
            "Only operators can read the audit trail",
            "The audit trail lists who tried to cancel which run. Ask whoever runs this app to "
            "make you an operator.",
        )
    return render_template("audit.html", entries=audit().recent(AUDIT_SHOWN))

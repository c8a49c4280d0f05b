"""Who may operate (cancel executions, read the audit trail): users marked `:operator` in the
users file, or, behind a sign-in proxy, members of WEBAPP_OPERATOR_GROUP. Nobody without auth."""

from __future__ import annotations

from flask import g, request

from ..common import services


def is_operator() -> bool:
    """Whether the person of the current request may operate."""
    settings = services.settings()
    identity = g.get("identity", "")
    if not identity or settings.auth == "none":
        return False
    if settings.auth == "basic":
        users = services.services().users
        return users is not None and users.is_operator(identity)
    # Proxy mode: the request came from a trusted proxy (auth checked it), which sends the groups.
    if not settings.operator_group:
        return False
    values = request.headers.getlist(settings.groups_header)
    groups = {group.strip() for value in values for group in value.split(",")}
    return settings.operator_group in groups


def may_cancel() -> bool:
    """Whether the current page may offer "Cancel this run": a write key is set and the person
    is an operator."""
    return services.services().write is not None and is_operator()

"""GET /audit-logs and GET /audit-logs/resource/{resource_type}/{resource_id}."""

from __future__ import annotations

from typing import Any

from litestar import Request, get

from dagy.server.openapi import WHEN
from dagy.server.security import identity_of, state_of
from dagy.services.accounts import audit


@get(
    "/audit-logs",
    sync_to_thread=True,
    opt={"permission": "admin.audit", "params": {"start_date": WHEN, "end_date": WHEN}},
)
def list_audit(
    request: Request[Any, Any, Any],
    resource_type: str | None = None,
    action: str | None = None,
    actor_email: str | None = None,
    start_date: str | None = None,
    end_date: str | None = None,
    limit: int | None = None,
    next_token: str | None = None,
) -> dict[str, Any]:
    return audit.query(
        state_of(request).store,
        identity_of(request),
        resource_type=resource_type,
        action=action,
        actor_email=actor_email,
        start_date=start_date,
        end_date=end_date,
        limit=limit,
        next_token=next_token,
    )


@get(
    "/audit-logs/resource/{resource_type:str}/{resource_id:str}",
    sync_to_thread=True,
    opt={"permission": "admin.audit"},
)
def resource_audit(
    request: Request[Any, Any, Any],
    resource_type: str,
    resource_id: str,
    limit: int | None = None,
    next_token: str | None = None,
) -> dict[str, Any]:
    return audit.resource_trail(
        state_of(request).store,
        identity_of(request),
        resource_type,
        resource_id,
        limit=limit,
        next_token=next_token,
    )


ROUTES = [list_audit, resource_audit]

"""Alert rules: create, list, read, delete, and send a test notification to a rule's channels."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, delete, get, post

from dagy.server.openapi import Body, display_name, required
from dagy.server.security import actor_of, identity_of, state_of
from dagy.services.notifications import alerts
from dagy.services.notifications import channels as notifications
from dagy.store.notifications import RuleRow
from dagy.store.records import iso_z

_READ = {"permission": "notifications.read"}
_WRITE = {"permission": "notifications.write"}


class RuleBody(Body):
    name: str | None = None
    trigger: str | None = None
    channel_ids: Any = None  # the service checks these (its messages name the field)
    flow_name: str | None = None
    sla_seconds: Any = None
    enabled: Any = None
    doc = {
        "name": required(display_name(notifications.MAX_NAME)),
        "trigger": required(enum=list(notifications.TRIGGERS)),
        "channel_ids": required(type="array", items={"type": "string"}, minItems=1),
        "flow_name": display_name(notifications.MAX_NAME),
        "sla_seconds": {"oneOf": [{"type": "number", "exclusiveMinimum": 0}, {"type": "null"}]},
        "enabled": {"type": ["boolean", "null"]},
    }


def _item(row: RuleRow) -> dict[str, Any]:
    return {
        "rule_id": row.rule_id,
        "name": row.name,
        "trigger": row.trigger,
        "flow_name": row.flow_name,
        "channel_ids": list(row.channel_ids),
        "sla_seconds": row.sla_seconds,
        "enabled": row.enabled,
        "created_at": iso_z(row.created_at),
    }


@post("/alert-rules", status_code=201, sync_to_thread=True, opt=_WRITE)
def create_rule(request: Request[Any, Any, Any], data: RuleBody) -> dict[str, Any]:
    row = notifications.create_rule(
        state_of(request).store,
        actor_of(request),
        name=data.name,
        trigger=data.trigger,
        channel_ids=data.channel_ids,
        flow_name=data.flow_name,
        sla_seconds=data.sla_seconds,
        enabled=data.enabled,
    )
    return _item(row)


@get("/alert-rules", sync_to_thread=True, opt=_READ)
def list_rules(request: Request[Any, Any, Any]) -> dict[str, Any]:
    state, identity = state_of(request), identity_of(request)
    return {"items": [_item(r) for r in notifications.list_rules(state.store, identity.org_id)]}


@get("/alert-rules/{rule_id:str}", sync_to_thread=True, opt=_READ)
def get_rule(request: Request[Any, Any, Any], rule_id: str) -> dict[str, Any]:
    state, identity = state_of(request), identity_of(request)
    return _item(notifications.get_rule(state.store, identity.org_id, rule_id))


@delete("/alert-rules/{rule_id:str}", status_code=204, sync_to_thread=True, opt=_WRITE)
def delete_rule(request: Request[Any, Any, Any], rule_id: str) -> Response[None]:
    notifications.delete_rule(state_of(request).store, actor_of(request), rule_id)
    return Response(None, status_code=204)


@post("/alert-rules/{rule_id:str}/test", status_code=200, sync_to_thread=True, opt=_WRITE)
def test_rule(request: Request[Any, Any, Any], rule_id: str) -> dict[str, Any]:
    """Sends now, outside the store's lock; each attempt lands in the channel's deliveries."""
    state, identity = state_of(request), identity_of(request)
    return alerts.test_rule(state.store, identity.org_id, rule_id)


ROUTES = [create_rule, list_rules, get_rule, delete_rule, test_rule]

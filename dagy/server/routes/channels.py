"""Notification channels: create, list, read, delete, and each channel's delivery attempts.

Responses never carry a secret field in full (webhook secret, routing key, Slack webhook URL):
``config_json`` shows them masked (dagy/notify/config.py).
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, delete, get, post

from dagy.errors import InvalidInputError
from dagy.server.openapi import Body, display_name, required
from dagy.server.security import actor_of, identity_of, state_of
from dagy.services import pagination
from dagy.services.notifications import channels as notifications
from dagy.store import notifications as sql
from dagy.store.notifications import ChannelRow, DeliveryRow
from dagy.store.records import iso_z

_READ = {"permission": "notifications.read"}
_WRITE = {"permission": "notifications.write"}


class ChannelBody(Body):
    name: str | None = None
    channel_type: str | None = None
    config_json: Any = None  # the service checks these per channel type
    enabled: Any = None
    doc = {
        "name": required(display_name(notifications.MAX_NAME)),
        "channel_type": required(enum=sorted(notifications.TYPES)),
        "config_json": required(
            type="object", description="The channel type's settings (docs/notifications.md)"
        ),
        "enabled": {"type": ["boolean", "null"]},
    }


def _item(row: ChannelRow) -> dict[str, Any]:
    return {
        "channel_id": row.channel_id,
        "name": row.name,
        "channel_type": row.channel_type,
        "enabled": row.enabled,
        "created_at": iso_z(row.created_at),
    }


def _delivery(row: DeliveryRow) -> dict[str, Any]:
    return {
        "delivery_id": row.delivery_id,
        "event": row.event,
        "rule_id": row.rule_id,
        "run_id": row.run_id,
        "attempt": row.attempt,
        "attempted_at": iso_z(row.attempted_at),
        "success": row.success,
        "status_code": row.status_code,
        "error": row.error,
        "duration_ms": row.duration_ms,
    }


@post("/channels", status_code=201, sync_to_thread=True, opt=_WRITE)
def create_channel(request: Request[Any, Any, Any], data: ChannelBody) -> dict[str, Any]:
    row = notifications.create_channel(
        state_of(request).store,
        actor_of(request),
        name=data.name,
        channel_type=data.channel_type,
        config_json=data.config_json,
        enabled=data.enabled,
    )
    return _item(row)


@get("/channels", sync_to_thread=True, opt=_READ)
def list_channels(request: Request[Any, Any, Any]) -> dict[str, Any]:
    state, identity = state_of(request), identity_of(request)
    return {"items": [_item(r) for r in notifications.list_channels(state.store, identity.org_id)]}


@get("/channels/{channel_id:str}", sync_to_thread=True, opt=_READ)
def get_channel(request: Request[Any, Any, Any], channel_id: str) -> dict[str, Any]:
    state, identity = state_of(request), identity_of(request)
    with state.store.connection():
        row = notifications.get_channel(state.store, identity.org_id, channel_id)
        shown = notifications.shown_config(state.store, row)
    return {**_item(row), "config_json": shown}


@delete("/channels/{channel_id:str}", status_code=204, sync_to_thread=True, opt=_WRITE)
def delete_channel(request: Request[Any, Any, Any], channel_id: str) -> Response[None]:
    notifications.delete_channel(state_of(request).store, actor_of(request), channel_id)
    return Response(None, status_code=204)


@get("/channels/{channel_id:str}/deliveries", sync_to_thread=True, opt=_READ)
def list_deliveries(
    request: Request[Any, Any, Any],
    channel_id: str,
    limit: int | None = None,
    next_token: str | None = None,
) -> dict[str, Any]:
    """Every attempt to reach the channel, newest first (beyond the spec)."""
    state, identity = state_of(request), identity_of(request)
    size = pagination.clamp_limit(limit, default=50, maximum=200)
    position = pagination.decode_token(next_token, size=1)
    before = position[0] if position else None
    if before is not None and (isinstance(before, bool) or not isinstance(before, int)):
        raise InvalidInputError("Invalid next_token", {"next_token": "malformed"})
    notifications.get_channel(state.store, identity.org_id, channel_id)
    rows = sql.deliveries_page(
        state.store, identity.org_id, channel_id, before=before, limit=size + 1
    )
    items, token = pagination.page(rows, size, lambda r: [r.delivery_id])
    return {"items": [_delivery(r) for r in items], "next_token": token}


ROUTES = [create_channel, list_channels, get_channel, delete_channel, list_deliveries]

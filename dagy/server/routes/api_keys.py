"""API keys: create (the key is shown once), list, delete."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, delete, get, post

from dagy.auth import rbac
from dagy.server.openapi import Body, display_name
from dagy.server.security import actor_of, identity_of, state_of
from dagy.services import pagination
from dagy.services.accounts import api_keys as accounts
from dagy.store.records import iso_z


class KeyBody(Body):
    name: str
    scopes: list[str]
    expires_in_days: int | None = None
    doc = {
        "name": display_name(200),
        "scopes": {
            "minItems": 1,
            "items": {"enum": sorted(rbac.ALL_PERMISSIONS)},
            "description": "Permissions the caller holds",
        },
        "expires_in_days": {"minimum": 1, "maximum": 3650},
    }


@post("/api-keys", status_code=201, sync_to_thread=True, opt={"permission": "admin.api_keys"})
def create_key(request: Request[Any, Any, Any], data: KeyBody) -> dict[str, Any]:
    created = accounts.create_api_key(
        state_of(request).store,
        actor_of(request),
        data.name,
        data.scopes,
        expires_in_days=data.expires_in_days,
    )
    key = created.record
    body = {
        "key_id": key.key_id,
        "name": key.name,
        "key": created.key,
        "key_prefix": key.key_prefix,
        "scopes": key.scope_list,
        "created_at": iso_z(key.created_at),
    }
    if key.expires_at is not None:
        body["expires_at"] = iso_z(key.expires_at)
    return body


@get("/api-keys", sync_to_thread=True, opt={"permission": "admin.api_keys"})
def list_keys(
    request: Request[Any, Any, Any], limit: int | None = None, next_token: str | None = None
) -> dict[str, Any]:
    state, identity = state_of(request), identity_of(request)
    size = pagination.clamp_limit(limit, default=100, maximum=100)
    position = pagination.decode_keyset(next_token)
    rows = accounts.list_api_keys(
        state.store,
        identity,
        after=position,
        limit=size + 1,
    )
    items, token = pagination.page(rows, size, lambda k: [k.created_at.isoformat(), k.key_id])
    return {
        "items": [
            {
                "key_id": k.key_id,
                "name": k.name,
                "key_prefix": k.key_prefix,
                "scopes": k.scope_list,
                "created_by": k.created_by,
                "created_at": iso_z(k.created_at),
                "last_used_at": iso_z(k.last_used_at) if k.last_used_at else None,
                "expires_at": iso_z(k.expires_at) if k.expires_at else None,
            }
            for k in items
        ],
        "next_token": token,
    }


@delete(
    "/api-keys/{key_id:str}",
    status_code=204,
    sync_to_thread=True,
    opt={"permission": "admin.api_keys"},
)
def delete_key(request: Request[Any, Any, Any], key_id: str) -> Response[None]:
    accounts.delete_api_key(state_of(request).store, actor_of(request), key_id)
    return Response(None, status_code=204)


ROUTES = [create_key, list_keys, delete_key]

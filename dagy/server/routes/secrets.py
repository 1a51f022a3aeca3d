"""Secrets: create, list and read metadata, read a value (audited), update, delete; and the local
route `dagy secrets rotate-master-key` uses while the server owns the store.

``?environment=<name>`` picks the secret of one environment (empty: the one of none); without it
a name must be unambiguous. No response but ``.../value`` carries a value.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, delete, get, post, put

from dagy.auth import rbac
from dagy.server.openapi import NAME, Body, required
from dagy.server.security import actor_of, identity_of, state_of
from dagy.services import pagination
from dagy.services.vault import secrets
from dagy.store.records import iso_z
from dagy.store.secrets import SecretRow

_ENV_NAME = {"pattern": "^([A-Za-z0-9][A-Za-z0-9._-]{0,63})?$"}  # empty: the secret of none
_READ = {"permission": "secrets.read", "params": {"environment": _ENV_NAME, "secret_name": NAME}}
_WRITE = {**_READ, "permission": "secrets.write"}
_VALUE = {"minLength": 1, "maxLength": secrets.MAX_VALUE_BYTES // 4}


class SecretBody(Body):
    secret_name: str | None = None
    value: str | None = None
    environment: str | None = None
    doc = {
        "secret_name": required(NAME),
        "value": required(_VALUE),
        "environment": _ENV_NAME,
    }


class ValueBody(Body):
    value: str | None = None
    doc = {"value": required(_VALUE)}


class RotateBody(Body):
    new_key: str | None = None


def _meta(row: SecretRow) -> dict[str, Any]:
    return {
        "secret_id": row.secret_id,
        "secret_name": row.secret_name,
        "environment": secrets.environment_of(row),
        "created_at": iso_z(row.created_at),
        "updated_at": iso_z(row.updated_at),
    }


@post(
    "/secrets",
    status_code=201,
    sync_to_thread=True,
    opt={**_WRITE, "errors": [409]},
)
def create_secret(request: Request[Any, Any, Any], data: SecretBody) -> dict[str, Any]:
    row = secrets.create(
        state_of(request).store,
        actor_of(request),
        secret_name=data.secret_name,
        value=data.value,
        environment=data.environment,
    )
    return {
        "secret_id": row.secret_id,
        "secret_name": row.secret_name,
        "environment": secrets.environment_of(row),
        "created_at": iso_z(row.created_at),
    }


@get("/secrets", sync_to_thread=True, opt=_READ)
def list_secrets(
    request: Request[Any, Any, Any],
    environment: str | None = None,
    limit: int | None = None,
    next_token: str | None = None,
) -> dict[str, Any]:
    state, identity = state_of(request), identity_of(request)
    size = pagination.clamp_limit(limit, default=100, maximum=100)
    rows = secrets.page(
        state.store,
        identity.org_id,
        environment=environment,
        after=pagination.decode_keyset(next_token),
        limit=size + 1,
    )
    items, token = pagination.page(rows, size, lambda r: [r.created_at.isoformat(), r.secret_id])
    return {"items": [_meta(r) for r in items], "next_token": token}


@get("/secrets/{secret_name:str}", sync_to_thread=True, opt=_READ)
def get_secret(
    request: Request[Any, Any, Any], secret_name: str, environment: str | None = None
) -> dict[str, Any]:
    state, identity = state_of(request), identity_of(request)
    return _meta(secrets.find(state.store, identity.org_id, secret_name, environment))


@get("/secrets/{secret_name:str}/value", sync_to_thread=True, opt=_READ)
def get_secret_value(
    request: Request[Any, Any, Any], secret_name: str, environment: str | None = None
) -> dict[str, Any]:
    row, value = secrets.reveal(
        state_of(request).store, actor_of(request), secret_name, environment
    )
    return {"secret_name": row.secret_name, "value": value}


@put("/secrets/{secret_name:str}", sync_to_thread=True, opt=_WRITE)
def update_secret(
    request: Request[Any, Any, Any],
    secret_name: str,
    data: ValueBody,
    environment: str | None = None,
) -> dict[str, Any]:
    row, _ = secrets.update_value(
        state_of(request).store, actor_of(request), secret_name, data.value, environment
    )
    return {
        "secret_id": row.secret_id,
        "secret_name": row.secret_name,
        "updated_at": iso_z(row.updated_at),
    }


# The reference asks secrets.write here too (secrets.delete is in the matrix but no route uses it).
@delete(
    "/secrets/{secret_name:str}",
    status_code=204,
    sync_to_thread=True,
    opt=_WRITE,
)
def delete_secret(
    request: Request[Any, Any, Any], secret_name: str, environment: str | None = None
) -> Response[None]:
    secrets.delete(state_of(request).store, actor_of(request), secret_name, environment)
    return Response(None, status_code=204)


@post(
    "/_local/secrets/rotate-master-key",
    status_code=200,
    sync_to_thread=True,
    include_in_schema=False,
    opt={"permission": rbac.LOCAL},
)
def rotate_master_key(request: Request[Any, Any, Any], data: RotateBody) -> dict[str, Any]:
    """`dagy secrets rotate-master-key` while the server owns the store."""
    from dagy.auth import crypto
    from dagy.errors import InvalidInputError

    raw = data.new_key
    if raw is not None and not isinstance(raw, str):
        raise InvalidInputError("Invalid new_key", {"new_key": "base64 of 32 bytes"})
    try:
        new_key = crypto.decode_key(raw, "new_key") if raw else None
    except crypto.MasterKeyError as exc:
        raise InvalidInputError(str(exc), {"new_key": "base64 of 32 bytes"}) from None
    done = secrets.rotate_master_key(state_of(request).store, actor_of(request), new_key)
    return {
        "key_id": done.key_id,
        "previous_key_ids": done.previous_key_ids,
        "key_source": done.source,
        "rotated": done.rotated,
    }


ROUTES = [
    create_secret,
    list_secrets,
    get_secret,
    get_secret_value,
    update_secret,
    delete_secret,
    rotate_master_key,
]

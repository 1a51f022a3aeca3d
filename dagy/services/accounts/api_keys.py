"""API keys: created with scopes the creator holds (the key is shown once, stored as a hash),
listed, revoked. Changes write their audit rows as the ``Actor``, in the change's transaction."""

from __future__ import annotations

import datetime as _dt
import json
from dataclasses import dataclass
from typing import Any

from dagy.auth import rbac
from dagy.auth import secrets as hashing
from dagy.auth.identity import Identity
from dagy.errors import InvalidInputError, NotFoundError
from dagy.names import check_display_name
from dagy.services.accounts import audit
from dagy.services.accounts.audit import Actor
from dagy.services.accounts.orgs import identity_of
from dagy.store import accounts as sql
from dagy.store.accounts import ApiKey
from dagy.store.duckdb_store import DuckDBStore
from dagy.store.records import utcnow


@dataclass(frozen=True)
class CreatedKey:
    key: str
    record: ApiKey


def _check_expiry(expires_in_days: Any) -> _dt.datetime | None:
    if expires_in_days is None:
        return None
    if (
        not isinstance(expires_in_days, int)
        or isinstance(expires_in_days, bool)
        or not 1 <= expires_in_days <= 3650
    ):
        raise InvalidInputError(
            "Invalid expires_in_days", {"expires_in_days": "an integer from 1 to 3650"}
        )
    return utcnow() + _dt.timedelta(days=expires_in_days)


def create_api_key(
    store: DuckDBStore,
    actor: Actor,
    name: Any,
    scopes: Any,
    *,
    expires_in_days: Any = None,
) -> CreatedKey:
    identity = identity_of(actor)
    name = check_display_name(name, "name", message="Invalid key name")
    if not isinstance(scopes, list) or not scopes or not all(isinstance(s, str) for s in scopes):
        raise InvalidInputError("Invalid scopes", {"scopes": "a non-empty list of permissions"})
    unknown = sorted(set(scopes) - rbac.ALL_PERMISSIONS)
    if unknown:
        raise InvalidInputError(
            f"Invalid scopes: unknown {', '.join(unknown)}", {"scopes": {"unknown": unknown}}
        )
    beyond = sorted(set(scopes) - identity.permissions)
    if beyond:
        raise InvalidInputError(
            f"Invalid scopes: you do not hold {', '.join(beyond)}",
            {"scopes": {"not_held": beyond}},
        )
    expires = _check_expiry(expires_in_days)
    key = hashing.new_api_key()
    record = ApiKey(
        hashing.new_id("key"),
        identity.org_id,
        identity.email,
        name.strip(),
        hashing.token_hash(key),
        hashing.key_prefix(key),
        json.dumps(sorted(set(scopes), key=scopes.index)),
        utcnow(),
        expires,
        None,
        None,
    )
    with store.transaction():
        sql.insert_api_key(store, record)
        audit.write(
            store,
            actor,
            "create",
            "api_key",
            record.key_id,
            resource_name=record.name,
            changes={"scopes": [None, record.scope_list]},
        )
    return CreatedKey(key, record)


def list_api_keys(
    store: DuckDBStore, identity: Identity, *, after: tuple[str, str] | None, limit: int
) -> list[ApiKey]:
    return sql.list_api_keys(store, identity.org_id, after=after, limit=limit)


def delete_api_key(store: DuckDBStore, actor: Actor, key_id: str) -> ApiKey:
    identity = identity_of(actor)
    with store.transaction():
        key = sql.get_api_key(store, identity.org_id, key_id)
        if key is None:
            raise NotFoundError(f"API key not found: {key_id}")
        sql.delete_api_key(store, key_id, utcnow())
        audit.write(store, actor, "delete", "api_key", key.key_id, resource_name=key.name)
    return key

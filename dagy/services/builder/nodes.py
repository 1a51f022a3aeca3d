"""An org's custom node types: create, update (a new version, the old one kept), delete, read.

Built-in and plugin node types are code (dagy/nodes/definitions.py, entry points): they can be read
here but never changed — a PUT or DELETE of one is a 403, a custom node named like one a 409.
"""

from __future__ import annotations

import json
from typing import Any

from dagy.auth.identity import Identity
from dagy.errors import (
    AuthenticationError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
)
from dagy.nodes import custom, registry
from dagy.nodes.model import NodeDef
from dagy.services.accounts import audit
from dagy.services.accounts.audit import Actor
from dagy.store import custom_nodes as sql
from dagy.store.custom_nodes import CustomNodeRow
from dagy.store.duckdb_store import DuckDBStore
from dagy.store.records import iso_z, utcnow

RESOURCE = "custom_node"


def org_identity(
    store: DuckDBStore, identity: Identity, org_id: str | None, permission: str
) -> Identity:
    """``identity`` as a member of ``org_id`` (the spec's X-Org-Id), checked for ``permission``
    with its role there; 403 when it is not a member. No ``org_id``: the identity's own org.
    The server's local token (the machine's owner) may name any existing org."""
    from dagy.services.accounts import users
    from dagy.store import accounts

    if org_id is None or org_id == identity.org_id:
        return identity
    if identity.kind == "local":
        if accounts.get_org(store, org_id) is None:
            raise PermissionDeniedError(f"Unknown organization: {org_id}", {"org_id": org_id})
        return Identity(identity.email, org_id, identity.role, identity.permissions, identity.kind)
    if identity.kind == "api_key":
        raise PermissionDeniedError(
            f"This API key belongs to another organization than {org_id}", {"org_id": org_id}
        )
    try:
        member = users.member_identity(store, identity.email, org_id, kind=identity.kind)
    except AuthenticationError:
        raise PermissionDeniedError(
            f"Not a member of organization {org_id}", {"org_id": org_id}
        ) from None
    if not member.can(permission):
        raise PermissionDeniedError(
            f"Insufficient permissions: {permission} required", {"permission": permission}
        )
    return member


def _dump(definition: dict[str, Any]) -> str:
    return json.dumps(definition, separators=(",", ":"), sort_keys=True)


def _refuse_builtin(node_type: str, action: str) -> None:
    if node_type in registry.builtins():
        raise PermissionDeniedError(
            f"Built-in node types cannot be {action}: {node_type}",
            {
                "node_type": f"{node_type} is a built-in node type; only custom nodes can be {action}"
            },
        )


def get(store: DuckDBStore, org_id: str, node_type: str) -> NodeDef:
    """A built-in, plugin or the org's custom node type (404 otherwise)."""
    found = registry.lookup(node_type, store=store, org_id=org_id)
    if found is None:
        raise NotFoundError(f"Node type not found: {node_type}", {"node_type": node_type})
    return found


def list_custom(store: DuckDBStore, org_id: str) -> list[NodeDef]:
    return registry.custom_nodes(store, org_id)


def create(store: DuckDBStore, org_id: str, actor: Actor | None, body: Any) -> NodeDef:
    """A new custom node type at version 1 (400 naming each bad field, 409 when the type exists)."""
    node_type, import_path, definition = custom.check(body, registry.CATEGORY_IDS)
    if node_type in registry.builtins():
        raise ConflictError(
            f"Node type already exists: {node_type} is a built-in node type",
            {"node_type": "taken by a built-in node type"},
        )
    now = utcnow()
    by = actor.email if actor is not None else None
    row = CustomNodeRow(org_id, node_type, 1, _dump(definition), import_path, by, by, now, now)
    with store.transaction():
        if sql.get(store, org_id, node_type) is not None:
            raise ConflictError(
                f"Node type already exists: {node_type}", {"node_type": "already registered"}
            )
        sql.insert(store, row)
        if actor is not None:
            audit.write(
                store,
                actor,
                "create",
                RESOURCE,
                node_type,
                resource_name=definition["label"],
                changes={"version": 1, "import_path": import_path},
                org_id=org_id,
            )
    return custom.from_row(row)


def update(
    store: DuckDBStore, org_id: str, node_type: str, actor: Actor | None, body: Any
) -> NodeDef:
    """A partial update: the body's fields replace the stored ones, the previous version is kept
    in the history, and ``version`` goes up by one."""
    _refuse_builtin(node_type, "changed")
    if not isinstance(body, dict):
        raise InvalidInputError("The body must be a JSON object", {"body": "a JSON object"})
    if body.get("node_type", node_type) != node_type:
        raise InvalidInputError(
            "node_type cannot change", {"node_type": f"must be {node_type} (the path's)"}
        )
    with store.transaction():
        old = sql.get(store, org_id, node_type)
        if old is None:
            raise NotFoundError(f"Custom node not found: {node_type}", {"node_type": node_type})
        merged = {**old.definition, "node_type": node_type, "import_path": old.import_path}
        merged.update(body)
        _, import_path, definition = custom.check(merged, registry.CATEGORY_IDS)
        changed = sorted(k for k in body if k != "node_type")
        now = utcnow()
        by = actor.email if actor is not None else None
        sql.replace(store, old, _dump(definition), import_path, by, now)
        if actor is not None:
            audit.write(
                store,
                actor,
                "update",
                RESOURCE,
                node_type,
                resource_name=definition["label"],
                changes={"version": [old.version, old.version + 1], "fields": changed},
                org_id=org_id,
            )
        new = sql.get(store, org_id, node_type)
    assert new is not None
    return custom.from_row(new)


def delete(store: DuckDBStore, org_id: str, node_type: str, actor: Actor | None) -> None:
    """Remove a custom node type and its history (403 for a built-in)."""
    _refuse_builtin(node_type, "deleted")
    with store.transaction():
        old = sql.get(store, org_id, node_type)
        if old is None:
            raise NotFoundError(f"Custom node not found: {node_type}", {"node_type": node_type})
        sql.delete(store, org_id, node_type)
        if actor is not None:
            audit.write(
                store,
                actor,
                "delete",
                RESOURCE,
                node_type,
                resource_name=old.definition.get("label"),
                changes={"version": old.version},
                org_id=org_id,
            )


def versions(store: DuckDBStore, org_id: str, node_type: str) -> dict[str, Any]:
    """A custom node's current version and the earlier ones, newest first."""
    current = sql.get(store, org_id, node_type)
    if current is None:
        _refuse_builtin(node_type, "versioned")
        raise NotFoundError(f"Custom node not found: {node_type}", {"node_type": node_type})
    items = [
        {
            "version": v.version,
            "definition": custom.to_node_def(
                v.node_type, v.import_path, v.definition, org_id=org_id, version=v.version
            ).to_api(),
            "created_by": v.created_by,
            "created_at": iso_z(v.created_at),
            "replaced_by": v.replaced_by,
            "replaced_at": iso_z(v.replaced_at),
        }
        for v in sql.versions(store, org_id, node_type)
    ]
    return {"node_type": node_type, "version": current.version, "items": items}


def _count(body: dict[str, Any], key: str) -> int:
    value = body.get(key, 0)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidInputError(f"Invalid {key}", {key: "a non-negative integer"})
    return value


def check_connection(store: DuckDBStore | None, org_id: str | None, body: Any) -> dict[str, Any]:
    """POST /nodes/validate-connection: 400 for a malformed body or an unknown node type; the
    rules' verdict (``valid``, ``errors``) otherwise."""
    from dagy.nodes.connections import validate_connection

    if not isinstance(body, dict):
        raise InvalidInputError("The body must be a JSON object", {"body": "a JSON object"})
    keys = ("source_node_type", "source_connector_id", "target_node_type", "target_connector_id")
    missing = {
        k: "required: a non-empty string"
        for k in keys
        if not isinstance(body.get(k), str) or not body[k]
    }
    if missing:
        raise InvalidInputError(f"Missing required field: {next(iter(missing))}", dict(missing))
    nodes = {}
    for side in ("source", "target"):
        node_type = body[f"{side}_node_type"]
        found = registry.lookup(node_type, store=store, org_id=org_id)
        if found is None:
            raise InvalidInputError(
                f"Unknown node type: {node_type}", {f"{side}_node_type": "unknown node type"}
            )
        nodes[side] = found
    return validate_connection(
        nodes["source"],
        body["source_connector_id"],
        nodes["target"],
        body["target_connector_id"],
        _count(body, "existing_source_connections"),
        _count(body, "existing_target_connections"),
    )

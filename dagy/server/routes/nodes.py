"""The node registry (docs/builder.md): built-in, plugin and the org's custom node types, and
POST /nodes/validate-connection.

The org: the spec's ``X-Org-Id`` header (or, on the GETs, the ``org_id`` query parameter) names
it and must be an org the caller belongs to (403 otherwise); without either, the org the
credential resolved to (its own, or ``X-Dagy-Org``) is used. The caller's role in that org is what
the route's permission is checked against.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, delete, get, post, put

from dagy.auth.identity import Identity
from dagy.errors import InvalidInputError
from dagy.nodes import registry
from dagy.nodes.model import NodeDef
from dagy.server.openapi import Body, given, required
from dagy.server.security import identity_of, origin_of, state_of
from dagy.services.accounts.audit import Actor
from dagy.services.builder import nodes

READ, WRITE = "flows.read", "flows.write"
_UNSET: Any = msgspec.UNSET


class NodeBody(Body):
    """dagy.nodes.custom.FIELDS (a test keeps the two the same); the service checks each one and
    names every problem (docs/builder.md, "Custom nodes")."""

    node_type: Any = _UNSET
    label: Any = _UNSET
    description: Any = _UNSET
    category: Any = _UNSET
    icon: Any = _UNSET
    color: Any = _UNSET
    connectors: Any = _UNSET
    config_schema: Any = _UNSET
    tags: Any = _UNSET
    import_path: Any = _UNSET
    official: Any = _UNSET
    doc = {
        "node_type": required(type="string"),
        "label": required(type="string"),
        "description": {"type": "string"},
        "category": {"type": "string"},
        "icon": {"type": "string"},
        "color": {"type": "string"},
        "connectors": {"type": "array"},
        "config_schema": {"type": "object"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "import_path": {"type": "string"},
        "official": {"type": "boolean"},
    }


class ConnectionBody(Body):
    source_node_type: str | None = None
    source_connector_id: str | None = None
    target_node_type: str | None = None
    target_connector_id: str | None = None
    existing_source_connections: Any = _UNSET  # counts; the service checks them
    existing_target_connections: Any = _UNSET
    doc = {
        "existing_source_connections": {"type": "integer", "minimum": 0},
        "existing_target_connections": {"type": "integer", "minimum": 0},
        "source_node_type": required(minLength=1),
        "source_connector_id": required(minLength=1),
        "target_node_type": required(minLength=1),
        "target_connector_id": required(minLength=1),
    }


def _org(request: Request[Any, Any, Any], permission: str, org_id: str | None = None) -> Identity:
    """The caller as a member of the requested org (``org_id`` or X-Org-Id), its role there
    checked for ``permission``."""
    wanted = org_id or request.headers.get("x-org-id") or None
    return nodes.org_identity(state_of(request).store, identity_of(request), wanted, permission)


def _listing(items: list[NodeDef]) -> dict[str, Any]:
    builtin = sum(1 for n in items if n.org_id is None)  # built-ins and plugins
    return {
        "items": [n.to_api() for n in items],
        "total": len(items),
        "builtin_count": builtin,
        "custom_count": len(items) - builtin,
    }


@get("/nodes/registry", sync_to_thread=True, opt={"permission": READ})
def list_nodes(request: Request[Any, Any, Any], org_id: str | None = None) -> dict[str, Any]:
    """Built-ins, plugins and the org's custom nodes."""
    org = _org(request, READ, org_id)
    return _listing(registry.all_nodes(state_of(request).store, org.org_id))


@get("/nodes/registry/builtin", sync_to_thread=True, opt={"permission": READ})
def list_builtin(request: Request[Any, Any, Any]) -> dict[str, Any]:
    return _listing(list(registry.builtins().values()))


@get("/nodes/registry/custom", sync_to_thread=True, opt={"permission": READ})
def list_custom(request: Request[Any, Any, Any]) -> dict[str, Any]:
    org = _org(request, READ)
    return _listing(nodes.list_custom(state_of(request).store, org.org_id))


@get("/nodes/registry/categories", sync_to_thread=True, opt={"permission": READ})
def categories(request: Request[Any, Any, Any], org_id: str | None = None) -> dict[str, Any]:
    org = _org(request, READ, org_id)
    found = registry.all_nodes(state_of(request).store, org.org_id)
    return {"categories": registry.category_counts(found)}


@get(
    "/nodes/registry/search",
    sync_to_thread=True,
    opt={"permission": READ, "params": {"q": {"required": True, "pattern": "\\S"}}},
)
def search(
    request: Request[Any, Any, Any], q: str | None = None, org_id: str | None = None
) -> dict[str, Any]:
    if q is None or not q.strip():
        raise InvalidInputError("Missing required parameter: q", {"q": "required"})
    org = _org(request, READ, org_id)
    return _listing(registry.search(q, state_of(request).store, org.org_id))


@get("/nodes/registry/{node_type:str}", sync_to_thread=True, opt={"permission": READ})
def get_node(
    request: Request[Any, Any, Any], node_type: str, org_id: str | None = None
) -> dict[str, Any]:
    org = _org(request, READ, org_id)
    return nodes.get(state_of(request).store, org.org_id, node_type).to_api()


@get("/nodes/registry/{node_type:str}/versions", sync_to_thread=True, opt={"permission": READ})
def node_versions(
    request: Request[Any, Any, Any], node_type: str, org_id: str | None = None
) -> dict[str, Any]:
    """A custom node's earlier versions, newest first (beyond the spec)."""
    org = _org(request, READ, org_id)
    return nodes.versions(state_of(request).store, org.org_id, node_type)


@post("/nodes/registry", status_code=201, sync_to_thread=True, opt={"permission": WRITE})
def create_node(request: Request[Any, Any, Any], data: NodeBody) -> dict[str, Any]:
    org = _org(request, WRITE)
    actor = Actor(org, origin_of(request))
    return nodes.create(state_of(request).store, org.org_id, actor, given(data)).to_api()


@put("/nodes/registry/{node_type:str}", sync_to_thread=True, opt={"permission": WRITE})
def update_node(request: Request[Any, Any, Any], node_type: str, data: NodeBody) -> dict[str, Any]:
    org = _org(request, WRITE)
    actor = Actor(org, origin_of(request))
    body = given(data)
    return nodes.update(state_of(request).store, org.org_id, node_type, actor, body).to_api()


@delete(
    "/nodes/registry/{node_type:str}",
    status_code=204,
    sync_to_thread=True,
    opt={"permission": WRITE},
)
def delete_node(request: Request[Any, Any, Any], node_type: str) -> Response[None]:
    org = _org(request, WRITE)
    nodes.delete(state_of(request).store, org.org_id, node_type, Actor(org, origin_of(request)))
    return Response(None, status_code=204)


@post("/nodes/validate-connection", status_code=200, sync_to_thread=True, opt={"permission": READ})
def validate_connection(request: Request[Any, Any, Any], data: ConnectionBody) -> dict[str, Any]:
    org = _org(request, READ)
    return nodes.check_connection(state_of(request).store, org.org_id, given(data))


ROUTES = [
    list_nodes,
    list_builtin,
    list_custom,
    categories,
    search,
    get_node,
    node_versions,
    create_node,
    update_node,
    delete_node,
    validate_connection,
]

"""Deployments: create or update, list, get, change version, settings, rollback, delete.

Rules live in dagy/services/catalog/deployments.py; see docs/flows.md.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, delete, get, patch, post, put

from dagy.errors import NotFoundError
from dagy.server.security import audit_request, identity_of, state_of
from dagy.services.catalog import deployments
from dagy.store.records import iso_z

UNSET = msgspec.UNSET


class DeploymentBody(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    flow_name: str
    flow_version: str | int
    environment: str | None = None
    status: str | None = None
    schedule: str | None = None
    timezone: str | None = None
    default_executor: str | None = None
    execution_mode: str | None = None
    tags: dict[str, Any] | list[str] | None = None
    dep_package_slugs: list[str] | None = None
    max_concurrent_runs: int | None = None


class VersionBody(msgspec.Struct, forbid_unknown_fields=True):
    flow_version: str | int


class RollbackBody(msgspec.Struct, forbid_unknown_fields=True):
    target_flow_version: str | int | None = None


class SettingsBody(msgspec.Struct, forbid_unknown_fields=True):
    """Only the fields present change (UNSET: not given); null or "" clears one."""

    execution_mode: str | None | msgspec.UnsetType = UNSET
    default_executor: str | None | msgspec.UnsetType = UNSET
    schedule: str | None | msgspec.UnsetType = UNSET
    tags: dict[str, Any] | None | msgspec.UnsetType = UNSET
    dep_package_slugs: list[str] | None | msgspec.UnsetType = UNSET
    max_concurrent_runs: int | None | msgspec.UnsetType = UNSET


@post("/deployments", sync_to_thread=True, opt={"permission": "flows.write"})
def upsert(request: Request[Any, Any, Any], data: DeploymentBody) -> Response[dict[str, Any]]:
    identity, store = identity_of(request), state_of(request).store
    fields = {f: getattr(data, f) for f in data.__struct_fields__ if f != "name"}
    with store.connection():
        try:
            before: str | None = deployments.get(store, identity.org_id, data.name).flow_version
        except NotFoundError:
            before = None
        deployment, created = deployments.upsert(
            store, identity.org_id, identity.email, name=data.name, **fields
        )
        audit_request(
            request,
            "create" if created else "update",
            "deployment",
            deployment.deployment_id,
            name=deployment.name,
            changes={"flow_version": [before, deployment.flow_version]},
        )
    return Response(deployments.to_body(deployment), status_code=201 if created else 200)


@get("/deployments", sync_to_thread=True, opt={"permission": "flows.read"})
def list_deployments(
    request: Request[Any, Any, Any],
    environment: str | None = None,
    limit: str | None = None,
    next_token: str | None = None,
) -> dict[str, Any]:
    rows, token = deployments.list_page(
        state_of(request).store,
        identity_of(request).org_id,
        environment=environment,
        limit=limit,
        next_token=next_token,
    )
    return {"items": [deployments.to_body(d) for d in rows], "next_token": token}


@get("/deployments/{name:str}", sync_to_thread=True, opt={"permission": "flows.read"})
def get_deployment(request: Request[Any, Any, Any], name: str) -> dict[str, Any]:
    return deployments.to_body(
        deployments.get(state_of(request).store, identity_of(request).org_id, name)
    )


@patch("/deployments/{name:str}", sync_to_thread=True, opt={"permission": "flows.write"})
def change_version(request: Request[Any, Any, Any], name: str, data: VersionBody) -> dict[str, Any]:
    identity, store = identity_of(request), state_of(request).store
    with store.connection():
        deployment, previous = deployments.set_version(
            store, identity.org_id, identity.email, name, data.flow_version
        )
        audit_request(
            request,
            "update",
            "deployment",
            deployment.deployment_id,
            name=name,
            changes={"flow_version": [previous, deployment.flow_version]},
        )
    return deployments.to_body(deployment)


@put("/deployments/{name:str}/settings", sync_to_thread=True, opt={"permission": "flows.write"})
def settings(request: Request[Any, Any, Any], name: str, data: SettingsBody) -> dict[str, Any]:
    identity, store = identity_of(request), state_of(request).store
    given = {f: getattr(data, f) for f in data.__struct_fields__ if getattr(data, f) is not UNSET}
    with store.connection():
        deployment, changes = deployments.update_settings(store, identity.org_id, name, given)
        audit_request(
            request, "update", "deployment", deployment.deployment_id, name=name, changes=changes
        )
    return deployments.to_body(deployment)


@post(
    "/deployments/{name:str}/rollback",
    status_code=200,
    sync_to_thread=True,
    opt={"permission": "flows.write"},
)
def rollback(
    request: Request[Any, Any, Any], name: str, data: RollbackBody | None = None
) -> dict[str, Any]:
    identity, store = identity_of(request), state_of(request).store
    target = data.target_flow_version if data is not None else None
    with store.connection():
        deployment, previous = deployments.rollback(
            store, identity.org_id, identity.email, name, target
        )
        audit_request(
            request,
            "update",
            "deployment",
            deployment.deployment_id,
            name=name,
            changes={"flow_version": [previous, deployment.flow_version], "rollback": True},
        )
    return {
        "deployment_name": deployment.name,
        "previous_flow_version": previous,
        "new_flow_version": deployment.flow_version,
        "rolled_back_at": iso_z(deployment.updated_at),
    }


@delete(
    "/deployments/{name:str}",
    status_code=200,
    sync_to_thread=True,
    opt={"permission": "flows.write"},
)
def delete_deployment(request: Request[Any, Any, Any], name: str) -> dict[str, Any]:
    store = state_of(request).store
    with store.connection():
        gone = deployments.delete(store, identity_of(request).org_id, name)
        audit_request(
            request,
            "delete",
            "deployment",
            gone.deployment_id,
            name=name,
            changes={"flow_name": gone.flow_name, "flow_version": gone.flow_version},
        )
    return {"status": "deleted", "deployment_name": name}


ROUTES = [
    upsert,
    list_deployments,
    get_deployment,
    change_version,
    settings,
    rollback,
    delete_deployment,
]

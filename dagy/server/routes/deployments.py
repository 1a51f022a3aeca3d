"""Deployments: create or update, list, get, change version, settings, rollback, delete.

Rules live in dagy/services/catalog/deployments.py; see docs/flows.md.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, delete, get, patch, post, put
from litestar.openapi import ResponseSpec

from dagy.server.openapi import NAME, Body
from dagy.server.security import actor_of, identity_of, state_of
from dagy.services.catalog import deployments
from dagy.store.records import iso_z

UNSET = msgspec.UNSET


class DeploymentBody(Body):
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
    doc = {
        "name": NAME,
        "flow_name": {"minLength": 1},
        "max_concurrent_runs": {"minimum": 1},
        "dep_package_slugs": {"items": {"type": "string", "minLength": 1}},
    }


class VersionBody(Body):
    flow_version: str | int


class RollbackBody(Body):
    target_flow_version: str | int | None = None


class SettingsBody(Body):
    """Only the fields present change (UNSET: not given); null or "" clears one."""

    execution_mode: str | None | msgspec.UnsetType = UNSET
    default_executor: str | None | msgspec.UnsetType = UNSET
    schedule: str | None | msgspec.UnsetType = UNSET
    tags: dict[str, Any] | None | msgspec.UnsetType = UNSET
    dep_package_slugs: list[str] | None | msgspec.UnsetType = UNSET
    max_concurrent_runs: int | None | msgspec.UnsetType = UNSET
    doc = {
        "*": {"minProperties": 1},
        "max_concurrent_runs": {"minimum": 1},
        "dep_package_slugs": {"items": {"type": "string", "minLength": 1}},
    }


@post(
    "/deployments",
    sync_to_thread=True,
    opt={"permission": "flows.write", "errors": [404]},
    responses={200: ResponseSpec(dict[str, Any], description="An existing deployment, updated")},
)
def upsert(request: Request[Any, Any, Any], data: DeploymentBody) -> Response[dict[str, Any]]:
    actor = actor_of(request)
    fields = {f: getattr(data, f) for f in data.__struct_fields__ if f != "name"}
    deployment, created = deployments.save(
        state_of(request).store, actor.org_id, actor, name=data.name, **fields
    )
    # The spec's 201 names the deployment ``name`` (the field it was created with); the other
    # routes' ``deployment_name`` is kept beside it.
    body = {**deployments.to_body(deployment), "name": deployment.name}
    return Response(body, status_code=201 if created else 200)


@get("/deployments", sync_to_thread=True, opt={"permission": "flows.read"})
def list_deployments(
    request: Request[Any, Any, Any],
    environment: str | None = None,
    limit: int | None = None,
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
    actor = actor_of(request)
    deployment, _ = deployments.set_version(
        state_of(request).store, actor.org_id, actor, name, data.flow_version
    )
    return deployments.to_body(deployment)


@put("/deployments/{name:str}/settings", sync_to_thread=True, opt={"permission": "flows.write"})
def settings(request: Request[Any, Any, Any], name: str, data: SettingsBody) -> dict[str, Any]:
    actor = actor_of(request)
    given = {f: getattr(data, f) for f in data.__struct_fields__ if getattr(data, f) is not UNSET}
    deployment, _ = deployments.update_settings(
        state_of(request).store, actor.org_id, name, given, actor=actor
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
    actor = actor_of(request)
    target = data.target_flow_version if data is not None else None
    deployment, previous = deployments.rollback(
        state_of(request).store, actor.org_id, actor, name, target
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
    actor = actor_of(request)
    deployments.delete(state_of(request).store, actor.org_id, name, actor=actor)
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

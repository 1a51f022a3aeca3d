"""Flows: register a version, list, fetch, validate, delete; and the backends runs can use.

Rules live in dagy/services/catalog/flows.py; see docs/flows.md. ``artifact_s3_uri`` is the spec's name
for any artifact URI (``s3://`` or the local store's ``file://``), stored as ``artifact_uri``.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, delete, get, post

from dagy.pipelines.problems import Problem
from dagy.server.openapi import Body
from dagy.server.readcache import cache_of
from dagy.server.security import actor_of, identity_of, state_of
from dagy.services import backends
from dagy.services.catalog import flow_specs, flows, registration
from dagy.store.flows import FlowVersion
from dagy.store.records import iso_z


class FlowBody(Body):
    flow_spec: Any
    artifact_s3_uri: str | None = None
    code_hash: str | None = None
    deployment_name: str | None = None
    schedule: str | None = None
    status: str | None = None
    default_executor: str | None = None
    namespace: str | None = None
    tags: dict[str, Any] | None = None


class ValidateBody(Body):
    flow_spec: Any = None
    pipeline_yaml: Any = None  # a YAML pipeline (docs/pipelines.md), checked and compiled


def version_body(flow: FlowVersion, *, spec: bool = True) -> dict[str, Any]:
    """GET /flows/{flow_name}/latest and /{flow_version}: the version with its full spec."""
    body: dict[str, Any] = {
        "flow_name": flow.flow_name,
        "flow_version": flow.flow_version,
        "artifact_s3_uri": flow.artifact_uri,
        "created_at": iso_z(flow.created_at),
        "updated_at": iso_z(flow.updated_at),
        "schedule": flow.schedule,
        "status": flow.status,
        "deployment_name": flow.deployment_name,
        "default_executor": flow.default_executor,
        "tags": flow.tag_map,
        "namespace": flow.namespace,
        "deployment_version": flow.deployment_version,
        "code_hash": flow.code_hash,
    }
    if spec:
        body["flow_spec"] = msgspec.json.decode(flow.flow_spec)
    return body


@post("/flows", status_code=201, sync_to_thread=True, opt={"permission": "flows.write"})
def register(request: Request[Any, Any, Any], data: FlowBody) -> dict[str, Any]:
    actor = actor_of(request)
    done = registration.register(
        state_of(request).store,
        actor.org_id,
        actor,
        flows.parse_spec(data.flow_spec),
        artifact_uri=data.artifact_s3_uri,
        code_hash=data.code_hash,
        namespace=data.namespace,
        tags=data.tags,
        status=data.status,
        default_executor=data.default_executor,
        deployment_name=data.deployment_name,
        schedule=data.schedule,
    )
    flow = done.flow
    return {
        "flow_name": flow.flow_name,
        "flow_version": flow.flow_version,
        "namespace": flow.namespace,
        "tags": flow.tag_map,
        "created_at": iso_z(flow.created_at),
        "status": flow.status,
        "deployment_version": flow.deployment_version,
        "deployment_name": flow.deployment_name,
    }


@get("/flows", opt={"permission": "flows.read"})
async def list_flows(
    request: Request[Any, Any, Any], limit: int | None = None, next_token: str | None = None
) -> dict[str, Any]:
    def compute() -> dict[str, Any]:
        rows, token = flows.list_page(
            state_of(request).store, identity_of(request).org_id, limit=limit, next_token=next_token
        )
        return {"items": [flows.to_item(row) for row in rows], "next_token": token}

    return await cache_of(request).answer(request, compute)


@post("/flows/validate", status_code=200, sync_to_thread=True, opt={"permission": "flows.read"})
def validate(request: Request[Any, Any, Any], data: ValidateBody) -> dict[str, Any]:
    """Never a 400 for a bad spec: that is the answer, ``valid`` false with every problem. A
    ``pipeline_yaml`` is checked against the org's node types; its answer adds ``problems``
    (each ``{path, message, node, field}``; ``errors`` are their ``<path>: <message>`` lines)."""
    if data.pipeline_yaml is not None:
        return _validate_pipeline(request, data)
    if data.flow_spec is None:
        return {"valid": False, "errors": ["flow_spec is required"]}
    spec, errors = flow_specs.check_spec(data.flow_spec)
    if spec is None:
        return {"valid": False, "errors": errors}
    return {"valid": True, "errors": [], "flow": _summary(spec)}


def _validate_pipeline(request: Request[Any, Any, Any], data: ValidateBody) -> dict[str, Any]:
    from dagy.nodes.registry import lookup_for
    from dagy.services.catalog import pipelines

    if data.flow_spec is not None:
        message = "give flow_spec or pipeline_yaml, not both"
        return {"valid": False, "errors": [message], "problems": [Problem("", message).to_api()]}
    if not isinstance(data.pipeline_yaml, str):
        message = "pipeline_yaml must be a string (the YAML text)"
        return {"valid": False, "errors": [message], "problems": [Problem("", message).to_api()]}
    store, org_id = state_of(request).store, identity_of(request).org_id
    spec, problems = pipelines.check_yaml(data.pipeline_yaml, lookup=lookup_for(store, org_id))
    body: dict[str, Any] = {
        "valid": spec is not None,
        "errors": [p.line() for p in problems],
        "problems": [p.to_api() for p in problems],
    }
    if spec is not None:
        body["flow"] = _summary(spec)
    return body


def _summary(spec: Any) -> dict[str, Any]:
    return {
        "flow_name": spec.flow_name,
        "flow_version": spec.flow_version,
        "tasks": len(spec.tasks),
        "task_runs": len(spec.task_runs),
        "parameters": sorted(spec.parameter_schema or spec.parameters),
    }


@get("/flows/{flow_name:str}/latest", sync_to_thread=True, opt={"permission": "flows.read"})
def latest(request: Request[Any, Any, Any], flow_name: str) -> dict[str, Any]:
    flow = flows.latest(state_of(request).store, identity_of(request).org_id, flow_name)
    return version_body(flow)


@get("/flows/{flow_name:str}/versions", sync_to_thread=True, opt={"permission": "flows.read"})
def versions(request: Request[Any, Any, Any], flow_name: str) -> dict[str, Any]:
    found = flows.versions(state_of(request).store, identity_of(request).org_id, flow_name)
    return {
        "flow_name": flow_name,
        "items": [
            {
                "flow_version": f.flow_version,
                "deployment_version": f.deployment_version,
                "artifact_s3_uri": f.artifact_uri,
                "status": f.status,
                "created_at": iso_z(f.created_at),
                "updated_at": iso_z(f.updated_at),
            }
            for f in found
        ],
    }


@get(
    "/flows/{flow_name:str}/{flow_version:str}",
    sync_to_thread=True,
    opt={"permission": "flows.read"},
)
def get_version(
    request: Request[Any, Any, Any], flow_name: str, flow_version: str
) -> dict[str, Any]:
    flow = flows.get_version(
        state_of(request).store, identity_of(request).org_id, flow_name, flow_version
    )
    return version_body(flow)


@delete(
    "/flows/{flow_name:str}",
    status_code=200,
    sync_to_thread=True,
    opt={"permission": "flows.write"},
)
def delete_flow(request: Request[Any, Any, Any], flow_name: str) -> dict[str, Any]:
    state, actor = state_of(request), actor_of(request)
    flows.delete(state.store, state.paths, actor.org_id, flow_name, actor=actor)
    return {"status": "deleted", "flow_name": flow_name}


@get("/backends", sync_to_thread=True, opt={"permission": "flows.read"})
def list_backends() -> list[dict[str, Any]]:
    return backends.installed()


ROUTES = [register, list_flows, validate, latest, versions, get_version, delete_flow, list_backends]

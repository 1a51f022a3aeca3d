"""Flow versions registered with the API: validate, register, look up.

A flow version is a FlowSpec (what `flow.build()` returns, what `dagy build` zips) plus where its
code lives: an artifact in the artifact store (``artifact_uri``), or — for flows registered on the
machine that runs them — the spec's own ``entrypoint`` path.
"""

from __future__ import annotations

import json
from typing import Any

from dagy.errors import DependencyCycleError, InvalidInputError, NotFoundError
from dagy.sdk.spec import FlowSpec
from dagy.store import flows as sql
from dagy.store.duckdb_store import DuckDBStore
from dagy.store.flows import FlowVersion
from dagy.store.records import utcnow

FLOW_STATUSES = ("active", "inactive")


def parse_spec(raw: Any, *, field: str = "flow_spec") -> FlowSpec:
    """A FlowSpec from an API body (object or JSON text); 400 naming what is wrong."""
    from dagy.engine.runner import validate

    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            raise InvalidInputError(
                "Invalid flow specification: not JSON", {field: "not JSON"}
            ) from None
    if not isinstance(raw, dict):
        raise InvalidInputError("Invalid flow specification", {field: "must be an object"})
    try:
        spec = FlowSpec.from_dict(raw)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise InvalidInputError(
            f"Invalid flow specification: {exc.__class__.__name__}: {exc}", {field: str(exc)}
        ) from None
    if not spec.flow_name or not isinstance(spec.flow_name, str):
        raise InvalidInputError("Invalid flow specification", {field: "flow_name is required"})
    if not spec.flow_version or not isinstance(spec.flow_version, str):
        raise InvalidInputError("Invalid flow specification", {field: "flow_version is required"})
    try:
        validate(spec)
    except DependencyCycleError as exc:
        raise InvalidInputError(f"Invalid flow specification: {exc}", {field: str(exc)}) from None
    return spec


def check_tags(tags: Any, *, field: str = "tags") -> dict[str, Any]:
    if tags is None:
        return {}
    if not isinstance(tags, dict) or not all(isinstance(k, str) for k in tags):
        raise InvalidInputError("Invalid tags", {field: "an object of string keys"})
    return tags


def register_version(
    store: DuckDBStore,
    org_id: str,
    spec: FlowSpec,
    *,
    artifact_uri: str | None = None,
    code_hash: str | None = None,
    namespace: str | None = None,
    tags: dict[str, Any] | None = None,
    status: str = "active",
    default_executor: str | None = None,
    deployment_name: str | None = None,
    schedule: str | None = None,
) -> tuple[FlowVersion, bool]:
    """Register (or re-register) ``spec.flow_name:spec.flow_version``; returns (row, created).

    Re-registering an existing version replaces its spec and artifact (a redeploy of the same
    version with new code) and keeps its ``deployment_version``. Registering makes the version the
    flow's active one when ``status`` is active.
    """
    status = (status or "active").lower()
    if status not in FLOW_STATUSES:
        raise InvalidInputError(
            f"Invalid status: {status!r}", {"status": f"one of {', '.join(FLOW_STATUSES)}"}
        )
    now = utcnow()
    with store.connection():
        existing = sql.get_flow_version(store, org_id, spec.flow_name, spec.flow_version)
        if existing is None:
            flow = FlowVersion(
                org_id=org_id,
                flow_name=spec.flow_name,
                flow_version=spec.flow_version,
                deployment_version=sql.next_deployment_version(store, org_id, spec.flow_name),
                flow_spec=spec.to_json(),
                artifact_uri=artifact_uri,
                code_hash=code_hash,
                namespace=namespace,
                tags=json.dumps(tags or {}),
                status=status,
                default_executor=default_executor,
                deployment_name=deployment_name,
                schedule=schedule,
                created_at=now,
                updated_at=now,
            )
            sql.insert_flow_version(store, flow)
        else:
            changes: dict[str, Any] = {
                "flow_spec": spec.to_json(),
                "status": status,
                "updated_at": now,
            }
            for key, value in (
                ("artifact_uri", artifact_uri),
                ("code_hash", code_hash),
                ("namespace", namespace),
                ("tags", json.dumps(tags) if tags is not None else None),
                ("default_executor", default_executor),
                ("deployment_name", deployment_name),
                ("schedule", schedule),
            ):
                if value is not None:
                    changes[key] = value
            sql.update_flow_version(store, org_id, spec.flow_name, spec.flow_version, **changes)
            flow = sql.get_flow_version(store, org_id, spec.flow_name, spec.flow_version)  # type: ignore[assignment]
        if status == "active":
            sql.set_active_version(store, org_id, spec.flow_name, spec.flow_version)
            flow.status = "active"
    return flow, existing is None


def get_version(store: DuckDBStore, org_id: str, flow_name: str, flow_version: str) -> FlowVersion:
    flow = sql.get_flow_version(store, org_id, flow_name, str(flow_version))
    if flow is None:
        raise NotFoundError(f"Flow version not found: {flow_name}:{flow_version}")
    return flow


def latest(store: DuckDBStore, org_id: str, flow_name: str) -> FlowVersion:
    flow = sql.latest_flow_version(store, org_id, flow_name)
    if flow is None:
        raise NotFoundError(f"Flow not found: {flow_name}")
    return flow

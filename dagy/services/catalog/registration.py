"""Registering a flow version as POST /flows does: the version, and with ``deployment_name`` the
deployment pointed at it, with their audit rows, in one transaction.

Apart from flows.py so that flows do not import deployments (deployments import flows).
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass
from typing import Any

from dagy.errors import InvalidInputError
from dagy.sdk.spec import FlowSpec
from dagy.services.accounts import audit
from dagy.services.accounts.audit import Actor
from dagy.services.catalog import checks, deployments, flows
from dagy.store.duckdb_store import DuckDBStore
from dagy.store.flows import Deployment, FlowVersion


@dataclass(frozen=True)
class Registered:
    """What POST /flows did: the flow version, and the deployment it pointed (if it named one)."""

    flow: FlowVersion
    created: bool
    deployment: Deployment | None = None
    deployment_created: bool = False


def register(
    store: DuckDBStore,
    org_id: str,
    actor: Actor | None,
    spec: FlowSpec,
    *,
    artifact_uri: str | None = None,
    code_hash: str | None = None,
    namespace: str | None = None,
    tags: dict[str, Any] | None = None,
    status: str | None = None,
    default_executor: str | None = None,
    deployment_name: str | None = None,
    schedule: str | None = None,
) -> Registered:
    """Register a version as POST /flows does: checked fields, and with ``deployment_name`` the
    deployment created or pointed at it (``status`` applies to both). With ``actor``, the audit
    rows of both in the same transaction."""
    status = (status or "active").lower()
    if deployment_name is not None:
        checks.check_name(deployment_name, field="deployment_name")
    schedule = checks.check_schedule(schedule)
    default_executor = checks.check_executor(default_executor)
    if artifact_uri is not None and not urllib.parse.urlsplit(artifact_uri).scheme:
        raise InvalidInputError(
            f"Invalid artifact_s3_uri: {artifact_uri!r}",
            {"artifact_s3_uri": "a URI (s3://bucket/key, file:///path)"},
        )
    if namespace is not None and (len(namespace) > 255 or any(ord(c) < 32 for c in namespace)):
        raise InvalidInputError("Invalid namespace", {"namespace": "at most 255 characters"})
    with store.transaction():
        flow, created = flows.register_version(
            store,
            org_id,
            spec,
            artifact_uri=artifact_uri,
            code_hash=code_hash,
            namespace=namespace,
            tags=checks.check_tag_map(tags) if tags is not None else None,
            status=status,
            default_executor=default_executor,
            deployment_name=deployment_name,
            schedule=schedule,
        )
        if actor is not None:
            audit.write(
                store,
                actor,
                "create" if created else "update",
                "flow",
                flow.flow_name,
                resource_name=flow.flow_name,
                changes={
                    "flow_version": flow.flow_version,
                    "deployment_version": flow.deployment_version,
                    "artifact_uri": flow.artifact_uri,
                    "status": flow.status,
                },
                org_id=org_id,
            )
        if deployment_name is None:
            return Registered(flow, created)
        deployment, deployment_created = deployments.upsert(
            store,
            org_id,
            actor.email if actor is not None else None,
            name=deployment_name,
            flow_name=flow.flow_name,
            flow_version=flow.flow_version,
            status=status,
            schedule=schedule,
            default_executor=default_executor,
        )
        if actor is not None:
            audit.write(
                store,
                actor,
                "create" if deployment_created else "update",
                "deployment",
                deployment.deployment_id,
                resource_name=deployment.name,
                changes={"flow_version": flow.flow_version},
                org_id=org_id,
            )
        return Registered(flow, created, deployment, deployment_created)

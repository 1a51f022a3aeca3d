"""Deployments between environments: what differs (``diff``), and copying one forward
(``promote``), recording where it came from."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dagy.errors import ConflictError, InvalidInputError
from dagy.services.accounts import audit
from dagy.services.accounts.audit import Actor
from dagy.services.catalog import deployments
from dagy.services.vault.environments import get, may_change
from dagy.store import environments as sql
from dagy.store import flows as flows_sql
from dagy.store.duckdb_store import DuckDBStore
from dagy.store.flows import Deployment
from dagy.store.records import utcnow


@dataclass(frozen=True)
class Diff:
    only_in_source: list[Deployment]
    only_in_target: list[Deployment]
    version_differs: list[tuple[Deployment, Deployment]]


def diff(store: DuckDBStore, org_id: str, source_env: str, target_env: str) -> Diff:
    """Deployments of one environment against another's, paired by flow: first a target promoted
    from the source deployment, then any other of the same flow."""
    with store.connection():
        get(store, org_id, source_env)
        get(store, org_id, target_env)
        left = sql.deployments_in(store, org_id, source_env)
        right = sql.deployments_in(store, org_id, target_env)
    matched: dict[str, Deployment] = {}
    taken: set[str] = set()
    for lineage in (True, False):
        for s in left:
            if s.name in matched:
                continue
            for t in right:
                if (
                    t.name not in taken
                    and t.flow_name == s.flow_name
                    and (not lineage or t.promoted_from_deployment == s.name)
                ):
                    matched[s.name] = t
                    taken.add(t.name)
                    break
    return Diff(
        [s for s in left if s.name not in matched],
        [t for t in right if t.name not in taken],
        [
            (s, matched[s.name])
            for s in left
            if s.name in matched and matched[s.name].flow_version != s.flow_version
        ],
    )


@dataclass(frozen=True)
class Promotion:
    deployment: Deployment
    created: bool
    previous_version: str | None


def promote(
    store: DuckDBStore,
    actor: Actor,
    *,
    source_deployment: Any,
    target_environment: Any,
    new_deployment_name: Any = None,
    flow_version: Any = None,
) -> Promotion:
    """Copy a deployment's flow, version and settings to a deployment of another environment
    (created, or updated when it is already there), recording where it was promoted from."""
    for field, value in (
        ("source_deployment", source_deployment),
        ("target_environment", target_environment),
    ):
        if not isinstance(value, str) or not value:
            raise InvalidInputError(f"Missing required field: {field}", {field: "required"})
    for field, value in (
        ("new_deployment_name", new_deployment_name),
        ("flow_version", flow_version),
    ):
        if value is not None and (not isinstance(value, str) or not value):
            raise InvalidInputError(f"Invalid {field}", {field: "a non-empty string"})
    org_id, now = actor.org_id, utcnow()
    with store.transaction():
        source = deployments.get(store, org_id, source_deployment)
        target_env = get(store, org_id, target_environment)
        may_change(target_env, actor.role)
        if source.environment == target_env.env_name:
            raise InvalidInputError(
                f"Deployment {source.name} is already in environment {target_env.env_name}",
                {"target_environment": "the source deployment's own environment"},
            )
        name = new_deployment_name or _target_name(source, target_env.env_name)
        existing = flows_sql.get_deployment(store, org_id, name)
        if existing is not None and existing.environment != target_env.env_name:
            raise ConflictError(
                f"Deployment {name} belongs to environment {existing.environment or '(none)'}",
                {"new_deployment_name": "a deployment of another environment"},
            )
        _, created = deployments.upsert(
            store,
            org_id,
            actor.email,
            name=name,
            flow_name=source.flow_name,
            flow_version=flow_version or source.flow_version,
            environment=target_env.env_name,
            schedule=source.schedule,
            timezone=source.timezone,
            default_executor=source.default_executor,
            execution_mode=source.execution_mode,
            tags=source.tag_map,
            dep_package_slugs=source.slugs,
            max_concurrent_runs=source.max_concurrent_runs,
        )
        flows_sql.update_deployment(
            store,
            org_id,
            name,
            promoted_from_env=source.environment,
            promoted_from_deployment=source.name,
            promoted_at=now,
        )
        d = deployments.get(store, org_id, name)
        previous = existing.flow_version if existing else None
        audit.write(
            store,
            actor,
            "create" if created else "update",
            "deployment",
            d.deployment_id,
            resource_name=d.name,
            changes={
                "flow_version": [previous, d.flow_version],
                "environment": [None if created else d.environment, d.environment],
                "promoted_from_env": [None, d.promoted_from_env],
                "promoted_from_deployment": [None, d.promoted_from_deployment],
            },
        )
    return Promotion(d, created, previous)


def _target_name(source: Deployment, target_env: str) -> str:
    """``my-flow-staging`` → ``my-flow-production``; ``my-flow`` → ``my-flow-production``."""
    suffix = f"-{source.environment}" if source.environment else None
    base = source.name[: -len(suffix)] if suffix and source.name.endswith(suffix) else source.name
    return f"{base}-{target_env}"

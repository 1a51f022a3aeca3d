"""Deployments: a name that points at one version of a flow, plus how and when to run it.

Pointing a deployment at a version (create, update, PATCH, rollback) records the change in
``deployment_history`` and, while the deployment is active, makes that version its flow's active
one. See docs/flows.md.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from dagy.auth import secrets as ids
from dagy.errors import InvalidInputError, NotFoundError
from dagy.services import pagination
from dagy.services.accounts import audit
from dagy.services.accounts.audit import Actor
from dagy.services.catalog import flows
from dagy.services.catalog.checks import (
    DEPLOYMENT_STATUSES,
    check_execution_mode,
    check_executor,
    check_max_runs,
    check_name,
    check_schedule,
    check_slugs,
    check_tags,
    check_timezone,
)
from dagy.store import flows as sql
from dagy.store.duckdb_store import DuckDBStore
from dagy.store.flows import Deployment, FlowVersion
from dagy.store.records import iso_z, utcnow

# PUT /deployments/{name}/settings: the fields it changes (at least one must be given).
SETTINGS = (
    "execution_mode",
    "default_executor",
    "schedule",
    "tags",
    "dep_package_slugs",
    "max_concurrent_runs",
)


def _time(value: Any) -> str | None:
    return iso_z(value) if value is not None else None


def to_body(d: Deployment) -> dict[str, Any]:
    """One deployment as GET /deployments/{name} shows it (every deployments route returns it)."""
    return {
        "deployment_id": d.deployment_id,
        "deployment_name": d.name,
        "flow_name": d.flow_name,
        "flow_version": d.flow_version,
        "environment": d.environment,
        "status": d.status,
        "schedule": d.schedule,
        "timezone": d.timezone,
        "default_executor": d.default_executor,
        "execution_mode": d.execution_mode,
        "tags": d.tag_map,
        "dep_package_slugs": d.slugs,
        "max_concurrent_runs": d.max_concurrent_runs,
        "created_at": iso_z(d.created_at),
        "updated_at": iso_z(d.updated_at),
        "promoted_from_env": d.promoted_from_env,
        "promoted_from_deployment": d.promoted_from_deployment,
        "promoted_at": _time(d.promoted_at),
    }


def _audit(
    store: DuckDBStore,
    actor: Actor | None,
    action: str,
    deployment: Deployment,
    changes: dict[str, Any],
) -> None:
    if actor is not None:
        audit.write(
            store,
            actor,
            action,
            "deployment",
            deployment.deployment_id,
            resource_name=deployment.name,
            changes=changes,
            org_id=deployment.org_id,
        )


def get(store: DuckDBStore, org_id: str, name: str) -> Deployment:
    deployment = sql.get_deployment(store, org_id, name)
    if deployment is None:
        raise NotFoundError(f"Deployment not found: {name}")
    return deployment


def list_page(
    store: DuckDBStore,
    org_id: str,
    *,
    environment: str | None = None,
    limit: Any = None,
    next_token: str | None = None,
) -> tuple[list[Deployment], str | None]:
    """One page of the org's deployments by name, optionally of one environment."""
    size = pagination.clamp_limit(limit, default=100, maximum=500)
    rows = sql.deployments_page(
        store,
        org_id,
        environment=environment or None,
        after=flows.name_position(next_token),
        limit=size + 1,
    )
    return pagination.page(rows, size, lambda d: [d.name])


def save(
    store: DuckDBStore, org_id: str, actor: Actor, *, name: str, **fields: Any
) -> tuple[Deployment, bool]:
    """POST /deployments: ``upsert`` and its audit row (the version before and after) in one
    transaction; returns (deployment, created)."""
    with store.transaction():
        before = sql.get_deployment(store, org_id, name) if isinstance(name, str) else None
        deployment, created = upsert(store, org_id, actor.email, name=name, **fields)
        previous = before.flow_version if before is not None else None
        _audit(
            store,
            actor,
            "create" if created else "update",
            deployment,
            {"flow_version": [previous, deployment.flow_version]},
        )
    return deployment, created


def target(store: DuckDBStore, org_id: str, name: str) -> tuple[Deployment, FlowVersion]:
    """A deployment and the flow version it runs: the version's ``artifact_uri`` names the
    artifact (``file://`` in this home's artifact store after a local `dagy deploy`, or
    ``s3://``), its ``flow_spec`` and ``code_hash`` what was built. 404 for either unknown."""
    with store.connection():
        deployment = get(store, org_id, name)
        return deployment, flows.get_version(
            store, org_id, deployment.flow_name, deployment.flow_version
        )


def upsert(
    store: DuckDBStore,
    org_id: str,
    actor_email: str | None,
    *,
    name: str,
    flow_name: str,
    flow_version: str | int,
    environment: str | None = None,
    status: str | None = None,
    schedule: str | None = None,
    timezone: str | None = None,
    default_executor: str | None = None,
    execution_mode: str | None = None,
    tags: dict[str, Any] | list[str] | None = None,
    dep_package_slugs: list[str] | None = None,
    max_concurrent_runs: int | None = None,
) -> tuple[Deployment, bool]:
    """Create the deployment or point it at another version; returns (deployment, created).

    Only the fields given (not None) change on an update; ``schedule`` "" removes the schedule.
    The flow version must exist (404); an int ``flow_version`` is its registration number.
    No audit row: ``save`` (the API) and the callers that build on it (a deploy, a promotion)
    write their own, naming what they did.
    """
    check_name(name)
    execution_mode = check_execution_mode(execution_mode)
    clear_schedule = schedule == ""
    schedule = check_schedule(schedule)
    if timezone is not None:
        timezone = check_timezone(timezone)
    default_executor = check_executor(default_executor)
    tag_map = check_tags(tags) if tags is not None else None
    if dep_package_slugs is not None:
        dep_package_slugs = check_slugs(dep_package_slugs)
    if status is not None:
        status = status.lower()
        if status not in DEPLOYMENT_STATUSES:
            raise InvalidInputError(
                f"Invalid status: {status!r}",
                {"status": f"one of {', '.join(DEPLOYMENT_STATUSES)}"},
            )
    max_concurrent_runs = check_max_runs(max_concurrent_runs)
    if not isinstance(flow_name, str) or not flow_name:
        raise InvalidInputError("flow_name is required", {"flow_name": "required"})
    now = utcnow()
    with store.connection():
        version = flows.resolve_version(store, org_id, flow_name, flow_version).flow_version
        existing = sql.get_deployment(store, org_id, name)
        if existing is None:
            deployment = Deployment(
                deployment_id=ids.new_id("deploy"),
                org_id=org_id,
                name=name,
                flow_name=flow_name,
                flow_version=version,
                environment=environment,
                status=status or "active",
                schedule=schedule,
                timezone=timezone,
                default_executor=default_executor,
                execution_mode=execution_mode,
                tags=json.dumps(tag_map or {}),
                dep_package_slugs=json.dumps(dep_package_slugs or []),
                max_concurrent_runs=max_concurrent_runs,
                created_at=now,
                updated_at=now,
            )
            sql.insert_deployment(store, deployment)
            sql.add_history(store, org_id, name, version, None, "create", actor_email, now)
            _activate(store, deployment)
            _sync_schedule(store, deployment)
            return deployment, True
        if existing.flow_name != flow_name:
            raise InvalidInputError(
                f"Deployment {name} runs flow {existing.flow_name}, not {flow_name}",
                {"flow_name": "does not match the deployment's flow"},
            )
        changes: dict[str, Any] = {"flow_version": version, "updated_at": now}
        for key, value in (
            ("environment", environment),
            ("status", status),
            ("schedule", schedule),
            ("timezone", timezone),
            ("default_executor", default_executor),
            ("execution_mode", execution_mode),
            ("tags", json.dumps(tag_map) if tag_map is not None else None),
            (
                "dep_package_slugs",
                json.dumps(dep_package_slugs) if dep_package_slugs is not None else None,
            ),
            ("max_concurrent_runs", max_concurrent_runs),
        ):
            if value is not None:
                changes[key] = value
        if clear_schedule:
            changes["schedule"] = None
        sql.update_deployment(store, org_id, name, **changes)
        if version != existing.flow_version:
            sql.add_history(
                store, org_id, name, version, existing.flow_version, "update", actor_email, now
            )
        updated = get(store, org_id, name)
        if version != existing.flow_version or status is not None:
            _activate(store, updated)
        _sync_schedule(store, updated)
        return updated, False


def _sync_schedule(store: DuckDBStore, deployment: Deployment) -> None:
    """The deployment's ``schedule`` setting is its schedule ``deployment:<name>``."""
    from dagy.services.triggers import deployment_schedules

    deployment_schedules.sync_deployment(store, deployment)


def _activate(store: DuckDBStore, deployment: Deployment) -> None:
    """An active deployment's version becomes its flow's active version (the others inactive)."""
    if deployment.status == "active":
        sql.set_active_version(
            store, deployment.org_id, deployment.flow_name, deployment.flow_version
        )


def set_version(
    store: DuckDBStore,
    org_id: str,
    actor: Actor | None,
    name: str,
    flow_version: Any,
    *,
    action: str = "patch",
) -> tuple[Deployment, str]:
    """Point the deployment at another version of its flow; returns (deployment, previous
    version). 404 for an unknown deployment or version; the same version changes nothing (but
    is audited, as the API always was)."""
    actor_email = actor.email if actor is not None else None
    changes: dict[str, Any] = {"rollback": True} if action == "rollback" else {}
    with store.transaction():
        deployment = get(store, org_id, name)
        previous = deployment.flow_version
        version = flows.resolve_version(store, org_id, deployment.flow_name, flow_version)
        if version.flow_version == previous:
            _audit(store, actor, "update", deployment, {"flow_version": [previous, previous]})
            return deployment, previous
        now = utcnow()
        sql.update_deployment(
            store, org_id, name, flow_version=version.flow_version, updated_at=now
        )
        sql.add_history(
            store, org_id, name, version.flow_version, previous, action, actor_email, now
        )
        updated = get(store, org_id, name)
        _activate(store, updated)
        _audit(
            store,
            actor,
            "update",
            updated,
            {"flow_version": [previous, updated.flow_version], **changes},
        )
    return updated, previous


def rollback(
    store: DuckDBStore, org_id: str, actor: Actor | None, name: str, target: Any = None
) -> tuple[Deployment, str]:
    """Back to ``target``, or (None) to the version the deployment ran before its current one;
    returns (deployment, previous version). 400 when there is nothing to roll back to."""
    with store.connection():
        deployment = get(store, org_id, name)
        if target is None or target == "":
            last = sql.last_history(store, org_id, name)
            target = last.previous_version if last is not None else None
            if target is None or target == deployment.flow_version:
                raise InvalidInputError(
                    f"Nothing to roll back to: deployment {name} has run no other version",
                    {"target_flow_version": "no previous version in the deployment's history"},
                )
        return set_version(store, org_id, actor, name, target, action="rollback")


def update_settings(
    store: DuckDBStore,
    org_id: str,
    name: str,
    settings: dict[str, Any],
    *,
    actor: Actor | None = None,
) -> tuple[Deployment, dict[str, list[Any]]]:
    """Change only the settings given (None or "" clears one); returns (deployment, changes as
    ``{field: [before, after]}``). 400 when none is given or one is invalid."""
    unknown = sorted(set(settings) - set(SETTINGS))
    if unknown:
        raise InvalidInputError(f"Unknown setting: {unknown[0]}", dict.fromkeys(unknown, "unknown"))
    if not settings:
        raise InvalidInputError(
            "No settings fields provided", {"settings": f"give one of {', '.join(SETTINGS)}"}
        )
    checks: dict[str, Callable[[Any], Any]] = {
        "execution_mode": check_execution_mode,
        "default_executor": check_executor,
        "schedule": check_schedule,
        "tags": lambda v: check_tags(v if v is not None else {}),
        "dep_package_slugs": check_slugs,
        "max_concurrent_runs": check_max_runs,
    }
    wanted = {key: checks[key](value) for key, value in settings.items()}
    with store.transaction():
        before = get(store, org_id, name)
        current = {**_settings_of(before)}
        sql.update_deployment(
            store,
            org_id,
            name,
            updated_at=utcnow(),
            **{
                k: json.dumps(v) if k in ("tags", "dep_package_slugs") else v
                for k, v in wanted.items()
            },
        )
        after = get(store, org_id, name)
        _sync_schedule(store, after)
        changes = {k: [current[k], v] for k, v in _settings_of(after).items() if current[k] != v}
        _audit(store, actor, "update", after, changes)
    return after, changes


def _settings_of(deployment: Deployment) -> dict[str, Any]:
    return {
        "execution_mode": deployment.execution_mode,
        "default_executor": deployment.default_executor,
        "schedule": deployment.schedule,
        "tags": deployment.tag_map,
        "dep_package_slugs": deployment.slugs,
        "max_concurrent_runs": deployment.max_concurrent_runs,
    }


def delete(store: DuckDBStore, org_id: str, name: str, *, actor: Actor | None = None) -> Deployment:
    """The deployment, its history and its schedules (its runs stay); 404 when unknown."""
    from dagy.store import schedules

    with store.transaction():
        deployment = get(store, org_id, name)
        sql.delete_deployment(store, org_id, name)
        schedules.delete_of_deployment(store, org_id, name)
        _audit(
            store,
            actor,
            "delete",
            deployment,
            {"flow_name": deployment.flow_name, "flow_version": deployment.flow_version},
        )
    return deployment

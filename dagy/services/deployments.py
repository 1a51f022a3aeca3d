"""Deployments: a name that points at one version of a flow, plus how and when to run it."""

from __future__ import annotations

import json
import re
from typing import Any

from dagy.auth import secrets as ids
from dagy.errors import InvalidInputError, NotFoundError
from dagy.services import flows
from dagy.store import flows as sql
from dagy.store.duckdb_store import DuckDBStore
from dagy.store.flows import Deployment
from dagy.store.records import utcnow

EXECUTION_MODES = (
    "nano",
    "micro",
    "small",
    "medium",
    "large",
    "xlarge",
    "in-process",
    "task-isolated",
)
DEPLOYMENT_STATUSES = ("active", "inactive", "paused")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def check_name(name: Any, *, field: str = "name") -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidInputError(
            f"Invalid deployment name: {name!r}",
            {field: "1-128 letters, digits, '.', '_' or '-', starting with a letter or digit"},
        )
    return name


def check_execution_mode(mode: Any) -> str | None:
    if mode is None or mode == "":
        return None
    if mode not in EXECUTION_MODES:
        raise InvalidInputError(
            f"Invalid execution_mode: {mode!r}",
            {"execution_mode": f"one of {', '.join(EXECUTION_MODES)}"},
        )
    return str(mode)


def check_slugs(slugs: Any) -> list[str]:
    if slugs is None:
        return []
    if not isinstance(slugs, list) or not all(isinstance(s, str) and s for s in slugs):
        raise InvalidInputError(
            "Invalid dep_package_slugs", {"dep_package_slugs": "a list of strings"}
        )
    return slugs


def get(store: DuckDBStore, org_id: str, name: str) -> Deployment:
    deployment = sql.get_deployment(store, org_id, name)
    if deployment is None:
        raise NotFoundError(f"Deployment not found: {name}")
    return deployment


def upsert(
    store: DuckDBStore,
    org_id: str,
    actor_email: str | None,
    *,
    name: str,
    flow_name: str,
    flow_version: str,
    environment: str | None = None,
    status: str | None = None,
    schedule: str | None = None,
    timezone: str | None = None,
    default_executor: str | None = None,
    execution_mode: str | None = None,
    tags: dict[str, Any] | None = None,
    dep_package_slugs: list[str] | None = None,
    max_concurrent_runs: int | None = None,
) -> tuple[Deployment, bool]:
    """Create the deployment or point it at another version; returns (deployment, created).

    Only the fields given (not None) change on an update. The flow version must exist (404).
    """
    check_name(name)
    flow_version = str(flow_version)
    execution_mode = check_execution_mode(execution_mode)
    if tags is not None:
        tags = flows.check_tags(tags)
    if dep_package_slugs is not None:
        dep_package_slugs = check_slugs(dep_package_slugs)
    if status is not None:
        status = status.lower()
        if status not in DEPLOYMENT_STATUSES:
            raise InvalidInputError(
                f"Invalid status: {status!r}",
                {"status": f"one of {', '.join(DEPLOYMENT_STATUSES)}"},
            )
    if max_concurrent_runs is not None and (
        not isinstance(max_concurrent_runs, int) or max_concurrent_runs < 1
    ):
        raise InvalidInputError(
            "Invalid max_concurrent_runs", {"max_concurrent_runs": "a positive integer"}
        )
    now = utcnow()
    with store.connection():
        flows.get_version(store, org_id, flow_name, flow_version)
        existing = sql.get_deployment(store, org_id, name)
        if existing is None:
            deployment = Deployment(
                deployment_id=ids.new_id("deploy"),
                org_id=org_id,
                name=name,
                flow_name=flow_name,
                flow_version=flow_version,
                environment=environment,
                status=status or "active",
                schedule=schedule or None,
                timezone=timezone,
                default_executor=default_executor,
                execution_mode=execution_mode,
                tags=json.dumps(tags or {}),
                dep_package_slugs=json.dumps(dep_package_slugs or []),
                max_concurrent_runs=max_concurrent_runs,
                created_at=now,
                updated_at=now,
            )
            sql.insert_deployment(store, deployment)
            sql.add_history(store, org_id, name, flow_version, None, "create", actor_email, now)
            return deployment, True
        if existing.flow_name != flow_name:
            raise InvalidInputError(
                f"Deployment {name} runs flow {existing.flow_name}, not {flow_name}",
                {"flow_name": "does not match the deployment's flow"},
            )
        changes: dict[str, Any] = {"flow_version": flow_version, "updated_at": now}
        for key, value in (
            ("environment", environment),
            ("status", status),
            ("schedule", schedule),
            ("timezone", timezone),
            ("default_executor", default_executor),
            ("execution_mode", execution_mode),
            ("tags", json.dumps(tags) if tags is not None else None),
            (
                "dep_package_slugs",
                json.dumps(dep_package_slugs) if dep_package_slugs is not None else None,
            ),
            ("max_concurrent_runs", max_concurrent_runs),
        ):
            if value is not None:
                changes[key] = value
        sql.update_deployment(store, org_id, name, **changes)
        if flow_version != existing.flow_version:
            sql.add_history(
                store, org_id, name, flow_version, existing.flow_version, "update", actor_email, now
            )
        return get(store, org_id, name), False

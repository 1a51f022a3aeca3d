"""Environments: where deployments run (develop, staging, production, ...), with the variables a
run gets, a promotion order, and protection.

Rules that live here, for the server and the CLI alike:
- names are 1-64 letters, digits, '.', '_' or '-', unique in the org (``reorder`` and ``promote``
  are paths of the API, not names);
- a protected environment cannot be deleted, and only an owner or admin may change it (settings,
  variables) or promote into it. The role decides; an unknown or missing role is refused;
- variable keys are environment-variable names, never ``DAGY_*`` (Dagy's own settings of a run),
  and values are strings;
- a run of a deployment gets its environment's variables in its task processes' environment
  (``variables_for``); `dagy run --env` gets them in its own process (``apply_to_environ``).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any

from dagy.auth import secrets as ids
from dagy.config.paths import DagyPaths
from dagy.errors import (
    APIError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
)
from dagy.services.catalog import deployments
from dagy.store import environments as sql
from dagy.store import flows as flows_sql
from dagy.store.duckdb_store import DuckDBStore
from dagy.store.environments import Environment
from dagy.store.flows import Deployment
from dagy.store.records import utcnow

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_EXECUTOR = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_VAR_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,255}$")
RESERVED_NAMES = ("reorder", "promote")
MAX_VARIABLES = 1000
MAX_VALUE_CHARS = 32 * 1024
MAX_CONFIG_CHARS = 64 * 1024
PROTECTED_ROLES = ("owner", "admin")
# Set in a run's processes to the name of its environment (dagy.secret() reads it when local).
ENV_VAR = "DAGY_ENVIRONMENT"


class ProtectedEnvironmentError(NotFoundError):
    """The spec answers the delete of a protected environment with 404 and this code."""

    error = "protected_environment"


# -- validation -------------------------------------------------------------------------------------


def check_name(name: Any, *, field: str = "env_name") -> str:
    if not isinstance(name, str) or not _NAME.match(name) or name in RESERVED_NAMES:
        raise InvalidInputError(
            f"Invalid environment name: {name!r}",
            {field: "1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"},
        )
    return name


def _check_executor(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _EXECUTOR.match(value):
        raise InvalidInputError(
            f"Invalid default_executor: {value!r}",
            {"default_executor": "an executor name: letters, digits, '.', '_' or '-'"},
        )
    return value


def _check_config(value: Any) -> str:
    """The config as JSON text: an object, with a positive ``timeout_seconds`` when it has one."""
    if value is None:
        return "{}"
    if not isinstance(value, dict):
        raise InvalidInputError("Invalid configuration", {"config_json": "must be a JSON object"})
    timeout = value.get("timeout_seconds")
    if timeout is not None and (
        isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0
    ):
        raise InvalidInputError(
            "Invalid configuration", {"config_json.timeout_seconds": "a positive number"}
        )
    text = json.dumps(value, separators=(",", ":"))
    if len(text) > MAX_CONFIG_CHARS:
        raise InvalidInputError(
            "Invalid configuration", {"config_json": f"at most {MAX_CONFIG_CHARS} characters"}
        )
    return text


def _check_flag(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidInputError(f"Invalid {field}", {field: "true or false"})
    return value


def check_variables(value: Any, *, field: str = "variables") -> dict[str, str]:
    if not isinstance(value, dict):
        raise InvalidInputError("variables must be a JSON object", {field: "must be an object"})
    if len(value) > MAX_VARIABLES:
        raise InvalidInputError("Too many variables", {field: f"at most {MAX_VARIABLES}"})
    for key, text in value.items():
        check_key(key, field=field)
        if not isinstance(text, str) or not _env_safe(text) or len(text) > MAX_VALUE_CHARS:
            raise InvalidInputError(
                f"Invalid value of variable {key}",
                {f"{field}.{key}": f"a string of at most {MAX_VALUE_CHARS} characters, no NUL"},
            )
    return dict(value)


def _env_safe(text: str) -> bool:
    """Can be put in a process's environment: no NUL, no lone surrogate."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\x00" not in text


def check_key(key: Any, *, field: str = "var_key") -> str:
    if not isinstance(key, str) or not _VAR_KEY.match(key):
        raise InvalidInputError(
            f"Invalid variable name: {key!r}",
            {field: "letters, digits and '_', not starting with a digit"},
        )
    if key.upper().startswith("DAGY_"):
        raise InvalidInputError(
            f"Invalid variable name: {key!r}", {field: "DAGY_* variables are Dagy's own"}
        )
    return key


def may_change(env: Environment, role: str | None) -> None:
    """Refuse a change of a protected environment unless the caller is an owner or admin."""
    if env.is_protected and role not in PROTECTED_ROLES:
        raise PermissionDeniedError(
            f"Environment '{env.env_name}' is protected: only an owner or admin may change it",
            {"env_name": "protected"},
        )


# -- environments -----------------------------------------------------------------------------------


def get(store: DuckDBStore, org_id: str, env_name: str) -> Environment:
    env = sql.get(store, org_id, env_name)
    if env is None:
        raise NotFoundError(f"Environment not found: {env_name}")
    return env


def list_all(store: DuckDBStore, org_id: str) -> list[Environment]:
    return sql.all_of(store, org_id)


def create(
    store: DuckDBStore,
    org_id: str,
    *,
    env_name: Any,
    default_executor: Any = None,
    config_json: Any = None,
    is_protected: Any = False,
) -> Environment:
    name = check_name(env_name)
    executor = _check_executor(default_executor)
    config = _check_config(config_json)
    protected = _check_flag(is_protected, "is_protected")
    now = utcnow()
    with store.connection():
        if sql.get(store, org_id, name) is not None:
            raise ConflictError(f"Environment already exists: {name}", {"env_name": name})
        env = Environment(
            ids.new_id("env"),
            org_id,
            name,
            executor,
            config,
            protected,
            sql.next_order(store, org_id),
            now,
            now,
        )
        sql.insert(store, env)
    return env


def update(
    store: DuckDBStore, org_id: str, role: str | None, env_name: str, body: dict[str, Any]
) -> tuple[Environment, dict[str, list[Any]]]:
    """Apply the fields of ``body`` that it has (``env_name`` is not one: an environment keeps its
    name); returns the environment and ``{field: [before, after]}``."""
    values: dict[str, Any] = {}
    if "default_executor" in body:
        values["default_executor"] = _check_executor(body["default_executor"])
    if "config_json" in body:
        values["config_json"] = _check_config(body["config_json"])
    if "is_protected" in body:
        values["is_protected"] = _check_flag(body["is_protected"], "is_protected")
    with store.connection():
        env = get(store, org_id, env_name)
        may_change(env, role)
        changes = {k: v for k, v in values.items() if getattr(env, k) != v}
        if changes:
            sql.update(store, env.env_id, **changes, updated_at=utcnow())
        updated = get(store, org_id, env_name)
    audit = {
        k: [json.loads(getattr(env, k)), json.loads(v)]
        if k == "config_json"
        else [getattr(env, k), v]
        for k, v in changes.items()
    }
    return updated, audit


def delete(store: DuckDBStore, org_id: str, role: str | None, env_name: str) -> Environment:
    """Delete an environment and its variables; its deployments keep the name as a label."""
    with store.connection():
        env = get(store, org_id, env_name)
        if env.is_protected:
            raise ProtectedEnvironmentError(f"Cannot delete protected environment '{env_name}'")
        may_change(env, role)
        sql.delete(store, env.env_id)
    return env


def reorder(store: DuckDBStore, org_id: str, order: Any) -> tuple[list[Environment], list[str]]:
    """Put the named environments first, in this order; the others keep theirs after them.

    Returns the environments in their new order and the names in the order they had before."""
    if not isinstance(order, list) or not all(isinstance(n, str) for n in order):
        raise InvalidInputError("order must be a list of environment names", {"order": "a list"})
    if len(set(order)) != len(order):
        raise InvalidInputError("An environment is named twice", {"order": "duplicate names"})
    with store.connection():
        before = sql.all_of(store, org_id)
        known = {env.env_name: env for env in before}
        missing = [name for name in order if name not in known]
        if missing:
            raise InvalidInputError(
                f"Environment not found: {missing[0]}", {"order": f"unknown: {', '.join(missing)}"}
            )
        rest = [env.env_name for env in before if env.env_name not in order]
        moved = {
            known[n].env_id: i
            for i, n in enumerate([*order, *rest])
            if known[n].promotion_order != i
        }
        sql.set_orders(store, moved, utcnow())
        return sql.all_of(store, org_id), [env.env_name for env in before]


# -- variables --------------------------------------------------------------------------------------


def variables(store: DuckDBStore, org_id: str, env_name: str) -> dict[str, str]:
    with store.connection():
        return sql.variables(store, get(store, org_id, env_name).env_id)


def set_variables(
    store: DuckDBStore,
    org_id: str,
    role: str | None,
    env_name: str,
    values: Any,
    *,
    replace: bool,
) -> tuple[Environment, dict[str, str], dict[str, str]]:
    """PUT (``replace``: the given set becomes the whole set) or PATCH (merge) variables.

    Returns the environment and its variables before and after."""
    values = check_variables(values)
    now = utcnow()
    with store.connection() as con:
        env = get(store, org_id, env_name)
        may_change(env, role)
        before = sql.variables(store, env.env_id)
        after = values if replace else {**before, **values}
        if len(after) > MAX_VARIABLES:
            raise InvalidInputError("Too many variables", {"variables": f"at most {MAX_VARIABLES}"})
        con.execute("BEGIN")
        try:
            if replace:
                sql.clear_variables(store, env.env_id)
            sql.set_variables(store, env.env_id, values, now)
            sql.update(store, env.env_id, updated_at=now)
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")
        return env, before, sql.variables(store, env.env_id)


def delete_variable(
    store: DuckDBStore, org_id: str, role: str | None, env_name: str, key: str
) -> Environment:
    with store.connection():
        env = get(store, org_id, env_name)
        may_change(env, role)
        if key not in sql.variables(store, env.env_id):
            raise NotFoundError(f"Variable not found: {key}", {"var_key": key})
        sql.delete_variable(store, env.env_id, key)
        sql.update(store, env.env_id, updated_at=utcnow())
    return env


def variable_changes(before: dict[str, str], after: dict[str, str]) -> dict[str, list[str]]:
    """What an audit row says about a variables change: the keys, never the values."""
    return {
        "added": sorted(set(after) - set(before)),
        "changed": sorted(k for k in set(after) & set(before) if after[k] != before[k]),
        "removed": sorted(set(before) - set(after)),
    }


def variables_for(store: DuckDBStore, org_id: str, env_name: str | None) -> dict[str, str]:
    """The variables a run in ``env_name`` gets; {} for no environment or one that is gone."""
    if not env_name:
        return {}
    with store.connection():
        env = sql.get(store, org_id, env_name)
        return sql.variables(store, env.env_id) if env is not None else {}


def apply_to_environ(
    paths: DagyPaths,
    env_name: str,
    *,
    org_id: str = "personal",
    environ: MutableMapping[str, str] | None = None,
) -> dict[str, str]:
    """`dagy run --env <name>`: put the environment's variables (and ``DAGY_ENVIRONMENT``) into
    this process's environment, which its tasks and their child processes inherit.

    Reads through the live server of this home when there is one, else from the file; an unknown
    environment is a NotFoundError. Returns the variables applied."""
    check_name(env_name, field="env")
    from dagy.config import server_file

    live = server_file.read(paths)
    if live is not None:
        from urllib.parse import quote

        from dagy.client.http import DagyClient

        try:
            body = DagyClient(live.api_url, live.token).get(
                f"/environments/{quote(env_name, safe='')}/variables"
            )
        except APIError as exc:
            if exc.status_code == 404:
                raise NotFoundError(f"Environment not found: {env_name}") from None
            raise
        found = {str(k): str(v) for k, v in (body.get("variables") or {}).items()}
    else:
        found = variables(DuckDBStore(paths), org_id, env_name)
    target = os.environ if environ is None else environ
    target.update(found)
    target[ENV_VAR] = env_name
    return found


# -- promotion and diff -----------------------------------------------------------------------------


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
    org_id: str,
    role: str | None,
    actor_email: str | None,
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
    now = utcnow()
    with store.connection() as con:
        source = deployments.get(store, org_id, source_deployment)
        target_env = get(store, org_id, target_environment)
        may_change(target_env, role)
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
        con.execute("BEGIN")
        try:
            deployment, created = deployments.upsert(
                store,
                org_id,
                actor_email,
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
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")
        promoted = deployments.get(store, org_id, name)
    return Promotion(promoted, created, existing.flow_version if existing else None)


def _target_name(source: Deployment, target_env: str) -> str:
    """``my-flow-staging`` → ``my-flow-production``; ``my-flow`` → ``my-flow-production``."""
    suffix = f"-{source.environment}" if source.environment else None
    base = source.name[: -len(suffix)] if suffix and source.name.endswith(suffix) else source.name
    return f"{base}-{target_env}"

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
  (``variables_for``); `dagy run --env` gets them through the backend
  (``Backend.environments.resolve_for_run``), whichever store or API holds them;
- every change writes its audit row, as the ``Actor``, in the change's transaction.

Diff and promotion of deployments between environments are in promotion.py.
"""

from __future__ import annotations

import json
import re
from typing import Any

from dagy.auth import secrets as ids
from dagy.errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
)
from dagy.services.accounts import audit
from dagy.services.accounts.audit import Actor
from dagy.store import environments as sql
from dagy.store.duckdb_store import DuckDBStore
from dagy.store.environments import Environment
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
    actor: Actor,
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
    org_id, now = actor.org_id, utcnow()
    with store.transaction():
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
        audit.write(
            store,
            actor,
            "create",
            "environment",
            env.env_id,
            resource_name=name,
            changes={"default_executor": [None, executor], "is_protected": [None, protected]},
        )
    return env


def update(
    store: DuckDBStore, actor: Actor, env_name: str, body: dict[str, Any]
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
    with store.transaction():
        env = get(store, actor.org_id, env_name)
        may_change(env, actor.role)
        changes = {k: v for k, v in values.items() if getattr(env, k) != v}
        if changes:
            sql.update(store, env.env_id, **changes, updated_at=utcnow())
        updated = get(store, actor.org_id, env_name)
        seen = {
            k: [json.loads(getattr(env, k)), json.loads(v)]
            if k == "config_json"
            else [getattr(env, k), v]
            for k, v in changes.items()
        }
        audit.write(
            store, actor, "update", "environment", env.env_id, resource_name=env_name, changes=seen
        )
    return updated, seen


def delete(store: DuckDBStore, actor: Actor, env_name: str) -> Environment:
    """Delete an environment and its variables; its deployments keep the name as a label."""
    with store.transaction():
        env = get(store, actor.org_id, env_name)
        if env.is_protected:
            raise ProtectedEnvironmentError(f"Cannot delete protected environment '{env_name}'")
        may_change(env, actor.role)
        sql.delete(store, env.env_id)
        audit.write(store, actor, "delete", "environment", env.env_id, resource_name=env_name)
    return env


def reorder(store: DuckDBStore, actor: Actor, order: Any) -> tuple[list[Environment], list[str]]:
    """Put the named environments first, in this order; the others keep theirs after them.

    Returns the environments in their new order and the names in the order they had before."""
    if not isinstance(order, list) or not all(isinstance(n, str) for n in order):
        raise InvalidInputError("order must be a list of environment names", {"order": "a list"})
    if len(set(order)) != len(order):
        raise InvalidInputError("An environment is named twice", {"order": "duplicate names"})
    with store.transaction():
        before = sql.all_of(store, actor.org_id)
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
        ordered = sql.all_of(store, actor.org_id)
        names_before = [env.env_name for env in before]
        names_after = [env.env_name for env in ordered]
        if names_after != names_before:
            audit.write(
                store,
                actor,
                "update",
                "environment",
                None,
                changes={"promotion_order": [names_before, names_after]},
            )
        return ordered, names_before


# -- variables --------------------------------------------------------------------------------------


def variables(store: DuckDBStore, org_id: str, env_name: str) -> dict[str, str]:
    with store.connection():
        return sql.variables(store, get(store, org_id, env_name).env_id)


def set_variables(
    store: DuckDBStore, actor: Actor, env_name: str, values: Any, *, replace: bool
) -> tuple[Environment, dict[str, str], dict[str, str]]:
    """PUT (``replace``: the given set becomes the whole set) or PATCH (merge) variables.

    Returns the environment and its variables before and after."""
    values = check_variables(values)
    now = utcnow()
    with store.transaction():
        env = get(store, actor.org_id, env_name)
        may_change(env, actor.role)
        before = sql.variables(store, env.env_id)
        after = values if replace else {**before, **values}
        if len(after) > MAX_VARIABLES:
            raise InvalidInputError("Too many variables", {"variables": f"at most {MAX_VARIABLES}"})
        if replace:
            sql.clear_variables(store, env.env_id)
        sql.set_variables(store, env.env_id, values, now)
        sql.update(store, env.env_id, updated_at=now)
        stored = sql.variables(store, env.env_id)
        audit.write(
            store,
            actor,
            "update",
            "environment",
            env.env_id,
            resource_name=env.env_name,
            changes={"variables": variable_changes(before, stored)},
        )
        return env, before, stored


def delete_variable(store: DuckDBStore, actor: Actor, env_name: str, key: str) -> Environment:
    with store.transaction():
        env = get(store, actor.org_id, env_name)
        may_change(env, actor.role)
        if key not in sql.variables(store, env.env_id):
            raise NotFoundError(f"Variable not found: {key}", {"var_key": key})
        sql.delete_variable(store, env.env_id, key)
        sql.update(store, env.env_id, updated_at=utcnow())
        audit.write(
            store,
            actor,
            "update",
            "environment",
            env.env_id,
            resource_name=env.env_name,
            changes={"variables": {"added": [], "changed": [], "removed": [key]}},
        )
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

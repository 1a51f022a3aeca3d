"""Environments: create, list, read, update, delete; variables; promotion order; diff; promote."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, delete, get, patch, post, put

from dagy.server.openapi import Body, given, required
from dagy.server.security import actor_of, identity_of, state_of
from dagy.services.vault import environments, promotion
from dagy.store.environments import Environment
from dagy.store.flows import Deployment
from dagy.store.records import iso_z

_READ = {"permission": "environments.read"}
_WRITE = {"permission": "environments.write"}
ENV_NAME = {
    "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$",
    "not": {"enum": list(environments.RESERVED_NAMES)},
}
_CONFIG = {
    "type": "object",
    "properties": {"timeout_seconds": {"type": "number", "exclusiveMinimum": 0}},
}
_FLAG = {"type": "boolean"}
_VARIABLES = {
    "maxProperties": environments.MAX_VARIABLES,
    "propertyNames": {"pattern": "^[A-Za-z_][A-Za-z0-9_]{0,255}$"},
    "additionalProperties": {"type": "string", "maxLength": environments.MAX_VALUE_CHARS},
}


class EnvironmentBody(Body):
    env_name: str | None = None
    default_executor: str | None = None
    config_json: Any = None  # the service checks these (its messages name the field)
    is_protected: Any = False
    doc = {
        "env_name": required(ENV_NAME),
        "default_executor": {"pattern": ENV_NAME["pattern"]},
        "config_json": _CONFIG,
        "is_protected": _FLAG,
    }


class EnvironmentPatch(Body):
    default_executor: str | None | msgspec.UnsetType = msgspec.UNSET
    config_json: Any = msgspec.UNSET
    is_protected: Any = msgspec.UNSET
    doc = EnvironmentBody.doc.copy()
    doc.pop("env_name")


class VariablesBody(Body):
    variables: Any = None
    doc = {"variables": required(_VARIABLES, type="object")}


class OrderBody(Body):
    order: Any = None
    doc = {"order": required(type="array", items={"type": "string"}, uniqueItems=True)}


class PromoteBody(Body):
    source_deployment: str | None = None
    target_environment: str | None = None
    new_deployment_name: str | None = None
    flow_version: str | None = None
    doc = {
        "source_deployment": required(minLength=1),
        "target_environment": required(minLength=1),
        "new_deployment_name": {"minLength": 1},
        "flow_version": {"minLength": 1},
    }


def _item(env: Environment) -> dict[str, Any]:
    return {
        "env_id": env.env_id,
        "env_name": env.env_name,
        "default_executor": env.default_executor,
        "is_protected": env.is_protected,
        "created_at": iso_z(env.created_at),
    }


@post("/environments", status_code=201, sync_to_thread=True, opt={**_WRITE, "errors": [409]})
def create_environment(request: Request[Any, Any, Any], data: EnvironmentBody) -> dict[str, Any]:
    env = environments.create(
        state_of(request).store,
        actor_of(request),
        env_name=data.env_name,
        default_executor=data.default_executor,
        config_json=data.config_json,
        is_protected=data.is_protected,
    )
    return _item(env)


@get("/environments", sync_to_thread=True, opt=_READ)
def list_environments(request: Request[Any, Any, Any]) -> dict[str, Any]:
    state, identity = state_of(request), identity_of(request)
    return {"items": [_item(e) for e in environments.list_all(state.store, identity.org_id)]}


@get("/environments/{env_name:str}", sync_to_thread=True, opt=_READ)
def get_environment(request: Request[Any, Any, Any], env_name: str) -> dict[str, Any]:
    state, identity = state_of(request), identity_of(request)
    env = environments.get(state.store, identity.org_id, env_name)
    return {**_item(env), "config_json": env.config}


@patch("/environments/{env_name:str}", sync_to_thread=True, opt=_WRITE)
def update_environment(
    request: Request[Any, Any, Any], env_name: str, data: EnvironmentPatch
) -> dict[str, Any]:
    env, _ = environments.update(state_of(request).store, actor_of(request), env_name, given(data))
    return {
        "env_id": env.env_id,
        "env_name": env.env_name,
        "default_executor": env.default_executor,
        "is_protected": env.is_protected,
        "updated_at": iso_z(env.updated_at),
    }


@delete("/environments/{env_name:str}", status_code=204, sync_to_thread=True, opt=_WRITE)
def delete_environment(request: Request[Any, Any, Any], env_name: str) -> Response[None]:
    environments.delete(state_of(request).store, actor_of(request), env_name)
    return Response(None, status_code=204)


# -- variables --------------------------------------------------------------------------------------


@get("/environments/{env_name:str}/variables", sync_to_thread=True, opt=_READ)
def get_variables(request: Request[Any, Any, Any], env_name: str) -> dict[str, Any]:
    state, identity = state_of(request), identity_of(request)
    found = environments.variables(state.store, identity.org_id, env_name)
    return {"env_name": env_name, "variables": found}


def _set_variables(
    request: Request[Any, Any, Any], env_name: str, data: VariablesBody, *, replace: bool
) -> dict[str, Any]:
    env, _, after = environments.set_variables(
        state_of(request).store, actor_of(request), env_name, data.variables, replace=replace
    )
    return {"env_name": env.env_name, "variables": after}


@put("/environments/{env_name:str}/variables", sync_to_thread=True, opt=_WRITE)
def replace_variables(
    request: Request[Any, Any, Any], env_name: str, data: VariablesBody
) -> dict[str, Any]:
    return _set_variables(request, env_name, data, replace=True)


@patch("/environments/{env_name:str}/variables", sync_to_thread=True, opt=_WRITE)
def merge_variables(
    request: Request[Any, Any, Any], env_name: str, data: VariablesBody
) -> dict[str, Any]:
    return _set_variables(request, env_name, data, replace=False)


@delete(
    "/environments/{env_name:str}/variables/{var_key:str}",
    status_code=200,
    sync_to_thread=True,
    opt=_WRITE,
)
def delete_variable(request: Request[Any, Any, Any], env_name: str, var_key: str) -> dict[str, Any]:
    env = environments.delete_variable(
        state_of(request).store, actor_of(request), env_name, var_key
    )
    return {"deleted": var_key, "env_name": env.env_name}


# -- order, diff, promotion -------------------------------------------------------------------------


@put("/environments/reorder", sync_to_thread=True, opt=_WRITE)
def reorder(request: Request[Any, Any, Any], data: OrderBody) -> dict[str, Any]:
    ordered, _ = environments.reorder(state_of(request).store, actor_of(request), data.order)
    return {"items": [{**_item(e), "promotion_order": e.promotion_order} for e in ordered]}


def _deployment(d: Deployment) -> dict[str, Any]:
    return {
        "deployment_name": d.name,
        "flow_name": d.flow_name,
        "flow_version": d.flow_version,
        "updated_at": iso_z(d.updated_at),
    }


@get("/environments/{env_name:str}/diff/{target_env:str}", sync_to_thread=True, opt=_READ)
def diff(request: Request[Any, Any, Any], env_name: str, target_env: str) -> dict[str, Any]:
    state, identity = state_of(request), identity_of(request)
    found = promotion.diff(state.store, identity.org_id, env_name, target_env)
    return {
        "source_environment": env_name,
        "target_environment": target_env,
        "only_in_source": [_deployment(d) for d in found.only_in_source],
        "only_in_target": [_deployment(d) for d in found.only_in_target],
        "version_differs": [
            {"flow_name": s.flow_name, "source": _deployment(s), "target": _deployment(t)}
            for s, t in found.version_differs
        ],
    }


@post(
    "/environments/promote", status_code=201, sync_to_thread=True, opt={**_WRITE, "errors": [404]}
)
def promote(request: Request[Any, Any, Any], data: PromoteBody) -> dict[str, Any]:
    done = promotion.promote(
        state_of(request).store,
        actor_of(request),
        source_deployment=data.source_deployment,
        target_environment=data.target_environment,
        new_deployment_name=data.new_deployment_name,
        flow_version=data.flow_version,
    )
    d = done.deployment
    return {
        "target_deployment": d.name,
        "flow_name": d.flow_name,
        "flow_version": d.flow_version,
        "target_environment": d.environment,
    }


ROUTES = [
    create_environment,
    list_environments,
    reorder,
    promote,
    get_environment,
    update_environment,
    delete_environment,
    get_variables,
    replace_variables,
    merge_variables,
    delete_variable,
    diff,
]

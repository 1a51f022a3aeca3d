"""Environments through the backend: list, create, show, update, delete; variables; diff,
promote and reorder; and what a local `dagy run --env NAME` needs (``resolve_for_run``)."""

from __future__ import annotations

import builtins
import datetime as _dt
import os
from collections.abc import MutableMapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote

from dagy.backend._api_errors import as_service_errors
from dagy.backend.context import HttpContext, LocalContext
from dagy.backend.records import iso, parse_time, seconds

if TYPE_CHECKING:
    from dagy.store import environments as env_sql
    from dagy.store.flows import Deployment


@dataclass(frozen=True)
class Environment:
    env_id: str
    env_name: str
    default_executor: str | None
    is_protected: bool
    created_at: _dt.datetime | None

    def to_json(self) -> dict[str, Any]:
        return {
            "env_id": self.env_id,
            "env_name": self.env_name,
            "default_executor": self.default_executor,
            "is_protected": self.is_protected,
            "created_at": iso(self.created_at),
        }


@dataclass(frozen=True)
class EnvironmentDetail:
    environment: Environment
    config: dict[str, Any] = field(default_factory=dict)
    variables: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            **self.environment.to_json(),
            "config_json": self.config,
            "variables": self.variables,
        }


@dataclass(frozen=True)
class DeploymentRef:
    """A deployment as a diff names it."""

    deployment_name: str
    flow_name: str
    flow_version: str


@dataclass(frozen=True)
class EnvironmentDiff:
    source_environment: str
    target_environment: str
    only_in_source: list[DeploymentRef]
    only_in_target: list[DeploymentRef]
    version_differs: list[tuple[DeploymentRef, DeploymentRef]]

    def to_json(self) -> dict[str, Any]:
        def one(d: DeploymentRef) -> dict[str, Any]:
            return {
                "deployment_name": d.deployment_name,
                "flow_name": d.flow_name,
                "flow_version": d.flow_version,
            }

        return {
            "source_environment": self.source_environment,
            "target_environment": self.target_environment,
            "only_in_source": [one(d) for d in self.only_in_source],
            "only_in_target": [one(d) for d in self.only_in_target],
            "version_differs": [
                {"flow_name": s.flow_name, "source": one(s), "target": one(t)}
                for s, t in self.version_differs
            ],
        }


@dataclass(frozen=True)
class Promoted:
    target_deployment: str
    flow_name: str
    flow_version: str
    target_environment: str


@dataclass(frozen=True)
class RunEnvironment:
    """What a local run in an environment gets: its variables, and ``DAGY_ENVIRONMENT`` (which
    makes ``dagy.secret()`` prefer that environment's secrets, resolved when a task asks)."""

    env_name: str
    variables: dict[str, str]

    def apply(self, environ: MutableMapping[str, str] | None = None) -> None:
        """Put them into ``environ`` (this process's by default), which tasks inherit."""
        from dagy.config import settings

        target = os.environ if environ is None else environ
        target.update(self.variables)
        target[settings.ENVIRONMENT.name] = self.env_name  # dagy.secret() prefers its secrets


class EnvironmentsBackend(Protocol):
    def list(self) -> list[Environment]:
        """In promotion order."""

    def create(
        self,
        name: str,
        *,
        default_executor: str | None = None,
        config: dict[str, Any] | None = None,
        protected: bool = False,
    ) -> Environment: ...

    def get(self, name: str) -> EnvironmentDetail:
        """NotFoundError (``Environment not found: <name>``) for an unknown name."""

    def update(self, name: str, changes: dict[str, Any]) -> Environment:
        """PATCH: ``default_executor``, ``config_json``, ``is_protected``."""

    def delete(self, name: str) -> None: ...

    def set_variables(
        self, name: str, values: dict[str, str], *, replace: bool = False
    ) -> dict[str, str]:
        """Merge (or with ``replace`` replace) variables; returns them all."""

    def unset_variable(self, name: str, key: str) -> None: ...

    def diff(self, source: str, target: str) -> EnvironmentDiff: ...

    def promote(
        self,
        source_deployment: str,
        target_environment: str,
        *,
        new_deployment_name: str | None = None,
        flow_version: str | None = None,
    ) -> Promoted: ...

    def reorder(self, order: builtins.list[str]) -> builtins.list[Environment]: ...

    def resolve_for_run(self, name: str) -> RunEnvironment:
        """What `dagy run --env NAME` applies; NotFoundError for an unknown environment."""


def _from_row(env: env_sql.Environment) -> Environment:
    return Environment(
        env.env_id, env.env_name, env.default_executor, env.is_protected, seconds(env.created_at)
    )


def _from_body(body: dict[str, Any]) -> Environment:
    return Environment(
        str(body["env_id"]),
        str(body["env_name"]),
        body.get("default_executor"),
        bool(body.get("is_protected")),
        seconds(parse_time(body.get("created_at"))),
    )


def _ref(d: Deployment | dict[str, Any]) -> DeploymentRef:
    if isinstance(d, dict):
        return DeploymentRef(str(d["deployment_name"]), str(d["flow_name"]), str(d["flow_version"]))
    return DeploymentRef(d.name, d.flow_name, d.flow_version)


class LocalEnvironments:
    def __init__(self, ctx: LocalContext) -> None:
        self.ctx = ctx

    def list(self) -> list[Environment]:
        from dagy.services.vault import environments

        return [_from_row(e) for e in environments.list_all(self.ctx.store(), self.ctx.org_id)]

    def create(
        self,
        name: str,
        *,
        default_executor: str | None = None,
        config: dict[str, Any] | None = None,
        protected: bool = False,
    ) -> Environment:
        from dagy.services.vault import environments

        env = environments.create(
            self.ctx.store(),
            self.ctx.actor(),
            env_name=name,
            default_executor=default_executor,
            config_json=config,
            is_protected=protected,
        )
        return _from_row(env)

    def get(self, name: str) -> EnvironmentDetail:
        from dagy.services.vault import environments

        store = self.ctx.store()
        with store.connection():
            env = environments.get(store, self.ctx.org_id, name)
            found = environments.variables(store, self.ctx.org_id, name)
        return EnvironmentDetail(_from_row(env), env.config, found)

    def update(self, name: str, changes: dict[str, Any]) -> Environment:
        from dagy.services.vault import environments

        env, _ = environments.update(self.ctx.store(), self.ctx.actor(), name, changes)
        return _from_row(env)

    def delete(self, name: str) -> None:
        from dagy.services.vault import environments

        environments.delete(self.ctx.store(), self.ctx.actor(), name)

    def set_variables(
        self, name: str, values: dict[str, str], *, replace: bool = False
    ) -> dict[str, str]:
        from dagy.services.vault import environments

        store, actor = self.ctx.store(), self.ctx.actor()
        return environments.set_variables(store, actor, name, values, replace=replace)[2]

    def unset_variable(self, name: str, key: str) -> None:
        from dagy.services.vault import environments

        environments.delete_variable(self.ctx.store(), self.ctx.actor(), name, key)

    def diff(self, source: str, target: str) -> EnvironmentDiff:
        from dagy.services.vault import promotion

        found = promotion.diff(self.ctx.store(), self.ctx.org_id, source, target)
        return EnvironmentDiff(
            source,
            target,
            [_ref(d) for d in found.only_in_source],
            [_ref(d) for d in found.only_in_target],
            [(_ref(s), _ref(t)) for s, t in found.version_differs],
        )

    def promote(
        self,
        source_deployment: str,
        target_environment: str,
        *,
        new_deployment_name: str | None = None,
        flow_version: str | None = None,
    ) -> Promoted:
        from dagy.services.vault import promotion

        done = promotion.promote(
            self.ctx.store(),
            self.ctx.actor(),
            source_deployment=source_deployment,
            target_environment=target_environment,
            new_deployment_name=new_deployment_name,
            flow_version=flow_version,
        )
        d = done.deployment
        return Promoted(d.name, d.flow_name, d.flow_version, d.environment or target_environment)

    def reorder(self, order: builtins.list[str]) -> builtins.list[Environment]:
        from dagy.services.vault import environments

        return [
            _from_row(e) for e in environments.reorder(self.ctx.store(), self.ctx.actor(), order)[0]
        ]

    def resolve_for_run(self, name: str) -> RunEnvironment:
        from dagy.services.vault import environments

        environments.check_name(name, field="env")
        return RunEnvironment(name, environments.variables(self.ctx.store(), self.ctx.org_id, name))


class HttpEnvironments:
    def __init__(self, ctx: HttpContext) -> None:
        self.ctx = ctx

    @staticmethod
    def _path(name: str, tail: str = "") -> str:
        return f"/environments/{quote(name, safe='')}{tail}"

    def list(self) -> list[Environment]:
        with as_service_errors():
            body = self.ctx.client.get("/environments") or {}
        return [_from_body(item) for item in body.get("items") or []]

    def create(
        self,
        name: str,
        *,
        default_executor: str | None = None,
        config: dict[str, Any] | None = None,
        protected: bool = False,
    ) -> Environment:
        body: dict[str, Any] = {"env_name": name, "is_protected": protected}
        if default_executor is not None:
            body["default_executor"] = default_executor
        if config is not None:
            body["config_json"] = config
        with as_service_errors():
            return _from_body(self.ctx.client.post("/environments", body))

    def get(self, name: str) -> EnvironmentDetail:
        with as_service_errors():
            body = self.ctx.client.get(self._path(name))
            found = self.ctx.client.get(self._path(name, "/variables")) or {}
        variables = {str(k): str(v) for k, v in (found.get("variables") or {}).items()}
        return EnvironmentDetail(_from_body(body), dict(body.get("config_json") or {}), variables)

    def update(self, name: str, changes: dict[str, Any]) -> Environment:
        with as_service_errors():
            self.ctx.client.patch(self._path(name), changes)
        return self.get(name).environment

    def delete(self, name: str) -> None:
        with as_service_errors():
            self.ctx.client.delete(self._path(name))

    def set_variables(
        self, name: str, values: dict[str, str], *, replace: bool = False
    ) -> dict[str, str]:
        method = self.ctx.client.put if replace else self.ctx.client.patch
        with as_service_errors():
            body = method(self._path(name, "/variables"), {"variables": values}) or {}
        return {str(k): str(v) for k, v in (body.get("variables") or {}).items()}

    def unset_variable(self, name: str, key: str) -> None:
        with as_service_errors():
            self.ctx.client.delete(self._path(name, f"/variables/{quote(key, safe='')}"))

    def diff(self, source: str, target: str) -> EnvironmentDiff:
        with as_service_errors():
            body = self.ctx.client.get(self._path(source, f"/diff/{quote(target, safe='')}"))
        return EnvironmentDiff(
            source,
            target,
            [_ref(d) for d in body.get("only_in_source") or []],
            [_ref(d) for d in body.get("only_in_target") or []],
            [(_ref(p["source"]), _ref(p["target"])) for p in body.get("version_differs") or []],
        )

    def promote(
        self,
        source_deployment: str,
        target_environment: str,
        *,
        new_deployment_name: str | None = None,
        flow_version: str | None = None,
    ) -> Promoted:
        request: dict[str, Any] = {
            "source_deployment": source_deployment,
            "target_environment": target_environment,
        }
        if new_deployment_name is not None:
            request["new_deployment_name"] = new_deployment_name
        if flow_version is not None:
            request["flow_version"] = flow_version
        with as_service_errors():
            body = self.ctx.client.post("/environments/promote", request)
        return Promoted(
            str(body["target_deployment"]),
            str(body["flow_name"]),
            str(body["flow_version"]),
            str(body["target_environment"]),
        )

    def reorder(self, order: builtins.list[str]) -> builtins.list[Environment]:
        with as_service_errors():
            body = self.ctx.client.put("/environments/reorder", {"order": order}) or {}
        return [_from_body(item) for item in body.get("items") or []]

    def resolve_for_run(self, name: str) -> RunEnvironment:
        with as_service_errors():
            body = self.ctx.client.get(self._path(name, "/variables")) or {}
        variables = {str(k): str(v) for k, v in (body.get("variables") or {}).items()}
        return RunEnvironment(name, variables)

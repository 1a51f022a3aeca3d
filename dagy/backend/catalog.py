"""Flows and deployments through the backend: list flows, list and show deployments, deploy.

Both implementations build the same records from the same API-shaped bodies (the services'
``to_item``/``to_body``), so ``dagy flows list`` prints the same table from the store file, this
home's live server or a remote API.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from dagy.backend._api_errors import as_service_errors
from dagy.backend.context import HttpContext, LocalContext

if TYPE_CHECKING:
    from dagy.config.paths import DagyPaths
    from dagy.services.catalog.deploy import DeployRequest

PAGE = 100  # items per page when a backend reads every page


@dataclass(frozen=True)
class Flow:
    """A flow as GET /flows lists it: its active (else latest) version."""

    flow_name: str
    flow_version: str
    status: str | None = None
    namespace: str | None = None
    tags: dict[str, Any] = field(default_factory=dict)
    created_at: str | None = None  # ISO 8601 with Z, as the API shows it
    updated_at: str | None = None
    artifact_uri: str | None = None  # the API's ``artifact_s3_uri`` (s3:// or file://)

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> Flow:
        return cls(
            flow_name=str(body["flow_name"]),
            flow_version=str(body["flow_version"]),
            status=body.get("status"),
            namespace=body.get("namespace"),
            tags=dict(body.get("tags") or {}),
            created_at=body.get("created_at"),
            updated_at=body.get("updated_at"),
            artifact_uri=body.get("artifact_s3_uri"),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "flow_name": self.flow_name,
            "flow_version": self.flow_version,
            "status": self.status,
            "namespace": self.namespace,
            "tags": self.tags,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "artifact_s3_uri": self.artifact_uri,
        }


@dataclass(frozen=True)
class Deployment:
    """A deployment as GET /deployments/{name} shows it."""

    deployment_name: str
    flow_name: str
    flow_version: str
    deployment_id: str | None = None
    environment: str | None = None
    status: str | None = None
    schedule: str | None = None
    timezone: str | None = None
    default_executor: str | None = None
    execution_mode: str | None = None
    tags: dict[str, Any] = field(default_factory=dict)
    dep_package_slugs: list[str] = field(default_factory=list)
    max_concurrent_runs: int | None = None
    created_at: str | None = None
    updated_at: str | None = None

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> Deployment:
        return cls(
            deployment_name=str(body["deployment_name"]),
            flow_name=str(body["flow_name"]),
            flow_version=str(body["flow_version"]),
            deployment_id=body.get("deployment_id"),
            environment=body.get("environment"),
            status=body.get("status"),
            schedule=body.get("schedule"),
            timezone=body.get("timezone"),
            default_executor=body.get("default_executor"),
            execution_mode=body.get("execution_mode"),
            tags=dict(body.get("tags") or {}),
            dep_package_slugs=list(body.get("dep_package_slugs") or []),
            max_concurrent_runs=body.get("max_concurrent_runs"),
            created_at=body.get("created_at"),
            updated_at=body.get("updated_at"),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "deployment_id": self.deployment_id,
            "deployment_name": self.deployment_name,
            "flow_name": self.flow_name,
            "flow_version": self.flow_version,
            "environment": self.environment,
            "status": self.status,
            "schedule": self.schedule,
            "timezone": self.timezone,
            "default_executor": self.default_executor,
            "execution_mode": self.execution_mode,
            "tags": self.tags,
            "dep_package_slugs": self.dep_package_slugs,
            "max_concurrent_runs": self.max_concurrent_runs,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


@dataclass(frozen=True)
class Deployed:
    """What ``dagy deploy`` did: registered (``artifact_uri``), or skipped (``unchanged``)."""

    flow_name: str
    flow_version: str
    deployment_name: str
    artifact_uri: str | None = None
    deployment_version: int | None = None
    code_hash: str | None = None
    unchanged: bool = False  # the deployed version already has this code_hash
    remote_hash: str | None = None  # the deployed code_hash, when unchanged


@dataclass(frozen=True)
class DeployOptions:
    """``dagy deploy``'s flags, as the backend needs them."""

    deployment_name: str
    flow_name: str
    flow_version: str | None = None  # None: the artifact's
    status: str = "ACTIVE"
    schedule: str | None = None
    timezone: str | None = None
    default_executor: str | None = None
    execution_mode: str | None = None
    dep_package_slugs: list[str] | None = None
    prefix: str = "dagy"
    bucket: str | None = None
    force: bool = False


class CatalogBackend(Protocol):
    def flows(self, *, page_size: int = PAGE) -> list[Flow]:
        """Every flow (all pages of ``page_size``), by name."""

    def deployments(self) -> list[Deployment]:
        """Every deployment (all pages), by name."""

    def deployment(self, name: str) -> Deployment:
        """One deployment; NotFoundError (exit 3) when there is none of that name."""

    def deploy(
        self,
        artifact: Path,
        options: DeployOptions,
        *,
        on_part: Callable[[int, int], None] | None = None,
    ) -> Deployed:
        """Store a `dagy build` zip and register its flow version and deployment."""


def deploy_request(artifact: Path, options: DeployOptions) -> DeployRequest:
    """The checked request for ``artifact``: FileNotFoundError (exit 3) when it is missing,
    ValueError (exit 2) when it is not a build zip or not the flow version named."""
    from dagy.services.catalog import deploy as service

    if not artifact.is_file():
        raise FileNotFoundError(f"Artifact not found: {artifact}")
    summary = service.summarize(artifact)
    version = options.flow_version or summary.flow_version
    problem = service.mismatch(
        (options.flow_name, version), (summary.flow_name, summary.flow_version)
    )
    if problem:
        raise ValueError(problem)
    return service.DeployRequest(
        deployment_name=options.deployment_name,
        flow_name=options.flow_name,
        flow_version=version,
        status=options.status,
        schedule=options.schedule,
        timezone=options.timezone,
        default_executor=options.default_executor,
        execution_mode=options.execution_mode,
        dep_package_slugs=options.dep_package_slugs or None,
        code_hash=summary.code_hash,
    )


def build_artifact(
    target: str, params: dict[str, str], output_dir: Path | None, paths: DagyPaths
) -> Path:
    """`dagy build`: the zip `deploy` takes, written under ``output_dir`` (else ``paths.builds``).

    A module function, not a method: a build reads the flow's code and writes a file, in every
    mode alike; it touches neither the store nor an API.
    """
    from dagy.pipelines.loader import is_pipeline_target

    if is_pipeline_target(target):  # `dagy build pipeline.yaml`: the zip `dagy deploy` takes
        path = target if target.lower().endswith((".yaml", ".yml")) else target.rpartition(":")[0]
        root = Path(output_dir).expanduser().resolve() if output_dir is not None else paths.builds
        return build_pipeline_artifact(Path(path), root, params)

    from dagy.services.catalog.build import build_artifact as build

    return build(target, params, output_dir, paths).artifact_path


def build_pipeline_artifact(
    path: Path, output_dir: Path, params: dict[str, str] | None = None
) -> Path:
    """The zip ``dagy deploy pipeline.yaml`` uploads: the YAML as written, the python files its
    steps reference, the compiled FlowSpec, metadata and manifest (PipelineError, exit 2, when
    the pipeline does not check). Like a build, it touches neither the store nor an API."""
    from dagy.pipelines.loader import read_pipeline
    from dagy.services.catalog.pipelines import build_pipeline_artifact as build

    file = Path(path).expanduser().resolve()
    pipeline = read_pipeline(file)
    text = file.read_text(encoding="utf-8")
    built = build(pipeline, output_dir, yaml_text=text, yaml_name=file.name, params=params)
    return built.artifact_path


class LocalCatalog:
    """The services over this home's store file, in its personal org."""

    def __init__(self, ctx: LocalContext) -> None:
        self.ctx = ctx

    def flows(self, *, page_size: int = PAGE) -> list[Flow]:
        from dagy.services.catalog import flows

        store, out, token = self.ctx.store(), [], None
        with store.connection():
            while True:
                rows, token = flows.list_page(
                    store, self.ctx.org_id, limit=page_size, next_token=token
                )
                out += [Flow.from_body(flows.to_item(row)) for row in rows]
                if not token:
                    return out

    def deployments(self) -> list[Deployment]:
        from dagy.services.catalog import deployments

        store, out, token = self.ctx.store(), [], None
        with store.connection():
            while True:
                rows, token = deployments.list_page(
                    store, self.ctx.org_id, limit=PAGE, next_token=token
                )
                out += [Deployment.from_body(deployments.to_body(d)) for d in rows]
                if not token:
                    return out

    def deployment(self, name: str) -> Deployment:
        from dagy.services.catalog import deployments

        found = deployments.get(self.ctx.store(), self.ctx.org_id, name)
        return Deployment.from_body(deployments.to_body(found))

    def deploy(
        self,
        artifact: Path,
        options: DeployOptions,
        *,
        on_part: Callable[[int, int], None] | None = None,
    ) -> Deployed:
        from dagy.services.catalog import deploy as service

        request = deploy_request(artifact, options)
        done = service.deploy_locally(
            self.ctx.store(),
            self.ctx.paths,
            artifact,
            request,
            self.ctx.actor(),
            prefix=options.prefix,
            bucket=options.bucket,
            force=options.force,
        )
        if isinstance(done, service.Unchanged):
            return _unchanged(request, done.local_hash, done.remote_hash)
        return Deployed(
            flow_name=done.flow_name,
            flow_version=done.flow_version,
            deployment_name=done.deployment_name,
            artifact_uri=done.artifact_uri,
            deployment_version=done.deployment_version,
            code_hash=done.code_hash,
        )


def _unchanged(request: DeployRequest, local: str | None, remote: str | None) -> Deployed:
    return Deployed(
        flow_name=request.flow_name,
        flow_version=request.flow_version,
        deployment_name=request.deployment_name,
        code_hash=local,
        unchanged=True,
        remote_hash=remote,
    )


def quote(segment: str) -> str:
    return urllib.parse.quote(segment, safe="")


class HttpCatalog:
    """The flows, deployments and artifacts routes of an API (remote, or this home's server)."""

    def __init__(self, ctx: HttpContext) -> None:
        self.ctx = ctx

    def _all(self, path: str, page_size: int = PAGE) -> Iterator[dict[str, Any]]:
        yield from self.ctx.client.paginate(path, limit=page_size)

    def flows(self, *, page_size: int = PAGE) -> list[Flow]:
        return [Flow.from_body(item) for item in self._all("/flows", page_size)]

    def deployments(self) -> list[Deployment]:
        return [Deployment.from_body(item) for item in self._all("/deployments")]

    def deployment(self, name: str) -> Deployment:
        with as_service_errors():
            return Deployment.from_body(self.ctx.client.get(f"/deployments/{quote(name)}"))

    def deploy(
        self,
        artifact: Path,
        options: DeployOptions,
        *,
        on_part: Callable[[int, int], None] | None = None,
    ) -> Deployed:
        """Change detection against GET /flows/<name>/latest, then the multipart upload."""
        import dataclasses

        from dagy.client.uploads import upload_artifact
        from dagy.errors import APIError

        request = deploy_request(artifact, options)
        client = self.ctx.client
        if not options.force and request.code_hash:
            try:
                latest = client.get(f"/flows/{quote(request.flow_name)}/latest")
            except APIError as exc:
                if exc.status_code != 404:  # 404: never deployed
                    raise
                latest = None
            remote = (latest or {}).get("code_hash")
            if remote and remote == request.code_hash:
                return _unchanged(request, request.code_hash, remote)
        body = {k: v for k, v in dataclasses.asdict(request).items() if v is not None}
        initiate = {
            "flow_name": request.flow_name,
            "flow_version": request.flow_version,
            "deployment_name": request.deployment_name,
            "prefix": options.prefix,
        }
        done = upload_artifact(client, artifact, initiate, body, on_part=on_part)
        return Deployed(
            flow_name=str(done.get("flow_name", request.flow_name)),
            flow_version=str(done.get("flow_version", request.flow_version)),
            deployment_name=str(done.get("deployment_name", request.deployment_name)),
            artifact_uri=done.get("artifact_s3_uri"),
            deployment_version=done.get("deployment_version"),
            code_hash=done.get("code_hash"),
        )

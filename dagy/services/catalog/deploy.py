"""Deploying an artifact: check what is in the zip, then register its flow version and deployment.

Shared by the API (``POST /artifacts/complete``) and ``dagy deploy`` without an API, so a flow
deployed either way looks the same. duckdb and the store are imported inside the functions that
write: ``dagy deploy`` to an API needs none of them.
"""

from __future__ import annotations

import json
import tempfile
import urllib.parse
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dagy.errors import InvalidInputError, NotFoundError

if TYPE_CHECKING:
    from dagy.config.paths import DagyPaths
    from dagy.sdk.spec import FlowSpec
    from dagy.services.accounts.audit import Actor
    from dagy.store.duckdb_store import DuckDBStore

DEFAULT_PREFIX = "dagy"
ARTIFACT_FILE = "artifact.zip"
DEFAULT_TIMEZONE = "America/New_York"
DEFAULT_STATUS = "ACTIVE"
LOCAL_ORG = "personal"


# -- keys ----------------------------------------------------------------------------------------


def key_segment(name: str) -> str:
    """A flow name or version as one key segment: percent-quoted, never '.' or '..'."""
    text = urllib.parse.quote(str(name), safe="-_.")
    return text.replace(".", "%2E") if text in (".", "..") else text


def check_prefix(prefix: str | None) -> str:
    text = (DEFAULT_PREFIX if prefix is None else prefix).strip("/")
    parts = text.split("/")
    if not text or any(p in ("", ".", "..") or key_segment(p) != p for p in parts):
        raise InvalidInputError(
            f"Invalid prefix: {prefix!r}", {"prefix": "segments of letters, digits, '-', '_', '.'"}
        )
    return text


def artifact_key(prefix: str | None, org_id: str, flow_name: str, flow_version: str) -> str:
    """``<prefix>/flows/<org_id>/<flow_name>/<flow_version>/artifact.zip``."""
    segments = (key_segment(org_id), key_segment(flow_name), key_segment(flow_version))
    return f"{check_prefix(prefix)}/flows/{'/'.join(segments)}/{ARTIFACT_FILE}"


def key_flow(key: str, org_id: str) -> tuple[str, str] | None:
    """The (flow name, version) segments of an ``artifact_key`` of ``org_id``; None if not one."""
    parts = str(key).split("/")
    if (
        len(parts) < 6
        or parts[-1] != ARTIFACT_FILE
        or parts[-5] != "flows"
        or parts[-4] != key_segment(org_id)
    ):
        return None
    try:
        check_prefix("/".join(parts[:-5]))
    except InvalidInputError:
        return None
    return parts[-3], parts[-2]


# -- reading an artifact -------------------------------------------------------------------------


@dataclass(frozen=True)
class ArtifactSummary:
    """What ``dagy deploy`` reads from a zip before sending it: no manifest check, no spec parse."""

    flow_name: str
    flow_version: str
    code_hash: str | None


def summarize(path: Path) -> ArtifactSummary:
    """Name, version and code_hash of a `dagy build` zip; ValueError when it is not one."""
    try:
        with zipfile.ZipFile(path) as zf:
            spec = json.loads(zf.read("flow_spec.json"))
            metadata = json.loads(zf.read("metadata.json"))
        return ArtifactSummary(
            str(spec["flow_name"]), str(spec["flow_version"]), metadata.get("code_hash")
        )
    except (zipfile.BadZipFile, KeyError, ValueError, TypeError, AttributeError) as exc:
        raise ValueError(f"Invalid artifact {path}: {_reason(exc)}") from None


@dataclass(frozen=True)
class ArtifactContents:
    """A verified artifact: every file matched its manifest; the spec parsed and validated."""

    spec: FlowSpec
    metadata: dict[str, Any]

    @property
    def code_hash(self) -> str | None:
        value = self.metadata.get("code_hash")
        return str(value) if value else None


def read_artifact(path: Path) -> ArtifactContents:
    """Check a zip against its manifest and read flow_spec.json and metadata.json; 400 if bad."""
    from dagy.services.catalog.flows import parse_spec
    from dagy.services.runs.code import extract_verified

    with tempfile.TemporaryDirectory(prefix="dagy-artifact-") as scratch:
        files = Path(scratch) / "files"
        try:
            extract_verified(path, files)
            metadata = json.loads((files / "metadata.json").read_text(encoding="utf-8"))
            raw_spec = (files / "flow_spec.json").read_text(encoding="utf-8")
        except (zipfile.BadZipFile, OSError, ValueError) as exc:
            raise InvalidInputError(
                f"Invalid artifact: {_reason(exc)}", {"artifact": "not a valid dagy build zip"}
            ) from None
    if not isinstance(metadata, dict):
        raise InvalidInputError("Invalid artifact: metadata.json is not an object")
    return ArtifactContents(parse_spec(raw_spec, field="flow_spec.json"), metadata)


def mismatch(expected: tuple[str, str], got: tuple[str, str]) -> str | None:
    """The spec's sentence when the artifact is another flow or version than the one named."""
    if tuple(map(str, expected)) == tuple(map(str, got)):
        return None
    return (
        f"Artifact flow spec mismatch. Expected {expected[0]}:{expected[1]}, got {got[0]}:{got[1]}"
    )


def check_matches(contents: ArtifactContents, flow_name: str, flow_version: str) -> None:
    got = (contents.spec.flow_name, contents.spec.flow_version)
    problem = mismatch((flow_name, flow_version), got)
    if problem:
        raise InvalidInputError(problem, {"flow_spec": "does not match flow_name/flow_version"})


def check_artifact(contents: ArtifactContents, request: DeployRequest) -> str | None:
    """400 unless the artifact is the flow version asked for (and its code_hash, when given);
    the code_hash to record: metadata.json's, else the request's."""
    check_matches(contents, request.flow_name, request.flow_version)
    if request.code_hash and contents.code_hash and request.code_hash != contents.code_hash:
        raise InvalidInputError(
            "code_hash does not match the artifact's metadata.json",
            {"code_hash": "differs from metadata.json"},
        )
    return contents.code_hash or request.code_hash


def check_upload(
    key: str, org_id: str, request: DeployRequest, *, flow_spec: dict[str, Any] | None = None
) -> None:
    """400 unless an upload's key (and the body's flow_spec, if any) is the flow version named."""
    wanted = (request.flow_name, request.flow_version)
    if key_flow(key, org_id) != (key_segment(wanted[0]), key_segment(wanted[1])):
        raise InvalidInputError(
            "artifact_key does not match flow_name and flow_version", {"artifact_key": "mismatch"}
        )
    if flow_spec is not None:
        problem = mismatch(
            wanted, (str(flow_spec.get("flow_name")), str(flow_spec.get("flow_version")))
        )
        if problem:
            raise InvalidInputError(problem, {"flow_spec": "does not match"})


def _reason(exc: BaseException) -> str:
    if isinstance(exc, KeyError):
        return f"missing {exc.args[0]}" if exc.args else "missing entry"
    return str(exc) or type(exc).__name__


# -- registering ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeployRequest:
    """The deployment a client asks for; None fields keep their defaults (or current values)."""

    deployment_name: str
    flow_name: str
    flow_version: str
    status: str | None = DEFAULT_STATUS
    schedule: str | None = None
    timezone: str | None = None
    default_executor: str | None = None
    execution_mode: str | None = None
    environment: str | None = None
    namespace: str | None = None
    tags: dict[str, Any] | None = None
    dep_package_slugs: list[str] | None = None
    code_hash: str | None = None


@dataclass(frozen=True)
class Deployed:
    artifact_uri: str
    flow_name: str
    flow_version: str
    deployment_name: str
    deployment_version: int
    environment: str | None
    code_hash: str | None
    created: dict[str, bool] = field(default_factory=dict)  # {"flow": ..., "deployment": ...}

    def to_json(self) -> dict[str, Any]:
        """The spec's ``POST /artifacts/complete`` body."""
        return {
            "artifact_s3_uri": self.artifact_uri,
            "flow_name": self.flow_name,
            "flow_version": self.flow_version,
            "deployment_name": self.deployment_name,
            "deployment_version": self.deployment_version,
            "environment": self.environment,
            "code_hash": self.code_hash,
        }


def check_request(store: DuckDBStore, org_id: str, request: DeployRequest) -> None:
    """Refuse what ``register`` would refuse half-way, before anything is written or uploaded."""
    from dagy.services.catalog import deployments

    deployments.check_name(request.deployment_name, field="deployment_name")
    deployments.check_execution_mode(request.execution_mode)
    status = (request.status or DEFAULT_STATUS).lower()
    if status not in deployments.DEPLOYMENT_STATUSES:
        raise InvalidInputError(
            f"Invalid status: {request.status!r}",
            {"status": f"one of {', '.join(deployments.DEPLOYMENT_STATUSES)}"},
        )
    if request.timezone:
        _check_timezone(request.timezone)
    try:
        existing = deployments.get(store, org_id, request.deployment_name)
    except NotFoundError:
        return
    if existing.flow_name != request.flow_name:
        raise InvalidInputError(
            f"Deployment {existing.name} runs flow {existing.flow_name}, not {request.flow_name}",
            {"flow_name": "does not match the deployment's flow"},
        )


def register(
    store: DuckDBStore,
    org_id: str,
    actor: Actor | None,
    contents: ArtifactContents,
    artifact_uri: str,
    request: DeployRequest,
) -> Deployed:
    """Register the artifact's flow version at ``artifact_uri`` and point the deployment at it;
    with ``actor``, the flow's and the deployment's audit rows in the same transaction."""
    from dagy.services.accounts import audit
    from dagy.services.catalog import deployments, flows

    code_hash = check_artifact(contents, request)
    status = (request.status or DEFAULT_STATUS).lower()
    actor_email = actor.email if actor is not None else None
    with store.transaction():
        check_request(store, org_id, request)
        flow, flow_created = flows.register_version(
            store,
            org_id,
            contents.spec,
            artifact_uri=artifact_uri,
            code_hash=code_hash,
            namespace=request.namespace,
            tags=request.tags,
            status="inactive" if status == "inactive" else "active",
            default_executor=request.default_executor,
            deployment_name=request.deployment_name,
            schedule=request.schedule,
        )
        _, deployment_created = deployments.upsert(
            store,
            org_id,
            actor_email,
            name=request.deployment_name,
            flow_name=flow.flow_name,
            flow_version=flow.flow_version,
            environment=request.environment,
            status=status,
            schedule=request.schedule,
            timezone=request.timezone or DEFAULT_TIMEZONE,
            default_executor=request.default_executor,
            execution_mode=request.execution_mode,
            tags=request.tags,
            dep_package_slugs=request.dep_package_slugs,
        )
        if actor is not None:
            audit.write(
                store,
                actor,
                "create" if flow_created else "update",
                "flow",
                f"{flow.flow_name}:{flow.flow_version}",
                resource_name=flow.flow_name,
                changes={"artifact_uri": [None, artifact_uri], "code_hash": [None, code_hash]},
                org_id=org_id,
            )
            audit.write(
                store,
                actor,
                "create" if deployment_created else "update",
                "deployment",
                request.deployment_name,
                resource_name=request.deployment_name,
                changes={"flow_version": [None, flow.flow_version]},
                org_id=org_id,
            )
    return Deployed(
        artifact_uri=artifact_uri,
        flow_name=flow.flow_name,
        flow_version=flow.flow_version,
        deployment_name=request.deployment_name,
        deployment_version=flow.deployment_version,
        environment=request.environment,
        code_hash=code_hash,
        created={"flow": flow_created, "deployment": deployment_created},
    )


def _check_timezone(name: str) -> None:
    import zoneinfo

    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise InvalidInputError(
            f"Unknown timezone: {name!r}", {"timezone": "an IANA name, e.g. America/New_York"}
        ) from None


# -- `dagy deploy` without an API ----------------------------------------------------------------


@dataclass(frozen=True)
class Unchanged:
    """The deployed version already has this code: nothing was uploaded or registered."""

    local_hash: str
    remote_hash: str


def deploy_locally(
    store: DuckDBStore,
    paths: DagyPaths,
    artifact: Path,
    request: DeployRequest,
    actor: Actor | None,
    *,
    prefix: str | None = None,
    bucket: str | None = None,
    force: bool = False,
) -> Deployed | Unchanged:
    """Store the artifact in this home's artifact store and register it in ``store``.

    The artifact stays on this machine (``file://`` under the home, or the S3 bucket configured);
    the flow version's ``artifact_uri`` names it, so a run of the deployment can fetch its code
    (``deployments.target``). Who may write the store file is the caller's choice (dagy.backend).
    """
    from dagy.artifacts import get_store

    contents = read_artifact(artifact)
    check_matches(contents, request.flow_name, request.flow_version)
    org_id = actor.org_id if actor is not None else LOCAL_ORG
    key = artifact_key(prefix, org_id, request.flow_name, request.flow_version)
    with store.connection():
        if not force:
            remote = latest_code_hash(store, org_id, request.flow_name)
            if remote and contents.code_hash == remote:
                return Unchanged(contents.code_hash, remote)
        check_request(store, org_id, request)
        uri = get_store(paths=paths, bucket=bucket).put_file(key, artifact)
        return register(store, org_id, actor, contents, uri, request)


def latest_code_hash(store: DuckDBStore, org_id: str, flow_name: str) -> str | None:
    from dagy.services.catalog import flows

    try:
        return flows.latest(store, org_id, flow_name).code_hash
    except NotFoundError:
        return None

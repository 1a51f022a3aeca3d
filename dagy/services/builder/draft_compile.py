"""A draft's validation, its YAML pipeline, and its deploy as a flow version.

One compiler: the canvas becomes a Pipeline (``canvas.to_pipeline``), checked by the same
``check.check_pipeline`` a YAML file passes, dumped as the YAML ``dagy run`` reads, and deployed
through ``register_pipeline`` as ``dagy deploy pipeline.yaml`` is. Problems name canvas nodes
(``nodes.<id>.data.<field>``) and edges (``edges.<id>``), not YAML steps.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any

from dagy.config.paths import DagyPaths
from dagy.errors import InvalidInputError, NotFoundError
from dagy.nodes import registry
from dagy.pipelines import canvas, check, yaml_format
from dagy.pipelines.check import Lookup
from dagy.pipelines.model import Pipeline
from dagy.pipelines.problems import PipelineError, Problem
from dagy.services.accounts import audit
from dagy.services.accounts.audit import Actor
from dagy.services.builder import drafts
from dagy.services.catalog import checks, flows
from dagy.services.catalog.pipelines import register_pipeline
from dagy.store import drafts as sql
from dagy.store.drafts import DraftRow
from dagy.store.duckdb_store import DuckDBStore
from dagy.store.records import iso_z, utcnow

DEFAULT_VERSION = "1.0.0"
DEPLOY_FIELDS = frozenset({"flow_version", "deployment_name", "schedule", "status"})
_STEP_PATH = re.compile(r"^steps\[(\d+)\](.*)$")
_SEMVER = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")
_BUILTIN_EXECUTORS = ("local", "thread", "process")


@dataclass(frozen=True)
class Validation:
    """What GET /dag-drafts/{id} shows as ``validation``: errors block compile and deploy."""

    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not self.errors

    def to_api(self) -> dict[str, Any]:
        return {
            "valid": self.valid,
            "errors": [p.to_api() for p in self.errors],
            "warnings": [p.to_api() for p in self.warnings],
        }


@dataclass(frozen=True)
class Compiled:
    pipeline: Pipeline
    validation: Validation
    yaml_text: str
    lookup: Lookup  # the org's node types, as the draft was checked against them


def _pipeline(
    store: DuckDBStore, org_id: str, row: DraftRow, version: str
) -> tuple[Pipeline, Validation, Lookup]:
    # Cached: a custom node type is a SELECT, and both the canvas and the checker look up each node.
    lookup = functools.cache(registry.lookup_for(store, org_id))
    name = row.flow_name or row.draft_id
    pipeline, problems = canvas.to_pipeline(
        name, row.canvas, lookup, version=version, description=row.description
    )
    errors = [_on_canvas(p, pipeline) for p in check.check_pipeline(pipeline, lookup)]
    errors += problems
    if not pipeline.steps:
        errors.append(Problem("nodes", "a pipeline needs at least one node", field="nodes"))
    return pipeline, Validation(errors, _warnings(row, pipeline)), lookup


def validate(store: DuckDBStore, org_id: str, row: DraftRow) -> Validation:
    """Every problem that keeps the draft from compiling, and warnings, as of now."""
    return _pipeline(store, org_id, row, DEFAULT_VERSION)[1]


def compile_draft(
    store: DuckDBStore, org_id: str, row: DraftRow, *, version: str = DEFAULT_VERSION
) -> Compiled:
    """The draft's pipeline and YAML; a 400 with every validation error when it has any."""
    pipeline, validation, lookup = _pipeline(store, org_id, row, version)
    if not validation.valid:
        raise PipelineError(validation.errors, f"Draft {row.draft_id}")
    return Compiled(pipeline, validation, yaml_format.dump_pipeline(pipeline), lookup)


def _on_canvas(problem: Problem, pipeline: Pipeline) -> Problem:
    """A pipeline problem (``steps[2].config.url``) named on the canvas (``nodes.fetch.data.url``)."""
    found = _STEP_PATH.match(problem.path)
    if found is None:
        return problem
    step = pipeline.steps[int(found.group(1))]
    rest = found.group(2)
    rest = re.sub(r"^\.config(?=[.\[]|$)", ".data", rest)
    rest = re.sub(r"^\.node$", ".type", rest)
    field = "type" if problem.field == "node" else problem.field  # the canvas node's key
    return Problem(f"nodes.{step.id}{rest}", problem.message, problem.node or step.id, field)


def _warnings(row: DraftRow, pipeline: Pipeline) -> list[Problem]:
    out = []
    if not row.flow_name:
        out.append(Problem("flow_name", "not set: deploying needs a flow name", field="flow_name"))
    if row.executor and row.executor not in _installed_executors():
        out.append(
            Problem(
                "executor",
                f"executor {row.executor!r} is not installed here; runs use the local executor",
                field="executor",
            )
        )
    if len(pipeline.steps) > 1:
        edges = row.canvas.get("edges") or []
        joined = {e["source"] for e in edges} | {e["target"] for e in edges}
        out += [
            Problem(f"nodes.{s.id}", "not connected to any other node", s.id)
            for s in pipeline.steps
            if s.id not in joined
        ]
    return out


def _installed_executors() -> set[str]:
    return set(_BUILTIN_EXECUTORS) | {e.name for e in entry_points(group="dagy.executors")}


# -- deploy ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DraftDeployed:
    """What POST /dag-drafts/{id}/deploy did: the flow version registered, and its deployment."""

    draft_id: str
    flow_name: str
    flow_version: str
    deployment_name: str
    deployment_version: int
    artifact_uri: str
    code_hash: str | None
    deployed_at: str
    pipeline_yaml: str

    def to_api(self) -> dict[str, Any]:
        return {
            "draft_id": self.draft_id,
            "flow_name": self.flow_name,
            "flow_version": self.flow_version,
            "deployment_name": self.deployment_name,
            "deployment_version": self.deployment_version,
            "artifact_s3_uri": self.artifact_uri,
            "code_hash": self.code_hash,
            "deployed_at": self.deployed_at,
            "pipeline_yaml": self.pipeline_yaml,
        }


def next_version(store: DuckDBStore, org_id: str, flow_name: str) -> str:
    """1.0.0 for a new flow; else the newest registered version with its patch number raised
    (``1.0.3`` -> ``1.0.4``), or ``<version>.1`` when it is not three numbers, never one taken."""
    try:
        found = flows.versions(store, org_id, flow_name)
    except NotFoundError:
        return DEFAULT_VERSION
    newest = max(found, key=lambda v: (v.deployment_version or 0, v.created_at)).flow_version
    return bump(newest, {v.flow_version for v in found})


def bump(version: str, taken: set[str]) -> str:
    """The version after ``version`` that is not ``taken``: ``1.0.3`` -> ``1.0.4``, ``beta`` ->
    ``beta.1``."""
    candidate = version
    while candidate in taken or candidate == version:
        parts = _SEMVER.match(candidate)
        if parts:
            major, minor, patch = (int(p) for p in parts.groups())
            candidate = f"{major}.{minor}.{patch + 1}"
        else:
            candidate = f"{candidate}.1"
    return candidate


def _deploy_body(body: Any) -> dict[str, Any]:
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise InvalidInputError("The body must be a JSON object", {"body": "an object"})
    unknown = sorted(set(body) - DEPLOY_FIELDS)
    if unknown:
        raise InvalidInputError(
            f"Unknown field: {unknown[0]}", dict.fromkeys(unknown, "unknown field")
        )
    version = body.get("flow_version")
    if version is not None and (
        not isinstance(version, str) or not yaml_format.NAME.match(version)
    ):
        raise InvalidInputError(
            f"Invalid flow_version: {version!r}",
            {"flow_version": "letters, digits, '.', '_' or '-', at most 128"},
        )
    if body.get("deployment_name") is not None:
        checks.check_name(body["deployment_name"], field="deployment_name")
    checks.check_schedule(body.get("schedule"))  # before anything is stored, not half-way
    return body


def deploy(
    store: DuckDBStore,
    paths: DagyPaths,
    org_id: str,
    actor: Actor | None,
    draft_id: str,
    body: Any = None,
) -> DraftDeployed:
    """Compile the draft and register it as a new version of its ``flow_name`` (artifact with
    the YAML), with a deployment (``deployment_name``, default the flow name) pointed at it. A
    draft with validation errors is a 400 and nothing is registered."""
    options = _deploy_body(body)
    row = drafts.get(store, org_id, draft_id)
    if not row.flow_name:
        raise InvalidInputError(
            f"Draft {draft_id} has no flow_name: set one (PUT /dag-drafts/{draft_id}) to deploy",
            {"flow_name": "required to deploy"},
        )
    version = options.get("flow_version") or next_version(store, org_id, row.flow_name)
    compiled = compile_draft(store, org_id, row, version=version)
    deployment_name = options.get("deployment_name") or row.flow_name
    with store.transaction():
        done = register_pipeline(
            store,
            paths,
            org_id,
            actor,
            compiled.pipeline,
            deployment_name=deployment_name,
            lookup=compiled.lookup,
            yaml_text=compiled.yaml_text,
            status=options.get("status"),
            schedule=options.get("schedule"),
            default_executor=row.executor,
        )
        now = utcnow()
        sql.update(store, org_id, draft_id, deployed_flow_version=version, deployed_at=now)
        if actor is not None:
            audit.write(
                store,
                actor,
                "execute",
                "dag_draft",
                draft_id,
                resource_name=row.name,
                changes={"deployed": f"{row.flow_name}:{version}"},
                org_id=org_id,
            )
    return DraftDeployed(
        draft_id=draft_id,
        flow_name=row.flow_name,
        flow_version=version,
        deployment_name=deployment_name,
        deployment_version=done.deployment_version,
        artifact_uri=done.artifact_uri,
        code_hash=done.code_hash,
        deployed_at=iso_z(now),
        pipeline_yaml=compiled.yaml_text,
    )

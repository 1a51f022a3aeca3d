"""Deploying a YAML pipeline: its artifact (the YAML, the python files its steps reference, the
compiled FlowSpec, metadata and manifest, the same zip layout ``dagy build`` writes) and its
registration as a flow version and deployment.

``build_pipeline_artifact`` is what ``dagy deploy pipeline.yaml`` uploads through the backend (store
file, live server or remote API alike); ``register_pipeline`` stores and registers one on the
server's side (``POST /dag-drafts/{id}/deploy``). A run of the deployment unpacks the zip and loads
``<pipeline>.yaml:<name>`` like a flow file (dagy/pipelines/loader.py).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import platform
import secrets
import tempfile
from dataclasses import replace
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from dagy.pipelines.check import Lookup
from dagy.pipelines.model import Pipeline
from dagy.pipelines.problems import PipelineError, Problem
from dagy.services.catalog.build import (
    FLOW_SPEC_FILE,
    MANIFEST_FILE,
    METADATA_FILE,
    BuildResult,
    _dagy_version,
    _json_bytes,
    _path_component,
    _write_zip_atomically,
    detect_dependencies,
    manifest_for,
)

if TYPE_CHECKING:
    from dagy.config.paths import DagyPaths
    from dagy.sdk.spec import FlowSpec
    from dagy.services.accounts.audit import Actor
    from dagy.services.catalog.deploy import Deployed
    from dagy.store.duckdb_store import DuckDBStore


def code_files(pipeline: Pipeline) -> dict[str, Path]:
    """The python files a pipeline's steps reference, by their path inside the artifact (relative
    to the pipeline's folder): ``python: path.py:fn``, and ``python: module:fn`` or a custom
    node's ``import_path`` when that module is a file in the folder (with its packages'
    ``__init__.py``). PipelineError for a file outside the folder or missing."""
    if pipeline.base_dir is None:
        return {}
    base = Path(pipeline.base_dir).resolve()
    out: dict[str, Path] = {}
    problems: list[Problem] = []
    for i, step in enumerate(pipeline.steps):
        targets = []
        if step.kind == "python" and step.python:
            targets.append(("python", step.python.rpartition(":")[0]))
        if step.import_path:
            targets.append(("import_path", step.import_path.partition(":")[0]))
        for key, where in targets:
            if where.endswith(".py"):
                file = (base / where).resolve()
                try:
                    relative = file.relative_to(base)
                except ValueError:
                    problems.append(
                        Problem(
                            f"steps[{i}].{key}",
                            f"{where} is outside the pipeline's folder; a deployed pipeline "
                            "carries only files beside it",
                            node=step.id,
                            field=key,
                        )
                    )
                    continue
                if not file.is_file():
                    problems.append(
                        Problem(f"steps[{i}].{key}", f"file not found: {where}", step.id, key)
                    )
                    continue
                out[PurePosixPath(*relative.parts).as_posix()] = file
                continue
            parts = where.split(".")
            module_file = base.joinpath(*parts[:-1], parts[-1] + ".py")
            package_init = base.joinpath(*parts, "__init__.py")
            found = module_file if module_file.is_file() else package_init
            if not found.is_file():
                continue  # an installed module: a dependency, not code to carry
            for depth in range(1, len(parts)):
                init = base.joinpath(*parts[:depth], "__init__.py")
                if init.is_file():
                    out["/".join([*parts[:depth], "__init__.py"])] = init
            out[PurePosixPath(*found.relative_to(base).parts).as_posix()] = found
    if problems:
        raise PipelineError(problems)
    return out


def build_pipeline_artifact(
    pipeline: Pipeline,
    output_dir: Path,
    *,
    yaml_text: str | None = None,
    yaml_name: str | None = None,
    lookup: Lookup | None = None,
    params: dict[str, Any] | None = None,
) -> BuildResult:
    """Compile ``pipeline`` (PipelineError when it does not check) and write its ``artifact.zip``
    under ``output_dir/<name>/<build id>/``. ``yaml_text``: the file's own text (kept as written),
    else ``dump_pipeline``'s; ``yaml_name``: its name in the zip, else ``<name>.yaml``."""
    from dagy.pipelines.compile import to_flow_spec
    from dagy.pipelines.yaml_format import dump_pipeline

    text = yaml_text if yaml_text is not None else dump_pipeline(pipeline)
    name = yaml_name or f"{_path_component(pipeline.name)}.yaml"
    entrypoint = f"{name}:{pipeline.name}"
    spec = replace(to_flow_spec(pipeline, params or {}, lookup=lookup), entrypoint=entrypoint)
    files: dict[str, bytes] = {name: text.encode("utf-8")}
    for inside, file in code_files(pipeline).items():
        files[inside] = file.read_bytes()
    digest = hashlib.sha256()
    for inside in sorted(files):
        digest.update(inside.encode() + b"\0" + files[inside] + b"\0")
    code_hash = digest.hexdigest()
    dependencies: list[dict[str, str]] = []
    for inside, data in files.items():
        if inside.endswith(".py"):
            try:
                dependencies += [d for d in detect_dependencies(data) if d not in dependencies]
            except SyntaxError:
                continue
    now = _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0)
    metadata: dict[str, Any] = {
        "name": spec.flow_name,
        "version": spec.flow_version,
        "entrypoint": entrypoint,
        "kind": "pipeline",
        "build_time": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "python_version": platform.python_version(),
        "dagy_version": _dagy_version(),
        "dependencies": dependencies,
        "code_hash": code_hash,
        "parameters": dict(params or {}),
    }
    files[FLOW_SPEC_FILE] = spec.to_json(indent=2).encode("utf-8")
    files[METADATA_FILE] = _json_bytes(metadata)
    entries = [(n, files[n]) for n in sorted(files)]
    entries.append((MANIFEST_FILE, _json_bytes(manifest_for(entries))))
    safe = _path_component(spec.flow_name)
    build_id = f"{safe}-{now.strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(3)}"
    artifact = Path(output_dir) / safe / build_id / "artifact.zip"
    _write_zip_atomically(artifact, entries, now)
    return BuildResult(artifact, spec.flow_name, spec.flow_version, code_hash, metadata)


def register_pipeline(
    store: DuckDBStore,
    paths: DagyPaths,
    org_id: str,
    actor: Actor | None,
    pipeline: Pipeline,
    *,
    deployment_name: str | None = None,
    lookup: Lookup | None = None,
    yaml_text: str | None = None,
    status: str | None = None,
    schedule: str | None = None,
    timezone: str | None = None,
    default_executor: str | None = None,
    execution_mode: str | None = None,
    prefix: str | None = None,
    bucket: str | None = None,
) -> Deployed:
    """Build ``pipeline``'s artifact, store it in this home's artifact store and register its flow
    version (``pipeline.name``:``pipeline.version``) and deployment (``deployment_name``, default
    the pipeline's name), with their audit rows, in one transaction. PipelineError (400) when the
    pipeline does not check against ``lookup`` (pass the org's: ``registry.lookup_for``); nothing
    is stored then."""
    from dagy.artifacts import get_store
    from dagy.services.catalog import deploy

    request = deploy.DeployRequest(
        deployment_name=deployment_name or pipeline.name,
        flow_name=pipeline.name,
        flow_version=pipeline.version,
        status=status or deploy.DEFAULT_STATUS,
        schedule=schedule,
        timezone=timezone,
        default_executor=default_executor,
        execution_mode=execution_mode,
    )
    with tempfile.TemporaryDirectory(prefix="dagy-pipeline-") as scratch:
        built = build_pipeline_artifact(pipeline, Path(scratch), yaml_text=yaml_text, lookup=lookup)
        contents = deploy.read_artifact(built.artifact_path)
        key = deploy.artifact_key(prefix, org_id, pipeline.name, pipeline.version)
        with store.connection():
            deploy.check_request(store, org_id, request)
            uri = get_store(paths=paths, bucket=bucket).put_file(key, built.artifact_path)
            return deploy.register(store, org_id, actor, contents, uri, request)


def check_yaml(text: str, *, lookup: Lookup | None = None) -> tuple[FlowSpec | None, list[Problem]]:
    """POST /flows/validate's ``pipeline_yaml``: the FlowSpec it compiles to with its default
    parameters, or every problem (shape, then meaning) with none."""
    from dagy.errors import ParameterTypeError
    from dagy.pipelines.check import check_pipeline
    from dagy.pipelines.compile import to_flow_spec
    from dagy.pipelines.yaml_format import parse_pipeline

    try:
        pipeline = parse_pipeline(text)
    except PipelineError as exc:
        return None, exc.problems
    problems = check_pipeline(pipeline, lookup)
    if problems:
        return None, problems
    try:
        return to_flow_spec(pipeline, {}, lookup=lookup), []
    except PipelineError as exc:
        return None, exc.problems
    except ParameterTypeError as exc:
        return None, [Problem("params", str(exc))]

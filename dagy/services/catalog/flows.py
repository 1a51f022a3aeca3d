"""Flow versions registered with the API: validate, register, look up, list, delete.

A flow version is a FlowSpec (what `flow.build()` returns, what `dagy build` zips) plus where its
code lives: an artifact in the artifact store (``artifact_uri``), or — for flows registered on the
machine that runs them — the spec's own ``entrypoint`` path. See docs/flows.md.
"""

from __future__ import annotations

import json
import logging
import shutil
import urllib.parse
from pathlib import Path
from typing import Any

from dagy.config.paths import DagyPaths
from dagy.errors import ConflictError, InvalidInputError, NotFoundError
from dagy.sdk.spec import FlowSpec
from dagy.services import pagination
from dagy.services.accounts import audit
from dagy.services.accounts.audit import Actor
from dagy.services.catalog import flow_specs
from dagy.store import flows as sql
from dagy.store.duckdb_store import DuckDBStore
from dagy.store.flows import FlowDeletion, FlowSummary, FlowVersion
from dagy.store.records import iso_z, utcnow

log = logging.getLogger(__name__)

FLOW_STATUSES = ("active", "inactive")
# The built-in artifact store's folder (dagy/artifacts/local.py): a deleted flow's file://
# artifacts are removed only when they lie inside it.
LOCAL_ARTIFACT_FOLDER = "artifact-store"


def parse_spec(raw: Any, *, field: str = "flow_spec") -> FlowSpec:
    """A FlowSpec from an API body (object or JSON text); 400 naming what is wrong."""
    spec, errors = flow_specs.check_spec(raw)
    if spec is None:
        raise InvalidInputError(
            f"Invalid flow specification: {errors[0]}",
            {field: errors[0] if len(errors) == 1 else errors},
        )
    return spec


def register_version(
    store: DuckDBStore,
    org_id: str,
    spec: FlowSpec,
    *,
    artifact_uri: str | None = None,
    code_hash: str | None = None,
    namespace: str | None = None,
    tags: dict[str, Any] | None = None,
    status: str = "active",
    default_executor: str | None = None,
    deployment_name: str | None = None,
    schedule: str | None = None,
) -> tuple[FlowVersion, bool]:
    """Register (or re-register) ``spec.flow_name:spec.flow_version``; returns (row, created).

    Re-registering an existing version replaces its spec and artifact (a redeploy of the same
    version with new code) and keeps its ``deployment_version``. Registering makes the version the
    flow's active one when ``status`` is active.
    """
    status = (status or "active").lower()
    if status not in FLOW_STATUSES:
        raise InvalidInputError(
            f"Invalid status: {status!r}", {"status": f"one of {', '.join(FLOW_STATUSES)}"}
        )
    now = utcnow()
    with store.connection():
        existing = sql.get_flow_version(store, org_id, spec.flow_name, spec.flow_version)
        if existing is None:
            flow = FlowVersion(
                org_id=org_id,
                flow_name=spec.flow_name,
                flow_version=spec.flow_version,
                deployment_version=sql.next_deployment_version(store, org_id, spec.flow_name),
                flow_spec=spec.to_json(),
                artifact_uri=artifact_uri,
                code_hash=code_hash,
                namespace=namespace,
                tags=json.dumps(tags or {}),
                status=status,
                default_executor=default_executor,
                deployment_name=deployment_name,
                schedule=schedule,
                created_at=now,
                updated_at=now,
            )
            sql.insert_flow_version(store, flow)
        else:
            changes: dict[str, Any] = {
                "flow_spec": spec.to_json(),
                "status": status,
                "updated_at": now,
            }
            for key, value in (
                ("artifact_uri", artifact_uri),
                ("code_hash", code_hash),
                ("namespace", namespace),
                ("tags", json.dumps(tags) if tags is not None else None),
                ("default_executor", default_executor),
                ("deployment_name", deployment_name),
                ("schedule", schedule),
            ):
                if value is not None:
                    changes[key] = value
            sql.update_flow_version(store, org_id, spec.flow_name, spec.flow_version, **changes)
            flow = sql.get_flow_version(store, org_id, spec.flow_name, spec.flow_version)  # type: ignore[assignment]
        if status == "active":
            sql.set_active_version(store, org_id, spec.flow_name, spec.flow_version)
            flow.status = "active"
    return flow, existing is None


def get_version(store: DuckDBStore, org_id: str, flow_name: str, flow_version: str) -> FlowVersion:
    flow = sql.get_flow_version(store, org_id, flow_name, str(flow_version))
    if flow is None:
        raise NotFoundError(f"Flow version not found: {flow_name}:{flow_version}")
    return flow


def latest(store: DuckDBStore, org_id: str, flow_name: str) -> FlowVersion:
    flow = sql.latest_flow_version(store, org_id, flow_name)
    if flow is None:
        raise NotFoundError(f"Flow not found: {flow_name}")
    return flow


def resolve_version(
    store: DuckDBStore,
    org_id: str,
    flow_name: str,
    flow_version: Any,
    *,
    field: str = "flow_version",
) -> FlowVersion:
    """A version by its string, or by its registration number (``"flow_version": 5`` in the spec,
    as POST /runs reads it); 404 when the flow has no such version."""
    from dagy.store import queue

    if (
        isinstance(flow_version, bool)
        or not isinstance(flow_version, (str, int))
        or flow_version == ""
    ):
        raise InvalidInputError(f"Invalid {field}", {field: "a version string or number"})
    if isinstance(flow_version, int):
        found = queue.flow_version_by_number(store, org_id, flow_name, flow_version)
        if found is not None:
            return found
    return get_version(store, org_id, flow_name, str(flow_version))


def versions(store: DuckDBStore, org_id: str, flow_name: str) -> list[FlowVersion]:
    """Every version of a flow, newest registration first; 404 for a flow with none."""
    found = sql.flow_versions(store, org_id, flow_name)
    if not found:
        raise NotFoundError(f"Flow not found: {flow_name}")
    return found


def name_position(token: str | None) -> str | None:
    """The name a by-name ``next_token`` continues after (GET /flows, GET /deployments)."""
    position = pagination.decode_token(token, size=1)
    if position is None:
        return None
    if not isinstance(position[0], str):
        raise InvalidInputError("Invalid next_token", {"next_token": "malformed"})
    return position[0]


def to_item(row: FlowSummary) -> dict[str, Any]:
    """One flow as GET /flows lists it (``dagy flows list`` reads the same from the store)."""
    return {
        "flow_name": row.version.flow_name,
        "flow_version": row.version.flow_version,
        "namespace": row.version.namespace,
        "tags": row.version.tag_map,
        "status": row.version.status,
        "created_at": iso_z(row.first_created_at),
        "updated_at": iso_z(row.last_updated_at),
        # Not in the spec's item; `dagy flows list` shows it.
        "artifact_s3_uri": row.version.artifact_uri,
    }


def list_page(
    store: DuckDBStore, org_id: str, *, limit: Any = None, next_token: str | None = None
) -> tuple[list[FlowSummary], str | None]:
    """One page of the org's flows by name: each flow's active version (else its latest)."""
    size = pagination.clamp_limit(limit, default=20, maximum=100)
    rows = sql.flows_page(store, org_id, after=name_position(next_token), limit=size + 1)
    return pagination.page(rows, size, lambda row: [row.version.flow_name])


# -- deleting a flow --------------------------------------------------------------------------------


def delete_schedules_of(store: DuckDBStore, org_id: str, flow_name: str) -> int:
    """The schedules of a deleted flow go with it. Called inside delete()'s hold on the store."""
    from dagy.store import schedules

    return schedules.delete_of_flow(store, org_id, flow_name)


def delete(
    store: DuckDBStore,
    paths: DagyPaths,
    org_id: str,
    flow_name: str,
    *,
    actor: Actor | None = None,
) -> FlowDeletion:
    """Delete a flow: every version, its deployments and their history, its runs and task runs,
    its pending events, schedules, and its files. 404 for an unknown flow; 409 while any of its
    runs is queued or running (cancel them first: a running run would keep writing)."""
    with store.transaction():
        latest(store, org_id, flow_name)
        active = sql.active_run_ids(store, org_id, flow_name)
        if active:
            raise ConflictError(
                f"Flow {flow_name} has {len(active)} queued or running run(s); cancel them first",
                {"run_ids": active[:20]},
            )
        delete_schedules_of(store, org_id, flow_name)
        deletion = sql.delete_flow(store, org_id, flow_name)
        in_use = {uri for uri in deletion.artifact_uris if sql.artifact_in_use(store, uri)}
        if actor is not None:
            audit.write(
                store,
                actor,
                "delete",
                "flow",
                flow_name,
                resource_name=flow_name,
                changes={
                    "flow_versions": deletion.versions,
                    "deployments": deletion.deployments,
                    "runs": len(deletion.run_ids),
                    "task_runs": deletion.task_runs,
                    "events": deletion.events,
                },
                org_id=org_id,
            )
    _remove_files(paths, org_id, flow_name, deletion, in_use)
    return deletion


def _remove_files(
    paths: DagyPaths, org_id: str, flow_name: str, deletion: FlowDeletion, in_use: set[str]
) -> None:
    """After the rows are gone: run and artifact folders, unpacked code, local artifacts."""
    from dagy.services.runs.code import code_dir

    for run_id in deletion.run_ids:
        # A stored id that cannot name a folder (``../x``) has no files of its own to remove.
        _remove_inside(paths.runs, paths.runs / run_id)
        _remove_inside(paths.artifacts, paths.artifacts / run_id)
    for version in deletion.versions:
        folder = code_dir(paths, org_id, flow_name, version)
        _remove_inside(paths.home / "code", folder)
        _prune_empty(folder.parent, paths.home / "code")
    store_root = paths.home / LOCAL_ARTIFACT_FOLDER
    for uri in deletion.artifact_uris:
        file = _local_file(uri)
        if uri not in in_use and file is not None:
            _remove_inside(store_root, file)
            _prune_empty(file.parent, store_root)


def _local_file(uri: str) -> Path | None:
    parts = urllib.parse.urlsplit(uri)
    if parts.scheme != "file" or parts.netloc not in ("", "localhost"):
        return None  # s3:// and other stores: theirs to delete (a later issue)
    from urllib.request import url2pathname  # here: urllib.request imports http.client, email, ssl

    return Path(url2pathname(parts.path))


def _remove_inside(root: Path, target: Path) -> None:
    """Remove a file or folder, only when it lies strictly inside ``root``; failures are logged
    (the rows are already gone: a file left behind must not turn the delete into a 500)."""
    try:
        resolved, base = target.resolve(), root.resolve()
    except OSError:
        return
    if resolved == base or not resolved.is_relative_to(base) or not target.exists():
        return
    try:
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        else:
            target.unlink()
    except OSError as exc:
        log.warning("could not remove %s of a deleted flow: %s", target, exc)


def _prune_empty(folder: Path, root: Path) -> None:
    """Remove ``folder`` and its parents up to (not including) ``root`` while they are empty."""
    base = root.resolve()
    current = folder.resolve()
    while current != base and current.is_relative_to(base):
        try:
            current.rmdir()
        except OSError:
            return
        current = current.parent

"""The store protocol over loopback for the CLI of this machine (``dagy.store.remote``).

Only the local token reaches these routes (``store.local``). Rows written always land in the
caller's org, whatever the body says; reads for another org find nothing.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post

from dagy.auth import rbac
from dagy.errors import ConflictError, InvalidInputError
from dagy.server.security import identity_of, state_of
from dagy.store import queue, wire
from dagy.store.records import FINAL_STATUSES, RUN_STATUSES, utcnow

_OPT = {"permission": rbac.LOCAL}
# A FlowSpec of many task runs travels in one create: the default 10 MB limit is for the public API.
_MAX_BODY = 1 << 30


def _decode(decoder: Any, value: Any, field: str) -> Any:
    try:
        return decoder(value)
    except wire.WireError as exc:
        raise InvalidInputError(f"Invalid {field}: {exc}", {field: str(exc)}) from None


def _org(request: Request[Any, Any, Any], asked: str | None) -> str | None:
    """The caller's org, or None when the caller asked about another one."""
    org_id = identity_of(request).org_id
    return org_id if asked in (None, org_id) else None


def _status(status: str | None) -> str | None:
    if status and status.upper() not in RUN_STATUSES:
        raise InvalidInputError(f"Invalid status: {status!r}", {"status": ", ".join(RUN_STATUSES)})
    return status


@post(
    "/_local/store/runs",
    status_code=201,
    sync_to_thread=True,
    include_in_schema=False,
    request_max_body_size=_MAX_BODY,
    opt=_OPT,
)
def create_run(request: Request[Any, Any, Any], data: dict[str, Any]) -> dict[str, Any]:
    run = _decode(wire.decode_run, data.get("run"), "run")
    task_runs = _decode(wire.decode_task_runs, data.get("task_runs"), "task_runs")
    run.org_id = identity_of(request).org_id
    for row in task_runs:
        row.org_id = run.org_id
        if row.run_id != run.run_id:
            raise InvalidInputError("A task run of another run", {"task_runs": row.task_run_id})
    store = state_of(request).store
    with store.connection():
        if store.run_exists(run.run_id):
            raise ConflictError(f"Run already exists: {run.run_id}", {"run_id": run.run_id})
        store.create_run(run, task_runs)
    return {"run_id": run.run_id}


@post(
    "/_local/store/runs/{run_id:str}/apply",
    status_code=200,
    sync_to_thread=True,
    include_in_schema=False,
    request_max_body_size=_MAX_BODY,
    opt=_OPT,
)
def apply(request: Request[Any, Any, Any], run_id: str, data: dict[str, Any]) -> dict[str, Any]:
    """One batch of the engine's recorder; ``applied`` false when the org has no such run."""
    changes = _decode(wire.decode_changes, data.get("changes") or {}, "changes")
    task_runs = _decode(wire.decode_task_runs, data.get("task_runs"), "task_runs")
    changes.pop("org_id", None)
    changes.pop("run_id", None)
    store, org_id = state_of(request).store, identity_of(request).org_id
    for row in task_runs:
        row.run_id, row.org_id = run_id, org_id
    with store.connection():
        if not store.run_exists(run_id, org_id):
            return {"applied": False}
        store.apply(run_id, changes, task_runs)
        if changes.get("status") in FINAL_STATUSES:  # the event log and alert rules see it end
            ended = store.get_run(run_id, org_id=org_id)
            if ended is not None:
                queue.record_status(store, ended, utcnow())
    return {"applied": True}


@post(
    "/_local/store/pruned", status_code=200, sync_to_thread=True, include_in_schema=False, opt=_OPT
)
def mark_pruned(request: Request[Any, Any, Any], data: dict[str, Any]) -> dict[str, Any]:
    run_ids = data.get("run_ids")
    if not isinstance(run_ids, list) or not all(isinstance(r, str) for r in run_ids):
        raise InvalidInputError("Invalid run_ids", {"run_ids": "a list of run ids"})
    state_of(request).store.mark_pruned(run_ids)
    return {"pruned": len(run_ids)}


@get("/_local/store/runs/{run_id:str}", sync_to_thread=True, include_in_schema=False, opt=_OPT)
def get_run(request: Request[Any, Any, Any], run_id: str, org_id: str | None = None) -> dict:
    org = _org(request, org_id)
    run = state_of(request).store.get_run(run_id, org_id=org) if org else None
    return {"run": wire.encode_run(run) if run else None}


@get("/_local/store/runs", sync_to_thread=True, include_in_schema=False, opt=_OPT)
def list_runs(
    request: Request[Any, Any, Any],
    org_id: str | None = None,
    status: str | None = None,
    flow_name: str | None = None,
    limit: int = 100,
) -> dict[str, Any]:
    """Newest first; ``limit`` 0 for all."""
    org = _org(request, org_id)
    if org is None:
        return {"items": []}
    runs = state_of(request).store.list_runs(
        org_id=org, status=_status(status), flow_name=flow_name, limit=max(limit, 0) or None
    )
    return {"items": [wire.encode_run(r) for r in runs]}


@get("/_local/store/runs-count", sync_to_thread=True, include_in_schema=False, opt=_OPT)
def count_runs(
    request: Request[Any, Any, Any],
    org_id: str | None = None,
    status: str | None = None,
    flow_name: str | None = None,
) -> dict[str, Any]:
    org = _org(request, org_id)
    if org is None:
        return {"count": 0}
    store = state_of(request).store
    return {"count": store.count_runs(org_id=org, status=_status(status), flow_name=flow_name)}


@get(
    "/_local/store/runs/{run_id:str}/task-runs",
    sync_to_thread=True,
    include_in_schema=False,
    opt=_OPT,
)
def task_runs(request: Request[Any, Any, Any], run_id: str) -> dict[str, Any]:
    store, org_id = state_of(request).store, identity_of(request).org_id
    with store.connection():
        rows = store.task_runs(run_id) if store.run_exists(run_id, org_id) else []
    return wire.encode_task_runs(rows)


@get("/_local/store/prune-candidates", sync_to_thread=True, include_in_schema=False, opt=_OPT)
def prune_candidates(request: Request[Any, Any, Any], keep: int) -> dict[str, Any]:
    """Retention counts every run of this home (its files live under this home's folders)."""
    if keep < 1:
        raise InvalidInputError("Invalid keep", {"keep": "at least 1"})
    return {"run_ids": state_of(request).store.runs_to_prune(keep)}


ROUTES = [
    create_run,
    apply,
    mark_pruned,
    get_run,
    list_runs,
    count_runs,
    task_runs,
    prune_candidates,
]

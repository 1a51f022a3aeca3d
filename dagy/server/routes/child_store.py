"""Store routes for the children `dagy serve` runs queued runs in (dagy/services/runs/child.py).

Like ``/_local/store`` (local token only, ``store.local``), but a run is found by its id in
whatever org it belongs to: a run triggered through the API lives in its caller's org, while the
local token's own routes see only the personal org. The local token stands for the machine's
user, who can read ``dagy.duckdb`` itself; these routes give it nothing more.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post

from dagy.auth import rbac
from dagy.errors import InvalidInputError
from dagy.server.security import state_of
from dagy.store import queue, wire

_OPT = {"permission": rbac.LOCAL}
_MAX_BODY = 1 << 30  # a large fan-out's FlowSpec travels in the first batch
PREFIX = "/_local/store/server-runs/{run_id:str}"


def _decode(decoder: Any, value: Any, field: str) -> Any:
    try:
        return decoder(value)
    except wire.WireError as exc:
        raise InvalidInputError(f"Invalid {field}: {exc}", {field: str(exc)}) from None


@get(PREFIX, sync_to_thread=True, include_in_schema=False, opt=_OPT)
def get_run(request: Request[Any, Any, Any], run_id: str) -> dict[str, Any]:
    run = queue.run_by_id(state_of(request).store, run_id)
    return {"run": wire.encode_run(run) if run else None}


@post(
    PREFIX + "/apply",
    status_code=200,
    sync_to_thread=True,
    include_in_schema=False,
    request_max_body_size=_MAX_BODY,
    opt=_OPT,
)
def apply(request: Request[Any, Any, Any], run_id: str, data: dict[str, Any]) -> dict[str, Any]:
    changes = _decode(wire.decode_changes, data.get("changes") or {}, "changes")
    task_runs = _decode(wire.decode_task_runs, data.get("task_runs"), "task_runs")
    changes.pop("org_id", None)
    changes.pop("run_id", None)
    store = state_of(request).store
    with store.connection():
        run = queue.run_by_id(store, run_id)
        if run is None:
            return {"applied": False}
        for row in task_runs:
            row.run_id, row.org_id = run_id, run.org_id
        store.apply(run_id, changes, task_runs)
    return {"applied": True}


@get(PREFIX + "/task-runs", sync_to_thread=True, include_in_schema=False, opt=_OPT)
def task_runs(request: Request[Any, Any, Any], run_id: str) -> dict[str, Any]:
    return wire.encode_task_runs(state_of(request).store.task_runs(run_id))


ROUTES = [get_run, apply, task_runs]

"""Runs as the API shows them (GET /runs, GET /runs/{run_id}): the spec's fields from RunRecord.

What is derived rather than stored (docs/store-sharing.md repeats it):
- ``status``: the API's vocabulary (queued, running, completed, failed, cancelled; API_STATUS).
- ``run_slug``: ``<flow_name>-<created_at as YYYY-MM-DD-HHMMSS>``, the spec's example shape.
- ``completed_at``: when the run ended, whatever the outcome (``ended_at``); null while it runs.
- ``duration_seconds``: ``completed_at - started_at`` in seconds (millisecond precision; local
  runs are often shorter than a second); null until the run ends.
- ``flow_version``: the flow's version string as the SDK declares it (``"1.0.0"``).
- ``executor``: where the tasks ran (``local``, ``process`` or a plugin's name).
- ``execution_mode``: as given to POST /runs (or the deployment's); null for runs started by the
  CLI (it sizes remote executors only).
- ``retry_count``: how many retries led to this run (0 for an original run).
- ``tags``: the run's own tags (POST /runs ``tags``), else its trigger (``cli``, ``api``,
  ``retry``, ...).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from dagy.errors import InvalidInputError, NotFoundError
from dagy.services import pagination
from dagy.store.records import API_STATUS, RunRecord

if TYPE_CHECKING:
    from dagy.store.duckdb_store import DuckDBStore

_STATUS_OF_API = {api: internal for internal, api in API_STATUS.items()}


def _time(value: Any) -> str | None:
    return value.replace(microsecond=0).isoformat() + "Z" if value is not None else None


def _json(raw: str | None, empty: Any = None) -> Any:
    return json.loads(raw) if raw else empty


def run_slug(run: RunRecord) -> str:
    return f"{run.flow_name}-{run.created_at.strftime('%Y-%m-%d-%H%M%S')}"


def to_item(run: RunRecord) -> dict[str, Any]:
    """The fields of a GET /runs item."""
    duration = run.duration_seconds
    return {
        "run_id": run.run_id,
        "run_slug": run_slug(run),
        "flow_name": run.flow_name,
        "flow_version": run.flow_version,
        "status": API_STATUS.get(run.status, run.status.lower()),
        "created_at": _time(run.created_at),
        "started_at": _time(run.started_at),
        "completed_at": _time(run.ended_at),
        "duration_seconds": round(duration, 3) if duration is not None else None,
    }


def to_item_with_trigger(run: RunRecord) -> dict[str, Any]:
    """A GET /runs item and what started the run (``cli``, ``api``, ``retry``, ...): the TUI's
    local view, which has the row at hand."""
    return {**to_item(run), "trigger": run.trigger}


def to_detail(run: RunRecord, retry_count: int) -> dict[str, Any]:
    """The body of GET /runs/{run_id}."""
    item = to_item(run)
    return {
        **{k: item[k] for k in ("run_id", "run_slug", "flow_name", "flow_version")},
        "deployment_name": run.deployment_name,
        **{
            k: item[k]
            for k in ("status", "created_at", "started_at", "completed_at", "duration_seconds")
        },
        "executor": run.executor,
        "execution_mode": run.execution_mode,
        "parameters": _json(run.parameters, {}),
        "output": _json(run.output),
        "error": run.error,
        "retry_count": retry_count,
        "tags": _json(run.tags) if run.tags is not None else [run.trigger] if run.trigger else [],
    }


def to_trigger_body(run: RunRecord) -> dict[str, Any]:
    """The 202 body of POST /runs (and of a retry): the queued run."""
    item = to_item(run)
    return {
        **{k: item[k] for k in ("run_id", "run_slug", "flow_name", "flow_version", "status")},
        "created_at": item["created_at"],
        "parameters": _json(run.parameters, {}),
    }


def to_cancel_body(run: RunRecord) -> dict[str, Any]:
    """The body of POST /runs/{run_id}/cancel: ``cancelled_at`` is when the run ended."""
    return {
        "run_id": run.run_id,
        "status": API_STATUS.get(run.status, run.status.lower()),
        "cancelled_at": _time(run.ended_at),
    }


def internal_status(status: str | None) -> str | None:
    """An API status filter as the store spells it; 400 naming ``status`` for any other word."""
    if not status:
        return None
    found = _STATUS_OF_API.get(status)
    if found is None:
        raise InvalidInputError(
            f"Invalid status: {status!r}", {"status": f"one of {', '.join(_STATUS_OF_API)}"}
        )
    return found


def list_runs(
    store: DuckDBStore,
    org_id: str,
    *,
    flow_name: str | None = None,
    status: str | None = None,
    deployment_name: str | None = None,
    limit: Any = None,
    next_token: str | None = None,
    item: Callable[[RunRecord], dict[str, Any]] = to_item,
) -> dict[str, Any]:
    """One page of the org's runs, newest first, in the spec's list shape (items by ``item``)."""
    size = pagination.clamp_limit(limit, default=20, maximum=100)
    internal = internal_status(status)
    position = pagination.decode_keyset(next_token)
    rows = store.runs_page(
        org_id,
        status=internal,
        flow_name=flow_name or None,
        before=position,
        limit=size + 1,
        deployment_name=deployment_name or None,
    )
    items, token = pagination.page(rows, size, lambda r: [r.created_at.isoformat(), r.run_id])
    return {"items": [item(r) for r in items], "next_token": token}


def get_run(store: DuckDBStore, org_id: str, run_id: str) -> dict[str, Any]:
    """One run of the org; 404 for an unknown id and for another org's run alike."""
    with store.connection():
        run = store.get_run_summary(run_id, org_id)
        if run is None:
            raise NotFoundError(f"Run not found: {run_id}", {"run_id": run_id})
        return to_detail(run, store.retry_count(run_id))


def task_runs(store: DuckDBStore, org_id: str, run_id: str) -> dict[str, Any]:
    """GET /runs/{run_id}/task-runs (beyond the spec): the run's task runs and its DAG's edges, as
    `dagy runs show` and `dagy tui` show them; 404 for an unknown id or another org's run."""
    with store.connection():
        run = store.get_run(run_id, org_id=org_id)
        if run is None:
            raise NotFoundError(f"Run not found: {run_id}", {"run_id": run_id})
        items = [t.to_json() for t in store.task_runs(run_id)]
    edges = json.loads(run.flow_spec).get("edges") if run.flow_spec else None
    return {"run_id": run_id, "items": items, "edges": edges}

"""Reading runs: one page of an org's runs, one run with its task runs and DAG, its retry count.

Records only (dagy.store.records); the server shapes the API's JSON from them at its edge
(dagy/server/shapes.py) and the local backend turns them into the front ends' records.
"""

from __future__ import annotations

import datetime as _dt
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dagy import states
from dagy.errors import InvalidInputError, NotFoundError
from dagy.services import pagination
from dagy.store.records import RunRecord, TaskRunRecord

if TYPE_CHECKING:
    from dagy.store.duckdb_store import DuckDBStore


@dataclass(frozen=True)
class RunsPage:
    items: list[RunRecord]  # without their FlowSpec
    next_token: str | None


@dataclass(frozen=True)
class RunDetail:
    run: RunRecord  # without its FlowSpec
    task_runs: list[TaskRunRecord]
    edges: list[list[str]] | None  # the DAG: upstream → downstream task run ids
    retry_count: int


def run_slug(run: RunRecord) -> str:
    """``<flow_name>-<created_at as YYYY-MM-DD-HHMMSS>``: the spec's human-readable run name."""
    return f"{run.flow_name}-{run.created_at.strftime('%Y-%m-%d-%H%M%S')}"


def not_found(run_id: str) -> NotFoundError:
    return NotFoundError(f"Run not found: {run_id}", {"run_id": run_id})


def check_status(status: str | None) -> str | None:
    """An API status filter (``queued``, ``completed``, ...) as the store spells it; 400 naming
    ``status`` for any other word."""
    if not status:
        return None
    words = states.api_words()
    if status not in words:
        raise InvalidInputError(
            f"Invalid status: {status!r}", {"status": f"one of {', '.join(words)}"}
        )
    return states.from_api(status)


def list_page(
    store: DuckDBStore,
    org_id: str,
    *,
    status: str | None = None,
    flow_name: str | None = None,
    deployment_name: str | None = None,
    limit: Any = None,
    next_token: str | None = None,
    default_limit: int = 20,
    created_after: str | None = None,
    created_before: str | None = None,
    run_id_prefix: str | None = None,
    brief: bool = False,
) -> RunsPage:
    """One page of the org's runs, newest first; ``status`` in dagy.states' words. Optional
    filters: created in [created_after, created_before) (ISO 8601, UTC without an offset) and a
    run id prefix. ``brief``: the runs carry only what a GET /runs item shows (id, flow, version,
    status, times); their other fields keep RunRecord's defaults."""
    size = pagination.clamp_limit(limit, default=default_limit, maximum=100)
    position = pagination.decode_keyset(next_token)
    rows = store.runs_page(
        org_id,
        status=status,
        flow_name=flow_name or None,
        before=position,
        limit=size + 1,
        deployment_name=deployment_name or None,
        created_after=_moment(created_after, "created_after"),
        created_before=_moment(created_before, "created_before"),
        id_prefix=run_id_prefix or None,
        brief=brief,
    )
    items, token = pagination.page(rows, size, lambda r: [r.created_at.isoformat(), r.run_id])
    return RunsPage(items, token)


def _moment(value: str | None, field: str) -> _dt.datetime | None:
    """An ISO 8601 date or time as naive UTC (the store's timestamps); 400 when unreadable."""
    if not value:
        return None
    text = value.strip()
    try:
        moment = _dt.datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    except ValueError:
        raise InvalidInputError(
            f"{field} must be an ISO 8601 date or time such as 2026-03-03T09:00:00Z",
            {"field": field},
        ) from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(_dt.timezone.utc).replace(tzinfo=None)
    return moment


def count(
    store: DuckDBStore, org_id: str, *, status: str | None = None, flow_name: str | None = None
) -> int:
    return store.count_runs(org_id=org_id, status=status, flow_name=flow_name or None)


def get(store: DuckDBStore, org_id: str, run_id: str) -> RunRecord:
    """One run of the org (no FlowSpec); 404 for an unknown id and for another org's run alike."""
    run = store.get_run_summary(run_id, org_id)
    if run is None:
        raise not_found(run_id)
    return run


def retry_count(store: DuckDBStore, run_id: str) -> int:
    return store.retry_count(run_id)


def retries_of(store: DuckDBStore, run: RunRecord) -> int:
    """``retry_count`` of a run already read: 0 without asking when it retried no run."""
    return store.retry_count(run.run_id) if run.retry_of else 0


def detail(store: DuckDBStore, org_id: str, run_id: str) -> RunDetail:
    """The run, its task runs, its DAG's edges and how many retries led to it."""
    run = store.get_run(run_id, org_id=org_id)
    if run is None:
        raise not_found(run_id)
    tasks = store.task_runs(run_id)
    retries = retries_of(store, run)
    edges = json.loads(run.flow_spec).get("edges") if run.flow_spec else None
    run.flow_spec = None
    return RunDetail(run, tasks, [list(e) for e in edges] if edges else edges, retries)

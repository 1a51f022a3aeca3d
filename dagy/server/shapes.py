"""Runs as the API shows them: the spec's JSON, shaped at the server's edge from the services'
records (dagy/services/runs). Nothing else shapes run JSON.

What is derived rather than stored (docs/store-sharing.md repeats it):
- ``status``: the API's vocabulary (queued, running, completed, failed, cancelled; dagy.states).
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
- beyond the spec, GET /runs/{run_id} also has ``trigger``, ``retry_of`` (the run it retried) and
  ``replay_of`` (the run it replayed, docs/replay.md),
  so a client shows a run as fully as the store does.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from dagy.services.runs.reads import run_slug
from dagy.states import to_api
from dagy.store.records import RunRecord

if TYPE_CHECKING:
    from dagy.services.runs.logs import LogPage
    from dagy.services.runs.reads import RunDetail, RunsPage


def _time(value: Any) -> str | None:
    return value.replace(microsecond=0).isoformat() + "Z" if value is not None else None


def _json(raw: str | None, empty: Any = None) -> Any:
    return json.loads(raw) if raw else empty


def to_item(run: RunRecord) -> dict[str, Any]:
    """The fields of a GET /runs item."""
    duration = run.duration_seconds
    return {
        "run_id": run.run_id,
        "run_slug": run_slug(run),
        "flow_name": run.flow_name,
        "flow_version": run.flow_version,
        "status": to_api(run.status),
        "created_at": _time(run.created_at),
        "started_at": _time(run.started_at),
        "completed_at": _time(run.ended_at),
        "duration_seconds": round(duration, 3) if duration is not None else None,
    }


def to_page(page: RunsPage) -> dict[str, Any]:
    return {"items": [to_item(r) for r in page.items], "next_token": page.next_token}


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
        "trigger": run.trigger,
        "retry_of": run.retry_of,
        "replay_of": run.replay_of,
    }


def to_task_runs(detail: RunDetail) -> dict[str, Any]:
    """GET /runs/{run_id}/task-runs (beyond the spec): the task runs and the DAG's edges."""
    return {
        "run_id": detail.run.run_id,
        "items": [t.to_json() for t in detail.task_runs],
        "edges": detail.edges,
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
    return {"run_id": run.run_id, "status": to_api(run.status), "cancelled_at": _time(run.ended_at)}


def to_log_events(page: LogPage) -> dict[str, Any]:
    """GET /runs/{run_id}/logs: a line without its own time takes the previous line's, as the spec
    wants every event timed; ``untimed`` (beyond the spec) marks it, so a client can print the
    line as the file has it."""
    events: list[dict[str, Any]] = []
    previous: str | None = None
    for line in page.lines:
        event: dict[str, Any] = {
            "timestamp": line.timestamp or previous,
            "message": line.message,
            "ingestion_time": page.ingestion_time,
        }
        if line.timestamp is None:
            event["untimed"] = True
        previous = event["timestamp"]
        events.append(event)
    return {"events": events, "next_token": page.next_token}

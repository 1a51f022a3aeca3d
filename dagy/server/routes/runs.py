"""Runs: trigger, list, get, cancel, logs, retry, and a task run's status set by hand.

The runs of the caller's org, whoever started them (the API, a schedule, or `dagy run`). Triggered
runs are queued for the server's workers (dagy/server/workers.py); see docs/runs-api.md.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, get, patch, post

from dagy import states
from dagy.errors import InvalidInputError
from dagy.server import shapes
from dagy.server.openapi import WHEN, Body, given, required
from dagy.server.readcache import cache_of
from dagy.server.security import actor_of, identity_of, state_of
from dagy.services.runs import control as run_control
from dagy.services.runs import logs as run_logs
from dagy.services.runs import reads
from dagy.services.runs import trigger as execution

TRIGGER_FIELDS = frozenset(
    {
        "flow_name",
        "flow_version",
        "deployment",
        "deployment_name",
        "parameters",
        "execute",
        "executor",
        "execution_mode",
        "tags",
        "singleton",
    }
)


class TriggerBody(Body):
    """TRIGGER_FIELDS; the service checks each (400 naming it, 404 for an unknown flow)."""

    flow_name: Any = msgspec.UNSET
    flow_version: Any = msgspec.UNSET
    deployment: Any = msgspec.UNSET
    deployment_name: Any = msgspec.UNSET
    parameters: Any = msgspec.UNSET
    execute: Any = msgspec.UNSET
    executor: Any = msgspec.UNSET
    execution_mode: Any = msgspec.UNSET
    tags: Any = msgspec.UNSET
    singleton: Any = msgspec.UNSET
    doc = {
        "flow_name": {"type": "string"},
        "flow_version": {"type": "string"},
        "deployment": {"type": "string"},
        "deployment_name": {"type": "string"},
        "parameters": {"type": "object"},
        "execute": {"type": "boolean"},
        "executor": {"type": "string"},
        "execution_mode": {"type": "string"},
        "tags": {"type": "array", "items": {"type": "string", "minLength": 1}},
        "singleton": {"type": "boolean"},
    }


class TaskStatusBody(Body):
    status: str | None = None
    doc = {"status": required(enum=["succeeded", "failed"])}


_RUN_LIST = {
    "permission": "runs.read",
    "params": {
        "status": {"enum": list(states.api_words())},
        "created_after": WHEN,
        "created_before": WHEN,
    },
}


def _wake(request: Request[Any, Any, Any]) -> Any:
    workers = state_of(request).workers
    return workers.wake if workers is not None else None


def _deployment(data: dict[str, Any]) -> Any:
    """``deployment``, or the ``deployment_name`` some clients send; both must agree."""
    given = [data[k] for k in ("deployment", "deployment_name") if data.get(k) is not None]
    if len(given) == 2 and given[0] != given[1]:
        raise InvalidInputError(
            "deployment and deployment_name differ", {"deployment_name": "differs"}
        )
    return given[0] if given else None


@post(
    "/runs",
    status_code=202,
    sync_to_thread=True,
    opt={"permission": "runs.trigger", "errors": [404, 409]},
)
def trigger(request: Request[Any, Any, Any], data: TriggerBody) -> dict[str, Any]:
    return _trigger(request, given(data))


def _trigger(request: Request[Any, Any, Any], data: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(data) - TRIGGER_FIELDS)
    if unknown:
        raise InvalidInputError(
            f"Unknown field: {unknown[0]}", dict.fromkeys(unknown, "unknown field")
        )
    actor, store = actor_of(request), state_of(request).store
    run = execution.trigger_run(
        store,
        actor.org_id,
        actor.email,
        deployment=_deployment(data),
        flow_name=data.get("flow_name"),
        flow_version=data.get("flow_version"),
        parameters=data.get("parameters"),
        execute=data.get("execute"),
        executor=data.get("executor"),
        execution_mode=data.get("execution_mode"),
        tags=data.get("tags"),
        singleton=data.get("singleton"),
        wake=_wake(request),
        by=actor,
    )
    return shapes.to_trigger_body(run)


@get("/runs", opt=_RUN_LIST)
async def list_runs(
    request: Request[Any, Any, Any],
    flow_name: str | None = None,
    status: str | None = None,
    deployment_name: str | None = None,
    limit: int | None = None,
    next_token: str | None = None,
    created_after: str | None = None,
    created_before: str | None = None,
    run_id_prefix: str | None = None,
) -> dict[str, Any]:
    def compute() -> dict[str, Any]:
        page = reads.list_page(
            state_of(request).store,
            identity_of(request).org_id,
            flow_name=flow_name,
            status=reads.check_status(status),
            deployment_name=deployment_name,
            limit=limit,
            next_token=next_token,
            created_after=created_after,
            created_before=created_before,
            run_id_prefix=run_id_prefix,
            brief=True,
        )
        return shapes.to_page(page)

    return await cache_of(request).answer(request, compute)


@get("/runs/{run_id:str}", opt={"permission": "runs.read"})
async def get_run(request: Request[Any, Any, Any], run_id: str) -> dict[str, Any]:
    def compute() -> dict[str, Any]:
        store = state_of(request).store
        run = reads.get(store, identity_of(request).org_id, run_id)
        return shapes.to_detail(run, reads.retries_of(store, run))

    return await cache_of(request).answer(request, compute)


@post(
    "/runs/{run_id:str}/cancel",
    status_code=200,
    sync_to_thread=True,
    opt={"permission": "runs.cancel"},
)
def cancel(request: Request[Any, Any, Any], run_id: str) -> dict[str, Any]:
    state = state_of(request)
    run = run_control.cancel(
        state.store, state.paths, actor_of(request), run_id, workers=state.workers
    )
    return shapes.to_cancel_body(run)


@get("/runs/{run_id:str}/logs", sync_to_thread=True, opt={"permission": "runs.read"})
def logs(
    request: Request[Any, Any, Any],
    run_id: str,
    limit: int | None = None,
    next_token: str | None = None,
    task_run_id: str | None = None,
) -> dict[str, Any]:
    state = state_of(request)
    page = run_logs.read(
        state.store,
        state.paths,
        identity_of(request).org_id,
        run_id,
        task_run_id=task_run_id or None,
        limit=limit,
        next_token=next_token,
    )
    return shapes.to_log_events(page)


@post(
    "/runs/{run_id:str}/retry",
    status_code=202,
    sync_to_thread=True,
    opt={"permission": "runs.trigger"},
)
def retry(request: Request[Any, Any, Any], run_id: str) -> dict[str, Any]:
    run = execution.retry_run(
        state_of(request).store, actor_of(request), run_id, wake=_wake(request)
    )
    return {**shapes.to_trigger_body(run), "retry_of": run_id}


@patch(
    "/runs/{run_id:str}/task-runs/{task_run_id:str}/status",
    sync_to_thread=True,
    opt={"permission": "runs.trigger"},
)
def set_task_status(
    request: Request[Any, Any, Any], run_id: str, task_run_id: str, data: TaskStatusBody
) -> dict[str, Any]:
    run, task = run_control.set_task_status(
        state_of(request).store, actor_of(request), run_id, task_run_id, data.status
    )
    return {
        "run_id": run_id,
        "task_run_id": task_run_id,
        "status": task.status.lower(),
        "run_status": shapes.to_item(run)["status"],
    }


@get("/runs/{run_id:str}/task-runs", opt={"permission": "runs.read"})
async def task_runs(request: Request[Any, Any, Any], run_id: str) -> dict[str, Any]:
    def compute() -> dict[str, Any]:
        detail = reads.detail(state_of(request).store, identity_of(request).org_id, run_id)
        return shapes.to_task_runs(detail)

    return await cache_of(request).answer(request, compute)


ROUTES = [trigger, list_runs, get_run, task_runs, cancel, logs, retry, set_task_status]

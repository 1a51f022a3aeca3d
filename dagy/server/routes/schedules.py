"""Schedules: create, list, get, change, trigger now, delete (docs/schedules.md). The scheduler loop
that fires them runs in the server (dagy/scheduler/loop.py)."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, delete, get, patch, post

from dagy.errors import InvalidInputError
from dagy.server.security import actor_of, identity_of, state_of
from dagy.services.triggers import schedules

_READ = {"permission": "schedules.read"}
_WRITE = {"permission": "schedules.write"}
# The reference asks schedules.write for DELETE too (schedules.delete is in the matrix).
_DELETE = {"permission": "schedules.write"}


@post("/schedules", status_code=201, sync_to_thread=True, opt=_WRITE)
def create_schedule(request: Request[Any, Any, Any], data: Any) -> dict[str, Any]:
    actor = actor_of(request)
    schedule = schedules.create(state_of(request).store, actor.org_id, data, actor=actor)
    return schedules.to_body(schedule)


@get("/schedules", sync_to_thread=True, opt=_READ)
def list_schedules(
    request: Request[Any, Any, Any],
    flow_name: str | None = None,
    mode: str | None = None,
    enabled: str | None = None,
    limit: str | None = None,
    next_token: str | None = None,
) -> dict[str, Any]:
    return schedules.list_page(
        state_of(request).store,
        identity_of(request).org_id,
        flow_name=flow_name,
        mode=mode,
        enabled=enabled,
        limit=limit,
        next_token=next_token,
    )


@get("/schedules/{schedule_id:str}", sync_to_thread=True, opt=_READ)
def get_schedule(request: Request[Any, Any, Any], schedule_id: str) -> dict[str, Any]:
    found = schedules.get(state_of(request).store, identity_of(request).org_id, schedule_id)
    return schedules.to_body(found)


@patch("/schedules/{schedule_id:str}", sync_to_thread=True, opt=_WRITE)
def update_schedule(request: Request[Any, Any, Any], schedule_id: str, data: Any) -> dict[str, Any]:
    actor = actor_of(request)
    schedule = schedules.update(
        state_of(request).store, actor.org_id, schedule_id, data, actor=actor
    )
    return schedules.to_body(schedule)


@post(
    "/schedules/{schedule_id:str}/trigger",
    status_code=202,
    sync_to_thread=True,
    opt={"permission": "runs.trigger"},
)
def trigger_schedule(
    request: Request[Any, Any, Any], schedule_id: str, data: Any = None
) -> dict[str, Any]:
    if data is not None and not isinstance(data, dict):
        raise InvalidInputError("The body must be a JSON object", {"body": "an object"})
    unknown = sorted(set(data or {}) - {"parameters"})
    if unknown:
        raise InvalidInputError(f"Unknown field: {unknown[0]}", dict.fromkeys(unknown, "unknown"))
    state, actor = state_of(request), actor_of(request)
    wake = state.workers.wake if state.workers is not None else None
    return schedules.trigger(
        state.store, actor.org_id, actor, schedule_id, (data or {}).get("parameters"), wake=wake
    )


@delete("/schedules/{schedule_id:str}", status_code=204, sync_to_thread=True, opt=_DELETE)
def delete_schedule(request: Request[Any, Any, Any], schedule_id: str) -> Response[None]:
    actor = actor_of(request)
    schedules.delete(state_of(request).store, actor.org_id, schedule_id, actor=actor)
    return Response(None, status_code=204)


ROUTES = [
    create_schedule,
    list_schedules,
    get_schedule,
    update_schedule,
    trigger_schedule,
    delete_schedule,
]

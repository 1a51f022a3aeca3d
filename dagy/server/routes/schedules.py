"""Schedules: create, list, get, change, trigger now, delete (docs/schedules.md). The scheduler loop
that fires them runs in the server (dagy/scheduler/loop.py)."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, delete, get, patch, post

from dagy.server.openapi import Body, given
from dagy.server.security import actor_of, identity_of, state_of
from dagy.services.triggers import schedule_rules, schedules

_READ = {"permission": "schedules.read"}
_WRITE = {"permission": "schedules.write"}
# The reference asks schedules.write for DELETE too (schedules.delete is in the matrix).
_DELETE = {"permission": "schedules.write"}
_UNSET = msgspec.UNSET
_TIME = {"description": "ISO 8601, e.g. 2026-03-03T09:00:00Z"}


class SchedulePatch(Body):
    """schedule_rules.PATCH_FIELDS (a test keeps the two the same)."""

    enabled: bool | msgspec.UnsetType = _UNSET
    timezone: str | msgspec.UnsetType = _UNSET
    catchup_policy: str | msgspec.UnsetType = _UNSET
    cron_expression: str | None | msgspec.UnsetType = _UNSET
    interval_seconds: int | str | None | msgspec.UnsetType = _UNSET  # 90, or "30m"
    one_time_at: str | None | msgspec.UnsetType = _UNSET
    start_at: str | None | msgspec.UnsetType = _UNSET
    end_at: str | None | msgspec.UnsetType = _UNSET
    parameters: dict[str, Any] | None | msgspec.UnsetType = _UNSET
    description: str | None | msgspec.UnsetType = _UNSET
    environment: str | None | msgspec.UnsetType = _UNSET
    doc = {
        "catchup_policy": {"enum": list(schedule_rules.CATCHUP_POLICIES)},
        "timezone": {"description": "An IANA time zone such as UTC or America/New_York"},
        "one_time_at": _TIME,
        "start_at": _TIME,
        "end_at": _TIME,
        "description": {"maxLength": 2000},
    }


class ScheduleBody(SchedulePatch):
    """schedule_rules.CREATE_FIELDS."""

    schedule_id: str | None | msgspec.UnsetType = _UNSET
    flow_name: str | None | msgspec.UnsetType = _UNSET
    flow_version: str | int | None | msgspec.UnsetType = _UNSET
    deployment_name: str | None | msgspec.UnsetType = _UNSET
    mode: str | None | msgspec.UnsetType = _UNSET
    doc = {
        **SchedulePatch.doc,
        "mode": {"enum": list(schedule_rules.MODES)},
        "schedule_id": {"pattern": schedule_rules._ID.pattern},
    }


class TriggerBody(Body):
    parameters: dict[str, Any] | None = None


@post("/schedules", status_code=201, sync_to_thread=True, opt={**_WRITE, "errors": [404, 409]})
def create_schedule(request: Request[Any, Any, Any], data: ScheduleBody) -> dict[str, Any]:
    actor = actor_of(request)
    schedule = schedules.create(state_of(request).store, actor.org_id, given(data), actor=actor)
    return schedules.to_body(schedule)


@get(
    "/schedules",
    sync_to_thread=True,
    opt={**_READ, "params": {"mode": {"enum": list(schedule_rules.MODES)}}},
)
def list_schedules(
    request: Request[Any, Any, Any],
    flow_name: str | None = None,
    mode: str | None = None,
    enabled: bool | None = None,
    limit: int | None = None,
    next_token: str | None = None,
) -> dict[str, Any]:
    return schedules.list_page(
        state_of(request).store,
        identity_of(request).org_id,
        flow_name=flow_name,
        mode=mode,
        enabled=None if enabled is None else str(enabled).lower(),
        limit=limit,
        next_token=next_token,
    )


@get("/schedules/{schedule_id:str}", sync_to_thread=True, opt=_READ)
def get_schedule(request: Request[Any, Any, Any], schedule_id: str) -> dict[str, Any]:
    found = schedules.get(state_of(request).store, identity_of(request).org_id, schedule_id)
    return schedules.to_body(found)


@patch("/schedules/{schedule_id:str}", sync_to_thread=True, opt=_WRITE)
def update_schedule(
    request: Request[Any, Any, Any], schedule_id: str, data: SchedulePatch
) -> dict[str, Any]:
    actor = actor_of(request)
    schedule = schedules.update(
        state_of(request).store, actor.org_id, schedule_id, given(data), actor=actor
    )
    return schedules.to_body(schedule)


@post(
    "/schedules/{schedule_id:str}/trigger",
    status_code=202,
    sync_to_thread=True,
    opt={"permission": "runs.trigger"},
)
def trigger_schedule(
    request: Request[Any, Any, Any], schedule_id: str, data: TriggerBody | None = None
) -> dict[str, Any]:
    state, actor = state_of(request), actor_of(request)
    wake = state.workers.wake if state.workers is not None else None
    parameters = data.parameters if data is not None else None
    return schedules.trigger(state.store, actor.org_id, actor, schedule_id, parameters, wake=wake)


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

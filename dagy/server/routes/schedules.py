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
_TIME = {"type": ["string", "null"], "description": "ISO 8601, e.g. 2026-03-03T09:00:00Z"}


class SchedulePatch(Body):
    """schedule_rules.PATCH_FIELDS (a test keeps the two the same)."""

    # Any: the service checks each field and names it (its messages are the API's)
    enabled: Any = _UNSET
    timezone: Any = _UNSET
    catchup_policy: Any = _UNSET
    cron_expression: Any = _UNSET
    interval_seconds: Any = _UNSET
    one_time_at: Any = _UNSET
    start_at: Any = _UNSET
    end_at: Any = _UNSET
    parameters: Any = _UNSET
    description: Any = _UNSET
    environment: Any = _UNSET
    doc = {
        "enabled": {"type": "boolean"},
        "catchup_policy": {"enum": list(schedule_rules.CATCHUP_POLICIES)},
        "timezone": {
            "type": "string",
            "description": "An IANA time zone such as UTC or America/New_York",
        },
        "cron_expression": {"type": ["string", "null"]},
        "interval_seconds": {
            "oneOf": [
                {"type": "integer", "minimum": 1, "maximum": 10**9},
                {"type": "string", "pattern": "^[1-9][0-9]{0,8}[smhd]$"},
                {"type": "null"},
            ]
        },
        "one_time_at": _TIME,
        "start_at": _TIME,
        "end_at": _TIME,
        "parameters": {"type": ["object", "null"]},
        "description": {"type": ["string", "null"], "maxLength": 2000},
        "environment": {"type": ["string", "null"]},
    }


class ScheduleBody(SchedulePatch):
    """schedule_rules.CREATE_FIELDS."""

    schedule_id: Any = _UNSET
    flow_name: Any = _UNSET
    flow_version: Any = _UNSET
    deployment_name: Any = _UNSET
    mode: Any = _UNSET
    doc = {
        **SchedulePatch.doc,
        "mode": {"enum": list(schedule_rules.MODES)},
        "schedule_id": {"type": "string", "pattern": schedule_rules._ID.pattern},
        "flow_name": {"type": ["string", "null"]},
        "flow_version": {"type": ["string", "integer", "null"]},
        "deployment_name": {"type": ["string", "null"]},
    }


class TriggerBody(Body):
    parameters: Any = None  # checked against the flow's parameters by the service
    doc = {"parameters": {"type": ["object", "null"]}}


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

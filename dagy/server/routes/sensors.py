"""Sensors: create, list, get, pause/resume, delete, test (docs/sensors.md). A webhook token
appears in full only in the answer to the create; GET shows its masked hint."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, delete, get, patch, post

from dagy.errors import InvalidInputError
from dagy.server.openapi import Body, display_name, given, required
from dagy.server.security import actor_of, identity_of, state_of
from dagy.services.triggers import sensor_runs, sensors


class SensorBody(Body):
    """The fields of sensors.FIELDS (a test keeps the two the same)."""

    name: str | None | msgspec.UnsetType = msgspec.UNSET
    sensor_type: str | None | msgspec.UnsetType = msgspec.UNSET
    flow_name: str | None | msgspec.UnsetType = msgspec.UNSET
    # the service checks these (its messages name the field)
    config_json: Any = msgspec.UNSET
    flow_params_json: Any = msgspec.UNSET
    enabled: Any = msgspec.UNSET
    doc = {
        "name": required(display_name(sensors.MAX_NAME)),
        "sensor_type": required(enum=sorted(sensors.TYPES)),
        "flow_name": required(minLength=1),
        "config_json": {
            "type": ["object", "null"],
            "description": "The sensor type's settings (docs/sensors.md)",
        },
        "flow_params_json": {"type": ["object", "null"]},
        "enabled": {"type": ["boolean", "null"]},
    }


class EnabledBody(Body):
    enabled: Any = None
    doc = {"enabled": required(type="boolean")}


@post(
    "/sensors",
    status_code=201,
    sync_to_thread=True,
    opt={"permission": "sensors.write", "errors": [404]},  # an unknown flow
)
def create_sensor(request: Request[Any, Any, Any], data: SensorBody) -> dict[str, Any]:
    state, actor = state_of(request), actor_of(request)
    created = sensors.create(state.store, state.paths, actor.org_id, actor, given(data))
    return sensors.to_created(created)


@get("/sensors", sync_to_thread=True, opt={"permission": "sensors.read"})
def list_sensors(
    request: Request[Any, Any, Any], limit: int | None = None, next_token: str | None = None
) -> dict[str, Any]:
    rows, token = sensors.list_page(
        state_of(request).store, identity_of(request).org_id, limit=limit, next_token=next_token
    )
    return {"items": [sensors.to_summary(r) for r in rows], "next_token": token}


@get("/sensors/{sensor_id:str}", sync_to_thread=True, opt={"permission": "sensors.read"})
def get_sensor(request: Request[Any, Any, Any], sensor_id: str) -> dict[str, Any]:
    state, identity = state_of(request), identity_of(request)
    return sensors.to_detail(sensors.get(state.store, identity.org_id, sensor_id))


@patch("/sensors/{sensor_id:str}", sync_to_thread=True, opt={"permission": "sensors.write"})
def update_sensor(
    request: Request[Any, Any, Any], sensor_id: str, data: EnabledBody
) -> dict[str, Any]:
    """Pause or resume (``{"enabled": false}``): not in the reference, what `dagy sensors pause`
    and `resume` call."""
    if data.enabled is None:
        raise InvalidInputError('The body must be {"enabled": true|false}', {"enabled": "required"})
    actor = actor_of(request)
    row = sensors.set_enabled(
        state_of(request).store, actor.org_id, sensor_id, data.enabled, actor=actor
    )
    return sensors.to_detail(row)


@delete(
    "/sensors/{sensor_id:str}",
    status_code=204,
    sync_to_thread=True,
    opt={"permission": "sensors.write"},
)
def delete_sensor(request: Request[Any, Any, Any], sensor_id: str) -> Response[None]:
    actor = actor_of(request)
    sensors.delete(state_of(request).store, actor.org_id, sensor_id, actor=actor)
    return Response(None, status_code=204)


@post(
    "/sensors/{sensor_id:str}/test",
    status_code=200,
    sync_to_thread=True,
    opt={"permission": "sensors.write"},
)
def test_sensor(request: Request[Any, Any, Any], sensor_id: str) -> dict[str, Any]:
    state, identity = state_of(request), identity_of(request)
    run = sensor_runs.test(state.store, state.paths, identity.org_id, sensor_id, state.wake)
    return {
        "status": "success",
        "message": "Test event triggered successfully",
        "run_id": run.run_id,
    }


ROUTES = [create_sensor, list_sensors, get_sensor, update_sensor, delete_sensor, test_sensor]

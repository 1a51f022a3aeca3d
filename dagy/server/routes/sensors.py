"""Sensors: create, list, get, delete, test (docs/sensors.md). A webhook token appears in full only
in the answer to the create; GET shows its masked hint."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, delete, get, post

from dagy.server.security import audit_request, identity_of, state_of
from dagy.services import pagination
from dagy.services.triggers import sensors
from dagy.store.records import iso_z
from dagy.store.sensors import SensorRow


def _summary(row: SensorRow) -> dict[str, Any]:
    return {
        "sensor_id": row.sensor_id,
        "name": row.name,
        "sensor_type": row.sensor_type,
        "flow_name": row.flow_name,
        "enabled": row.enabled,
        "created_at": iso_z(row.created_at),
    }


def _detail(row: SensorRow) -> dict[str, Any]:
    summary = _summary(row)
    created = summary.pop("created_at")
    return {
        **summary,
        "config_json": row.config,
        "flow_params_json": row.flow_params,
        "webhook_token": row.webhook_token_hint,
        "created_at": created,
        "last_checked_at": iso_z(row.last_checked_at) if row.last_checked_at else None,
        "last_triggered_at": iso_z(row.last_triggered_at) if row.last_triggered_at else None,
        "last_run_id": row.last_run_id,
        "last_error": row.last_error,
    }


@post("/sensors", status_code=201, sync_to_thread=True, opt={"permission": "sensors.write"})
def create_sensor(request: Request[Any, Any, Any], data: dict[str, Any]) -> dict[str, Any]:
    state, identity = state_of(request), identity_of(request)
    with state.store.connection():
        created = sensors.create(state.store, state.paths, identity.org_id, identity.email, data)
        row = created.sensor
        audit_request(
            request,
            "create",
            "sensor",
            row.sensor_id,
            name=row.name,
            changes={"sensor_type": row.sensor_type, "flow_name": row.flow_name},
        )
    created_at = iso_z(row.created_at)
    return {
        **{k: v for k, v in _summary(row).items() if k != "created_at"},
        "webhook_token": created.webhook_token,
        "created_at": created_at,
    }


@get("/sensors", sync_to_thread=True, opt={"permission": "sensors.read"})
def list_sensors(
    request: Request[Any, Any, Any], limit: int | None = None, next_token: str | None = None
) -> dict[str, Any]:
    state, identity = state_of(request), identity_of(request)
    size = pagination.clamp_limit(limit, default=100, maximum=100)
    rows = sensors.page(
        state.store,
        identity.org_id,
        after=pagination.decode_keyset(next_token),
        limit=size + 1,
    )
    items, token = pagination.page(rows, size, lambda r: [r.created_at.isoformat(), r.sensor_id])
    return {"items": [_summary(r) for r in items], "next_token": token}


@get("/sensors/{sensor_id:str}", sync_to_thread=True, opt={"permission": "sensors.read"})
def get_sensor(request: Request[Any, Any, Any], sensor_id: str) -> dict[str, Any]:
    state, identity = state_of(request), identity_of(request)
    return _detail(sensors.get(state.store, identity.org_id, sensor_id))


@delete(
    "/sensors/{sensor_id:str}",
    status_code=204,
    sync_to_thread=True,
    opt={"permission": "sensors.write"},
)
def delete_sensor(request: Request[Any, Any, Any], sensor_id: str) -> Response[None]:
    state, identity = state_of(request), identity_of(request)
    with state.store.connection():
        row = sensors.delete(state.store, identity.org_id, sensor_id)
        audit_request(request, "delete", "sensor", row.sensor_id, name=row.name)
    return Response(None, status_code=204)


@post(
    "/sensors/{sensor_id:str}/test",
    status_code=200,
    sync_to_thread=True,
    opt={"permission": "sensors.write"},
)
def test_sensor(request: Request[Any, Any, Any], sensor_id: str) -> dict[str, Any]:
    state, identity = state_of(request), identity_of(request)
    run = sensors.test(state.store, state.paths, identity.org_id, sensor_id, state.wake)
    return {
        "status": "success",
        "message": "Test event triggered successfully",
        "run_id": run.run_id,
    }


ROUTES = [create_sensor, list_sensors, get_sensor, delete_sensor, test_sensor]

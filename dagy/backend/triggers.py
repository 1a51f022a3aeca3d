"""Schedules and sensors through the backend.

Both implementations build the same records from the same API-shaped bodies (the services'
``to_body``), so ``dagy schedules list`` and ``dagy sensors show`` print the same thing from the
store file, this home's live server or a remote API.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass, field, fields
from typing import Any, Protocol

from dagy.backend._api_errors import as_service_errors, call
from dagy.backend.catalog import PAGE, quote
from dagy.backend.context import HttpContext, LocalContext


@dataclass(frozen=True)
class Schedule:
    """A schedule as GET /schedules/{schedule_id} shows it (times: ISO 8601 with Z)."""

    schedule_id: str
    flow_name: str
    mode: str  # cron, interval, one_time, manual
    enabled: bool
    timezone: str
    flow_version: Any = None
    deployment_name: str | None = None
    catchup_policy: str | None = None
    cron_expression: str | None = None
    interval_seconds: int | None = None
    one_time_at: str | None = None
    start_at: str | None = None
    end_at: str | None = None
    next_run_at: str | None = None
    last_run_at: str | None = None
    last_run_id: str | None = None
    last_error: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    description: str | None = None
    environment: str | None = None
    created_at: str | None = None
    updated_at: str | None = None

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> Schedule:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in body.items() if k in known}
        values["parameters"] = dict(body.get("parameters") or {})
        return cls(**values)

    @property
    def when(self) -> str:
        """The schedule's timing in a few words: its cron, its interval, or its one time."""
        if self.cron_expression:
            return self.cron_expression
        if self.interval_seconds:
            return f"every {self.interval_seconds}s"
        return self.one_time_at or ""

    def to_json(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class NewSchedule:
    """A POST /schedules body; None fields are left out (the service's defaults apply)."""

    schedule_id: str | None = None
    flow_name: str | None = None
    flow_version: str | None = None
    deployment_name: str | None = None
    mode: str = "manual"
    enabled: bool = True
    timezone: str | None = None
    catchup_policy: str | None = None
    cron_expression: str | None = None
    interval_seconds: int | str | None = None
    one_time_at: str | None = None
    start_at: str | None = None
    end_at: str | None = None
    parameters: dict[str, Any] | None = None
    description: str | None = None
    environment: str | None = None

    def to_body(self) -> dict[str, Any]:
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        return {k: v for k, v in values.items() if v is not None}


class SchedulesBackend(Protocol):
    def list(
        self,
        *,
        flow_name: str | None = None,
        mode: str | None = None,
        enabled: bool | None = None,
    ) -> builtins.list[Schedule]:
        """Every schedule (all pages) by id, with the API's filters."""

    def get(self, schedule_id: str) -> Schedule:
        """One schedule; NotFoundError (exit 3) for an unknown id."""

    def create(self, new: NewSchedule) -> Schedule: ...

    def update(self, schedule_id: str, changes: dict[str, Any]) -> Schedule:
        """PATCH: only the fields given change."""

    def set_enabled(self, schedule_id: str, enabled: bool) -> Schedule:
        """Pause or resume; a resumed schedule is next due from now."""

    def trigger(self, schedule_id: str, parameters: dict[str, Any]) -> str:
        """Queue a run now (its parameters over the schedule's); the queued run's id."""

    def delete(self, schedule_id: str) -> None: ...


class LocalSchedules:
    def __init__(self, ctx: LocalContext) -> None:
        self.ctx = ctx

    def list(
        self,
        *,
        flow_name: str | None = None,
        mode: str | None = None,
        enabled: bool | None = None,
    ) -> builtins.list[Schedule]:
        from dagy.services.triggers import schedules

        store, out, token = self.ctx.store(), [], None
        wanted = None if enabled is None else ("true" if enabled else "false")
        with store.connection():
            while True:
                page = schedules.list_page(
                    store,
                    self.ctx.org_id,
                    flow_name=flow_name,
                    mode=mode,
                    enabled=wanted,
                    limit=PAGE,
                    next_token=token,
                )
                out += [Schedule.from_body(item) for item in page["items"]]
                token = page["next_token"]
                if not token:
                    return out

    def get(self, schedule_id: str) -> Schedule:
        from dagy.services.triggers import schedules

        found = schedules.get(self.ctx.store(), self.ctx.org_id, schedule_id)
        return Schedule.from_body(schedules.to_body(found))

    def create(self, new: NewSchedule) -> Schedule:
        from dagy.services.triggers import schedules

        made = schedules.create(
            self.ctx.store(), self.ctx.org_id, new.to_body(), actor=self.ctx.actor()
        )
        return Schedule.from_body(schedules.to_body(made))

    def update(self, schedule_id: str, changes: dict[str, Any]) -> Schedule:
        from dagy.services.triggers import schedules

        found = schedules.update(
            self.ctx.store(), self.ctx.org_id, schedule_id, changes, actor=self.ctx.actor()
        )
        return Schedule.from_body(schedules.to_body(found))

    def set_enabled(self, schedule_id: str, enabled: bool) -> Schedule:
        return self.update(schedule_id, {"enabled": enabled})

    def trigger(self, schedule_id: str, parameters: dict[str, Any]) -> str:
        from dagy.services.triggers import schedules

        body = schedules.trigger(
            self.ctx.store(), self.ctx.org_id, self.ctx.actor(), schedule_id, parameters
        )
        return str(body["run_id"])

    def delete(self, schedule_id: str) -> None:
        from dagy.services.triggers import schedules

        schedules.delete(self.ctx.store(), self.ctx.org_id, schedule_id, actor=self.ctx.actor())


class HttpSchedules:
    def __init__(self, ctx: HttpContext) -> None:
        self.ctx = ctx

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        return call(self.ctx.client, method, path, body)

    def list(
        self,
        *,
        flow_name: str | None = None,
        mode: str | None = None,
        enabled: bool | None = None,
    ) -> builtins.list[Schedule]:
        filters = {
            "flow_name": flow_name,
            "mode": mode,
            "enabled": None if enabled is None else ("true" if enabled else "false"),
        }
        with as_service_errors():
            items = list(self.ctx.client.paginate("/schedules", limit=PAGE, **filters))
        return [Schedule.from_body(item) for item in items]

    def get(self, schedule_id: str) -> Schedule:
        return Schedule.from_body(self._call("GET", f"/schedules/{quote(schedule_id)}"))

    def create(self, new: NewSchedule) -> Schedule:
        return Schedule.from_body(self._call("POST", "/schedules", new.to_body()))

    def update(self, schedule_id: str, changes: dict[str, Any]) -> Schedule:
        body = self._call("PATCH", f"/schedules/{quote(schedule_id)}", changes)
        return Schedule.from_body(body)

    def set_enabled(self, schedule_id: str, enabled: bool) -> Schedule:
        return self.update(schedule_id, {"enabled": enabled})

    def trigger(self, schedule_id: str, parameters: dict[str, Any]) -> str:
        path = f"/schedules/{quote(schedule_id)}/trigger"
        return str(self._call("POST", path, {"parameters": parameters})["run_id"])

    def delete(self, schedule_id: str) -> None:
        self._call("DELETE", f"/schedules/{quote(schedule_id)}")


# -- sensors ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sensor:
    """A sensor as GET /sensors/{sensor_id} shows it (a list item has only the first fields).

    ``webhook_token`` is the masked hint, except on the sensor ``create`` returns: the token in
    full, shown that once.
    """

    sensor_id: str
    name: str
    sensor_type: str  # webhook, polling, s3
    flow_name: str
    enabled: bool
    created_at: str | None = None
    config_json: dict[str, Any] | None = None
    flow_params_json: dict[str, Any] | None = None
    webhook_token: str | None = None
    last_checked_at: str | None = None
    last_triggered_at: str | None = None
    last_run_id: str | None = None
    last_error: str | None = None

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> Sensor:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in body.items() if k in known})

    def to_json(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class NewSensor:
    """A POST /sensors body."""

    name: str
    sensor_type: str
    flow_name: str
    config_json: dict[str, Any] = field(default_factory=dict)
    flow_params_json: dict[str, Any] = field(default_factory=dict)
    enabled: bool = True

    def to_body(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


class SensorsBackend(Protocol):
    def list(self) -> builtins.list[Sensor]:
        """Every sensor (all pages), oldest first."""

    def get(self, sensor_id: str) -> Sensor:
        """One sensor; NotFoundError (exit 3) for an unknown id."""

    def create(self, new: NewSensor) -> Sensor:
        """The new sensor; a webhook sensor's ``webhook_token`` in full (shown this once)."""

    def set_enabled(self, sensor_id: str, enabled: bool) -> Sensor:
        """Pause (no looks, webhooks answer 404) or resume."""

    def test(self, sensor_id: str) -> str:
        """Look once and queue a run of what was seen; the queued run's id."""

    def delete(self, sensor_id: str) -> None: ...


class LocalSensors:
    def __init__(self, ctx: LocalContext) -> None:
        self.ctx = ctx

    def list(self) -> builtins.list[Sensor]:
        from dagy.services.triggers import sensors

        store, out, token = self.ctx.store(), [], None
        with store.connection():
            while True:
                rows, token = sensors.list_page(
                    store, self.ctx.org_id, limit=PAGE, next_token=token
                )
                out += [Sensor.from_body(sensors.to_summary(row)) for row in rows]
                if not token:
                    return out

    def get(self, sensor_id: str) -> Sensor:
        from dagy.services.triggers import sensors

        row = sensors.get(self.ctx.store(), self.ctx.org_id, sensor_id)
        return Sensor.from_body(sensors.to_detail(row))

    def create(self, new: NewSensor) -> Sensor:
        from dagy.services.triggers import sensors

        made = sensors.create(
            self.ctx.store(), self.ctx.paths, self.ctx.org_id, self.ctx.actor(), new.to_body()
        )
        return Sensor.from_body(sensors.to_created(made))

    def set_enabled(self, sensor_id: str, enabled: bool) -> Sensor:
        from dagy.services.triggers import sensors

        row = sensors.set_enabled(
            self.ctx.store(), self.ctx.org_id, sensor_id, enabled, actor=self.ctx.actor()
        )
        return Sensor.from_body(sensors.to_detail(row))

    def test(self, sensor_id: str) -> str:
        from dagy.services.triggers import sensor_runs

        run = sensor_runs.test(self.ctx.store(), self.ctx.paths, self.ctx.org_id, sensor_id, None)
        return run.run_id

    def delete(self, sensor_id: str) -> None:
        from dagy.services.triggers import sensors

        sensors.delete(self.ctx.store(), self.ctx.org_id, sensor_id, actor=self.ctx.actor())


class HttpSensors:
    def __init__(self, ctx: HttpContext) -> None:
        self.ctx = ctx

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        return call(self.ctx.client, method, path, body)

    def list(self) -> builtins.list[Sensor]:
        return [Sensor.from_body(item) for item in self.ctx.client.paginate("/sensors", limit=PAGE)]

    def get(self, sensor_id: str) -> Sensor:
        return Sensor.from_body(self._call("GET", f"/sensors/{quote(sensor_id)}"))

    def create(self, new: NewSensor) -> Sensor:
        return Sensor.from_body(self._call("POST", "/sensors", new.to_body()))

    def set_enabled(self, sensor_id: str, enabled: bool) -> Sensor:
        body = self._call("PATCH", f"/sensors/{quote(sensor_id)}", {"enabled": enabled})
        return Sensor.from_body(body)

    def test(self, sensor_id: str) -> str:
        return str(self._call("POST", f"/sensors/{quote(sensor_id)}/test")["run_id"])

    def delete(self, sensor_id: str) -> None:
        self._call("DELETE", f"/sensors/{quote(sensor_id)}")

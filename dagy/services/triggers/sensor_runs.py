"""From what a sensor sees to a run: a webhook's event, one look of a polling or s3 sensor (the
server's sensor loop calls ``due`` and ``evaluate``), and POST /sensors/{id}/test. See
sensors.py for the rules (docs/sensors.md)."""

from __future__ import annotations

import re
from typing import Any

from dagy.config.paths import DagyPaths
from dagy.errors import InvalidInputError, NotFoundError, QuotaExceededError
from dagy.sdk.spec import FlowSpec
from dagy.sensors import _config, polling, s3, webhook
from dagy.services.accounts import audit
from dagy.services.runs import trigger as execution
from dagy.services.triggers.sensors import LOOKED_AT, Wake, active_version, get, webhook_secret
from dagy.store import sensors as sql
from dagy.store.duckdb_store import DuckDBStore
from dagy.store.records import RunRecord, utcnow
from dagy.store.sensors import SensorRow

_ERROR_CHARS = 1000
_UNKNOWN = re.compile(r"Unknown parameter '([^']+)'")


def parameters_for(
    sensor: SensorRow, spec: FlowSpec, event: dict[str, Any], *, merge: bool
) -> dict[str, Any]:
    """``flow_params_json`` with the event (docs/sensors.md, "The event and the flow's
    parameters"): whole in the flow's payload parameter when it has one; else, for a webhook's
    body (``merge``), the values ``config_json.mapping`` names, or without a mapping the fields of
    the spec's ``{"event", "data"}`` envelope's ``data`` (and ``event`` when the flow takes it),
    or any other object's keys, over ``flow_params_json``."""
    params = sensor.flow_params
    name = _config.payload_param(sensor.config)
    schema = spec.parameter_schema or {}
    if name in schema and schema[name].get("kind") != "var_keyword":
        return {**params, name: event}
    if not merge:
        return params
    mapping = sensor.config.get("mapping")
    if isinstance(mapping, dict):
        mapped = {}
        for param, path in mapping.items():
            found, value = webhook.value_at(event, str(path))
            if found:
                mapped[param] = value
        return {**params, **mapped}
    if webhook.is_envelope(event) and "data" not in schema:
        fields = dict(event["data"])
        if "event" in event and "event" in schema:
            fields.setdefault("event", event["event"])
        return {**params, **fields}
    return {**params, **event}


def fire(
    store: DuckDBStore,
    sensor: SensorRow,
    event: dict[str, Any],
    *,
    trigger: str,
    merge: bool = False,
    wake: Wake = None,
    tags: list[str] | None = None,
) -> RunRecord:
    """Queue a run of the sensor's flow for ``event`` and remember it on the sensor."""
    with store.connection():
        version = active_version(store, sensor.org_id, sensor.flow_name)
        spec = FlowSpec.from_json(version.flow_spec)
        params = parameters_for(sensor, spec, event, merge=merge)
        try:
            run = execution.trigger_run(
                store,
                sensor.org_id,
                f"sensor:{sensor.sensor_id}",
                flow_name=sensor.flow_name,
                flow_version=version.flow_version,
                parameters=params,
                trigger=trigger,
                tags=tags,
                wake=wake,
            )
        except InvalidInputError as exc:
            unknown = _UNKNOWN.search(exc.message)
            if merge and unknown:  # a key of the body the flow does not take
                key = unknown.group(1)
                data = event.get("data")
                where = (
                    f"body.data.{key}" if isinstance(data, dict) and key in data else f"body.{key}"
                )
                raise InvalidInputError(
                    f"Invalid payload: {exc.message}", {where: exc.message}
                ) from None
            raise
        now = utcnow()
        sql.update_state(
            store, sensor.sensor_id, last_run_id=run.run_id, last_triggered_at=now, updated_at=now
        )
        audit.record(  # no caller identity: the sensor is who started it
            store,
            None,
            "execute",
            "run",
            run.run_id,
            resource_name=run.flow_name,
            changes={"sensor_id": sensor.sensor_id, "trigger": trigger},
            org_id=sensor.org_id,
        )
    return run


def find_webhook(store: DuckDBStore, token: str) -> SensorRow:
    """The enabled webhook sensor of ``token``; the same 404 for an unknown token and a disabled
    sensor (a caller learns nothing about tokens it does not hold)."""
    row = None
    if token.startswith(webhook.PREFIX):
        row = sql.by_token_hash(store, webhook.hash_token(token))
    if row is None or not row.enabled or row.sensor_type != "webhook":
        raise NotFoundError("Webhook token not found or sensor disabled")
    return row


def check_delivery(store: DuckDBStore, sensor: SensorRow, raw: bytes, headers: Any) -> str | None:
    """Before anything is queued: a sensor with a secret needs a fresh, right
    ``X-Dagy-Signature`` (401 otherwise; the secret is unsealed for the check); the delivery id
    (``X-Dagy-Delivery``), if sent."""
    secret = webhook_secret(store, sensor)
    if secret is not None:
        webhook.verify(secret, headers, raw)
    return webhook.delivery_id(headers)


def replayed(store: DuckDBStore, sensor: SensorRow, delivery: str | None) -> str | None:
    """The run an earlier delivery with this id queued (a replay), else None."""
    return sql.delivery_run(store, sensor.sensor_id, delivery) if delivery else None


def receive_webhook(
    store: DuckDBStore,
    sensor: SensorRow,
    raw: bytes,
    wake: Wake,
    delivery: str | None = None,
) -> RunRecord:
    """``POST /webhooks/{token}``: the body (a JSON object, else 400) becomes a run's event; a
    delivery id is remembered with the run it queued."""
    payload = webhook.parse_payload(raw)
    run = fire(store, sensor, payload, trigger="webhook", merge=True, wake=wake)
    if delivery:
        sql.add_delivery(store, sensor.sensor_id, delivery, run.run_id, utcnow())
    return run


# -- looking: test and the loop ---------------------------------------------------------------------


class SensorTestFailed(InvalidInputError):
    error = "sensor_test_failed"


def test(
    store: DuckDBStore, paths: DagyPaths, org_id: str, sensor_id: str, wake: Wake
) -> RunRecord:
    """``POST /sensors/{id}/test``: look once (400 when the look fails) and queue a run of what
    was seen, whatever the sensor saw before; nothing the sensor remembers changes."""
    sensor = get(store, org_id, sensor_id)
    event: dict[str, Any] = {"sensor_id": sensor.sensor_id, "test": True}
    config = sensor.config
    try:
        if sensor.sensor_type == "polling":
            event["value"] = polling.observe(config)
        elif sensor.sensor_type == "s3":
            keys = s3.list_keys(paths, config)
            event.update(bucket=config["bucket"], key=keys[-1] if keys else None)
    except (polling.CheckError, s3.ListError) as exc:
        raise SensorTestFailed(
            f"Sensor test failed: {_short(exc)}", {"config_json": "check the sensor's config"}
        ) from None
    return fire(store, sensor, event, trigger="sensor", wake=wake, tags=["sensor-test"])


def due(store: DuckDBStore, limit: int) -> list[SensorRow]:
    return sql.due(store, utcnow(), LOOKED_AT, limit)


def evaluate(store: DuckDBStore, paths: DagyPaths, sensor: SensorRow, wake: Wake) -> list[str]:
    """One look of a polling or s3 sensor; the run ids it queued. A failed look is recorded in
    ``last_error`` (and raised for the loop to log); the next look is one interval later."""
    config = sensor.config
    started = utcnow()
    state: dict[str, Any] = {
        "last_checked_at": started,
        "next_check_at": started + _interval(config),
        "updated_at": started,
        "last_error": None,
    }
    runs: list[str] = []
    try:
        if sensor.sensor_type == "polling":
            runs = _poll(store, sensor, config, state, wake)
        else:
            runs = _watch(store, paths, sensor, config, wake)
    except Exception as exc:
        state["last_error"] = _short(exc)
        raise
    finally:
        sql.update_state(store, sensor.sensor_id, **state)
    return runs


def skip(store: DuckDBStore, sensor: SensorRow, reason: str) -> None:
    """Not looked at this time (its org is suspended): ``reason`` in ``last_error``, the next
    look one interval later."""
    now = utcnow()
    sql.update_state(
        store,
        sensor.sensor_id,
        last_checked_at=now,
        next_check_at=now + _interval(sensor.config),
        updated_at=now,
        last_error=reason,
    )


def _poll(
    store: DuckDBStore,
    sensor: SensorRow,
    config: dict[str, Any],
    state: dict[str, Any],
    wake: Wake,
) -> list[str]:
    observation = polling.observe(config)
    if observation is None:
        return []
    mark = polling.fingerprint(observation)
    if mark == sensor.last_fingerprint:
        return []
    # Remembered even when the run is refused (a flow that changed its parameters): one error,
    # not one per interval; but a quota refusal passes, so the next look tries again. The run is
    # queued first: a crash in between fires again, not never.
    try:
        run = fire(
            store,
            sensor,
            {"sensor_id": sensor.sensor_id, "value": observation},
            trigger="sensor",
            wake=wake,
        )
    except QuotaExceededError:
        raise
    except Exception:
        state["last_fingerprint"] = mark
        raise
    state["last_fingerprint"] = mark
    return [run.run_id]


def _watch(
    store: DuckDBStore, paths: DagyPaths, sensor: SensorRow, config: dict[str, Any], wake: Wake
) -> list[str]:
    keys = s3.list_keys(paths, config)
    sql.touch_seen_keys(store, sensor.sensor_id, keys, utcnow())  # still there: kept (retention)
    new = sql.unseen_keys(store, sensor.sensor_id, keys)[: s3.MAX_KEYS_PER_CHECK]
    runs = []
    for key in new:
        try:
            run = fire(
                store,
                sensor,
                {"bucket": config["bucket"], "key": key, "sensor_id": sensor.sensor_id},
                trigger="sensor",
                wake=wake,
            )
            runs.append(run.run_id)
        except QuotaExceededError:
            raise  # not seen: the next look tries this key (and those after it) again
        except Exception:
            sql.add_seen_keys(store, sensor.sensor_id, [key], utcnow())  # refused for good
            raise
        sql.add_seen_keys(store, sensor.sensor_id, [key], utcnow())
    return runs


def _interval(config: dict[str, Any]) -> Any:
    import datetime as _dt

    return _dt.timedelta(seconds=_config.interval(config))


def _short(exc: BaseException) -> str:
    text = getattr(exc, "message", None) or str(exc)
    return f"{type(exc).__name__}: {text}"[:_ERROR_CHARS]

"""Sensors: event triggers of a flow. Create, list, get, pause/resume, delete, and their API shape;
sensor_runs.py turns what they see (a webhook's event, a look, a test) into runs.

Rules that live here (docs/sensors.md):
- a run is queued only through ``execution.trigger_run`` (``trigger="webhook"`` or ``"sensor"``),
  of the flow's active version (else its latest registration), with ``flow_params_json`` and the
  event: when the flow declares the parameter ``payload`` (``config_json.payload_param``) the whole
  event goes there; otherwise a webhook's JSON object is merged key by key over
  ``flow_params_json`` (an undeclared key is the spec's 400) and other events add nothing;
- a webhook token is shown once (the 201 of POST /sensors); the store keeps its SHA-256 and a
  masked hint, and no log line carries it;
- a webhook's signing secret (``config_json.secret``) is never shown again ("***") and is stored
  only sealed with the master key (``sealed_secret``), never in ``config_json``;
- a polling sensor fires once per observation that differs from the last that fired; an s3 sensor
  once per new key, the keys present at creation never.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dagy.auth import secrets as ids
from dagy.config.paths import DagyPaths
from dagy.errors import InvalidInputError, NotFoundError
from dagy.names import check_display_name
from dagy.sdk.spec import FlowSpec
from dagy.sensors import s3, webhook
from dagy.services import pagination
from dagy.services.accounts import audit
from dagy.services.accounts.audit import Actor
from dagy.services.catalog import flows
from dagy.services.vault import sealing
from dagy.store import sensors as sql
from dagy.store.duckdb_store import DuckDBStore
from dagy.store.flows import FlowVersion
from dagy.store.records import iso_z, utcnow
from dagy.store.sensors import SensorRow

log = logging.getLogger("dagy.sensors")


def _check_polling(config: dict[str, Any]) -> dict[str, Any]:
    # Imported here: polling brings http.client, urllib.request and the egress policy, which
    # `dagy sensors list` and the other commands that only read sensors never use.
    from dagy.sensors import polling

    return polling.check_config(config)


TYPES: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "webhook": webhook.check_config,
    "polling": _check_polling,
    "s3": s3.check_config,
}
LOOKED_AT = ("polling", "s3")  # the types the sensor loop checks
FIELDS = frozenset(
    {"name", "sensor_type", "flow_name", "config_json", "flow_params_json", "enabled"}
)
MAX_NAME = 200
MAX_JSON_CHARS = 64 * 1024
_ERROR_CHARS = 1000
_UNKNOWN = re.compile(r"Unknown parameter '([^']+)'")
Wake = Callable[[], None] | None


@dataclass(frozen=True)
class Created:
    sensor: SensorRow
    webhook_token: str | None  # in full: only the answer to the create ever shows it


# -- validation -------------------------------------------------------------------------------------


def _object(value: Any, field: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidInputError(f"Invalid {field}", {field: "must be a JSON object"})
    if len(json.dumps(value)) > MAX_JSON_CHARS:
        raise InvalidInputError(f"Invalid {field}", {field: f"at most {MAX_JSON_CHARS} characters"})
    return value


def _name(value: Any) -> str:
    return check_display_name(value, "name", max_length=MAX_NAME, message="Missing or invalid name")


def _type(value: Any) -> str:
    if value not in TYPES:
        raise InvalidInputError(
            f"Invalid sensor_type: {value!r}", {"sensor_type": f"one of {', '.join(TYPES)}"}
        )
    return str(value)


def _enabled(value: Any) -> bool:
    if value is None:
        return True
    if not isinstance(value, bool):
        raise InvalidInputError("Invalid enabled", {"enabled": "true or false"})
    return value


def _flow_name(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidInputError("Missing required field: flow_name", {"flow_name": "required"})
    return value


# -- sensors ----------------------------------------------------------------------------------------


def create(
    store: DuckDBStore,
    paths: DagyPaths,
    org_id: str,
    actor: Actor | None,
    body: dict[str, Any],
) -> Created:
    """A new sensor (400 naming the field, 404 for an unknown flow). An s3 sensor records the keys
    already in its bucket as seen, so only keys that arrive later trigger. With ``actor``, its
    audit row in the same transaction."""
    unknown = sorted(set(body) - FIELDS)
    if unknown:
        raise InvalidInputError(
            f"Unknown field: {unknown[0]}", dict.fromkeys(unknown, "unknown field")
        )
    name = _name(body.get("name"))
    sensor_type = _type(body.get("sensor_type"))
    flow_name = _flow_name(body.get("flow_name"))
    config = TYPES[sensor_type](_object(body.get("config_json"), "config_json"))
    params = _object(body.get("flow_params_json"), "flow_params_json")
    enabled = _enabled(body.get("enabled"))
    _check_params(active_version(store, org_id, flow_name), params)  # 404 for an unknown flow
    existing = _baseline(paths, config) if sensor_type == "s3" else []
    token = webhook.new_token() if sensor_type == "webhook" else None
    secret = config.pop("secret", None)  # stored sealed, never in config_json
    now = utcnow()
    sensor_id = ids.new_id("sensor")
    row = SensorRow(
        sensor_id=sensor_id,
        org_id=org_id,
        name=name,
        sensor_type=sensor_type,
        flow_name=flow_name,
        config_json=json.dumps(config, separators=(",", ":")),
        flow_params_json=json.dumps(params, separators=(",", ":")),
        enabled=enabled,
        webhook_token_hash=webhook.hash_token(token) if token else None,
        webhook_token_hint=webhook.hint(token) if token else None,
        created_by=actor.email if actor is not None else None,
        created_at=now,
        updated_at=now,
    )
    with store.transaction():
        if isinstance(secret, str):
            row.secret_key_id, row.sealed_secret = sealing.seal_webhook_secret(
                store, org_id, sensor_id, secret
            )
        sql.insert(store, row)
        sql.add_seen_keys(store, row.sensor_id, existing, now)
        if actor is not None:
            audit.write(
                store,
                actor,
                "create",
                "sensor",
                row.sensor_id,
                resource_name=name,
                changes={"sensor_type": sensor_type, "flow_name": flow_name},
                org_id=org_id,
            )
    return Created(row, token)


def _check_params(version: FlowVersion, params: dict[str, Any]) -> None:
    """A key of ``flow_params_json`` the flow does not take is a 400 now, not at every event
    (types and required parameters wait for the run: an event may bring them)."""
    schema = FlowSpec.from_json(version.flow_spec).parameter_schema
    if schema is None or any(e.get("kind") == "var_keyword" for e in schema.values()):
        return
    for key in params:
        if key not in schema:
            raise InvalidInputError(
                f"Unknown parameter '{key}' for flow '{version.flow_name}' "
                f"(parameters: {', '.join(schema) or 'none'})",
                {f"flow_params_json.{key}": "not a parameter of the flow"},
            )


def _baseline(paths: DagyPaths, config: dict[str, Any]) -> list[str]:
    """The keys already in an s3 sensor's bucket: seen from the start, they never fire."""
    try:
        return s3.list_keys(paths, config)
    except s3.ListError as exc:
        raise InvalidInputError(
            f"Invalid configuration: {exc}", {"config_json.bucket": "cannot be listed"}
        ) from None


def get(store: DuckDBStore, org_id: str, sensor_id: str) -> SensorRow:
    row = sql.get(store, org_id, sensor_id)
    if row is None:
        raise NotFoundError(f"Sensor not found: {sensor_id}", {"sensor_id": sensor_id})
    return row


def list_page(
    store: DuckDBStore, org_id: str, *, limit: Any = None, next_token: str | None = None
) -> tuple[list[SensorRow], str | None]:
    """One page of the org's sensors, oldest first (GET /sensors)."""
    size = pagination.clamp_limit(limit, default=100, maximum=100)
    rows = sql.page(store, org_id, after=pagination.decode_keyset(next_token), limit=size + 1)
    return pagination.page(rows, size, lambda r: [r.created_at.isoformat(), r.sensor_id])


def set_enabled(
    store: DuckDBStore, org_id: str, sensor_id: str, enabled: bool, *, actor: Actor | None = None
) -> SensorRow:
    """Pause (no looks; its webhook answers 404) or resume (it looks at once)."""
    if not isinstance(enabled, bool):
        raise InvalidInputError("Invalid enabled", {"enabled": "true or false"})
    with store.transaction():
        row = get(store, org_id, sensor_id)
        sql.set_enabled(store, row.sensor_id, enabled, utcnow())
        if actor is not None:
            audit.write(
                store,
                actor,
                "update",
                "sensor",
                row.sensor_id,
                resource_name=row.name,
                changes={"enabled": [row.enabled, enabled]},
                org_id=org_id,
            )
        return get(store, org_id, sensor_id)


def delete(
    store: DuckDBStore, org_id: str, sensor_id: str, *, actor: Actor | None = None
) -> SensorRow:
    with store.transaction():
        row = get(store, org_id, sensor_id)
        sql.delete(store, row.sensor_id)
        if actor is not None:
            audit.write(
                store, actor, "delete", "sensor", row.sensor_id, resource_name=row.name,
                org_id=org_id,
            )  # fmt: skip
    return row


# -- what the API shows -----------------------------------------------------------------------------


def to_summary(row: SensorRow) -> dict[str, Any]:
    """A sensor as GET /sensors lists it."""
    return {
        "sensor_id": row.sensor_id,
        "name": row.name,
        "sensor_type": row.sensor_type,
        "flow_name": row.flow_name,
        "enabled": row.enabled,
        "created_at": iso_z(row.created_at),
    }


def to_detail(row: SensorRow) -> dict[str, Any]:
    """A sensor as GET /sensors/{id} shows it: the webhook token only as its masked hint."""
    summary = to_summary(row)
    created = summary.pop("created_at")
    return {
        **summary,
        "config_json": webhook.masked_config(
            {**row.config, "secret": ""} if row.sealed_secret is not None else row.config
        ),
        "flow_params_json": row.flow_params,
        "webhook_token": row.webhook_token_hint,
        "created_at": created,
        "last_checked_at": iso_z(row.last_checked_at) if row.last_checked_at else None,
        "last_triggered_at": iso_z(row.last_triggered_at) if row.last_triggered_at else None,
        "last_run_id": row.last_run_id,
        "last_error": row.last_error,
    }


def to_created(created: Created) -> dict[str, Any]:
    """The 201 of POST /sensors: the only answer that shows a webhook token in full."""
    summary = to_summary(created.sensor)
    created_at = summary.pop("created_at")
    return {**summary, "webhook_token": created.webhook_token, "created_at": created_at}


def active_version(store: DuckDBStore, org_id: str, flow_name: str) -> FlowVersion:
    """The flow's active version, else its latest registration (404 when the flow is gone)."""
    found = flows.versions(store, org_id, flow_name)
    return next((v for v in found if v.status == "active"), found[0])


# -- webhook secrets at rest ------------------------------------------------------------------------


def webhook_secret(store: DuckDBStore, sensor: SensorRow) -> str | None:
    """The sensor's signing secret, unsealed (503 when the master key cannot open it); a secret
    still in plaintext (stored before migration 0019, not yet sealed) as it is."""
    if sensor.sealed_secret is not None:
        return sealing.unseal_webhook_secret(sealing.keys(store), sensor)
    legacy = sensor.config.get("secret")
    return legacy if isinstance(legacy, str) else None


def seal_plaintext_secrets(store: DuckDBStore) -> int:
    """Seal every webhook secret still stored in plaintext in ``config_json`` (migration 0019's
    Python half: the SQL cannot reach the master key); how many. ``dagy serve`` calls it at
    start-up, before it answers. A CHECKPOINT then folds the change into the file."""
    with store.transaction():
        found = sql.plaintext_secrets(store)
        for row in found:
            config = row.config
            secret = config.pop("secret")
            key_id, sealed = sealing.seal_webhook_secret(
                store, row.org_id, row.sensor_id, str(secret)
            )
            sql.set_sealed_secret(
                store, row.sensor_id, json.dumps(config, separators=(",", ":")), key_id, sealed
            )
    if found:
        with store.connection() as con:
            con.execute("CHECKPOINT")
    return len(found)

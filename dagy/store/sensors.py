"""SQL for sensors and the keys an s3 sensor has seen. A webhook token is never stored, only its hash."""

from __future__ import annotations

import datetime as _dt
import json
from dataclasses import dataclass, fields
from typing import Any

from dagy.store.duckdb_store import DuckDBStore


@dataclass
class SensorRow:
    sensor_id: str
    org_id: str
    name: str
    sensor_type: str
    flow_name: str
    config_json: str
    flow_params_json: str
    enabled: bool
    webhook_token_hash: str | None
    webhook_token_hint: str | None
    created_by: str | None
    created_at: _dt.datetime
    updated_at: _dt.datetime
    # What the sensor has seen and done (STATE_FIELDS): nothing yet when it is created.
    last_fingerprint: str | None = None
    next_check_at: _dt.datetime | None = None
    last_checked_at: _dt.datetime | None = None
    last_error: str | None = None
    last_run_id: str | None = None
    last_triggered_at: _dt.datetime | None = None
    # A webhook's signing secret, sealed with the master key (services/vault/sealing.py).
    secret_key_id: str | None = None
    sealed_secret: bytes | None = None

    @property
    def config(self) -> dict[str, Any]:
        return dict(json.loads(self.config_json or "{}"))

    @property
    def flow_params(self) -> dict[str, Any]:
        return dict(json.loads(self.flow_params_json or "{}"))


_FIELDS = [f.name for f in fields(SensorRow)]
_COLS = ", ".join(_FIELDS)
# What the loop may change on a row; anything else is fixed at creation.
STATE_FIELDS = frozenset(
    {
        "last_fingerprint",
        "next_check_at",
        "last_checked_at",
        "last_error",
        "last_run_id",
        "last_triggered_at",
        "updated_at",
    }
)


def _rows(store: DuckDBStore, where: str, params: list[Any], tail: str = "") -> list[SensorRow]:
    with store.connection() as con:
        found = con.execute(f"SELECT {_COLS} FROM sensors WHERE {where} {tail}", params).fetchall()
    return [_row(row) for row in found]


def _row(values: Any) -> SensorRow:
    row = SensorRow(*values)
    if row.sealed_secret is not None:  # duckdb gives a BLOB as bytes, or memoryview
        row.sealed_secret = bytes(row.sealed_secret)
    return row


def insert(store: DuckDBStore, row: SensorRow) -> None:
    with store.connection() as con:
        con.execute(
            f"INSERT INTO sensors ({_COLS}) VALUES ({', '.join('?' for _ in _FIELDS)})",
            [getattr(row, name) for name in _FIELDS],
        )


def get(store: DuckDBStore, org_id: str, sensor_id: str) -> SensorRow | None:
    found = _rows(store, "org_id = ? AND sensor_id = ?", [org_id, sensor_id])
    return found[0] if found else None


def by_token_hash(store: DuckDBStore, token_hash: str) -> SensorRow | None:
    """The webhook sensor whose token hashes to ``token_hash``, in whatever org it is."""
    found = _rows(store, "webhook_token_hash = ?", [token_hash])
    return found[0] if found else None


def page(
    store: DuckDBStore, org_id: str, *, after: tuple[str, str] | None, limit: int
) -> list[SensorRow]:
    """A page of the org's sensors, oldest first, strictly after the ``(created_at, id)`` keyset."""
    where, params = "org_id = ?", [org_id]
    if after is not None:
        where += " AND (created_at, sensor_id) > (?::TIMESTAMP, ?)"
        params += list(after)
    return _rows(store, where, [*params, limit], "ORDER BY created_at, sensor_id LIMIT ?")


def due(
    store: DuckDBStore, now: _dt.datetime, types: tuple[str, ...], limit: int
) -> list[SensorRow]:
    """Enabled sensors of ``types`` (every org) whose next check is due, longest waiting first."""
    return _rows(
        store,
        "enabled AND list_contains(?, sensor_type) AND (next_check_at IS NULL OR next_check_at <= ?)",
        [list(types), now, limit],
        "ORDER BY next_check_at NULLS FIRST, sensor_id LIMIT ?",
    )


def update_state(store: DuckDBStore, sensor_id: str, **changes: Any) -> None:
    unknown = set(changes) - STATE_FIELDS
    if unknown:
        raise ValueError(f"not a sensor state field: {sorted(unknown)}")
    if not changes:
        return
    sets = ", ".join(f"{name} = ?" for name in changes)
    with store.connection() as con:
        con.execute(
            f"UPDATE sensors SET {sets} WHERE sensor_id = ?", [*changes.values(), sensor_id]
        )


# -- webhooks: the sealed secret ---------------------------------------------------------------------


def sealed_secrets(store: DuckDBStore) -> list[SensorRow]:
    """Every sensor (every org) with a sealed secret: what a master key rotation re-seals."""
    return _rows(store, "sealed_secret IS NOT NULL", [], "ORDER BY sensor_id")


def sealed_key_ids(store: DuckDBStore) -> list[str]:
    with store.connection() as con:
        rows = con.execute(
            "SELECT DISTINCT secret_key_id FROM sensors WHERE secret_key_id IS NOT NULL "
            "ORDER BY secret_key_id"
        ).fetchall()
    return [str(r[0]) for r in rows]


def plaintext_secrets(store: DuckDBStore) -> list[SensorRow]:
    """Webhook sensors whose config_json still holds a plaintext ``secret`` (stored before
    migration 0019): what ``dagy serve`` seals at start-up."""
    found = _rows(store, "sensor_type = 'webhook' AND config_json LIKE '%secret%'", [])
    return [row for row in found if "secret" in row.config]


def set_sealed_secret(
    store: DuckDBStore, sensor_id: str, config_json: str, key_id: str, sealed: bytes
) -> None:
    """The sealed secret in place of a plaintext one (``config_json`` without it)."""
    with store.connection() as con:
        con.execute(
            "UPDATE sensors SET config_json = ?, secret_key_id = ?, sealed_secret = ? "
            "WHERE sensor_id = ?",
            [config_json, key_id, sealed, sensor_id],
        )


def reseal_secret(store: DuckDBStore, sensor_id: str, key_id: str, sealed: bytes) -> None:
    with store.connection() as con:
        con.execute(
            "UPDATE sensors SET secret_key_id = ?, sealed_secret = ? WHERE sensor_id = ?",
            [key_id, sealed, sensor_id],
        )


def set_enabled(store: DuckDBStore, sensor_id: str, enabled: bool, now: _dt.datetime) -> None:
    """Pause or resume; a resumed sensor looks at once (its next check is due now)."""
    with store.connection() as con:
        con.execute(
            "UPDATE sensors SET enabled = ?, next_check_at = ?, updated_at = ? WHERE sensor_id = ?",
            [enabled, now if enabled else None, now, sensor_id],
        )


def delete(store: DuckDBStore, sensor_id: str) -> None:
    with store.connection() as con:
        con.execute("DELETE FROM sensor_seen_keys WHERE sensor_id = ?", [sensor_id])
        con.execute("DELETE FROM webhook_deliveries WHERE sensor_id = ?", [sensor_id])
        con.execute("DELETE FROM sensors WHERE sensor_id = ?", [sensor_id])


# -- s3: seen keys ------------------------------------------------------------------------------------


def unseen_keys(store: DuckDBStore, sensor_id: str, keys: list[str]) -> list[str]:
    """Those of ``keys`` this sensor has not seen yet, in the order given."""
    if not keys:
        return []
    with store.connection() as con:
        seen = con.execute(
            "SELECT key FROM sensor_seen_keys WHERE sensor_id = ? AND list_contains(?, key)",
            [sensor_id, keys],
        ).fetchall()
    known = {str(row[0]) for row in seen}
    return [k for k in keys if k not in known]


def add_seen_keys(store: DuckDBStore, sensor_id: str, keys: list[str], now: _dt.datetime) -> None:
    """Record ``keys`` as seen (one statement: a bucket may hold many at creation)."""
    if not keys:
        return
    with store.connection() as con:
        con.execute(
            "INSERT OR IGNORE INTO sensor_seen_keys (sensor_id, key, seen_at) "
            "SELECT ?, unnest(?::VARCHAR[]), ?",
            [sensor_id, keys, now],
        )


# -- webhooks: deliveries ---------------------------------------------------------------------------


def delivery_run(store: DuckDBStore, sensor_id: str, delivery_id: str) -> str | None:
    """The run a delivery id already queued for this sensor, if any."""
    with store.connection() as con:
        row = con.execute(
            "SELECT run_id FROM webhook_deliveries WHERE sensor_id = ? AND delivery_id = ?",
            [sensor_id, delivery_id],
        ).fetchone()
    return str(row[0]) if row else None


def add_delivery(
    store: DuckDBStore, sensor_id: str, delivery_id: str, run_id: str, now: _dt.datetime
) -> None:
    with store.connection() as con:
        con.execute(
            "INSERT OR IGNORE INTO webhook_deliveries (sensor_id, delivery_id, run_id, received_at)"
            " VALUES (?, ?, ?, ?)",
            [sensor_id, delivery_id, run_id, now],
        )


def touch_seen_keys(store: DuckDBStore, sensor_id: str, keys: list[str], now: _dt.datetime) -> None:
    """The seen keys a look listed again are still there: retention keeps them (services/retention)."""
    if not keys:
        return
    with store.connection() as con:
        con.execute(
            "UPDATE sensor_seen_keys SET seen_at = ? WHERE sensor_id = ? AND list_contains(?, key)",
            [now, sensor_id, keys],
        )

"""SQL for an org's custom node types and the earlier versions a PUT replaced."""

from __future__ import annotations

import datetime as _dt
import json
from dataclasses import dataclass, fields
from typing import Any

from dagy.store.duckdb_store import DuckDBStore


@dataclass
class CustomNodeRow:
    org_id: str
    node_type: str
    version: int
    definition_json: str
    import_path: str
    created_by: str | None
    updated_by: str | None
    created_at: _dt.datetime
    updated_at: _dt.datetime

    @property
    def definition(self) -> dict[str, Any]:
        return dict(json.loads(self.definition_json))


@dataclass
class CustomNodeVersionRow:
    org_id: str
    node_type: str
    version: int
    definition_json: str
    import_path: str
    created_by: str | None
    created_at: _dt.datetime
    replaced_by: str | None
    replaced_at: _dt.datetime

    @property
    def definition(self) -> dict[str, Any]:
        return dict(json.loads(self.definition_json))


_FIELDS = [f.name for f in fields(CustomNodeRow)]
_COLS = ", ".join(_FIELDS)
_VERSION_FIELDS = [f.name for f in fields(CustomNodeVersionRow)]


def _rows(store: DuckDBStore, where: str, params: list[Any], tail: str = "") -> list[CustomNodeRow]:
    with store.connection() as con:
        found = con.execute(
            f"SELECT {_COLS} FROM custom_nodes WHERE {where} {tail}", params
        ).fetchall()
    return [CustomNodeRow(*row) for row in found]


def get(store: DuckDBStore, org_id: str, node_type: str) -> CustomNodeRow | None:
    found = _rows(store, "org_id = ? AND node_type = ?", [org_id, node_type])
    return found[0] if found else None


def list_for_org(store: DuckDBStore, org_id: str) -> list[CustomNodeRow]:
    """The org's custom nodes, by node_type."""
    return _rows(store, "org_id = ?", [org_id], "ORDER BY node_type")


def insert(store: DuckDBStore, row: CustomNodeRow) -> None:
    with store.connection() as con:
        con.execute(
            f"INSERT INTO custom_nodes ({_COLS}) VALUES ({', '.join('?' for _ in _FIELDS)})",
            [getattr(row, name) for name in _FIELDS],
        )


def replace(
    store: DuckDBStore,
    old: CustomNodeRow,
    definition_json: str,
    import_path: str,
    by: str | None,
    now: _dt.datetime,
) -> None:
    """Snapshot ``old`` into custom_node_versions and write the next version over it (call inside
    a transaction)."""
    snapshot = CustomNodeVersionRow(
        old.org_id,
        old.node_type,
        old.version,
        old.definition_json,
        old.import_path,
        old.updated_by or old.created_by,
        old.updated_at,
        by,
        now,
    )
    with store.connection() as con:
        con.execute(
            f"INSERT INTO custom_node_versions ({', '.join(_VERSION_FIELDS)}) "
            f"VALUES ({', '.join('?' for _ in _VERSION_FIELDS)})",
            [getattr(snapshot, name) for name in _VERSION_FIELDS],
        )
        con.execute(
            "UPDATE custom_nodes SET version = ?, definition_json = ?, import_path = ?, "
            "updated_by = ?, updated_at = ? WHERE org_id = ? AND node_type = ?",
            [old.version + 1, definition_json, import_path, by, now, old.org_id, old.node_type],
        )


def versions(store: DuckDBStore, org_id: str, node_type: str) -> list[CustomNodeVersionRow]:
    """The earlier versions of a custom node, newest first."""
    with store.connection() as con:
        found = con.execute(
            f"SELECT {', '.join(_VERSION_FIELDS)} FROM custom_node_versions "
            "WHERE org_id = ? AND node_type = ? ORDER BY version DESC",
            [org_id, node_type],
        ).fetchall()
    return [CustomNodeVersionRow(*row) for row in found]


def delete(store: DuckDBStore, org_id: str, node_type: str) -> None:
    """The node and its history."""
    with store.connection() as con:
        con.execute(
            "DELETE FROM custom_node_versions WHERE org_id = ? AND node_type = ?",
            [org_id, node_type],
        )
        con.execute(
            "DELETE FROM custom_nodes WHERE org_id = ? AND node_type = ?", [org_id, node_type]
        )

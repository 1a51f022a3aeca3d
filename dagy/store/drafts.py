"""SQL for DAG drafts (dag_drafts): one row per draft, its canvas as JSON text."""

from __future__ import annotations

import datetime as _dt
import json
from dataclasses import dataclass, fields
from typing import Any

from dagy.store.duckdb_store import DuckDBStore


@dataclass
class DraftRow:
    draft_id: str
    org_id: str
    name: str
    description: str
    canvas_json: str
    flow_name: str | None
    executor: str | None
    created_by: str | None
    created_at: _dt.datetime
    updated_at: _dt.datetime
    deployed_flow_version: str | None = None
    deployed_at: _dt.datetime | None = None

    @property
    def canvas(self) -> dict[str, Any]:
        return dict(json.loads(self.canvas_json))


_FIELDS = [f.name for f in fields(DraftRow)]
_COLS = ", ".join(_FIELDS)
# What PUT and deploy may change; the id, org, author and creation time are fixed.
CHANGEABLE = frozenset(
    {
        "name",
        "description",
        "canvas_json",
        "flow_name",
        "executor",
        "updated_at",
        "deployed_flow_version",
        "deployed_at",
    }
)


def _rows(store: DuckDBStore, where: str, params: list[Any], tail: str = "") -> list[DraftRow]:
    with store.connection() as con:
        found = con.execute(
            f"SELECT {_COLS} FROM dag_drafts WHERE {where} {tail}", params
        ).fetchall()
    return [DraftRow(*row) for row in found]


def insert(store: DuckDBStore, row: DraftRow) -> None:
    with store.connection() as con:
        con.execute(
            f"INSERT INTO dag_drafts ({_COLS}) VALUES ({', '.join('?' for _ in _FIELDS)})",
            [getattr(row, name) for name in _FIELDS],
        )


def get(store: DuckDBStore, org_id: str, draft_id: str) -> DraftRow | None:
    found = _rows(store, "org_id = ? AND draft_id = ?", [org_id, draft_id])
    return found[0] if found else None


def page(
    store: DuckDBStore, org_id: str, *, after: tuple[str, str] | None, limit: int
) -> list[DraftRow]:
    """A page of the org's drafts, oldest first, strictly after the ``(created_at, id)`` keyset."""
    where, params = "org_id = ?", [org_id]
    if after is not None:
        where += " AND (created_at, draft_id) > (?::TIMESTAMP, ?)"
        params += list(after)
    return _rows(store, where, [*params, limit], "ORDER BY created_at, draft_id LIMIT ?")


def update(store: DuckDBStore, org_id: str, draft_id: str, **changes: Any) -> None:
    unknown = set(changes) - CHANGEABLE
    if unknown:
        raise ValueError(f"not a changeable draft field: {sorted(unknown)}")
    if not changes:
        return
    sets = ", ".join(f"{name} = ?" for name in changes)
    with store.connection() as con:
        con.execute(
            f"UPDATE dag_drafts SET {sets} WHERE org_id = ? AND draft_id = ?",
            [*changes.values(), org_id, draft_id],
        )


def delete(store: DuckDBStore, org_id: str, draft_id: str) -> None:
    with store.connection() as con:
        con.execute("DELETE FROM dag_drafts WHERE org_id = ? AND draft_id = ?", [org_id, draft_id])

"""SQL for saved ``dagy sql`` queries: one row per (org, name)."""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass

from dagy.store.duckdb_store import DuckDBStore

_COLUMNS = "name, sql, created_by, created_at, updated_at"


@dataclass(frozen=True)
class SavedQuery:
    name: str
    sql: str
    created_by: str | None
    created_at: _dt.datetime
    updated_at: _dt.datetime


def get(store: DuckDBStore, org_id: str, name: str) -> SavedQuery | None:
    with store.connection() as con:
        row = con.execute(
            f"SELECT {_COLUMNS} FROM saved_queries WHERE org_id = ? AND name = ?", [org_id, name]
        ).fetchone()
    return SavedQuery(*row) if row else None


def page(store: DuckDBStore, org_id: str, *, after: str | None, limit: int) -> list[SavedQuery]:
    """By name, keyset-paged after ``after``."""
    with store.connection() as con:
        rows = con.execute(
            f"SELECT {_COLUMNS} FROM saved_queries WHERE org_id = ? AND name > ? "
            "ORDER BY name LIMIT ?",
            [org_id, after or "", limit],
        ).fetchall()
    return [SavedQuery(*r) for r in rows]


def insert(store: DuckDBStore, org_id: str, query: SavedQuery) -> None:
    with store.connection() as con:
        con.execute(
            f"INSERT INTO saved_queries (org_id, {_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
            [org_id, query.name, query.sql, query.created_by, query.created_at, query.updated_at],
        )


def update_sql(
    store: DuckDBStore, org_id: str, name: str, sql: str, updated_at: _dt.datetime
) -> None:
    with store.connection() as con:
        con.execute(
            "UPDATE saved_queries SET sql = ?, updated_at = ? WHERE org_id = ? AND name = ?",
            [sql, updated_at, org_id, name],
        )


def delete(store: DuckDBStore, org_id: str, name: str) -> None:
    with store.connection() as con:
        con.execute("DELETE FROM saved_queries WHERE org_id = ? AND name = ?", [org_id, name])

"""SQL for secrets: rows hold the ciphertext and the id of the key that sealed it, never a value."""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, fields
from typing import Any

from dagy.store.duckdb_store import DuckDBStore

GLOBAL = ""  # the environment column of a secret for every environment (the API shows null)


@dataclass
class SecretRow:
    secret_id: str
    org_id: str
    secret_name: str
    environment: str
    key_id: str
    ciphertext: bytes
    version: int
    created_by: str | None
    created_at: _dt.datetime
    updated_at: _dt.datetime


_COLS = ", ".join(f.name for f in fields(SecretRow))


def _rows(store: DuckDBStore, where: str, params: list[Any], tail: str = "") -> list[SecretRow]:
    with store.connection() as con:
        found = con.execute(f"SELECT {_COLS} FROM secrets WHERE {where} {tail}", params).fetchall()
    rows = [list(row) for row in found]
    for row in rows:
        row[5] = bytes(row[5])  # DuckDB answers a BLOB as bytes already; be sure of it
    return [SecretRow(*row) for row in rows]


def insert(store: DuckDBStore, row: SecretRow) -> None:
    with store.connection() as con:
        con.execute(
            f"INSERT INTO secrets ({_COLS}) VALUES ({', '.join('?' for _ in fields(SecretRow))})",
            [getattr(row, f.name) for f in fields(SecretRow)],
        )


def get(store: DuckDBStore, org_id: str, environment: str, name: str) -> SecretRow | None:
    found = _rows(
        store, "org_id = ? AND environment = ? AND secret_name = ?", [org_id, environment, name]
    )
    return found[0] if found else None


def named(store: DuckDBStore, org_id: str, name: str) -> list[SecretRow]:
    """Every row of this name in the org (one per environment that has it)."""
    return _rows(store, "org_id = ? AND secret_name = ?", [org_id, name], "ORDER BY environment")


def page(
    store: DuckDBStore,
    org_id: str,
    *,
    environment: str | None,
    after: tuple[str, str] | None,
    limit: int,
) -> list[SecretRow]:
    where, params = "org_id = ?", [org_id]
    if environment is not None:
        where += " AND environment = ?"
        params.append(environment)
    if after is not None:
        where += " AND (created_at, secret_id) > (?::TIMESTAMP, ?)"
        params += list(after)
    return _rows(store, where, [*params, limit], "ORDER BY created_at, secret_id LIMIT ?")


def for_environments(store: DuckDBStore, org_id: str, environments: list[str]) -> list[SecretRow]:
    return _rows(store, "org_id = ? AND list_contains(?, environment)", [org_id, environments])


def everything(store: DuckDBStore) -> list[SecretRow]:
    """Every secret of every org: what a master key rotation re-encrypts."""
    return _rows(store, "true", [], "ORDER BY secret_id")


def count_all(store: DuckDBStore) -> int:
    with store.connection() as con:
        row = con.execute("SELECT count(*) FROM secrets").fetchone()
    return int(row[0]) if row else 0


def key_ids(store: DuckDBStore) -> list[str]:
    with store.connection() as con:
        rows = con.execute("SELECT DISTINCT key_id FROM secrets ORDER BY key_id").fetchall()
    return [str(r[0]) for r in rows]


def reseal(
    store: DuckDBStore,
    secret_id: str,
    key_id: str,
    ciphertext: bytes,
    *,
    version: int | None = None,
    updated_at: _dt.datetime | None = None,
) -> None:
    """Replace a row's ciphertext (a new value, or the same value under a new key)."""
    sets = ["key_id = ?", "ciphertext = ?"]
    params: list[Any] = [key_id, ciphertext]
    if version is not None:
        sets.append("version = ?")
        params.append(version)
    if updated_at is not None:
        sets.append("updated_at = ?")
        params.append(updated_at)
    with store.connection() as con:
        con.execute(
            f"UPDATE secrets SET {', '.join(sets)} WHERE secret_id = ?", [*params, secret_id]
        )


def delete(store: DuckDBStore, secret_id: str) -> None:
    with store.connection() as con:
        con.execute("DELETE FROM secrets WHERE secret_id = ?", [secret_id])

"""SQL for environments, their variables, and the deployments that belong to them."""

from __future__ import annotations

import datetime as _dt
import json
from dataclasses import dataclass, fields
from typing import Any

from dagy.store.duckdb_store import DuckDBStore
from dagy.store.flows import Deployment


@dataclass
class Environment:
    env_id: str
    org_id: str
    env_name: str
    default_executor: str | None
    config_json: str  # JSON object
    is_protected: bool
    promotion_order: int
    created_at: _dt.datetime
    updated_at: _dt.datetime

    @property
    def config(self) -> dict[str, Any]:
        return dict(json.loads(self.config_json or "{}"))


_COLS = ", ".join(f.name for f in fields(Environment))
_ORDER = "ORDER BY promotion_order, env_name"


def _many(store: DuckDBStore, where: str, params: list[Any], tail: str = "") -> list[Environment]:
    with store.connection() as con:
        rows = con.execute(f"SELECT {_COLS} FROM environments WHERE {where} {tail}", params)
        return [Environment(*row) for row in rows.fetchall()]


def get(store: DuckDBStore, org_id: str, env_name: str) -> Environment | None:
    found = _many(store, "org_id = ? AND env_name = ?", [org_id, env_name])
    return found[0] if found else None


def all_of(store: DuckDBStore, org_id: str) -> list[Environment]:
    """The org's environments in promotion order."""
    return _many(store, "org_id = ?", [org_id], _ORDER)


def next_order(store: DuckDBStore, org_id: str) -> int:
    with store.connection() as con:
        row = con.execute(
            "SELECT coalesce(max(promotion_order) + 1, 0) FROM environments WHERE org_id = ?",
            [org_id],
        ).fetchone()
    return int(row[0]) if row else 0


def insert(store: DuckDBStore, env: Environment) -> None:
    names = [f.name for f in fields(Environment)]
    with store.connection() as con:
        con.execute(
            f"INSERT INTO environments ({_COLS}) VALUES ({', '.join('?' for _ in names)})",
            [getattr(env, n) for n in names],
        )


def update(store: DuckDBStore, env_id: str, **changes: Any) -> None:
    if not changes:
        return
    sets = ", ".join(f"{k} = ?" for k in changes)
    with store.connection() as con:
        con.execute(f"UPDATE environments SET {sets} WHERE env_id = ?", [*changes.values(), env_id])


def set_orders(store: DuckDBStore, orders: dict[str, int], at: _dt.datetime) -> None:
    """``env_id -> promotion_order`` in one statement."""
    if not orders:
        return
    with store.connection() as con:
        con.execute(
            "UPDATE environments SET promotion_order = o.pos, updated_at = ? "
            "FROM (SELECT unnest(?::VARCHAR[]) AS id, unnest(?::INTEGER[]) AS pos) AS o "
            "WHERE environments.env_id = o.id",
            [at, list(orders), list(orders.values())],
        )


def delete(store: DuckDBStore, env_id: str) -> None:
    with store.connection() as con:
        con.execute("DELETE FROM environment_variables WHERE env_id = ?", [env_id])
        con.execute("DELETE FROM environments WHERE env_id = ?", [env_id])


# -- variables ---------------------------------------------------------------------------------------


def variables(store: DuckDBStore, env_id: str) -> dict[str, str]:
    with store.connection() as con:
        rows = con.execute(
            "SELECT var_key, value FROM environment_variables WHERE env_id = ? ORDER BY var_key",
            [env_id],
        ).fetchall()
    return {str(k): str(v) for k, v in rows}


def set_variables(
    store: DuckDBStore, env_id: str, values: dict[str, str], at: _dt.datetime
) -> None:
    """Insert or overwrite these keys (others stay)."""
    if not values:
        return
    with store.connection() as con:
        con.execute(
            "INSERT OR REPLACE INTO environment_variables (env_id, var_key, value, updated_at) "
            "SELECT ?, unnest(?::VARCHAR[]), unnest(?::VARCHAR[]), ?",
            [env_id, list(values), list(values.values()), at],
        )


def clear_variables(store: DuckDBStore, env_id: str) -> None:
    with store.connection() as con:
        con.execute("DELETE FROM environment_variables WHERE env_id = ?", [env_id])


def delete_variable(store: DuckDBStore, env_id: str, key: str) -> None:
    with store.connection() as con:
        con.execute(
            "DELETE FROM environment_variables WHERE env_id = ? AND var_key = ?", [env_id, key]
        )


# -- deployments of an environment -------------------------------------------------------------------


def deployments_in(store: DuckDBStore, org_id: str, env_name: str) -> list[Deployment]:
    """The deployments whose ``environment`` is ``env_name``, by flow then name."""
    names = [f.name for f in fields(Deployment)]
    with store.connection() as con:
        rows = con.execute(
            f"SELECT {', '.join(names)} FROM deployments WHERE org_id = ? AND environment = ? "
            "ORDER BY flow_name, name",
            [org_id, env_name],
        ).fetchall()
    return [Deployment(*row) for row in rows]

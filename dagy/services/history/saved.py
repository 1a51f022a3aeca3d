"""Saved ``dagy sql`` queries: a name for a query, per org; saving and deleting are audited."""

from __future__ import annotations

import re
from typing import Any

from dagy.errors import InvalidInputError, NotFoundError
from dagy.services import pagination
from dagy.services.accounts import audit
from dagy.services.accounts.audit import Actor
from dagy.services.history import query
from dagy.store import saved_queries as sql
from dagy.store.duckdb_store import DuckDBStore
from dagy.store.records import utcnow
from dagy.store.saved_queries import SavedQuery

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")
RESOURCE = "saved_query"
MAX_LIMIT = 500


def check_name(name: Any) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InvalidInputError(
            f"Invalid query name: {name!r}",
            {"name": "1 to 100 letters, digits, '_', '.' or '-', starting with a letter or digit"},
        )
    return name


def to_item(row: SavedQuery) -> dict[str, Any]:
    return {
        "name": row.name,
        "sql": row.sql,
        "created_by": row.created_by,
        "created_at": row.created_at.isoformat() + "Z",
        "updated_at": row.updated_at.isoformat() + "Z",
    }


def find(store: DuckDBStore, org_id: str, name: str) -> SavedQuery:
    row = sql.get(store, org_id, check_name(name))
    if row is None:
        raise NotFoundError(f"Saved query not found: {name}")
    return row


def save(store: DuckDBStore, actor: Actor, name: Any, text: Any) -> tuple[SavedQuery, bool]:
    """Create saved query ``name`` or replace its SQL; returns it and whether it was created.
    The SQL must be one query DuckDB can parse (it is not run)."""
    name, text = check_name(name), query.validate(text)
    now = utcnow()
    with store.transaction():
        old = sql.get(store, actor.org_id, name)
        if old is None:
            row = SavedQuery(name, text, actor.email, now, now)
            sql.insert(store, actor.org_id, row)
            audit.write(store, actor, "create", RESOURCE, name, resource_name=name)
            return row, True
        sql.update_sql(store, actor.org_id, name, text, now)
        audit.write(
            store, actor, "update", RESOURCE, name, resource_name=name, changes={"sql": text}
        )
    return SavedQuery(name, text, old.created_by, old.created_at, now), False


def delete(store: DuckDBStore, actor: Actor, name: str) -> SavedQuery:
    with store.transaction():
        row = find(store, actor.org_id, name)
        sql.delete(store, actor.org_id, row.name)
        audit.write(store, actor, "delete", RESOURCE, row.name, resource_name=row.name)
    return row


def list_page(
    store: DuckDBStore, org_id: str, *, limit: Any = None, next_token: str | None = None
) -> dict[str, Any]:
    size = pagination.clamp_limit(limit, default=100, maximum=MAX_LIMIT)
    position = pagination.decode_token(next_token, size=1)
    after = str(position[0]) if position else None
    rows = sql.page(store, org_id, after=after, limit=size + 1)
    rows, token = pagination.page(rows, size, lambda r: [r.name])
    return {"items": [to_item(r) for r in rows], "next_token": token}


def run(
    store: DuckDBStore, org_id: str, name: str, *, limit: Any = None, timeout: float | None = None
) -> query.QueryResult:
    found = find(store, org_id, name)
    return query.run(store, org_id, found.sql, limit=limit, timeout=timeout)

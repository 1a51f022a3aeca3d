"""Read-only SQL over the caller's org's run history (``POST /sql``), and saved queries.

Rules live in dagy/services/history/; see docs/sql.md.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, delete, get, post, put

from dagy.config import settings
from dagy.server.openapi import Body, required
from dagy.server.security import actor_of, identity_of, state_of
from dagy.services.history import query, saved

_READ: dict[str, object] = {"permission": "runs.read"}
# No runs.write in the matrix: saving a shared query is for those who may trigger runs
# (developer and above), not viewers.
_WRITE: dict[str, object] = {"permission": "runs.trigger"}
_NAMED = {"params": {"name": {"pattern": "^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$"}}}


_SQL = {"minLength": 1, "maxLength": query.MAX_SQL_CHARS, "description": "One SELECT or EXPLAIN"}


def _limit() -> dict[str, object]:
    return {"minimum": 1, "maximum": settings.SQL_MAX_ROWS.get(), "default": query.DEFAULT_LIMIT}


class QueryBody(Body):
    sql: str | None = None
    limit: int | None = None
    doc = {"sql": required(_SQL), "limit": _limit}


class SavedQueryBody(Body):
    sql: str | None = None
    doc = {"sql": required(_SQL)}


class RunSavedBody(Body):
    limit: int | None = None
    doc = {"limit": _limit}


def _store(request: Request[Any, Any, Any]) -> Any:
    """The store, with the API calls counted so far written first (the usage view shows them)."""
    state = state_of(request)
    if state.api_calls is not None:
        state.api_calls.flush()
    return state.store


@post("/sql", status_code=200, sync_to_thread=True, opt=_READ)
def run_sql(request: Request[Any, Any, Any], data: QueryBody) -> dict[str, Any]:
    org = identity_of(request).org_id
    return query.run(_store(request), org, data.sql, limit=data.limit).to_json()


@get("/sql/queries", sync_to_thread=True, opt={**_READ, "params": {"limit": {"maximum": 500}}})
def list_queries(
    request: Request[Any, Any, Any], limit: int | None = None, next_token: str | None = None
) -> dict[str, Any]:
    org = identity_of(request).org_id
    return saved.list_page(state_of(request).store, org, limit=limit, next_token=next_token)


@get("/sql/queries/{name:str}", sync_to_thread=True, opt={**_READ, **_NAMED})
def get_query(request: Request[Any, Any, Any], name: str) -> dict[str, Any]:
    org = identity_of(request).org_id
    return saved.to_item(saved.find(state_of(request).store, org, name))


@put("/sql/queries/{name:str}", sync_to_thread=True, opt={**_WRITE, **_NAMED})
def save_query(
    request: Request[Any, Any, Any], name: str, data: SavedQueryBody
) -> Response[dict[str, Any]]:
    row, created = saved.save(state_of(request).store, actor_of(request), name, data.sql)
    return Response(saved.to_item(row), status_code=201 if created else 200)


@delete("/sql/queries/{name:str}", status_code=204, sync_to_thread=True, opt={**_WRITE, **_NAMED})
def delete_query(request: Request[Any, Any, Any], name: str) -> Response[None]:
    saved.delete(state_of(request).store, actor_of(request), name)
    return Response(None, status_code=204)


@post("/sql/queries/{name:str}/run", status_code=200, sync_to_thread=True, opt={**_READ, **_NAMED})
def run_query(
    request: Request[Any, Any, Any], name: str, data: RunSavedBody | None = None
) -> dict[str, Any]:
    org = identity_of(request).org_id
    limit = data.limit if data is not None else None
    return saved.run(_store(request), org, name, limit=limit).to_json()


ROUTES = [run_sql, list_queries, get_query, save_query, delete_query, run_query]

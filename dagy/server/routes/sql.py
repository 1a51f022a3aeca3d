"""Read-only SQL over the caller's org's run history (``POST /sql``), and saved queries.

Rules live in dagy/services/history/; see docs/sql.md.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, delete, get, post, put

from dagy.server.security import actor_of, identity_of, state_of
from dagy.services.history import query, saved

_READ = {"permission": "runs.read"}
# No runs.write in the matrix: saving a shared query is for those who may trigger runs
# (developer and above), not viewers.
_WRITE = {"permission": "runs.trigger"}


class QueryBody(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    sql: str | None = None
    limit: int | None = None


class SavedQueryBody(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    sql: str | None = None


class RunSavedBody(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    limit: int | None = None


@post("/sql", status_code=200, sync_to_thread=True, opt=_READ)
def run_sql(request: Request[Any, Any, Any], data: QueryBody) -> dict[str, Any]:
    org = identity_of(request).org_id
    return query.run(state_of(request).store, org, data.sql, limit=data.limit).to_json()


@get("/sql/queries", sync_to_thread=True, opt=_READ)
def list_queries(
    request: Request[Any, Any, Any], limit: int | None = None, next_token: str | None = None
) -> dict[str, Any]:
    org = identity_of(request).org_id
    return saved.list_page(state_of(request).store, org, limit=limit, next_token=next_token)


@get("/sql/queries/{name:str}", sync_to_thread=True, opt=_READ)
def get_query(request: Request[Any, Any, Any], name: str) -> dict[str, Any]:
    org = identity_of(request).org_id
    return saved.to_item(saved.find(state_of(request).store, org, name))


@put("/sql/queries/{name:str}", sync_to_thread=True, opt=_WRITE)
def save_query(
    request: Request[Any, Any, Any], name: str, data: SavedQueryBody
) -> Response[dict[str, Any]]:
    row, created = saved.save(state_of(request).store, actor_of(request), name, data.sql)
    return Response(saved.to_item(row), status_code=201 if created else 200)


@delete("/sql/queries/{name:str}", status_code=204, sync_to_thread=True, opt=_WRITE)
def delete_query(request: Request[Any, Any, Any], name: str) -> Response[None]:
    saved.delete(state_of(request).store, actor_of(request), name)
    return Response(None, status_code=204)


@post("/sql/queries/{name:str}/run", status_code=200, sync_to_thread=True, opt=_READ)
def run_query(
    request: Request[Any, Any, Any], name: str, data: RunSavedBody | None = None
) -> dict[str, Any]:
    org = identity_of(request).org_id
    limit = data.limit if data is not None else None
    return saved.run(state_of(request).store, org, name, limit=limit).to_json()


ROUTES = [run_sql, list_queries, get_query, save_query, delete_query, run_query]

"""``dagy sql`` through the backend: queries over the history views and saved queries, on the
store file (the services), this home's live server or a remote API (``/v1/sql``)."""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote

from dagy.backend._api_errors import as_service_errors
from dagy.backend.context import HttpContext, LocalContext
from dagy.backend.records import parse_time


@dataclass(frozen=True)
class SqlColumn:
    name: str
    type: str  # DuckDB's type name


@dataclass(frozen=True)
class SqlResult:
    """Rows as JSON values (timestamps ISO 8601 text), the same in every mode."""

    columns: list[SqlColumn]
    rows: list[list[Any]]
    truncated: bool
    elapsed_ms: float

    @property
    def row_count(self) -> int:
        return len(self.rows)

    def to_json(self) -> dict[str, Any]:
        return {
            "columns": [{"name": c.name, "type": c.type} for c in self.columns],
            "rows": self.rows,
            "row_count": self.row_count,
            "truncated": self.truncated,
            "elapsed_ms": self.elapsed_ms,
        }


@dataclass(frozen=True)
class SavedSql:
    name: str
    sql: str
    created_by: str | None
    created_at: _dt.datetime | None
    updated_at: _dt.datetime | None


class HistoryBackend(Protocol):
    def query(self, sql: str, limit: int | None = None) -> SqlResult:
        """Run one read-only query over the history views (InvalidInputError when refused)."""

    def save(self, name: str, sql: str) -> tuple[SavedSql, bool]:
        """Create or replace saved query ``name``; returns it and whether it was created."""

    def list(self) -> list[SavedSql]: ...

    def get(self, name: str) -> SavedSql: ...

    def delete(self, name: str) -> SavedSql: ...

    def run(self, name: str, limit: int | None = None) -> SqlResult: ...


def _result(body: dict[str, Any]) -> SqlResult:
    columns = [SqlColumn(str(c["name"]), str(c["type"])) for c in body["columns"]]
    return SqlResult(columns, list(body["rows"]), bool(body["truncated"]), body["elapsed_ms"])


def _saved(body: dict[str, Any]) -> SavedSql:
    return SavedSql(
        str(body["name"]),
        str(body["sql"]),
        body.get("created_by"),
        parse_time(body.get("created_at")),
        parse_time(body.get("updated_at")),
    )


class LocalHistory:
    def __init__(self, ctx: LocalContext) -> None:
        self.ctx = ctx

    def query(self, sql: str, limit: int | None = None) -> SqlResult:
        from dagy.services.history import query

        return _result(query.run(self.ctx.store(), self.ctx.org_id, sql, limit=limit).to_json())

    def save(self, name: str, sql: str) -> tuple[SavedSql, bool]:
        from dagy.services.history import saved

        row, created = saved.save(self.ctx.store(), self.ctx.actor(), name, sql)
        return _saved(saved.to_item(row)), created

    def list(self) -> list[SavedSql]:
        from dagy.services.history import saved

        store, found, token = self.ctx.store(), [], None
        while True:
            page = saved.list_page(store, self.ctx.org_id, limit=saved.MAX_LIMIT, next_token=token)
            found += [_saved(item) for item in page["items"]]
            token = page["next_token"]
            if not token:
                return found

    def get(self, name: str) -> SavedSql:
        from dagy.services.history import saved

        return _saved(saved.to_item(saved.find(self.ctx.store(), self.ctx.org_id, name)))

    def delete(self, name: str) -> SavedSql:
        from dagy.services.history import saved

        return _saved(saved.to_item(saved.delete(self.ctx.store(), self.ctx.actor(), name)))

    def run(self, name: str, limit: int | None = None) -> SqlResult:
        from dagy.services.history import saved

        store = self.ctx.store()
        return _result(saved.run(store, self.ctx.org_id, name, limit=limit).to_json())


class HttpHistory:
    def __init__(self, ctx: HttpContext) -> None:
        self.ctx = ctx

    def _long(self) -> Any:
        """The client, waiting as long as the server may let a query run (DAGY_SQL_TIMEOUT, as
        this machine sets it, plus a margin) rather than the 10 s of other calls."""
        import copy

        from dagy.config import settings

        client = copy.copy(self.ctx.client)
        client.timeout = max(client.timeout, settings.SQL_TIMEOUT.get() + 30)
        return client

    @staticmethod
    def _path(name: str, tail: str = "") -> str:
        return f"/sql/queries/{quote(name, safe='')}{tail}"

    def _body(self, **fields: Any) -> dict[str, Any]:
        return {k: v for k, v in fields.items() if v is not None}

    def query(self, sql: str, limit: int | None = None) -> SqlResult:
        with as_service_errors():
            return _result(self._long().post("/sql", self._body(sql=sql, limit=limit)))

    def save(self, name: str, sql: str) -> tuple[SavedSql, bool]:
        with as_service_errors():
            body = self.ctx.client.put(self._path(name), {"sql": sql})
        # 201 or 200 is not visible through the client; a new query's two times are equal
        return _saved(body), body.get("created_at") == body.get("updated_at")

    def list(self) -> list[SavedSql]:
        with as_service_errors():
            return [_saved(item) for item in self.ctx.client.paginate("/sql/queries")]

    def get(self, name: str) -> SavedSql:
        with as_service_errors():
            return _saved(self.ctx.client.get(self._path(name)))

    def delete(self, name: str) -> SavedSql:
        found = self.get(name)
        with as_service_errors():
            self.ctx.client.delete(self._path(name))
        return found

    def run(self, name: str, limit: int | None = None) -> SqlResult:
        with as_service_errors():
            return _result(self._long().post(self._path(name, "/run"), self._body(limit=limit)))

"""``dagy sql`` / ``POST /v1/sql``: one read-only query over the history views, with a row limit
and a time limit (docs/sql.md).

What a query may not do (write, ATTACH, COPY, read a file, SET, INSTALL/LOAD) is refused by the
sandbox's DuckDB configuration (dagy/store/history.py). Before it runs, DuckDB's own parser also
says which kind of statement it is, so a statement that is not a query is refused with a message
naming its kind instead of DuckDB's lower-level one.
"""

from __future__ import annotations

import base64
import datetime as _dt
import decimal
import math
import time
import uuid
from dataclasses import dataclass
from typing import Any

import duckdb

from dagy.config import settings
from dagy.errors import InvalidInputError
from dagy.store import history
from dagy.store.duckdb_store import DuckDBStore

DEFAULT_LIMIT = 1000
MAX_SQL_CHARS = 100_000

_QUERY_TYPES = {duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN}
# A refused statement kind → the reason the error names (details.reason).
_REASONS = {
    "INSERT": "write",
    "UPDATE": "write",
    "DELETE": "write",
    "CREATE": "write",
    "CREATE_FUNC": "write",
    "DROP": "write",
    "ALTER": "write",
    "MERGE_INTO": "write",
    "VACUUM": "write",
    "ANALYZE": "write",
    "UPDATE_EXTENSIONS": "extension",
    "LOAD": "extension",
    "EXTENSION": "extension",
    "ATTACH": "attach",
    "DETACH": "attach",
    "COPY": "copy",
    "COPY_DATABASE": "copy",
    "EXPORT": "copy",
    "SET": "settings",
    "VARIABLE_SET": "settings",
    "PRAGMA": "settings",
}
_WHY = {
    "write": "the history is read-only",
    "attach": "no other database can be attached",
    "copy": "results are not written to files by the query (use --output)",
    "settings": "settings cannot be changed",
    "extension": "extensions cannot be installed or loaded",
    "file_access": "files cannot be read or written",
    "statement": "only queries (SELECT, EXPLAIN) run here",
}


class InvalidSQLError(InvalidInputError):
    """The text is not one query DuckDB can run: a syntax error, an unknown column, ..."""

    error = "invalid_sql"


class SQLRefusedError(InvalidInputError):
    """The query tried something the read-only sandbox does not allow; ``details.reason`` says what."""

    error = "sql_refused"


class QueryTimeoutError(InvalidInputError):
    """The query ran past the time limit and was interrupted."""

    error = "query_timeout"


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # DuckDB's type name: VARCHAR, BIGINT, TIMESTAMP, DOUBLE, ...


@dataclass(frozen=True)
class QueryResult:
    columns: list[Column]
    rows: list[list[Any]]  # JSON values: timestamps as ISO 8601 text with Z
    truncated: bool  # more rows matched than the limit let through
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


def check_limit(limit: Any) -> int:
    """``limit`` rows (default 1000), at most DAGY_SQL_MAX_ROWS: a larger one is a 400."""
    maximum = settings.SQL_MAX_ROWS.get()
    if limit is None:
        return min(DEFAULT_LIMIT, maximum)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= maximum:
        raise InvalidInputError(
            f"Invalid limit: {limit!r}", {"limit": f"an integer from 1 to {maximum}"}
        )
    return limit


def check_sql(sql: Any) -> str:
    if not isinstance(sql, str) or not sql.strip():
        raise InvalidInputError("sql is required", {"sql": "a SELECT statement"})
    if len(sql) > MAX_SQL_CHARS:
        raise InvalidInputError("sql is too long", {"sql": f"at most {MAX_SQL_CHARS} characters"})
    return sql


def check_statement(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    """Exactly one statement, a query; parsed by DuckDB (nothing runs)."""
    try:
        statements = con.extract_statements(sql)
    except duckdb.Error as exc:
        raise _invalid(exc) from None
    if len(statements) != 1:
        raise InvalidSQLError(
            f"Send exactly one statement (got {len(statements)})", {"reason": "statements"}
        )
    kind = statements[0].type
    if kind not in _QUERY_TYPES:
        name = "INSTALL/LOAD" if kind.name == "LOAD" else kind.name
        reason = _REASONS.get(kind.name, "statement")
        raise SQLRefusedError(
            f"Refused: {name} statements are not allowed; {_WHY[reason]}",
            {"reason": reason, "statement": name},
        )


def validate(sql: Any) -> str:
    """``sql`` as a saved query may hold it: one query DuckDB can parse."""
    text = check_sql(sql)
    con = duckdb.connect(":memory:", config={**history.SANDBOX_CONFIG, "lock_configuration": True})
    try:
        check_statement(con, text)
    finally:
        con.close()
    return text


def run(
    store: DuckDBStore,
    org_id: str,
    sql: Any,
    *,
    limit: Any = None,
    timeout: float | None = None,
) -> QueryResult:
    """``sql`` over ``org_id``'s history views: at most ``limit`` rows, interrupted after
    ``timeout`` seconds (DAGY_SQL_TIMEOUT)."""
    text, rows_max = check_sql(sql), check_limit(limit)
    seconds = settings.SQL_TIMEOUT.get() if timeout is None else timeout
    started = time.perf_counter()
    try:
        with history.sandbox(store, org_id, text, timeout=seconds) as con:
            check_statement(con, text)
            left = max(0.001, seconds - (time.perf_counter() - started))
            columns, rows = execute(con, text, rows_max, left)
    except TimeoutError:
        raise _timeout(seconds) from None
    took = time.perf_counter() - started
    if took > seconds:  # done, but past the limit: the timer thread's interrupt came too late
        raise _timeout(seconds)
    elapsed = round(took * 1000, 3)
    return QueryResult(columns, [_row(r) for r in rows[:rows_max]], len(rows) > rows_max, elapsed)


def execute(
    con: duckdb.DuckDBPyConnection, sql: str, limit: int, timeout: float
) -> tuple[list[Column], list[tuple[Any, ...]]]:
    """Up to ``limit + 1`` rows of ``sql`` on the sandbox ``con``, interrupted after ``timeout``
    seconds from a timer thread (DuckDB's ``interrupt()``); DuckDB's refusals as ours."""
    with history.interrupt_after(con, timeout) as fired:
        try:
            relation = con.sql(sql)
            if relation is None:  # not a query (check_statement lets none through)
                raise SQLRefusedError(f"Refused: {_WHY['statement']}", {"reason": "statement"})
            columns = [
                Column(n, str(t)) for n, t in zip(relation.columns, relation.types, strict=True)
            ]
            rows = relation.limit(limit + 1).fetchall()
        except duckdb.Error as exc:
            if fired.is_set():
                raise TimeoutError from None
            raise _refusal(exc) or _invalid(exc) from None
    return columns, rows


def _timeout(seconds: float) -> QueryTimeoutError:
    return QueryTimeoutError(
        f"The query ran longer than {seconds:g}s and was stopped",
        {"reason": "timeout", "timeout_seconds": seconds},
    )


def _message(exc: BaseException) -> str:
    return str(exc).strip()


def _refusal(exc: duckdb.Error) -> SQLRefusedError | None:
    text = _message(exc)
    reason = None
    if "read-only mode" in text:
        reason = "write"
    elif "configuration has been locked" in text:
        reason = "settings"
    elif "extension" in text.lower() and isinstance(exc, duckdb.PermissionException):
        reason = "extension"
    elif isinstance(exc, duckdb.PermissionException):
        reason = "file_access"
    if reason is None:
        return None
    return SQLRefusedError(f"Refused: {_WHY[reason]}", {"reason": reason, "duckdb": text})


def _invalid(exc: duckdb.Error) -> InvalidSQLError:
    if isinstance(exc, duckdb.OutOfMemoryException):
        limit = settings.SQL_MEMORY_LIMIT.get()
        return InvalidSQLError(
            f"The query needed more than DAGY_SQL_MEMORY_LIMIT ({limit}) of memory",
            {"reason": "memory", "memory_limit": limit},
        )
    kind = type(exc).__name__.removesuffix("Exception").lower() or "error"
    return InvalidSQLError(f"Invalid SQL: {_message(exc)}", {"reason": kind})


def _row(row: tuple[Any, ...]) -> list[Any]:
    return [plain(v) for v in row]


def plain(value: Any) -> Any:
    """A DuckDB value as JSON: times as ISO 8601 (UTC ``Z`` for TIMESTAMP), decimals and
    intervals as numbers (seconds), blobs as base64, NaN/Infinity as null."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return value if -(2**63) <= value < 2**64 else str(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, _dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(_dt.timezone.utc).replace(tzinfo=None)
        return value.isoformat() + "Z"
    if isinstance(value, (_dt.date, _dt.time)):
        return value.isoformat()
    if isinstance(value, _dt.timedelta):
        return value.total_seconds()
    if isinstance(value, decimal.Decimal):
        return float(value) if value.is_finite() else None
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return str(value)

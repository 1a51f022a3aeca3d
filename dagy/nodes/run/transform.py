"""Transform nodes. A dataframe is transformed by one DuckDB SQL statement into a new Parquet file;
a JSON list of records (small: it passed the artifact limit) is transformed exactly, in Python, with
the same rules, so a record keeps its keys and types as the upstream node made them."""

from __future__ import annotations

import json
from typing import Any

from dagy.nodes.run import frames
from dagy.nodes.run.frames import NodeError, ident, quote
from dagy.nodes.run.io import data_of
from dagy.sdk.task import task


def _fields(config: dict[str, Any], name: str) -> list[str]:
    value = config.get(name) or []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise NodeError(f"config.{name} must be a list of field names")
    return list(value)


def _missing(columns: list[str], wanted: list[str], what: str) -> None:
    absent = [c for c in wanted if c not in columns]
    if absent:
        raise NodeError(f"{what}: no column {', '.join(absent)} (columns: {', '.join(columns)})")


# -- deduplicator ---------------------------------------------------------------------------------


@task
def deduplicator(config: dict[str, Any], inputs: dict[str, Any] | None = None) -> Any:
    """Drop repeated records: same values of ``keys`` (all fields when empty); keep the first
    (``keep: last`` keeps the last), in input order."""
    keys = _fields(config, "keys")
    keep = config.get("keep") or "first"
    if keep not in ("first", "last"):
        raise NodeError(f"config.keep must be first or last, got {keep!r}")
    data = data_of(inputs)
    if frames.is_frame(data):
        return _dedupe_frame(data, keys, keep)
    records = frames.records_of(data)
    seen: set[str] = set()
    order = records if keep == "first" else list(reversed(records))
    kept = []
    for record in order:
        key = json.dumps(
            [record.get(k) for k in keys] if keys else record, sort_keys=True, default=str
        )
        if key not in seen:
            seen.add(key)
            kept.append(record)
    return kept if keep == "first" else list(reversed(kept))


def _dedupe_frame(data: Any, keys: list[str], keep: str) -> Any:
    columns = list(data[frames.KEY]["columns"])
    _missing(columns, keys, "config.keys")
    by = ", ".join(ident(c) for c in (keys or columns))
    direction = "" if keep == "first" else " DESC"
    # The smallest (largest) row number of each key, then those rows in file order.
    sql = (
        f"SELECT * EXCLUDE (file_row_number) FROM {frames.source(data, row_number=True)} "
        f"QUALIFY row_number() OVER (PARTITION BY {by} ORDER BY file_row_number{direction}) = 1 "
        "ORDER BY file_row_number"
    )
    with frames.connect() as con:
        return frames.write(con, sql, "dedupe")


# -- sql_transform, field_mapper ------------------------------------------------------------------


@task
def sql_transform(config: dict[str, Any], inputs: dict[str, Any] | None = None) -> Any:
    """DuckDB SQL over the input, which is the view ``input``; answers in the input's kind."""
    query = config.get("query") or config.get("sql")
    if not isinstance(query, str) or not query.strip():
        raise NodeError("config.query is required (DuckDB SQL over the table `input`)")
    data = data_of(inputs)
    query = query.strip().rstrip(";")
    with frames.connect() as con:
        frames.load(con, data, "input")
        try:
            if frames.is_frame(data):
                return frames.write(con, query, "sql")
            return frames.fetch_records(con, query)
        except NodeError:
            raise
        except Exception as exc:  # duckdb.Error: the user's SQL
            raise NodeError(f"config.query failed: {str(exc).strip().splitlines()[0]}") from None


@task
def field_mapper(config: dict[str, Any], inputs: dict[str, Any] | None = None) -> Any:
    """Rename fields (``mapping: {from: to}``); ``drop_unmapped: true`` keeps only mapped ones."""
    mapping = config.get("mapping") or {}
    if not isinstance(mapping, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and v for k, v in mapping.items()
    ):
        raise NodeError("config.mapping must be an object of {source_field: target_field}")
    only = bool(config.get("drop_unmapped", False))
    data = data_of(inputs)
    if frames.is_frame(data):
        columns = list(data[frames.KEY]["columns"])
        _missing(columns, list(mapping), "config.mapping")
        parts = [
            f"{ident(c)} AS {ident(mapping[c])}" if c in mapping else ident(c)
            for c in columns
            if c in mapping or not only
        ]
        if not parts:
            raise NodeError("field_mapper would leave no column")
        with frames.connect() as con:
            return frames.write(con, f"SELECT {', '.join(parts)} FROM {frames.source(data)}", "map")
    out = []
    for record in frames.records_of(data):
        mapped = {}
        for key, value in record.items():
            if key in mapping:
                mapped[mapping[key]] = value
            elif not only:
                mapped.setdefault(key, value)
        out.append(mapped)
    return out


def sql_literal(value: Any) -> str:
    """A JSON value as a DuckDB literal."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return quote(value)
    return f"{quote(json.dumps(value))}::JSON"

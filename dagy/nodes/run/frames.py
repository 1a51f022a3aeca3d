"""The dataframe carrier: ``{"$dataframe": {"path", "rows", "columns"}}``, a Parquet file in the
task's artifact folder, read and transformed with DuckDB SQL.

A node that gets a dataframe answers a dataframe; one that gets a JSON list of records answers a
JSON list (JSON lists are small by nature: a task result is capped by the artifact limit). One DuckDB
connection per call, closed when the call ends.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dagy.config import settings
from dagy.engine.context import current

if TYPE_CHECKING:
    import duckdb

KEY = "$dataframe"
# DuckDB's working memory per node call; the rest spills to the call's temp folder.
_scratch: Path | None = None


class NodeError(ValueError):
    """A node's input or config is not what it needs; the message is the task run's error."""


def is_frame(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and isinstance(value.get(KEY), dict)


def frame(path: Path | str, rows: int, columns: list[str]) -> dict[str, Any]:
    return {KEY: {"path": str(path), "rows": int(rows), "columns": list(columns)}}


def frame_path(value: Any) -> Path:
    """The Parquet file of a dataframe value (NodeError when it is gone)."""
    info = value[KEY]
    path = Path(str(info.get("path", "")))
    if not path.is_file():
        raise NodeError(f"dataframe file {path} does not exist (was its run's folder removed?)")
    return path


def output_dir() -> Path:
    """Where this call writes its files: the task's artifact folder, or a temp folder."""
    global _scratch
    ctx = current()
    if ctx is not None:
        ctx.artifact_dir.mkdir(parents=True, exist_ok=True)
        return ctx.artifact_dir
    if _scratch is None or not _scratch.is_dir():
        _scratch = Path(tempfile.mkdtemp(prefix="dagy-frames-"))
    return _scratch


def new_path(stem: str, suffix: str = ".parquet") -> Path:
    """A fresh file name in ``output_dir()`` (an attempt never overwrites an earlier one's file)."""
    return output_dir() / f"{stem}-{uuid.uuid4().hex[:12]}{suffix}"


@contextlib.contextmanager
def connect() -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory DuckDB connection for one call, closed afterwards."""
    import duckdb

    spill = output_dir() / ".duckdb-tmp"
    con = duckdb.connect(":memory:")
    try:
        con.execute(f"SET memory_limit = {quote(settings.NODE_MEMORY_LIMIT.get())}")
        con.execute(f"SET temp_directory = {quote(str(spill))}")
        yield con
    finally:
        con.close()
        shutil.rmtree(spill, ignore_errors=True)


def quote(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def ident(name: str) -> str:
    """A SQL identifier (a column name as it is, quotes and all)."""
    return '"' + name.replace('"', '""') + '"'


def source(value: Any, *, row_number: bool = False) -> str:
    """SQL for a dataframe value as a table; ``row_number`` adds its 0-based ``file_row_number``."""
    path = quote(str(frame_path(value)))
    return (
        f"read_parquet({path}, file_row_number = true)" if row_number else f"read_parquet({path})"
    )


def load(con: duckdb.DuckDBPyConnection, value: Any, name: str = "input") -> list[str]:
    """Make ``value`` (a dataframe, or a JSON list of records) the view ``name``; its columns."""
    if is_frame(value):
        con.execute(f"CREATE OR REPLACE VIEW {ident(name)} AS SELECT * FROM {source(value)}")
    else:
        records = records_of(value, "input")
        if not records:
            raise NodeError("input is an empty list: there are no columns to query")
        path = new_path(".records", ".ndjson")
        with open(path, "w", encoding="utf-8") as fh:
            for record in records:
                fh.write(json.dumps(record, default=str))
                fh.write("\n")
        # A table, not a view: the temp file can go at once.
        reader = read_json_sql(con, path, "newline_delimited")
        con.execute(f"CREATE OR REPLACE TABLE {ident(name)} AS SELECT * FROM {reader}")
        path.unlink()
    return [row[0] for row in con.execute(f"DESCRIBE {ident(name)}").fetchall()]


def write(con: duckdb.DuckDBPyConnection, sql: str, stem: str = "frame") -> dict[str, Any]:
    """Run ``sql`` into a new Parquet file; the dataframe value that carries it."""
    path = new_path(stem)
    row = con.execute(f"COPY ({sql}) TO {quote(str(path))} (FORMAT parquet)").fetchone()
    # The columns from the file's footer: binding ``sql`` again could mean reading its source again.
    described = con.execute(f"DESCRIBE SELECT * FROM read_parquet({quote(str(path))})").fetchall()
    return frame(path, row[0] if row else 0, [str(d[0]) for d in described])


# Types DuckDB would make of JSON strings that look like them; a string stays a string, so a value
# is written back exactly as it was read.
_DETECTED = ("DATE", "TIME", "TIMESTAMP", "UUID", "INTERVAL")


def read_json_sql(con: duckdb.DuckDBPyConnection, path: Path | str, layout: str) -> str:
    """SQL reading a JSON file (``layout``: array | newline_delimited) with every record's keys
    (the whole file is sampled) and strings kept as strings."""
    base = f"read_json({quote(str(path))}, format = {quote(layout)}"
    described = con.execute(f"DESCRIBE SELECT * FROM {base}, sample_size = -1)").fetchall()
    if not described:
        return f"{base})"
    columns = ", ".join(
        f"{quote(str(name))}: {quote('VARCHAR' if str(ctype).startswith(_DETECTED) else str(ctype))}"
        for name, ctype, *_ in described
    )
    return f"{base}, columns = {{{columns}}})"


def fetch_records(
    con: duckdb.DuckDBPyConnection, sql: str, *, result_of: str | None = None
) -> list[dict[str, Any]]:
    """The rows of ``sql`` as JSON records (DuckDB writes the JSON: dates, decimals, structs as
    JSON has them). ``result_of``: these records are a node's result; refuse them when too big."""
    path = new_path(".records", ".json")
    try:
        con.execute(f"COPY ({sql}) TO {quote(str(path))} (FORMAT json, ARRAY true)")
        if result_of:
            check_json_size(path.stat().st_size, result_of)
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    finally:
        path.unlink(missing_ok=True)
    return json.loads(text) if text.strip() else []


def check_json_size(size: int, what: str) -> None:
    """Refuse JSON too big to be a task result, saying what to do instead (the engine would only
    say it is too big)."""
    from dagy.engine import artifacts

    limit = artifacts.max_bytes()
    if limit and size > limit:
        raise NodeError(
            f"{what} is {size} bytes as JSON, more than the artifact limit of {limit} bytes "
            "(DAGY_LOCAL_ARTIFACT_MAX_BYTES): set output: dataframe"
        )


def to_records(value: Any) -> Any:
    """A dataframe value as its list of records; any other value as it is."""
    if not is_frame(value):
        return value
    with connect() as con:
        return fetch_records(con, f"SELECT * FROM {source(value)}")


def records_of(value: Any, what: str = "data_in") -> list[dict[str, Any]]:
    """``value`` as a list of records (a single record is a list of one); NodeError otherwise."""
    if isinstance(value, dict):
        return [value]
    if not isinstance(value, list):
        raise NodeError(f"{what} must be a list of records or a dataframe, got {kind(value)}")
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            raise NodeError(f"{what}[{i}] must be a record (an object), got {kind(item)}")
    return value


def kind(value: Any) -> str:
    if value is None:
        return "null"
    if is_frame(value):
        return "a dataframe"
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(value), type(value).__name__
    )

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


def _output(config: dict[str, Any], data: Any) -> str:
    """The kind to answer in: ``output`` (json | dataframe), else the input's own."""
    output = config.get("output") or ("dataframe" if frames.is_frame(data) else "json")
    if output == "records":
        output = "json"
    if output not in ("json", "dataframe"):
        raise NodeError(f"config.output must be json or dataframe, got {output!r}")
    return str(output)


@task
def sql_transform(config: dict[str, Any], inputs: dict[str, Any] | None = None) -> Any:
    """DuckDB SQL over the input, which is the table ``data`` (also ``input``)."""
    query = config.get("sql") or config.get("query")
    if not isinstance(query, str) or not query.strip():
        raise NodeError("config.sql is required (DuckDB SQL over the table `data`)")
    data = data_of(inputs)
    output = _output(config, data)
    query = query.strip().rstrip(";")
    with frames.connect() as con:
        frames.load(con, data, "input")
        con.execute("CREATE VIEW data AS SELECT * FROM input")
        try:
            if output == "dataframe":
                return frames.write(con, query, "sql")
            return frames.fetch_records(con, query, result_of="the query's result")
        except NodeError:
            raise
        except Exception as exc:  # duckdb.Error: the user's SQL
            raise NodeError(f"config.sql failed: {str(exc).strip().splitlines()[0]}") from None


@task
def field_mapper(config: dict[str, Any], inputs: dict[str, Any] | None = None) -> Any:
    """Build each record from ``mapping: {output_field: input_field}``; ``keep_unmapped: true``
    keeps the input fields no mapping reads, as they are."""
    mapping = config.get("mapping") or {}
    if (
        not isinstance(mapping, dict)
        or not mapping
        or not all(
            isinstance(k, str) and k and isinstance(v, str) and v for k, v in mapping.items()
        )
    ):
        raise NodeError("config.mapping must be an object of {output_field: input_field}")
    keep = bool(config.get("keep_unmapped", False))
    used = set(mapping.values())
    data = data_of(inputs)
    if frames.is_frame(data):
        columns = list(data[frames.KEY]["columns"])
        _missing(columns, sorted(used), "config.mapping")
        parts = [f"{ident(src)} AS {ident(out)}" for out, src in mapping.items()]
        if keep:
            parts += [ident(c) for c in columns if c not in used and c not in mapping]
        with frames.connect() as con:
            return frames.write(con, f"SELECT {', '.join(parts)} FROM {frames.source(data)}", "map")
    out = []
    for record in frames.records_of(data):
        mapped = {name: record.get(src) for name, src in mapping.items()}
        if keep:
            for key, value in record.items():
                if key not in used:
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


# -- schema_validator -----------------------------------------------------------------------------

_MAX_MESSAGE = 300


def _validator(config: dict[str, Any]) -> Any:
    schema = config.get("schema")
    if isinstance(schema, str):
        try:
            schema = json.loads(schema)
        except ValueError as exc:
            raise NodeError(f"config.schema is not valid JSON: {exc}") from None
    if not isinstance(schema, dict):
        raise NodeError("config.schema must be a JSON Schema object")
    from jsonschema import exceptions, validators

    cls = validators.validator_for(schema)
    try:
        cls.check_schema(schema)
    except exceptions.SchemaError as exc:
        raise NodeError(f"config.schema is not a valid JSON Schema: {exc.message}") from None
    return cls(schema)


def _problem(validator: Any, record: Any) -> str | None:
    """What is wrong with one record (its most relevant error), or None."""
    from jsonschema.exceptions import best_match

    error = best_match(validator.iter_errors(record))
    if error is None:
        return None
    where = "/".join(str(p) for p in error.absolute_path)
    message = (
        error.message
        if len(error.message) <= _MAX_MESSAGE
        else error.message[:_MAX_MESSAGE] + "..."
    )
    return f"{where + ': ' if where else ''}{message} (rule: {error.validator})"


@task
def schema_validator(config: dict[str, Any], inputs: dict[str, Any] | None = None) -> Any:
    """Check each record against ``config.schema`` (JSON Schema). ``on_invalid: fail`` (default)
    fails naming the first bad record and its rule; ``drop`` passes on only the valid records."""
    validator = _validator(config)
    on_invalid = config.get("on_invalid") or "fail"
    if on_invalid not in ("fail", "drop"):
        raise NodeError(f"config.on_invalid must be fail or drop, got {on_invalid!r}")
    data = data_of(inputs)
    if frames.is_frame(data):
        return _validate_frame(validator, data, on_invalid)
    single = isinstance(data, dict)
    records = frames.records_of(data)
    kept, bad, first = [], 0, ""
    for i, record in enumerate(records):
        problem = _problem(validator, record)
        if problem is None:
            kept.append(record)
            continue
        bad += 1
        first = first or f"record {i} is invalid: {problem}"
    _report(bad, len(records), first, on_invalid)
    if single:
        return kept[0] if kept else None
    return kept


def _report(bad: int, total: int, first: str, on_invalid: str) -> None:
    if not bad:
        print(f"schema_validator: all {total} records are valid")
        return
    if on_invalid == "fail":
        more = f" ({bad} of {total} records are invalid)" if bad > 1 else ""
        raise NodeError(first + more)
    print(f"schema_validator: dropped {bad} of {total} records; the first: {first}")


def _validate_frame(validator: Any, data: Any, on_invalid: str) -> Any:
    from dagy.nodes.run import schema as sql_schema

    src = frames.source(data, row_number=True)
    with frames.connect() as con:
        con.execute(f"CREATE VIEW src AS SELECT * FROM {src}")
        described = con.execute("DESCRIBE SELECT * FROM " + frames.source(data)).fetchall()
        columns = {row[0]: str(row[1]) for row in described}
        plan = sql_schema.plan(con, validator.schema, columns)
        fails = [r.fail for r in plan.rules]
        if plan.residual is not None:
            con.execute("CREATE TABLE residual_bad (n BIGINT)")
            _check_residual(con, validator, plan)
            fails.append("file_row_number IN (SELECT n FROM residual_bad)")
        if not fails:
            _report(0, int(data[frames.KEY]["rows"]), "", on_invalid)
            return data
        any_fail = " OR ".join(f"coalesce({f}, FALSE)" for f in fails)
        bad, first_row = con.execute(
            f"SELECT count(*), min(file_row_number) FROM src WHERE {any_fail}"
        ).fetchone() or (0, None)
        total = int(data[frames.KEY]["rows"])
        if not bad:
            _report(0, total, "", on_invalid)
            return data
        first = _first_problem(con, validator, plan, int(first_row))
        _report(int(bad), total, first, on_invalid)
        return frames.write(
            con, f"SELECT * EXCLUDE (file_row_number) FROM src WHERE NOT ({any_fail})", "valid"
        )


def _check_residual(con: Any, validator: Any, plan: Any) -> None:
    """Rows that break the keywords SQL does not cover, by jsonschema, into ``residual_bad``."""
    cls = type(validator)
    checker = cls(plan.residual)
    cols = plan.residual_columns
    packed = ", ".join(f"{frames.quote(c)}: {ident(c)}" for c in cols) or "x: NULL"
    cursor = con.execute(f"SELECT file_row_number, to_json({{{packed}}}) FROM src")
    bad: list[int] = []
    while True:
        batch = cursor.fetchmany(10_000)
        if not batch:
            break
        for n, text in batch:
            record = {k: v for k, v in json.loads(text).items() if v is not None}
            if not checker.is_valid(record):
                bad.append(int(n))
    if bad:
        con.execute("INSERT INTO residual_bad SELECT unnest(?::BIGINT[])", [bad])


def _first_problem(con: Any, validator: Any, plan: Any, row: int) -> str:
    """The first bad row described as jsonschema would (its null fields counted as missing)."""
    text = con.execute(
        f"SELECT to_json(t) FROM (SELECT * EXCLUDE (file_row_number) FROM src "
        f"WHERE file_row_number = {row}) t"
    ).fetchone()[0]
    record = {k: v for k, v in json.loads(text).items() if v is not None}
    problem = _problem(validator, record)
    if problem is None:  # a rule only the table form breaks (a null counted as missing)
        for rule in plan.rules:
            hit = con.execute(
                f"SELECT coalesce({rule.fail}, FALSE) FROM src WHERE file_row_number = {row}"
            ).fetchone()
            if hit and hit[0]:
                problem = f"{rule.field or 'record'}: breaks {rule.keyword} (rule: {rule.keyword})"
                break
    return f"record {row} is invalid: {problem}"


# -- data_normalizer ------------------------------------------------------------------------------

_SPACE = " \t\n\r\f\v"


def _norm_options(
    config: dict[str, Any],
) -> tuple[bool, bool, dict[str, str], bool, bool, list[str]]:
    rename = config.get("rename") or {}
    if not isinstance(rename, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and v for k, v in rename.items()
    ):
        raise NodeError("config.rename must be an object of {old_field: new_field}")
    return (
        bool(config.get("lowercase_keys", True)),
        bool(config.get("trim_strings", True)),
        rename,
        bool(config.get("drop_nulls", False)),
        bool(config.get("empty_as_null", False)),
        _fields(config, "lowercase_values"),
    )


def _key(name: str, lowercase: bool, rename: dict[str, str]) -> str:
    if name in rename:
        return rename[name]
    return name.strip(_SPACE).lower() if lowercase else name


@task
def data_normalizer(config: dict[str, Any], inputs: dict[str, Any] | None = None) -> Any:
    """Tidy records: ``rename`` fields, ``lowercase_keys`` (default on), ``trim_strings`` (default
    on), ``empty_as_null``, ``lowercase_values`` of the named fields, ``drop_nulls``."""
    lower_keys, trim, rename, drop_nulls, empty_null, lower_values = _norm_options(config)
    data = data_of(inputs)
    if frames.is_frame(data):
        return _normalize_frame(
            data, lower_keys, trim, rename, drop_nulls, empty_null, lower_values
        )
    lowered = set(lower_values)
    out = []
    for record in frames.records_of(data):
        clean: dict[str, Any] = {}
        for key, value in record.items():
            name = _key(key, lower_keys, rename)
            if isinstance(value, str):
                if trim:
                    value = value.strip(_SPACE)
                if empty_null and value == "":
                    value = None
                elif value is not None and name in lowered:
                    value = value.lower()
            if value is None and drop_nulls:
                continue
            clean[name] = value
        out.append(clean)
    return out


def _normalize_frame(
    data: Any, lower_keys: bool, trim: bool, rename: dict[str, str], drop_nulls: bool,
    empty_null: bool, lower_values: list[str],
) -> Any:  # fmt: skip
    with frames.connect() as con:
        described = con.execute("DESCRIBE SELECT * FROM " + frames.source(data)).fetchall()
        names = {str(row[0]): _key(str(row[0]), lower_keys, rename) for row in described}
        seen: dict[str, str] = {}
        for old, new in names.items():
            if new in seen:
                raise NodeError(f"fields {seen[new]!r} and {old!r} would both be named {new!r}")
            seen[new] = old
        parts = []
        for row in described:
            old, ctype = str(row[0]), str(row[1])
            new = names[old]
            expr = ident(old)
            if ctype == "VARCHAR":
                if trim:
                    expr = f"trim({expr}, {quote(_SPACE)})"
                if empty_null:
                    expr = f"nullif({expr}, '')"
                if new in lower_values:
                    expr = f"lower({expr})"
            parts.append(f"{expr} AS {ident(new)}")
        sql = f"SELECT {', '.join(parts)} FROM {frames.source(data)}"
        if drop_nulls:
            counts = ", ".join(f"count({ident(n)})" for n in names.values())
            row = con.execute(f"SELECT {counts} FROM ({sql})").fetchone() or ()
            keep = [n for n, count in zip(names.values(), row, strict=False) if count]
            if not keep:
                raise NodeError("data_normalizer: every column is null")
            sql = f"SELECT {', '.join(ident(n) for n in keep)} FROM ({sql})"
        return frames.write(con, sql, "normal")

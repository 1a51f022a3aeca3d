"""JSON Schema over a dataframe as DuckDB SQL: the common keywords of a record schema become one
predicate per rule, so a million rows validate in one scan; keywords that have no SQL form here are
checked by ``jsonschema`` on the rows' values of the fields that use them (the whole record when the
schema's top level needs it).

A dataframe cannot tell a missing field from a null one: a null counts as missing (it fails
``required`` unless the field's ``type`` allows ``null``, and passes every other rule).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dagy.nodes.run.frames import ident, quote

if TYPE_CHECKING:
    import duckdb

# Keywords that only annotate: nothing to check (jsonschema does not check "format" either).
ANNOTATIONS = frozenset(
    {"title", "description", "default", "examples", "$comment", "format", "deprecated",
     "readOnly", "writeOnly", "$schema", "$id", "$defs", "definitions", "$anchor"}
)  # fmt: skip
PROPERTY_KEYWORDS = frozenset(
    {"type", "enum", "const", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
     "minLength", "maxLength", "pattern"}
)  # fmt: skip
TOP_KEYWORDS = frozenset({"type", "properties", "required", "additionalProperties"})
_INTEGERS = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
             "UINTEGER", "UBIGINT", "UHUGEINT"}  # fmt: skip
_STRINGS = {"VARCHAR", "DATE", "TIME", "TIMESTAMP", "TIMESTAMP WITH TIME ZONE", "UUID"}
_JSON_TYPES = {
    "integer": "json_type({c}) IN ('UBIGINT', 'BIGINT')",
    "number": "json_type({c}) IN ('UBIGINT', 'BIGINT', 'DOUBLE')",
    "string": "json_type({c}) = 'VARCHAR'",
    "boolean": "json_type({c}) = 'BOOLEAN'",
    "object": "json_type({c}) = 'OBJECT'",
    "array": "json_type({c}) = 'ARRAY'",
}


@dataclass(frozen=True)
class Rule:
    field: str
    keyword: str
    fail: str  # SQL, true when the row breaks the rule


@dataclass
class Plan:
    rules: list[Rule] = field(default_factory=list)
    # Checked by jsonschema, row by row: a schema over some columns (None: over no column).
    residual: dict[str, Any] | None = None
    residual_columns: list[str] = field(default_factory=list)


def _family(column_type: str) -> str:
    t = column_type.upper()
    if t in _INTEGERS:
        return "integer"
    if t in ("FLOAT", "DOUBLE", "REAL") or t.startswith("DECIMAL"):
        return "number"
    if t in _STRINGS or t.startswith("TIMESTAMP"):
        return "string"
    if t == "BOOLEAN":
        return "boolean"
    if t == "JSON":
        return "json"
    if t.startswith(("STRUCT", "MAP")):
        return "object"
    if t.endswith("]") or t.startswith("LIST"):
        return "array"
    return "other"


def _literal(value: Any) -> str:
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, float)):
        return repr(value)
    return quote(str(value))


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _pattern_ok(con: duckdb.DuckDBPyConnection, pattern: str) -> bool:
    """Whether DuckDB's RE2 takes the pattern (lookarounds and backreferences it does not)."""
    try:
        con.execute(f"SELECT regexp_matches('', {quote(pattern)})").fetchone()
        return True
    except Exception:  # duckdb.Error: not an RE2 pattern; jsonschema checks it instead
        return False


def _property_rules(
    con: duckdb.DuckDBPyConnection, name: str, family: str | None, sub: dict[str, Any],
    required: bool,
) -> tuple[list[Rule], dict[str, Any]]:  # fmt: skip
    """The SQL rules of one property, and what is left of its schema for jsonschema."""
    c = ident(name)
    residual = {k: v for k, v in sub.items() if k not in PROPERTY_KEYWORDS | ANNOTATIONS}
    types = sub.get("type")
    if types is not None and isinstance(types, str):
        types = [types]
    if types is not None and not (
        isinstance(types, list) and all(isinstance(t, str) for t in types)
    ):
        residual["type"] = sub["type"]
        types = None
    null_ok = types is not None and "null" in types
    rules: list[Rule] = []
    if family is None:  # no such column: every row lacks the field
        if required and not null_ok:
            rules.append(Rule(name, "required", "TRUE"))
        return rules, {}
    isnull = f"({c} IS NULL OR json_type({c}) = 'NULL')" if family == "json" else f"({c} IS NULL)"
    if required and not null_ok:
        rules.append(Rule(name, "required", isnull))
    if family in ("other", "object", "array") and set(sub) - ANNOTATIONS - {"type"}:
        return rules, {k: v for k, v in sub.items() if k not in ANNOTATIONS}

    def add(keyword: str, ok: str) -> None:
        rules.append(Rule(name, keyword, f"(NOT {isnull} AND NOT coalesce(({ok}), TRUE))"))

    if family == "json":
        is_num = _JSON_TYPES["number"].format(c=c)
        num = f"TRY_CAST(json_extract_string({c}, '$') AS DOUBLE)"
        is_str = _JSON_TYPES["string"].format(c=c)
        text = f"json_extract_string({c}, '$')"
    else:
        is_num = "TRUE" if family in ("integer", "number") else "FALSE"
        num = c
        is_str = "TRUE" if family == "string" else "FALSE"
        text = f"CAST({c} AS VARCHAR)"

    if types is not None:
        wanted = [t for t in types if t != "null"]
        if family == "json":
            oks = [_JSON_TYPES[t].format(c=c) for t in wanted if t in _JSON_TYPES]
            if "integer" in wanted and "number" not in wanted:  # 1.0 is an integer
                oks.append(f"(json_type({c}) = 'DOUBLE' AND {num} = trunc({num}))")
            add("type", " OR ".join(oks) if oks else "FALSE")
        elif family == "number" and "integer" in wanted and "number" not in wanted:
            add("type", f"{c} = trunc({c})")
        else:
            fits = family in wanted or (family == "integer" and "number" in wanted)
            add("type", "TRUE" if fits else "FALSE")
    for keyword, op in (("minimum", ">="), ("maximum", "<="),
                        ("exclusiveMinimum", ">"), ("exclusiveMaximum", "<")):  # fmt: skip
        if keyword in sub:
            if _is_number(sub[keyword]):
                add(keyword, f"NOT ({is_num}) OR {num} {op} {sub[keyword]!r}")
            else:  # draft 4's boolean exclusiveMinimum
                residual[keyword] = sub[keyword]
    for keyword, op in (("minLength", ">="), ("maxLength", "<=")):
        if keyword in sub:
            add(keyword, f"NOT ({is_str}) OR length({text}) {op} {int(sub[keyword])}")
    if "pattern" in sub:
        pattern = sub["pattern"]
        if isinstance(pattern, str) and _pattern_ok(con, pattern):
            add("pattern", f"NOT ({is_str}) OR regexp_matches({text}, {quote(pattern)})")
        else:
            residual["pattern"] = pattern
    for keyword in ("enum", "const"):
        if keyword not in sub:
            continue
        members = sub[keyword] if keyword == "enum" else [sub[keyword]]
        if not isinstance(members, list) or any(isinstance(m, (dict, list)) for m in members):
            residual[keyword] = sub[keyword]
            continue
        if family == "json":
            texts = [quote(json.dumps(m)) for m in members]
            add(keyword, f"CAST({c} AS VARCHAR) IN ({', '.join(texts)})" if texts else "FALSE")
            continue
        if family in ("integer", "number"):
            same = [m for m in members if _is_number(m)]
        elif family == "boolean":
            same = [m for m in members if isinstance(m, bool)]
        elif family == "string":
            same = [m for m in members if isinstance(m, str)]
        else:
            same = []
        lits = ", ".join(_literal(m) for m in same)
        add(keyword, f"{c if family != 'string' else text} IN ({lits})" if same else "FALSE")
    return rules, residual


def plan(con: duckdb.DuckDBPyConnection, schema: dict[str, Any], columns: dict[str, str]) -> Plan:
    """The SQL rules and the jsonschema remainder of ``schema`` over columns ``{name: type}``."""
    out = Plan()
    top_rest = {k: v for k, v in schema.items() if k not in TOP_KEYWORDS | ANNOTATIONS}
    props = schema.get("properties") or {}
    required = schema.get("required") or []
    extra = schema.get("additionalProperties", True)
    types = schema.get("type")
    if (
        top_rest
        or not isinstance(props, dict)
        or not isinstance(required, list)
        or not isinstance(extra, bool)
        or not all(isinstance(p, dict) for p in props.values())
    ):
        # The top level needs jsonschema: every row is checked against the whole schema.
        out.residual, out.residual_columns = schema, list(columns)
        return out
    if types is not None:
        allowed = [types] if isinstance(types, str) else types
        if "object" not in allowed:
            out.rules.append(Rule("", "type", "TRUE"))
    families = {name: _family(t) for name, t in columns.items()}
    residual_props: dict[str, Any] = {}
    for name in list(props) + [r for r in required if r not in props]:
        sub = props.get(name, {})
        rules, rest = _property_rules(con, name, families.get(name), sub, name in required)
        out.rules += rules
        if rest and name in columns:
            residual_props[name] = rest
    if extra is False:
        for name in columns:
            if name not in props:
                out.rules.append(Rule(name, "additionalProperties", f"({ident(name)} IS NOT NULL)"))
    if residual_props:
        keep = {k: v for k, v in schema.items() if k in ("$schema", "$defs", "definitions")}
        out.residual = {**keep, "properties": residual_props}
        out.residual_columns = list(residual_props)
    return out

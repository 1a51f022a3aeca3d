"""Transforms on both kinds of data: a JSON list answers a JSON list, a dataframe a dataframe."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dagy.nodes.run import frames, io, transform
from dagy.nodes.run.frames import NodeError

SCHEMA = {
    "type": "object",
    "required": ["id", "email"],
    "properties": {
        "id": {"type": "integer", "minimum": 1},
        "email": {"type": "string", "pattern": "^[^@]+@[^@]+$", "maxLength": 40},
        "status": {"enum": ["new", "paid"]},
        "tags": {"type": "array", "items": {"type": "string"}},  # no SQL form: jsonschema checks it
    },
}
VALID = [
    {"id": 1, "email": "a@x.io", "status": "new", "tags": ["vip"]},
    {"id": 2, "email": "b@x.io", "status": "paid", "tags": []},
]


def as_frame(records: list[dict[str, Any]], folder: Path) -> Any:
    path = folder / f"in-{len(list(folder.glob('in-*')))}.ndjson"
    path.write_text("\n".join(json.dumps(r) for r in records), encoding="utf-8")
    return io.file_ingest({"uri": str(path), "output": "dataframe"})


@pytest.fixture(params=["json", "dataframe"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def given(kind: str, records: list[dict[str, Any]], folder: Path) -> Any:
    return as_frame(records, folder) if kind == "dataframe" else records


def back(kind: str, value: Any) -> list[dict[str, Any]]:
    assert frames.is_frame(value) == (kind == "dataframe")
    return frames.to_records(value)  # type: ignore[no-any-return]


def test_valid_records_pass_the_schema_validator_unchanged(ctx, tmp_path, kind):
    data = given(kind, VALID, tmp_path)
    out = transform.schema_validator({"schema": SCHEMA}, {"data_in": data})
    assert back(kind, out) == VALID


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"id": 0, "email": "c@x.io"}, "record 2 is invalid: id: 0 is less than the minimum of 1"),
        ({"id": 3}, "record 2 is invalid: 'email' is a required property (rule: required)"),
        ({"id": 3, "email": "nope"}, "record 2 is invalid: email: 'nope' does not match"),
        ({"id": 3, "email": "c@x.io", "status": "lost"}, "status: 'lost' is not one of"),
        ({"id": 3, "email": "c@x.io", "tags": [7]}, "tags/0: 7 is not of type 'string'"),
        ({"id": 3, "email": "c@x.io" + "x" * 40}, "(rule: maxLength)"),
    ],
)
def test_an_invalid_record_fails_naming_the_record_and_the_rule(ctx, tmp_path, kind, bad, message):
    data = given(kind, [*VALID, bad], tmp_path)
    with pytest.raises(NodeError) as caught:
        transform.schema_validator({"schema": SCHEMA}, {"data_in": data})
    assert message in str(caught.value)


def test_on_invalid_drop_keeps_only_the_valid_records(ctx, tmp_path, kind, capsys):
    rows = [
        VALID[0],
        {"id": -1, "email": "x@y"},
        VALID[1],
        {"id": 5, "email": "q@x.io", "tags": [1]},
    ]
    data = given(kind, rows, tmp_path)
    out = transform.schema_validator({"schema": SCHEMA, "on_invalid": "drop"}, {"data_in": data})
    assert back(kind, out) == VALID
    assert "dropped 2 of 4 records; the first: record 1 is invalid" in capsys.readouterr().out


def test_a_type_mismatch_inside_a_mixed_column_is_found_by_sql(ctx, tmp_path):
    rows = [{"id": 1, "email": "a@x.io"}, {"id": "two", "email": "b@x.io"}]
    with pytest.raises(NodeError, match="record 1 is invalid: id: 'two' is not of type 'integer'"):
        transform.schema_validator({"schema": SCHEMA}, {"data_in": as_frame(rows, tmp_path)})


def test_a_bad_schema_is_refused_before_any_record(ctx):
    with pytest.raises(NodeError, match="config.schema is not a valid JSON Schema"):
        transform.schema_validator({"schema": {"type": "nonsense"}}, {"data_in": VALID})
    with pytest.raises(NodeError, match="on_invalid must be fail or drop"):
        transform.schema_validator({"schema": SCHEMA, "on_invalid": "skip"}, {"data_in": VALID})


def test_the_normalizer_tidies_keys_and_strings(ctx, tmp_path, kind):
    rows = [
        {"Email": "  Ada@X.IO ", "Name": " Ada ", "note": ""},
        {"Email": "b@x.io", "Name": "B", "note": "hi"},
    ]
    config = {"lowercase_values": ["email"], "empty_as_null": True, "rename": {"Name": "full_name"}}
    out = back(kind, transform.data_normalizer(config, {"data_in": given(kind, rows, tmp_path)}))
    assert out == [
        {"email": "ada@x.io", "full_name": "Ada", "note": None},
        {"email": "b@x.io", "full_name": "B", "note": "hi"},
    ]


def test_the_normalizer_drops_null_fields(ctx, tmp_path, kind):
    rows = [{"a": 1, "b": None}, {"a": 2, "b": None}]
    out = back(
        kind, transform.data_normalizer({"drop_nulls": True}, {"data": given(kind, rows, tmp_path)})
    )
    assert out == [{"a": 1}, {"a": 2}]


def test_the_deduplicator_keeps_the_first_of_each_key_in_order(ctx, tmp_path, kind):
    rows = [{"k": i % 3, "n": i} for i in range(9)]
    data = given(kind, rows, tmp_path)
    assert back(kind, transform.deduplicator({"keys": ["k"]}, {"data_in": data})) == rows[:3]
    last = back(kind, transform.deduplicator({"keys": ["k"], "keep": "last"}, {"data_in": data}))
    assert last == rows[6:]


def test_the_deduplicator_without_keys_compares_whole_records(ctx, tmp_path, kind):
    rows = [{"a": 1, "b": "x"}, {"a": 1, "b": "y"}, {"a": 1, "b": "x"}]
    assert (
        back(kind, transform.deduplicator({}, {"data_in": given(kind, rows, tmp_path)})) == rows[:2]
    )


def test_a_dedupe_key_that_is_no_column_is_named(ctx, tmp_path):
    with pytest.raises(NodeError, match=r"config.keys: no column nope \(columns: k\)"):
        transform.deduplicator({"keys": ["nope"]}, {"data_in": as_frame([{"k": 1}], tmp_path)})


def test_sql_transform_queries_the_input_as_the_table_data(ctx, tmp_path, kind):
    rows = [{"k": "a", "v": 1}, {"k": "b", "v": 2}, {"k": "a", "v": 3}]
    sql = "SELECT k, sum(v)::INT AS total FROM data GROUP BY k ORDER BY k"
    out = transform.sql_transform({"sql": sql}, {"data_in": given(kind, rows, tmp_path)})
    assert back(kind, out) == [{"k": "a", "total": 4}, {"k": "b", "total": 2}]
    with pytest.raises(NodeError, match="config.sql failed: .*nope"):
        transform.sql_transform({"sql": "SELECT nope FROM data"}, {"data_in": rows})


def test_field_mapper_builds_records_from_its_mapping(ctx, tmp_path, kind):
    rows = [{"a": 1, "b": 2, "c": 3}]
    data = given(kind, rows, tmp_path)
    out = transform.field_mapper({"mapping": {"x": "a", "y": "b"}}, {"data_in": data})
    assert back(kind, out) == [{"x": 1, "y": 2}]
    kept = transform.field_mapper({"mapping": {"x": "a"}, "keep_unmapped": True}, {"data_in": data})
    assert back(kind, kept) == [{"x": 1, "b": 2, "c": 3}]


def test_a_required_column_the_dataframe_lacks_fails_every_record(ctx, tmp_path):
    data = as_frame([{"id": 1}, {"id": 2}], tmp_path)
    with pytest.raises(NodeError, match=r"record 0 is invalid: 'email' is a required property"):
        transform.schema_validator({"schema": SCHEMA}, {"data_in": data})


def test_additional_properties_and_top_level_keywords_on_a_dataframe(ctx, tmp_path):
    rows = [{"id": 1, "email": "a@x.io"}, {"id": 2, "email": "b@x.io", "extra": "no"}]
    closed = {**SCHEMA, "additionalProperties": False}
    out = transform.schema_validator(
        {"schema": closed, "on_invalid": "drop"}, {"data_in": as_frame(rows, tmp_path)}
    )
    assert frames.to_records(out) == [{"id": 1, "email": "a@x.io", "extra": None}]
    either = {
        "anyOf": [{"required": ["id"]}, {"required": ["code"]}],
        "properties": {"id": {"maximum": 1}},
    }
    with pytest.raises(NodeError, match="record 1 is invalid"):
        transform.schema_validator({"schema": either}, {"data_in": as_frame(rows, tmp_path)})

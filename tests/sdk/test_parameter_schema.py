"""The parameter schema a FlowSpec records coerces exactly as the flow function itself would."""

from __future__ import annotations

import datetime as dt
import json
import numbers
from collections.abc import Sequence
from typing import Any, Literal, Optional

import pytest

from dagy import ParameterTypeError, flow, task
from dagy.sdk import _codec
from dagy.sdk.params import coerce_with_schema, parameter_schema
from dagy.sdk.spec import FlowSpec


class Custom:
    pass


@task
def echo(value: Any) -> Any:
    return value


@flow(name="typed", version="1.0.0")
def typed(
    n: int,
    ratio: float = 0.5,
    on: bool = False,
    name: str = "x",
    day: dt.date = dt.date(2026, 1, 1),
    at: dt.datetime | None = None,
    items: list[int] | None = None,
    opts: dict | None = None,
    mode: Literal["fast", "slow", 3] = "fast",
    either: int | str = 0,
    legacy: Optional[float] = None,  # noqa: UP045 - the typing spelling is what is tested
    pair: tuple = (1, 2),
    seq: Sequence[int] = (),
    num: numbers.Number = 1,  # type: ignore[assignment]
    thing: Custom = None,  # type: ignore[assignment]
    free=None,
):
    return echo(n)


@flow(name="loose")
def loose(a: int, **extra):
    return echo(a)


CASES: list[dict[str, Any]] = [
    {"n": "3"},
    {"n": 3, "ratio": "1.5", "on": "yes", "name": "abc", "day": "2026-03-04"},
    {"n": "1", "at": "2026-03-04T12:00:00Z", "items": "[1, 2]", "opts": '{"a": 1}'},
    {"n": "1", "items": [1, 2], "opts": {"a": 1}, "at": None, "legacy": "null"},
    {"n": "1", "mode": "slow"},
    {"n": "1", "mode": "3"},
    {"n": "1", "either": "7"},
    {"n": "1", "either": "seven"},
    {"n": "1", "legacy": "2.5", "pair": "[3, 4]", "seq": [1], "num": 2.5, "free": {"x": 1}},
    {"n": "abc"},
    {"n": "1", "on": "maybe"},
    {"n": "1", "day": "04/03/2026"},
    {"n": "1", "items": "{not json"},
    {"n": True},
    {"n": "1", "ratio": False},
    {"n": "1", "mode": "medium"},
    {"n": "1", "either": [1]},
    {"n": "1", "seq": "abc"},
    {"n": "1", "seq": 5},
    {"n": "1", "num": "2"},
    {"n": "1", "thing": "x"},
    {"n": "1", "unknown": 1},
    {"ratio": "1"},
]


def outcome(call: Any) -> Any:
    """The coerced values as a run stores them (JSON: tuples are lists), or the error message."""
    try:
        return ("ok", _codec.encode(call(), set()))
    except ParameterTypeError as exc:
        return ("error", str(exc))


@pytest.mark.parametrize("raw", CASES, ids=lambda raw: json.dumps(raw)[:60])
def test_schema_coercion_matches_the_function(raw: dict[str, Any]):
    schema = json.loads(json.dumps(typed.build(n=1).parameter_schema))  # as stored: JSON
    assert outcome(lambda: coerce_with_schema(schema, "typed", raw)) == outcome(
        lambda: typed.coerce(raw)
    )


@pytest.mark.parametrize("raw", [{"a": "1", "b": "x"}, {"b": 1}, {"a": "z"}])
def test_var_keyword_flows_accept_extra_parameters(raw: dict[str, Any]):
    schema = parameter_schema(loose.fn)
    assert outcome(lambda: coerce_with_schema(schema, "loose", raw)) == outcome(
        lambda: loose.coerce(raw)
    )


def test_schema_records_types_requiredness_and_storable_defaults():
    schema = typed.build(n=1).parameter_schema
    assert schema is not None
    assert schema["n"] == {"type": "int", "annotation": "int", "required": True}
    assert schema["ratio"] == {
        "type": "float",
        "annotation": "float",
        "required": False,
        "default": 0.5,
    }
    assert schema["day"]["default"] == {"$date": "2026-01-01"}
    assert schema["at"]["type"] == "datetime" and schema["at"]["nullable"] is True
    assert schema["mode"] == {
        "type": "literal",
        "choices": ["fast", "slow", 3],
        "annotation": "Literal",
        "required": False,
        "default": "fast",
    }
    assert [m["type"] for m in schema["either"]["any_of"]] == ["int", "str"]
    assert schema["free"]["type"] == "any"
    assert schema["thing"]["type"] == "unsupported" and schema["thing"]["accepts"] == []


def test_an_unstorable_default_is_left_for_the_build():
    sentinel = object()

    @flow(name="odd")
    def odd(x: Any = sentinel):
        return echo(1)

    schema = parameter_schema(odd.fn)
    assert schema["x"]["required"] is False and "default" not in schema["x"]
    assert coerce_with_schema(schema, "odd", {}) == {}


def test_specs_without_a_schema_still_load():
    data = typed.build(n=1).to_dict()
    del data["parameter_schema"]
    spec = FlowSpec.from_dict(data)
    assert spec.parameter_schema is None
    assert FlowSpec.from_json(spec.to_json()).to_dict() == spec.to_dict()

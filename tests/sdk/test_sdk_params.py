from __future__ import annotations

import datetime as dt

import pytest

from dagy import ParameterTypeError, flow
from dagy.sdk.params import parse_param_pairs


@flow
def typed(
    n: int,
    ratio: float = 0.5,
    on: bool = False,
    name: str = "x",
    day: dt.date = dt.date(2026, 1, 1),
    at: dt.datetime | None = None,
    items: list[int] | None = None,
    opts: dict | None = None,
):
    return None


def test_strings_are_coerced_to_annotations():
    values = typed.coerce(
        {
            "n": "3",
            "ratio": "1.5",
            "on": "yes",
            "name": "abc",
            "day": "2026-03-04",
            "at": "2026-03-04T12:00:00Z",
            "items": "[1, 2]",
            "opts": '{"a": 1}',
        }
    )
    assert values == {
        "n": 3,
        "ratio": 1.5,
        "on": True,
        "name": "abc",
        "day": dt.date(2026, 3, 4),
        "at": dt.datetime(2026, 3, 4, 12, tzinfo=dt.timezone.utc),
        "items": [1, 2],
        "opts": {"a": 1},
    }


def test_defaults_fill_missing_parameters():
    assert typed.coerce({"n": 1})["ratio"] == 0.5


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"n": "abc"}, "Parameter 'n' expects int, got 'abc'"),
        ({"n": "1", "on": "maybe"}, "Parameter 'on' expects bool, got 'maybe'"),
        ({"n": "1", "day": "04/03/2026"}, "Parameter 'day' expects date"),
        ({"n": "1", "items": "{not json"}, "Parameter 'items' expects"),
        ({"n": "1", "opts": "[1]"}, "Parameter 'opts' expects"),
        ({"n": "1", "bogus": "1"}, "Unknown parameter 'bogus' for flow 'typed'"),
        ({}, "Missing required parameter 'n' for flow 'typed'"),
    ],
)
def test_bad_parameters_raise_parameter_type_error(raw, message):
    with pytest.raises(ParameterTypeError, match=message.replace("(", r"\(").replace("[", r"\[")):
        typed.coerce(raw)


def test_param_pairs_split_on_first_equals():
    assert parse_param_pairs(["a=1", "b=x=y", "c="]) == {"a": "1", "b": "x=y", "c": ""}


@pytest.mark.parametrize("bad", ["bad", "=1"])
def test_param_pair_without_key_value_is_value_error(bad):
    with pytest.raises(ValueError, match=f"Invalid param '{bad}', expected key=value"):
        parse_param_pairs([bad])

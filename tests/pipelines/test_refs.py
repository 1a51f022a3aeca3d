"""References in pipeline values: what each form becomes, and the messages for what cannot be."""

from __future__ import annotations

import datetime as dt

import pytest

from dagy.pipelines import refs
from dagy.pipelines.refs import Ref, RefError


@pytest.mark.parametrize(
    ("text", "ref"),
    [
        ("${params.day}", Ref("param", "day")),
        ("${ fetch }", Ref("step", "fetch")),
        ("${clean-rows}", Ref("step", "clean-rows")),
        ("${item}", Ref("item")),
        ("${item.customer.id}", Ref("item", path=("customer", "id"))),
    ],
)
def test_a_whole_reference_is_recognised(text: str, ref: Ref) -> None:
    assert refs.whole_ref(text) == ref
    assert refs.whole_ref(ref.text()) == ref


@pytest.mark.parametrize("text", ["plain", "a ${fetch}", "${a}${b}", "$${fetch}", 3, None])
def test_other_values_are_not_a_whole_reference(text: object) -> None:
    assert refs.whole_ref(text) is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("${}", "empty reference '${}'"),
        ("${params}", "invalid parameter reference '${params}': use ${params.<name>}"),
        ("${params.a.b}", "invalid parameter reference '${params.a.b}': use ${params.<name>}"),
        ("${item..x}", "invalid item reference '${item..x}': use ${item} or ${item.field}"),
        ("${9lives}", "invalid reference '${9lives}': not a step id"),
        (
            "${fetch.rows}",
            "invalid reference '${fetch.rows}': a step's result is referenced whole, as ${fetch} "
            "(pick a field out of it in a python step)",
        ),
    ],
)
def test_malformed_references_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(RefError) as err:
        refs.whole_ref(text)
    assert str(err.value) == message


def test_resolve_turns_references_into_values_edges_and_item_markers() -> None:
    params = {"day": dt.date(2026, 3, 4), "limit": 100, "tags": ["a", "b"], "name": "x"}
    value = {
        "url": "http://h/orders?day=${params.day}&limit=${params.limit}",
        "tags": "${params.tags}",
        "rows": "${fetch}",
        "one": "${item.id}",
        "all": ["${item}", "literal $${kept}", "${params.name}-suffix"],
        "n": 3,
    }
    assert refs.resolve(value, params) == {
        "url": "http://h/orders?day=2026-03-04&limit=100",
        "tags": ["a", "b"],
        "rows": {"$ref": "fetch"},
        "one": {"$item": ["id"]},
        "all": [{"$item": []}, "literal ${kept}", "x-suffix"],
        "n": 3,
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "rows: ${fetch}",
            "${fetch} is a step's result and cannot be part of a longer string; use it as the "
            "whole value (or format it in a python step)",
        ),
        (
            "id-${item.id}",
            "${item.id} is an item and cannot be part of a longer string; use it as the whole "
            "value (or format it in a python step)",
        ),
        ("${params.nope}", "unknown parameter 'nope'"),
        ("x ${params.nope}", "unknown parameter 'nope'"),
    ],
)
def test_resolve_refuses_what_is_not_known_at_build_time(text: str, message: str) -> None:
    with pytest.raises(RefError) as err:
        refs.resolve({"a": [text]}, {})
    assert str(err.value) == message


def test_find_refs_names_each_by_its_path() -> None:
    found, bad = refs.find_refs(
        {"a": {"b": ["x ${params.p}", "${s}"]}, "c": "${}"}, "steps[0].with"
    )
    assert [(f.path, f.ref, f.whole) for f in found] == [
        ("steps[0].with.a.b[0]", Ref("param", "p"), False),
        ("steps[0].with.a.b[1]", Ref("step", "s"), True),
    ]
    assert bad == [("steps[0].with.c", "empty reference '${}'")]


@pytest.mark.parametrize(
    ("value", "text"),
    [(True, "true"), (None, ""), ([1, "a"], '[1, "a"]'), (2.5, "2.5"), ("s", "s")],
)
def test_parameters_format_into_strings_readably(value: object, text: str) -> None:
    assert refs.format_value(value) == text

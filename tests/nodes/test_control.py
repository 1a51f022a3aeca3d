"""condition, map and delay: what the engine gets back from each."""

from __future__ import annotations

import json

import pytest

from dagy.nodes.run import control, io
from dagy.nodes.run.frames import NodeError

ORDER = {"id": 7, "total": 120.5, "status": "paid", "tags": ["vip"], "customer": {"tier": "gold"}}


@pytest.mark.parametrize(
    ("field", "operator", "value", "branch"),
    [
        ("status", "==", "paid", True),
        ("status", "eq", "new", False),
        ("status", "!=", "new", True),
        ("total", ">", 100, True),
        ("total", ">=", 120.5, True),
        ("total", "<", 100, False),
        ("total", "lte", 120.5, True),
        ("status", "in", ["paid", "shipped"], True),
        ("status", "not_in", ["paid"], False),
        ("tags", "contains", "vip", True),
        ("customer.tier", "==", "gold", True),
        ("customer.missing", "exists", None, False),
        ("tags", "not_empty", None, True),
        ("coupon", "is_empty", None, True),
        ("status", ">", 3, False),  # a string and a number are not ordered
        ("", "truthy", None, True),
    ],
)
def test_condition_answers_its_branch_and_passes_its_input_on(ctx, field, operator, value, branch):
    config = {"field": field, "operator": operator, "value": value}
    assert control.condition(config, {"data_in": ORDER}) == {"$branch": branch, "value": ORDER}


def test_condition_counts_records_and_dataframe_rows(ctx, tmp_path):
    rows = [{"a": 1}, {"a": 2}, {"a": 3}]
    assert control.condition({"field": "$count", "operator": ">", "value": 2}, {"data_in": rows})[
        "$branch"
    ]
    (tmp_path / "rows.json").write_text(json.dumps(rows), encoding="utf-8")
    df = io.file_ingest({"uri": "rows.json", "output": "dataframe"})
    result = control.condition({"field": "$count", "operator": "==", "value": 3}, {"data_in": df})
    assert result == {"$branch": True, "value": df}
    assert control.condition({"operator": "is_empty"}, {"data_in": []})["$branch"] is True


def test_condition_refuses_an_unknown_operator(ctx):
    with pytest.raises(NodeError, match="config.operator must be one of"):
        control.condition({"field": "a", "operator": "~="}, {"data_in": {}})


def test_map_answers_the_list_to_fan_out_over(ctx):
    assert control.map_items({}, {"data_in": [1, 2, 3]}) == [1, 2, 3]
    assert control.map_items({"field": "items"}, {"data_in": {"items": [{"id": 1}]}}) == [{"id": 1}]
    with pytest.raises(NodeError, match="expected a list to fan out over, got an object"):
        control.map_items({}, {"data_in": {"items": []}})


def test_delay_passes_its_input_on(ctx):
    assert control.delay({"seconds": 0.01}, {"data_in": {"x": 1}}) == {"x": 1}
    with pytest.raises(NodeError, match="seconds must be a non-negative number"):
        control.delay({"seconds": -1}, {})

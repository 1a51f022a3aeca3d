"""Control-flow nodes: a condition (the engine runs one branch, skips the other), a map (the engine
fans the next node out over its list) and a delay."""

from __future__ import annotations

import math
import time
from typing import Any

from dagy.nodes.run import frames
from dagy.nodes.run.frames import NodeError
from dagy.nodes.run.io import data_of
from dagy.sdk.task import task

OPERATORS = (
    "==",
    "!=",
    ">",
    ">=",
    "<",
    "<=",
    "in",
    "not_in",
    "contains",
    "exists",
    "is_empty",
    "not_empty",
    "truthy",
)
_ALIASES = {
    "eq": "==",
    "ne": "!=",
    "gt": ">",
    "gte": ">=",
    "lt": "<",
    "lte": "<=",
    "empty": "is_empty",
}
_MISSING = object()


def _count(value: Any) -> int:
    if frames.is_frame(value):
        return int(value[frames.KEY].get("rows", 0))
    if isinstance(value, (list, dict, str)):
        return len(value)
    return 0 if value is None else 1


def _pick(value: Any, field: str) -> Any:
    """The value at a dotted ``field`` (``order.total``, ``items.0``); ``$count``: how many records;
    empty: the whole value. _MISSING when there is nothing there."""
    if not field:
        return value
    if field == "$count":
        return _count(value)
    if frames.is_frame(value):
        value = frames.to_records(value)
    for part in field.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif (
            isinstance(value, list)
            and part.lstrip("-").isdigit()
            and -len(value) <= int(part) < len(value)
        ):
            value = value[int(part)]
        else:
            return _MISSING
    return value


def _empty(value: Any) -> bool:
    if frames.is_frame(value):
        return _count(value) == 0
    return value is _MISSING or value is None or (hasattr(value, "__len__") and len(value) == 0)


def _compare(left: Any, operator: str, right: Any) -> bool:
    if operator == "exists":
        return left is not _MISSING and left is not None
    if operator == "truthy":
        return left is not _MISSING and not _empty(left) and left is not False and left != 0
    if operator == "is_empty":
        return _empty(left)
    if operator == "not_empty":
        return not _empty(left)
    if left is _MISSING:
        left = None
    if operator == "==":
        return bool(left == right)
    if operator == "!=":
        return bool(left != right)
    if operator in ("in", "not_in"):
        if not isinstance(right, (list, str, dict)):
            raise NodeError(f"config.value must be a list for operator {operator}")
        found = left in right
        return found if operator == "in" else not found
    if operator == "contains":
        if isinstance(left, (list, str, dict)):
            return right in left
        return False
    # Ordering: numbers with numbers, strings with strings; anything else is not ordered.
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (left, right))
    strings = isinstance(left, str) and isinstance(right, str)
    if not (numbers or strings):
        return False
    if numbers and any(isinstance(v, float) and math.isnan(v) for v in (left, right)):
        return False
    return {
        ">": left > right,
        ">=": left >= right,
        "<": left < right,
        "<=": left <= right,
    }[operator]


@task
def condition(config: dict[str, Any], inputs: dict[str, Any] | None = None) -> Any:
    """``{"$branch": <field operator value>, "value": <data_in unchanged>}``."""
    data = data_of(inputs) if inputs else None
    operator = str(config.get("operator") or "==")
    operator = _ALIASES.get(operator, operator)
    if operator not in OPERATORS:
        raise NodeError(f"config.operator must be one of {', '.join(OPERATORS)}; got {operator!r}")
    field = config.get("field") or ""
    if not isinstance(field, str):
        raise NodeError("config.field must be a string (a dotted path, $count, or empty)")
    branch = _compare(_pick(data, field), operator, config.get("value"))
    return {"$branch": bool(branch), "value": data}


@task
def map_items(config: dict[str, Any], inputs: dict[str, Any] | None = None) -> Any:
    """The list to fan out over: the input itself, or the list at ``config.field`` in it."""
    data = data_of(inputs)
    if frames.is_frame(data):
        data = frames.to_records(data)
    field = config.get("field") or ""
    if field:
        picked = _pick(data, str(field))
        if picked is _MISSING:
            raise NodeError(f"map: the input has no field {field!r}")
        data = picked
    if not isinstance(data, list):
        raise NodeError(f"map: expected a list to fan out over, got {frames.kind(data)}")
    return data


@task
def delay(config: dict[str, Any], inputs: dict[str, Any] | None = None) -> Any:
    """Sleep ``config.seconds``, then pass the input on."""
    seconds = config.get("seconds", 0)
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0:
        raise NodeError(f"config.seconds must be a non-negative number, got {seconds!r}")
    time.sleep(float(seconds))
    return data_of(inputs) if inputs else None

"""JSON encoding shared by FlowSpecs and artifacts: dates survive, task references become ``$ref``."""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Callable
from typing import Any

REF = "$ref"
_DATE = "$date"
_DATETIME = "$datetime"


class TaskRef:
    """What calling a task inside ``flow.build()`` returns: a reference to a future result."""

    __slots__ = ("task_run_id",)

    def __init__(self, task_run_id: str) -> None:
        self.task_run_id = task_run_id

    def __repr__(self) -> str:
        return f"TaskRef({self.task_run_id!r})"

    def _misuse(self, *_: Any, **__: Any) -> Any:
        raise TypeError(
            f"The result of task run {self.task_run_id!r} is a reference while the flow is built; "
            "pass it to another task instead of using its value in the flow body"
        )

    __bool__ = __iter__ = __len__ = __getitem__ = __add__ = __int__ = __float__ = _misuse


def _default(value: Any) -> Any:
    if isinstance(value, _dt.datetime):
        return {_DATETIME: value.isoformat()}
    if isinstance(value, _dt.date):
        return {_DATE: value.isoformat()}
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _hook(obj: dict[str, Any]) -> Any:
    if len(obj) == 1:
        if _DATE in obj:
            return _dt.date.fromisoformat(obj[_DATE])
        if _DATETIME in obj:
            return _dt.datetime.fromisoformat(obj[_DATETIME])
    return obj


def dumps(value: Any) -> str:
    """Serialise a task result or parameter; raises TypeError/ValueError when it cannot be."""
    return json.dumps(value, default=_default, allow_nan=False, separators=(",", ":"))


def loads(text: str | bytes) -> Any:
    return json.loads(text, object_hook=_hook)


def encode(value: Any, refs: set[str]) -> Any:
    """A JSON-safe copy of a task input, with TaskRefs as ``{"$ref": id}`` (their ids added to refs)."""
    if isinstance(value, TaskRef):
        refs.add(value.task_run_id)
        return {REF: value.task_run_id}
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, (list, tuple)):
        return [encode(v, refs) for v in value]
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise TypeError(f"dict keys must be strings, got {type(k).__name__}")
            out[k] = encode(v, refs)
        return out
    if isinstance(value, (_dt.date, set, frozenset)):
        return _default(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def decode(value: Any, resolve: Callable[[str], Any]) -> Any:
    """Rebuild a task input from its encoded form, hydrating ``$ref`` through ``resolve``."""
    if isinstance(value, list):
        return [decode(v, resolve) for v in value]
    if isinstance(value, dict):
        if len(value) == 1:
            if REF in value:
                return resolve(value[REF])
            if _DATE in value or _DATETIME in value:
                return _hook(value)
        return {k: decode(v, resolve) for k, v in value.items()}
    return value

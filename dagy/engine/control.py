"""Control flow a compiled pipeline puts in its FlowSpec: condition results, ``when`` and ``for_each``.

A condition task run returns ``{"$branch": bool, "value": v}``: the engine remembers the branch and
its consumers get ``v``. A task run with ``when`` runs only if its condition took that branch. A
task run with ``for_each`` is a map: one child task run ``<id>.<i>`` per element of a list, with
``{"$item": [path...]}`` markers in its inputs replaced by the element (or a field of it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dagy.sdk import _codec
from dagy.sdk.spec import TaskRunSpec

BRANCH = "$branch"
ITEM = "$item"


def split_branch(value: Any) -> tuple[bool | None, Any]:
    """(branch, value) of a condition's result; (None, value) for any other result."""
    if (
        type(value) is dict
        and len(value) == 2
        and isinstance(value.get(BRANCH), bool)
        and "value" in value
    ):
        return value[BRANCH], value["value"]
    return None, value


def collect_refs(value: Any, out: set[str]) -> None:
    """Add the task run ids of every ``{"$ref": id}`` inside an encoded value to ``out``."""
    if isinstance(value, list):
        for v in value:
            collect_refs(v, out)
    elif isinstance(value, dict):
        if len(value) == 1 and _codec.REF in value:
            out.add(value[_codec.REF])
        else:
            for v in value.values():
                collect_refs(v, out)


def dependencies(tr: TaskRunSpec) -> list[str]:
    """What a task run waits for: its upstream, its ``when`` condition, its ``for_each`` source."""
    deps = dict.fromkeys(tr.upstream)
    if tr.when is not None and isinstance(tr.when.get("ref"), str):
        deps[tr.when["ref"]] = None
    if tr.for_each is not None:
        refs: set[str] = set()
        collect_refs(tr.for_each, refs)
        deps.update(dict.fromkeys(sorted(refs)))
    return list(deps)


class ItemError(LookupError):
    """An ``$item`` path that the element does not have."""


def pick(element: Any, path: Any, index: int) -> Any:
    """The element, or the field of it that ``path`` names (["a", "b"] is element["a"]["b"])."""
    steps = [path] if isinstance(path, (str, int)) else list(path or [])
    value = element
    for n, step in enumerate(steps):
        found = (isinstance(value, dict) and step in value) or (
            isinstance(value, list) and isinstance(step, int) and -len(value) <= step < len(value)
        )
        if found:
            value = value[step]
        else:
            where = "".join(f"[{s!r}]" for s in steps[:n])
            raise ItemError(
                f"item {index} has no {step!r} (path {steps!r}): "
                f"item{where} is {type(value).__name__}"
                + (f" with keys {sorted(map(str, value))[:10]}" if isinstance(value, dict) else "")
            )
    return value


_NO_ITEM: Any = object()


def hydrate(value: Any, resolve: Any, item: Any = _NO_ITEM, index: int = 0) -> Any:
    """A task input from its encoded form: ``$ref`` through ``resolve``, ``$item`` from ``item``.

    One pass, so an element's own data is never read as markers.
    """
    if isinstance(value, list):
        return [hydrate(v, resolve, item, index) for v in value]
    if isinstance(value, dict):
        if len(value) == 1:
            if _codec.REF in value:
                return resolve(value[_codec.REF])
            if ITEM in value and item is not _NO_ITEM:
                return pick(item, value[ITEM], index)
            if "$date" in value or "$datetime" in value:
                return _codec.decode(value, resolve)
        return {k: hydrate(v, resolve, item, index) for k, v in value.items()}
    return value


@dataclass
class MapState:
    """A map task run while its children run: their elements, inputs and results."""

    parent: str
    task_name: str
    items: list[Any]
    refs: dict[str, Any]  # the upstream values the children's inputs name, hydrated once
    results: list[Any]
    remaining: int
    failures: list[tuple[str, str]] = field(default_factory=list)  # (child id, error)

    def child_id(self, index: int) -> str:
        return child_id(self.parent, index)


def child_id(parent: str, index: int) -> str:
    """``<parent>.<index>``: the id of a map's child task run, index from 0."""
    return f"{parent}.{index}"

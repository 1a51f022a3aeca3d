"""References inside a pipeline's values: ``${params.x}``, ``${step}``, ``${item}``/``${item.a.b}``.

A string that is exactly one reference becomes a value when the pipeline compiles: a parameter's
value, ``{"$ref": step}`` (an edge: the step's result, hydrated by the engine), or
``{"$item": [path...]}`` (the element a ``for_each`` step runs for, or a field of it). A
``${params.x}`` inside a longer string is formatted into it at build time. A step's result or an
item inside a longer string cannot be known at build time: that is a problem (use the whole value,
or a python step that formats it). ``$${`` writes a literal ``${``.
"""

from __future__ import annotations

import datetime as _dt
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

STEP_ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")
PARAM_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
RESERVED_IDS = ("params", "item")
ITEM = "$item"
REF = "$ref"

# ``$${`` is an escaped ``${``; otherwise ``${ ... }`` up to the first ``}``.
_TOKEN = re.compile(r"\$\$\{|\$\{([^}]*)\}")


@dataclass(frozen=True)
class Ref:
    """One reference: ``kind`` param (``name`` the parameter), step (``name`` the step id) or item
    (``path`` the fields picked out of the element)."""

    kind: str
    name: str = ""
    path: tuple[str, ...] = ()

    def text(self) -> str:
        if self.kind == "param":
            return f"${{params.{self.name}}}"
        if self.kind == "item":
            return "${" + ".".join(("item", *self.path)) + "}"
        return f"${{{self.name}}}"


class RefError(ValueError):
    """A malformed reference or one in a place it cannot be; the message says which."""


def parse_ref(inner: str) -> Ref:
    """The reference ``${inner}`` names; RefError when it is not one of the three forms."""
    text = inner.strip()
    if not text:
        raise RefError("empty reference '${}'")
    parts = text.split(".")
    head = parts[0]
    if head == "params":
        if len(parts) != 2 or not PARAM_NAME.match(parts[1]):
            raise RefError(f"invalid parameter reference '${{{text}}}': use ${{params.<name>}}")
        return Ref("param", parts[1])
    if head == "item":
        if any(not p for p in parts[1:]):
            raise RefError(
                f"invalid item reference '${{{text}}}': use ${{item}} or ${{item.field}}"
            )
        return Ref("item", path=tuple(parts[1:]))
    if len(parts) > 1:
        raise RefError(
            f"invalid reference '${{{text}}}': a step's result is referenced whole, as ${{{head}}} "
            "(pick a field out of it in a python step)"
        )
    if not STEP_ID.match(head):
        raise RefError(f"invalid reference '${{{text}}}': not a step id")
    return Ref("step", head)


def whole_ref(value: Any) -> Ref | None:
    """The reference when ``value`` is a string that is exactly one (``"${fetch}"``), else None.
    RefError when it looks like one and is malformed."""
    if not isinstance(value, str):
        return None
    stripped = value.strip()
    if not (stripped.startswith("${") and stripped.endswith("}")):
        return None
    tokens = list(_TOKEN.finditer(stripped))
    if len(tokens) != 1 or tokens[0].span() != (0, len(stripped)) or tokens[0].group(1) is None:
        return None
    return parse_ref(tokens[0].group(1))


def refs_in_text(text: str) -> list[Ref]:
    """Every reference inside a string (RefError for a malformed one)."""
    return [parse_ref(m.group(1)) for m in _TOKEN.finditer(text) if m.group(1) is not None]


def walk_strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """``(path, string)`` for every string inside nested lists and dicts (keys are not values)."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from walk_strings(v, f"{path}[{i}]")
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from walk_strings(v, f"{path}.{k}" if path else str(k))


@dataclass(frozen=True)
class Found:
    """A reference at ``path``; ``whole`` when the string is that reference and nothing else."""

    path: str
    ref: Ref
    whole: bool


def find_refs(value: Any, path: str) -> tuple[list[Found], list[tuple[str, str]]]:
    """Every reference in ``value``, and ``(path, message)`` for each malformed one."""
    found: list[Found] = []
    bad: list[tuple[str, str]] = []
    for where, text in walk_strings(value, path):
        try:
            whole = whole_ref(text)
            if whole is not None:
                found.append(Found(where, whole, True))
                continue
            found += [Found(where, r, False) for r in refs_in_text(text)]
        except RefError as exc:
            bad.append((where, str(exc)))
    return found, bad


def format_value(value: Any) -> str:
    """A parameter's value as it reads inside a string: text as is, dates ISO, the rest JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, (_dt.date, _dt.datetime)):
        return value.isoformat()
    if value is None:
        return ""
    return json.dumps(value, default=str)


def resolve(value: Any, params: dict[str, Any]) -> Any:
    """``value`` with its references replaced for the FlowSpec: whole ``${params.x}`` by the
    value, ``${step}`` by ``{"$ref": step}``, ``${item...}`` by ``{"$item": [...]}``, and
    ``${params.x}`` inside a string formatted in. RefError for what cannot be (a step's result or
    an item inside a longer string, an unknown parameter)."""
    if isinstance(value, str):
        ref = whole_ref(value)
        if ref is not None:
            return _resolved(ref, params)
        return _format(value, params)
    if isinstance(value, list):
        return [resolve(v, params) for v in value]
    if isinstance(value, dict):
        return {k: resolve(v, params) for k, v in value.items()}
    return value


def _resolved(ref: Ref, params: dict[str, Any]) -> Any:
    if ref.kind == "param":
        if ref.name not in params:
            raise RefError(f"unknown parameter '{ref.name}'")
        return params[ref.name]
    if ref.kind == "item":
        return {ITEM: list(ref.path)}
    return {REF: ref.name}


def _format(text: str, params: dict[str, Any]) -> str:
    def one(match: re.Match[str]) -> str:
        if match.group(1) is None:
            return "${"
        ref = parse_ref(match.group(1))
        if ref.kind != "param":
            raise RefError(inside_message(ref))
        if ref.name not in params:
            raise RefError(f"unknown parameter '{ref.name}'")
        return format_value(params[ref.name])

    return _TOKEN.sub(one, text)


def inside_message(ref: Ref) -> str:
    what = "an item" if ref.kind == "item" else "a step's result"
    return (
        f"{ref.text()} is {what} and cannot be part of a longer string; use it as the whole "
        "value (or format it in a python step)"
    )

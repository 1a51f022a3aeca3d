"""Coerce flow parameters (usually strings from ``--param k=v``) to the flow's annotations."""

from __future__ import annotations

import contextlib
import datetime as _dt
import inspect
import json
import types
import typing
from collections.abc import Callable
from typing import Any

from dagy.errors import ParameterTypeError

_TRUE = {"true", "1", "yes", "on", "y", "t"}
_FALSE = {"false", "0", "no", "off", "n", "f"}


def parse_param_pairs(pairs: typing.Iterable[str]) -> dict[str, str]:
    """``["a=1", "b=x=y"]`` → ``{"a": "1", "b": "x=y"}``; a pair without ``=`` is a ValueError."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"Invalid param '{pair}', expected key=value")
        out[key.strip()] = value
    return out


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _coerce(name: str, value: Any, tp: Any) -> Any:
    if tp is inspect.Parameter.empty or tp is Any or tp is object:
        return value
    origin = typing.get_origin(tp)
    if origin is typing.Union or (hasattr(types, "UnionType") and origin is types.UnionType):
        members = typing.get_args(tp)
        is_null = value is None or (isinstance(value, str) and value.lower() in {"none", "null"})
        if is_null and type(None) in members:
            return None
        for member in members:
            if member is type(None):
                continue
            try:
                return _coerce(name, value, member)
            except ParameterTypeError:
                continue
        raise ParameterTypeError(f"Parameter '{name}' expects {_type_name(tp)}, got {value!r}")
    if origin is typing.Literal:
        choices = typing.get_args(tp)
        for choice in choices:
            if value == choice or (isinstance(value, str) and str(choice) == value):
                return choice
        raise ParameterTypeError(
            f"Parameter '{name}' must be one of {list(choices)}, got {value!r}"
        )
    base = origin or tp
    try:
        return _COERCERS[base](value)
    except KeyError:
        if isinstance(base, type) and isinstance(value, base):
            return value
        raise ParameterTypeError(
            f"Parameter '{name}' has unsupported annotation {_type_name(tp)}; "
            "use int, float, bool, str, date, datetime, list or dict"
        ) from None
    except (ValueError, TypeError, json.JSONDecodeError):
        raise ParameterTypeError(
            f"Parameter '{name}' expects {_type_name(tp)}, got {value!r}"
        ) from None


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ValueError(value)


def _to_int(value: Any) -> int:
    if isinstance(value, bool):
        raise TypeError(value)
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        return int(value.strip())
    raise TypeError(value)


def _to_float(value: Any) -> float:
    if isinstance(value, bool):
        raise TypeError(value)
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        return float(value.strip())
    raise TypeError(value)


def _to_str(value: Any) -> str:
    if isinstance(value, str):
        return value
    raise TypeError(value)


def _to_date(value: Any) -> _dt.date:
    if isinstance(value, _dt.datetime):
        raise TypeError(value)
    if isinstance(value, _dt.date):
        return value
    if isinstance(value, str):
        return _dt.date.fromisoformat(value.strip())
    raise TypeError(value)


def _to_datetime(value: Any) -> _dt.datetime:
    if isinstance(value, _dt.datetime):
        return value
    if isinstance(value, str):
        text = value.strip()
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        return _dt.datetime.fromisoformat(text)
    raise TypeError(value)


def _json_of(kind: type) -> Callable[[Any], Any]:
    def convert(value: Any) -> Any:
        if isinstance(value, str):
            value = json.loads(value)
        if isinstance(value, tuple) and kind is list:
            value = list(value)
        if not isinstance(value, kind):
            raise TypeError(value)
        return value

    return convert


_COERCERS: dict[Any, Callable[[Any], Any]] = {
    bool: _to_bool,
    int: _to_int,
    float: _to_float,
    str: _to_str,
    _dt.date: _to_date,
    _dt.datetime: _to_datetime,
    list: _json_of(list),
    dict: _json_of(dict),
    tuple: lambda v: tuple(_json_of(list)(v)),
}


def coerce_parameters(
    fn: Callable[..., Any], flow_name: str, raw: dict[str, Any]
) -> dict[str, Any]:
    """Bind ``raw`` to ``fn``'s signature: coerce each value, fill defaults, reject unknown/missing."""
    sig = inspect.signature(fn)
    try:
        hints = typing.get_type_hints(fn)
    except Exception:  # unresolvable string annotations: fall back to the raw ones
        hints = {}
    accepts_kwargs = any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values())
    out: dict[str, Any] = {}
    for key, value in raw.items():
        param = sig.parameters.get(key)
        if param is None or param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            if accepts_kwargs:
                out[key] = value
                continue
            known = ", ".join(p for p in sig.parameters) or "none"
            raise ParameterTypeError(
                f"Unknown parameter '{key}' for flow '{flow_name}' (parameters: {known})"
            )
        out[key] = _coerce(key, value, hints.get(key, param.annotation))
    for name, param in sig.parameters.items():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD) or name in out:
            continue
        if param.default is inspect.Parameter.empty:
            raise ParameterTypeError(f"Missing required parameter '{name}' for flow '{flow_name}'")
        out[name] = param.default
    return out


# -- the parameter schema: coercion without the flow's code ------------------------------------------

_SCHEMA_TYPES: dict[Any, str] = {
    bool: "bool",
    int: "int",
    float: "float",
    str: "str",
    _dt.date: "date",
    _dt.datetime: "datetime",
    list: "list",
    dict: "dict",
    tuple: "tuple",
}
_COERCER_OF = {name: _COERCERS[tp] for tp, name in _SCHEMA_TYPES.items()}


def _type_schema(tp: Any) -> dict[str, Any]:
    """One annotation as plain data: ``{"type": "int"}``, nullable, unions, literals."""
    if tp is inspect.Parameter.empty or tp is Any or tp is object:
        return {"type": "any"}
    origin = typing.get_origin(tp)
    if origin is typing.Union or (hasattr(types, "UnionType") and origin is types.UnionType):
        members = [m for m in typing.get_args(tp) if m is not type(None)]
        nullable = len(members) < len(typing.get_args(tp))
        schema = (
            _type_schema(members[0])
            if len(members) == 1
            else {
                "type": "union",
                "any_of": [_type_schema(m) for m in members],
            }
        )
        return {**schema, "nullable": True} if nullable else schema
    if origin is typing.Literal:
        choices = list(typing.get_args(tp))
        if all(c is None or isinstance(c, (str, int, float, bool)) for c in choices):
            return {"type": "literal", "choices": choices}
    base = origin or tp
    name = _SCHEMA_TYPES.get(base)
    if name is not None:
        return {"type": name}
    # coerce_parameters passes a value of another annotation through when it is an instance of
    # it (``Sequence``, ``numbers.Number``): record which JSON values would be.
    accepts = [k for k, sample in _JSON_SAMPLES.items() if _is_instance(sample, base)]
    return {"type": "unsupported", "accepts": accepts}


_JSON_SAMPLES: dict[str, Any] = {
    "null": None,
    "bool": False,
    "int": 0,
    "float": 0.0,
    "str": "",
    "list": [],
    "dict": {},
}


def _is_instance(value: Any, tp: Any) -> bool:
    try:
        return isinstance(tp, type) and isinstance(value, tp)
    except TypeError:
        return False


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    for kind in ("bool", "int", "float", "str", "list", "dict"):
        if type(value) is type(_JSON_SAMPLES[kind]):
            return kind
    return "other"


def parameter_schema(fn: Callable[..., Any]) -> dict[str, dict[str, Any]]:
    """What ``coerce_parameters`` would do with ``fn``'s parameters, as JSON: per name its ``type``
    (int, float, bool, str, date, datetime, list, dict, tuple, literal, union, any, unsupported),
    ``annotation`` (for messages), ``required`` and, when it can be stored, ``default``.
    A ``**kwargs`` parameter is recorded with ``"kind": "var_keyword"``."""
    from dagy.sdk import _codec

    sig = inspect.signature(fn)
    try:
        hints = typing.get_type_hints(fn)
    except Exception:  # unresolvable string annotations: the raw ones, as coerce_parameters does
        hints = {}
    out: dict[str, dict[str, Any]] = {}
    for name, param in sig.parameters.items():
        if param.kind is param.VAR_POSITIONAL:
            continue
        if param.kind is param.VAR_KEYWORD:
            out[name] = {"type": "any", "kind": "var_keyword", "required": False}
            continue
        tp = hints.get(name, param.annotation)
        entry = _type_schema(tp)
        entry["annotation"] = "any" if tp is inspect.Parameter.empty else _type_name(tp)
        entry["required"] = param.default is inspect.Parameter.empty
        if not entry["required"]:
            with contextlib.suppress(TypeError):  # not storable: the flow's build fills it in
                entry["default"] = _codec.encode(param.default, set())
        out[name] = entry
    return out


def _coerce_schema(name: str, value: Any, schema: dict[str, Any]) -> Any:
    shown = schema.get("annotation") or schema.get("type", "any")
    if schema.get("nullable"):
        if value is None or (isinstance(value, str) and value.lower() in {"none", "null"}):
            return None
        schema = {k: v for k, v in schema.items() if k != "nullable"}
    kind = schema.get("type", "any")
    if kind == "any":
        return value
    if kind == "union":
        for member in schema.get("any_of") or []:
            try:
                return _coerce_schema(name, value, member)
            except ParameterTypeError:
                continue
        raise ParameterTypeError(f"Parameter '{name}' expects {shown}, got {value!r}")
    if kind == "literal":
        choices = schema.get("choices") or []
        for choice in choices:
            if value == choice or (isinstance(value, str) and str(choice) == value):
                return choice
        raise ParameterTypeError(f"Parameter '{name}' must be one of {choices}, got {value!r}")
    convert = _COERCER_OF.get(kind)
    if convert is None:
        if _json_kind(value) in (schema.get("accepts") or ()):
            return value
        raise ParameterTypeError(
            f"Parameter '{name}' has unsupported annotation {shown}; "
            "use int, float, bool, str, date, datetime, list or dict"
        )
    try:
        return convert(value)
    except (ValueError, TypeError, json.JSONDecodeError):
        raise ParameterTypeError(f"Parameter '{name}' expects {shown}, got {value!r}") from None


def coerce_with_schema(
    schema: dict[str, dict[str, Any]], flow_name: str, raw: dict[str, Any]
) -> dict[str, Any]:
    """``coerce_parameters`` from a recorded ``parameter_schema``: the same values and the same
    ParameterTypeError messages, without importing the flow's code. Defaults that could not be
    stored are left for the flow's build to fill in."""
    from dagy.sdk import _codec

    accepts_kwargs = any(s.get("kind") == "var_keyword" for s in schema.values())
    out: dict[str, Any] = {}
    for key, value in raw.items():
        entry = schema.get(key)
        if entry is None or entry.get("kind") == "var_keyword":
            if accepts_kwargs:
                out[key] = value
                continue
            known = ", ".join(schema) or "none"
            raise ParameterTypeError(
                f"Unknown parameter '{key}' for flow '{flow_name}' (parameters: {known})"
            )
        out[key] = _coerce_schema(key, value, entry)
    for name, entry in schema.items():
        if entry.get("kind") == "var_keyword" or name in out:
            continue
        if entry.get("required"):
            raise ParameterTypeError(f"Missing required parameter '{name}' for flow '{flow_name}'")
        if "default" in entry:
            out[name] = _codec.decode(entry["default"], lambda ref: None)
    return out

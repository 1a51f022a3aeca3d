"""Coerce flow parameters (usually strings from ``--param k=v``) to the flow's annotations."""

from __future__ import annotations

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

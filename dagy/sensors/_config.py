"""Config checks every sensor type shares: known keys, intervals, the payload parameter."""

from __future__ import annotations

import re
from typing import Any

from dagy.errors import InvalidInputError

DEFAULT_INTERVAL = 30.0
MIN_INTERVAL = 0.1
MAX_INTERVAL = 7 * 24 * 3600.0
DEFAULT_PAYLOAD_PARAM = "payload"
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
COMMON_KEYS = frozenset({"payload_param"})


def invalid(field: str, why: str) -> InvalidInputError:
    return InvalidInputError(f"Invalid configuration: {field} {why}", {f"config_json.{field}": why})


def known_keys(config: dict[str, Any], allowed: frozenset[str]) -> None:
    unknown = sorted(set(config) - allowed - COMMON_KEYS)
    if unknown:
        raise invalid(unknown[0], "is not a setting of this sensor type")


def payload_param(config: dict[str, Any]) -> str:
    value = config.get("payload_param", DEFAULT_PAYLOAD_PARAM)
    if not isinstance(value, str) or not _IDENT.match(value):
        raise invalid("payload_param", "must be a Python identifier")
    return value


def number(config: dict[str, Any], field: str, default: float, low: float, high: float) -> float:
    value = config.get(field, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise invalid(field, f"must be a number from {low:g} to {high:g}")
    return float(value)


def interval(config: dict[str, Any]) -> float:
    return number(config, "interval_seconds", DEFAULT_INTERVAL, MIN_INTERVAL, MAX_INTERVAL)


def string(config: dict[str, Any], field: str, *, required: bool = False) -> str | None:
    value = config.get(field)
    if value is None:
        if required:
            raise invalid(field, "is required")
        return None
    if not isinstance(value, str) or not value or len(value) > 2048:
        raise invalid(field, "must be a non-empty string")
    return value

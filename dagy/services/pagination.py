"""Cursor pagination: ``limit`` clamped per endpoint, and an opaque ``next_token``.

The token is URL-safe base64 of a small JSON position (a keyset, never an offset into a Python
list): the next page starts strictly after the last row of this one, in SQL.
"""

from __future__ import annotations

import base64
import binascii
import datetime as _dt
import json
from typing import Any

from dagy.errors import InvalidInputError


def clamp_limit(limit: Any, *, default: int = 100, maximum: int = 100) -> int:
    if limit is None:
        return default
    try:
        value = int(limit)
    except (TypeError, ValueError):
        raise InvalidInputError("Invalid limit", {"limit": "an integer"}) from None
    if value < 1:
        raise InvalidInputError("Invalid limit", {"limit": "must be at least 1"})
    return min(value, maximum)


def encode_token(position: list[Any]) -> str:
    raw = json.dumps(position, separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str | None, *, size: int = 2) -> list[Any] | None:
    """The position in a ``next_token``; a malformed token is a 400, never a 500."""
    if not token:
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        position = json.loads(raw)
    except (binascii.Error, ValueError):
        raise InvalidInputError("Invalid next_token", {"next_token": "malformed"}) from None
    if not isinstance(position, list) or len(position) != size:
        raise InvalidInputError("Invalid next_token", {"next_token": "malformed"})
    return position


def decode_keyset(token: str | None) -> tuple[str, str] | None:
    """The ``(time, id)`` keyset every list here pages by; a token of any other shape is a 400
    (a string that is no time would otherwise reach SQL's ``?::TIMESTAMP`` and end in a 500)."""
    position = decode_token(token)
    if position is None:
        return None
    moment, row_id = position
    try:
        if not isinstance(moment, str) or not isinstance(row_id, str):
            raise ValueError(moment)
        parsed = _dt.datetime.fromisoformat(moment)
    except ValueError:
        raise InvalidInputError("Invalid next_token", {"next_token": "malformed"}) from None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(_dt.timezone.utc).replace(tzinfo=None)
    return parsed.isoformat(), row_id


def page(rows: list[Any], limit: int, position: Any) -> tuple[list[Any], str | None]:
    """Given ``limit + 1`` fetched rows: the page, and the token for the next one (or None)."""
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    return rows, encode_token(position(rows[-1]))

"""ISO 8601 input from query strings, as the store's naive UTC."""

from __future__ import annotations

import datetime as _dt

from dagy.errors import InvalidInputError


def parse_moment(text: str, field: str, *, message: str | None = None) -> _dt.datetime:
    """``2026-03-01``, ``2026-03-01T10:00:00Z`` or with an offset, as naive UTC; a 400 naming
    ``field`` otherwise (``message`` replaces the default ``Invalid <field>: '<text>'``)."""
    try:
        moment = _dt.datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    except ValueError:
        raise InvalidInputError(
            message or f"Invalid {field}: {text!r}", {field: "an ISO 8601 date or time"}
        ) from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(_dt.timezone.utc).replace(tzinfo=None)
    return moment

"""The API's answers to bad input, an unknown name and a conflict, raised as the errors the
services raise, so a command prints the same line and exits the same way in every mode."""

from __future__ import annotations

import contextlib
import datetime as _dt
from collections.abc import Iterator

from dagy.errors import APIError, ConflictError, InvalidInputError, NotFoundError

_AS_SERVICE = {400: InvalidInputError, 404: NotFoundError, 409: ConflictError}


@contextlib.contextmanager
def as_service_errors() -> Iterator[None]:
    """400 → InvalidInputError, 404 → NotFoundError, 409 → ConflictError; others stay APIError."""
    try:
        yield
    except APIError as exc:
        kind = _AS_SERVICE.get(exc.status_code)
        if kind is None:
            raise
        raise kind(exc.message) from None


def parse_time(value: object) -> _dt.datetime | None:
    """An API timestamp (``2026-03-04T12:00:00Z``) as the store keeps it: naive UTC, seconds."""
    if not isinstance(value, str) or not value or value == "-":
        return None
    moment = _dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is not None:
        moment = moment.astimezone(_dt.timezone.utc).replace(tzinfo=None)
    return moment.replace(microsecond=0)


def seconds(value: _dt.datetime | None) -> _dt.datetime | None:
    """A store timestamp at the API's precision, so both backends give equal records."""
    return value.replace(microsecond=0) if value is not None else None


def iso(value: _dt.datetime | None) -> str | None:
    return value.isoformat() + "Z" if value is not None else None

"""A channel's ``config_json``, checked against its type's fields, split into what may be shown and
what is sealed, and masked for every response."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from dagy.errors import InvalidInputError
from dagy.notify.base import Field

_EMAIL = re.compile(r"^[^@\s,<>]+@[^@\s,<>]+$")
_SECRET_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
MAX_TEXT = 2048
MAX_RECIPIENTS = 50


def _bad(name: str, why: str) -> InvalidInputError:
    return InvalidInputError(
        f"Invalid channel configuration: {name} {why}", {f"config_json.{name}": why}
    )


def _value(f: Field, value: Any) -> Any:
    """The checked value of one field (the message never quotes it: it may be a secret)."""
    if f.kind == "bool":
        if not isinstance(value, bool):
            raise _bad(f.name, "must be true or false")
        return value
    if f.kind == "port":
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
            raise _bad(f.name, "must be a port number (1-65535)")
        return value
    if f.kind == "emails":
        if not isinstance(value, list) or not value or len(value) > MAX_RECIPIENTS:
            raise _bad(f.name, f"must be a list of 1-{MAX_RECIPIENTS} email addresses")
        return [_value(Field(f.name, "email"), v) for v in value]
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_TEXT:
        raise _bad(f.name, f"must be a non-empty string of at most {MAX_TEXT} characters")
    if f.kind == "url":
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise _bad(f.name, "must be an http:// or https:// URL")
    elif f.kind == "email" and not _EMAIL.match(value):
        raise _bad(f.name, "must be an email address")
    elif f.kind == "secret_name" and not _SECRET_NAME.match(value):
        raise _bad(f.name, "must name a Dagy secret (letters, digits, '.', '_' or '-')")
    elif f.kind == "choice" and value not in f.choices:
        raise _bad(f.name, f"must be one of {', '.join(f.choices)}")
    return value


def check(fields: Iterable[Field], raw: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(public, secret)``: the config's shown fields (defaults filled) and its sealed ones."""
    if not isinstance(raw, dict):
        raise InvalidInputError(
            "Invalid channel configuration: config_json must be an object",
            {"config_json": "must be an object"},
        )
    known = {f.name: f for f in fields}
    unknown = sorted(set(raw) - set(known))
    if unknown:
        raise _bad(unknown[0], f"is not a field of this channel type (fields: {', '.join(known)})")
    public: dict[str, Any] = {}
    secret: dict[str, Any] = {}
    for f in known.values():
        value = raw.get(f.name)
        if value is None:
            if f.required:
                raise _bad(f.name, "is required")
            if f.default is not None:
                public[f.name] = f.default
            continue
        (secret if f.secret else public)[f.name] = _value(f, value)
    return public, secret


def mask(value: str, kind: str = "text") -> str:
    """A secret as responses show it: its last 4 characters (none of a short one); a URL keeps
    its scheme and host, which say where it points without giving its token away."""
    tail = value[-4:] if len(value) >= 12 else ""
    if kind == "url":
        parts = urlsplit(value)
        return f"{parts.scheme}://{parts.netloc}/****{tail}"
    return "****" + tail


def masked(
    fields: Iterable[Field], public: dict[str, Any], secret: dict[str, Any]
) -> dict[str, Any]:
    """The whole config for a response: public fields as they are, secret ones masked."""
    out = dict(public)
    for f in fields:
        if f.name in secret:
            out[f.name] = mask(str(secret[f.name]), f.kind)
    return out


def scrub(text: str | None, secret: dict[str, Any]) -> str | None:
    """``text`` (an error from a receiver or a library) with any secret value in it masked."""
    if not text:
        return text
    for value in secret.values():
        if isinstance(value, str) and len(value) >= 4:
            text = text.replace(value, mask(value))
    return text

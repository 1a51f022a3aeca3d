"""Webhook sensors: an unguessable token per sensor, kept only hashed; the POSTed JSON object is
the event. ``POST /webhooks/{token}`` is public: the token is the credential."""

from __future__ import annotations

import json
import re
import secrets
from typing import Any

from dagy.auth.secrets import token_hash
from dagy.errors import InvalidInputError
from dagy.sensors import _config

PREFIX = "wh_"
HINT_CHARS = 4  # of the random part shown by GET /sensors/{id}: "wh_AbCd***"
MAX_PAYLOAD = 1024 * 1024


def new_token() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return token_hash(token)


def hint(token: str) -> str:
    """The masked form GET shows: enough to tell two tokens apart, never enough to use one."""
    return token[: len(PREFIX) + HINT_CHARS] + "***"


KEYS = frozenset({"mapping", "secret"})
_PATH = re.compile(r"^[^.\s]+(\.[^.\s]+)*$")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
MAX_MAPPING = 100


def check_config(config: dict[str, Any]) -> dict[str, Any]:
    _config.known_keys(config, KEYS)
    _config.payload_param(config)
    mapping = config.get("mapping")
    if mapping is not None:
        if not isinstance(mapping, dict) or not mapping or len(mapping) > MAX_MAPPING:
            raise _config.invalid(
                "mapping", f"must map 1-{MAX_MAPPING} parameter names to paths (data.file)"
            )
        for name, path in mapping.items():
            if not _IDENT.match(name):
                raise _config.invalid(f"mapping.{name}", "must be a parameter name")
            if not isinstance(path, str) or len(path) > 512 or not _PATH.match(path):
                raise _config.invalid(f"mapping.{name}", "must be a dotted path (data.file)")
    return config


def value_at(event: Any, path: str) -> tuple[bool, Any]:
    """(found, value) at the dotted ``path`` of ``event``; list items by index (items.0.id)."""
    value = event
    for part in path.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return False, None
    return True, value


def is_envelope(event: dict[str, Any]) -> bool:
    """The spec's webhook body: ``{"event": ..., "data": {...}}`` and nothing else."""
    return isinstance(event.get("data"), dict) and set(event) <= {"event", "data"}


def parse_payload(raw: bytes) -> dict[str, Any]:
    """The request body as a JSON object; anything else is the spec's 400 (invalid payload)."""
    if len(raw) > MAX_PAYLOAD:  # it becomes the run's stored parameters
        raise InvalidInputError(
            f"Invalid payload: at most {MAX_PAYLOAD} bytes",
            {"body": f"at most {MAX_PAYLOAD} bytes"},
        )
    try:
        value = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise InvalidInputError(
            "Invalid payload: the body must be JSON", {"body": "a JSON object"}
        ) from None
    if not isinstance(value, dict):
        raise InvalidInputError(
            "Invalid payload: the body must be a JSON object", {"body": "a JSON object"}
        )
    return value

"""Webhook sensors: an unguessable token per sensor, kept only hashed; the POSTed JSON object is
the event. ``POST /webhooks/{token}`` is public: the token is the credential."""

from __future__ import annotations

import json
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


def check_config(config: dict[str, Any]) -> dict[str, Any]:
    _config.known_keys(config, frozenset())
    _config.payload_param(config)
    return config


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

"""Webhook sensors: an unguessable token per sensor, kept only hashed; the POSTed JSON object is
the event. ``POST /webhooks/{token}`` is public: the token is the credential."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import time
from typing import Any

from dagy.auth.secrets import token_hash
from dagy.errors import AuthenticationError, InvalidInputError
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
MIN_SECRET, MAX_SECRET = 16, 256
TOLERANCE_SECONDS = 300  # a signed delivery's timestamp may be this far from the server's clock
SIGNATURE_HEADER = "x-dagy-signature"
TIMESTAMP_HEADER = "x-dagy-timestamp"
DELIVERY_HEADER = "x-dagy-delivery"
MAX_DELIVERY_ID = 200


def masked_config(config: dict[str, Any]) -> dict[str, Any]:
    """``config_json`` as GET shows it: a secret is never shown again, only that there is one."""
    return {**config, "secret": "***"} if "secret" in config else config


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>``: HMAC-SHA256 with ``secret`` over ``<timestamp>.<body>``."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(secret: str, headers: Any, body: bytes, now: float | None = None) -> None:
    """AuthenticationError (401) unless ``headers`` carry a fresh, right signature of ``body``."""
    signature = headers.get(SIGNATURE_HEADER) or ""
    timestamp = headers.get(TIMESTAMP_HEADER) or ""
    if not signature or not timestamp:
        raise AuthenticationError(
            "This webhook needs a signature: X-Dagy-Signature and X-Dagy-Timestamp"
        )
    try:
        sent = int(timestamp)
    except ValueError:
        raise AuthenticationError("Invalid X-Dagy-Timestamp: unix seconds expected") from None
    if abs((time.time() if now is None else now) - sent) > TOLERANCE_SECONDS:
        raise AuthenticationError(
            f"Stale or future X-Dagy-Timestamp: more than {TOLERANCE_SECONDS}s from now"
        )
    expected = sign(secret, timestamp, body)
    given = signature if signature.startswith("sha256=") else "sha256=" + signature
    if not hmac.compare_digest(expected.encode(), given.strip().lower().encode()):
        raise AuthenticationError("Invalid X-Dagy-Signature")


def delivery_id(headers: Any) -> str | None:
    value = (headers.get(DELIVERY_HEADER) or "").strip()
    if not value:
        return None
    if len(value) > MAX_DELIVERY_ID or not value.isprintable():
        raise InvalidInputError(
            "Invalid X-Dagy-Delivery", {"X-Dagy-Delivery": f"at most {MAX_DELIVERY_ID} characters"}
        )
    return value


def check_config(config: dict[str, Any]) -> dict[str, Any]:
    _config.known_keys(config, KEYS)
    _config.payload_param(config)
    secret = config.get("secret")
    if secret is not None and (
        not isinstance(secret, str) or not MIN_SECRET <= len(secret) <= MAX_SECRET
    ):
        raise _config.invalid("secret", f"must be a string of {MIN_SECRET}-{MAX_SECRET} characters")
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

"""The stored login: the token in the OS keyring when there is a usable one, else in the file.

``~/.dagy/credentials`` (JSON, always 0600) is written either way: it records who is logged in,
against which API URL, and where the token lives (``storage``: ``keyring`` or ``file``). Only with
``storage: file`` does it hold the ``access_token`` itself. The keyring entry is service ``dagy``,
username the API URL. ``DAGY_KEYRING=0`` keeps Dagy away from the keyring altogether.

keyring is imported inside the functions that use it: `dagy --help` must start fast.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from types import ModuleType
from typing import Any, Literal

from dagy.config import settings
from dagy.config.files import write_private
from dagy.config.paths import DagyPaths

KEYRING_SERVICE = "dagy"

Storage = Literal["keyring", "file"]
_FIELDS = ("token_type", "expires_at", "api_url", "user_email", "org_id", "org_name", "role")


@dataclass(frozen=True)
class Credentials:
    """One login. ``access_token`` is None when it is in a keyring that cannot be read now."""

    access_token: str | None
    api_url: str | None
    token_type: str = "Bearer"
    expires_at: str | None = None
    user_email: str | None = None
    org_id: str | None = None
    org_name: str | None = None
    role: str | None = None
    storage: Storage = "file"


def keyring_enabled(environ: Mapping[str, str] | None = None) -> bool:
    """False when ``DAGY_KEYRING`` is 0/false/no/off."""
    return settings.KEYRING.get(environ)


def save(
    paths: DagyPaths, credentials: Credentials, environ: Mapping[str, str] | None = None
) -> Credentials:
    """Store a login, replacing the previous one; returns it with the ``storage`` actually used."""
    if not credentials.access_token:
        raise ValueError("Credentials to save need an access_token")
    previous = _read_file(paths.credentials)
    storage: Storage = "file"
    if credentials.api_url and _keyring_set(credentials.api_url, credentials.access_token, environ):
        storage = "keyring"
    saved = replace(credentials, storage=storage)
    document: dict[str, Any] = {
        "access_token": saved.access_token if storage == "file" else None,
        **{key: getattr(saved, key) for key in _FIELDS},
        "storage": storage,
    }
    _write_private(paths, {key: value for key, value in document.items() if value is not None})
    old_entry = previous.get("api_url") if previous.get("storage") == "keyring" else None
    if isinstance(old_entry, str) and (storage == "file" or old_entry != saved.api_url):
        _keyring_delete(old_entry, environ)  # the previous login's token, now orphaned
    return saved


def load(paths: DagyPaths, environ: Mapping[str, str] | None = None) -> Credentials | None:
    """The stored login, or None. The token: the keyring's first, then the file's ``access_token``."""
    data = _read_file(paths.credentials)
    if not data:
        return None
    api_url = _text(data.get("api_url"))
    token = None
    if data.get("storage") == "keyring" and api_url:
        token = _keyring_get(api_url, environ)
    token = token or _text(data.get("access_token"))
    return Credentials(
        access_token=token,
        api_url=api_url,
        token_type=_text(data.get("token_type")) or "Bearer",
        expires_at=_text(data.get("expires_at")),
        user_email=_text(data.get("user_email")),
        org_id=_text(data.get("org_id")),
        org_name=_text(data.get("org_name")),
        role=_text(data.get("role")),
        storage="keyring" if data.get("storage") == "keyring" else "file",
    )


def delete(paths: DagyPaths, environ: Mapping[str, str] | None = None) -> str | None:
    """Forget the stored login (keyring entry and file); a keyring failure is returned as text."""
    data = _read_file(paths.credentials)
    problem = None
    api_url = _text(data.get("api_url"))
    if data.get("storage") == "keyring" and api_url:
        problem = _keyring_delete(api_url, environ)
    with contextlib.suppress(FileNotFoundError):
        paths.credentials.unlink()
    return problem


def stored_token(paths: DagyPaths, environ: Mapping[str, str] | None = None) -> str | None:
    """The stored access token (keyring first, then the file), or None."""
    credentials = load(paths, environ)
    return credentials.access_token if credentials is not None else None


# --- the file -----------------------------------------------------------------------------------


def _read_file(path: Path) -> dict[str, Any]:
    """The credentials file's JSON object; {} when it is missing or not a JSON object."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_private(paths: DagyPaths, document: dict[str, Any]) -> None:
    """Write the file atomically with mode 0600 (a 0600 temp file in the same folder, then replace)."""
    paths.ensure_home()
    target = paths.credentials
    write_private(target, json.dumps(document, indent=2) + "\n")


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


# --- the keyring --------------------------------------------------------------------------------
# A keyring backend can fail in many ways of its own (D-Bus, Secret Service, a locked macOS
# keychain), not only with keyring.errors.KeyringError; any failure means "no usable keyring" and
# the login falls back to the file, so these helpers catch Exception on purpose.


def _keyring(environ: Mapping[str, str] | None) -> ModuleType | None:
    """The keyring module when it is enabled and has a real backend (not the fail/null ones)."""
    if not keyring_enabled(environ):
        return None
    try:
        import keyring
        from keyring.backends import fail, null

        backend = keyring.get_keyring()
    except Exception:
        return None
    if isinstance(backend, (fail.Keyring, null.Keyring)):
        return None
    return keyring


def _keyring_set(api_url: str, token: str, environ: Mapping[str, str] | None) -> bool:
    """Store the token; True only when the keyring then gives it back."""
    keyring = _keyring(environ)
    if keyring is None:
        return False
    try:
        keyring.set_password(KEYRING_SERVICE, api_url, token)
        return bool(keyring.get_password(KEYRING_SERVICE, api_url) == token)
    except Exception:
        return False


def _keyring_get(api_url: str, environ: Mapping[str, str] | None) -> str | None:
    keyring = _keyring(environ)
    if keyring is None:
        return None
    try:
        return _text(keyring.get_password(KEYRING_SERVICE, api_url))
    except Exception:
        return None


def _keyring_delete(api_url: str, environ: Mapping[str, str] | None) -> str | None:
    """Remove the keyring entry; None when done (or there was none), else what went wrong."""
    keyring = _keyring(environ)
    if keyring is None:
        if not keyring_enabled(environ):
            return "the keyring is disabled (DAGY_KEYRING=0)"
        return "no usable keyring backend"
    try:
        if keyring.get_password(KEYRING_SERVICE, api_url) is not None:
            keyring.delete_password(KEYRING_SERVICE, api_url)
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


__all__ = [
    "KEYRING_SERVICE",
    "Credentials",
    "delete",
    "keyring_enabled",
    "load",
    "save",
    "stored_token",
]

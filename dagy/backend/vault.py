"""Secrets through the backend (and, re-exported from environments.py, environments).

Values go in (``set``) and, for ``dagy.secret()``, out (``resolve``, audited as a read); listings
and ``get`` carry metadata only. Rotating the master key happens where the key lives: in the
store's home, directly or through its live server; a remote API cannot be asked to.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote

from dagy.backend._api_errors import as_service_errors
from dagy.backend.context import HttpContext, LocalContext
from dagy.backend.environments import (
    Environment,
    EnvironmentDetail,
    EnvironmentsBackend,
    HttpEnvironments,
    LocalEnvironments,
    RunEnvironment,
)
from dagy.backend.records import iso, parse_time, seconds
from dagy.errors import APIError, InvalidInputError, NotFoundError

if TYPE_CHECKING:
    from dagy.config.paths import DagyPaths
    from dagy.store.secrets import SecretRow

__all__ = [
    "Environment",
    "EnvironmentDetail",
    "EnvironmentsBackend",
    "HttpEnvironments",
    "HttpSecrets",
    "KeyRotation",
    "LocalEnvironments",
    "LocalSecrets",
    "RunEnvironment",
    "Secret",
    "SecretsBackend",
    "secret_value",
]

REMOTE_ROTATION = (
    "The master key lives with the server: run `dagy secrets rotate-master-key` on the "
    "server's machine (its home), not against a remote API"
)


@dataclass(frozen=True)
class Secret:
    """A secret's metadata; never its value."""

    secret_id: str
    secret_name: str
    environment: str | None  # None: seen by every environment
    created_at: _dt.datetime | None
    updated_at: _dt.datetime | None

    def to_json(self) -> dict[str, Any]:
        return {
            "secret_id": self.secret_id,
            "secret_name": self.secret_name,
            "environment": self.environment,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
        }


@dataclass(frozen=True)
class KeyRotation:
    key_id: str
    previous_key_ids: list[str]
    key_source: str  # env, keyring or file
    rotated: int  # secrets re-sealed


class SecretsBackend(Protocol):
    def list(self, environment: str | None = None) -> list[Secret]:
        """Every secret (or those of ``environment``; ``""`` for those of none), oldest first."""

    def get(self, name: str, environment: str | None = None) -> Secret:
        """NotFoundError for an unknown name; without ``environment`` the name must be unique."""

    def set(self, name: str, value: str, environment: str | None = None) -> tuple[Secret, bool]:
        """Create the secret of exactly ``environment`` (None: of none) or update its value;
        returns it and whether it was created."""

    def delete(self, name: str, environment: str | None = None) -> Secret: ...

    def rotate_master_key(self, new_key: str | None = None) -> KeyRotation:
        """Re-seal every secret under a new key (``new_key``: base64 of 32 bytes)."""

    def resolve(self, name: str, environment: str | None = None) -> str:
        """``dagy.secret(name)``: the value of ``environment``'s own secret, else of none's."""


def _from_row(row: SecretRow) -> Secret:
    return Secret(
        row.secret_id,
        row.secret_name,
        row.environment or None,
        seconds(row.created_at),
        seconds(row.updated_at),
    )


def _from_body(body: dict[str, Any]) -> Secret:
    return Secret(
        str(body["secret_id"]),
        str(body["secret_name"]),
        body.get("environment") or None,
        seconds(parse_time(body.get("created_at"))),
        seconds(parse_time(body.get("updated_at"))),
    )


class LocalSecrets:
    def __init__(self, ctx: LocalContext) -> None:
        self.ctx = ctx

    def list(self, environment: str | None = None) -> list[Secret]:
        from dagy.services.vault import secrets

        store, found = self.ctx.store(), []
        after: tuple[str, str] | None = None
        with store.connection():
            while True:
                rows = secrets.page(
                    store, self.ctx.org_id, environment=environment, after=after, limit=500
                )
                found += [_from_row(r) for r in rows]
                if len(rows) < 500:
                    return found
                after = (rows[-1].created_at.isoformat(), rows[-1].secret_id)

    def get(self, name: str, environment: str | None = None) -> Secret:
        from dagy.services.vault import secrets

        return _from_row(secrets.find(self.ctx.store(), self.ctx.org_id, name, environment))

    def set(self, name: str, value: str, environment: str | None = None) -> tuple[Secret, bool]:
        from dagy.services.vault import secrets

        row, created = secrets.put(self.ctx.store(), self.ctx.actor(), name, value, environment)
        return _from_row(row), created

    def delete(self, name: str, environment: str | None = None) -> Secret:
        from dagy.services.vault import secrets

        return _from_row(secrets.delete(self.ctx.store(), self.ctx.actor(), name, environment))

    def rotate_master_key(self, new_key: str | None = None) -> KeyRotation:
        from dagy.auth import crypto
        from dagy.services.vault import rotation

        try:
            raw = crypto.decode_key(new_key, "the new key") if new_key else None
        except crypto.MasterKeyError as exc:
            raise InvalidInputError(str(exc), {"new_key": "base64 of 32 bytes"}) from None
        done = rotation.rotate_master_key(self.ctx.store(), self.ctx.actor(), raw)
        return KeyRotation(done.key_id, done.previous_key_ids, done.source, done.rotated)

    def resolve(self, name: str, environment: str | None = None) -> str:
        from dagy.services.vault import secrets

        return secrets.resolve(self.ctx.store(), self.ctx.actor(), name, environment)[1]


class HttpSecrets:
    def __init__(self, ctx: HttpContext) -> None:
        self.ctx = ctx

    @staticmethod
    def _path(name: str, tail: str = "") -> str:
        return f"/secrets/{quote(name, safe='')}{tail}"

    def list(self, environment: str | None = None) -> list[Secret]:
        with as_service_errors():
            items = self.ctx.client.paginate("/secrets", environment=environment)
            return [_from_body(item) for item in items]

    def get(self, name: str, environment: str | None = None) -> Secret:
        with as_service_errors():
            return _from_body(self.ctx.client.get(self._path(name), environment=environment))

    def set(self, name: str, value: str, environment: str | None = None) -> tuple[Secret, bool]:
        client, scope = self.ctx.client, environment or ""
        with as_service_errors():
            try:
                client.request(
                    "PUT",
                    self._path(name),
                    json_body={"value": value},
                    params={"environment": scope},
                )
                created = False
            except APIError as exc:
                if exc.status_code != 404:
                    raise
                body = {"secret_name": name, "value": value, "environment": environment}
                client.post("/secrets", body)
                created = True
            return self.get(name, scope), created

    def delete(self, name: str, environment: str | None = None) -> Secret:
        found = self.get(name, environment)
        with as_service_errors():
            self.ctx.client.request(
                "DELETE", self._path(name), params={"environment": found.environment or ""}
            )
        return found

    def rotate_master_key(self, new_key: str | None = None) -> KeyRotation:
        if self.ctx.live is None:
            raise InvalidInputError(REMOTE_ROTATION)
        from dagy.client.http import DagyClient

        live = self.ctx.live  # re-encrypting every secret may take longer than a request
        with as_service_errors():
            body = DagyClient(live.api_url, live.token, timeout=300).post(
                "/_local/secrets/rotate-master-key", {"new_key": new_key}
            )
        return KeyRotation(
            body["key_id"], list(body["previous_key_ids"]), body["key_source"], body["rotated"]
        )

    def resolve(self, name: str, environment: str | None = None) -> str:
        for scope in [environment, ""] if environment else [""]:
            try:
                with as_service_errors():
                    body = self.ctx.client.get(self._path(name, "/value"), environment=scope)
            except NotFoundError:
                continue
            return str(body["value"])
        where = f"environment {environment} or in none" if environment else "no environment"
        raise NotFoundError(f"Secret not found: {name} (in {where})")  # as the service says


def secret_value(paths: DagyPaths, name: str, environment: str | None) -> str:
    """``dagy.secret(name)`` outside a server run (the SDK's ``secret_value`` hook): resolved where
    the backend looks (a remote API, this home's live server, or the store file)."""
    from dagy.backend.choose import open_backend

    return open_backend(paths).secrets.resolve(name, environment)

"""Secrets: named values stored sealed with the master key (sealing.py).

Rules that live here, for the server and the CLI alike:
- a value is stored only sealed, bound to its org, environment and name; no value reaches a
  listing, an error message, an audit row or a log (a value read is audited as ``read``);
- names are 1-128 letters, digits, '.', '_' or '-', once per environment (409); a secret without
  an environment is seen by every environment, and an environment's own secret of the same name
  wins (``values_for``);
- a secret of a protected environment is changed only by an owner or admin (as the environment);
- every change (and every value read) writes its audit row, as the ``Actor``, in the change's
  transaction.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from dagy.auth import secrets as ids
from dagy.config.files import write_private
from dagy.errors import ConflictError, InvalidInputError, NotFoundError
from dagy.services.accounts import audit
from dagy.services.accounts.audit import Actor
from dagy.services.vault import environments, sealing
from dagy.services.vault.rotation import Rotation, rotate_master_key
from dagy.services.vault.sealing import SecretsUnavailableError, open_channel, seal_channel
from dagy.store import environments as env_sql
from dagy.store import secrets as sql
from dagy.store.duckdb_store import DuckDBStore
from dagy.store.records import utcnow
from dagy.store.secrets import GLOBAL, SecretRow

__all__ = [
    "GLOBAL",
    "Rotation",
    "SecretsUnavailableError",
    "open_channel",
    "rotate_master_key",
    "seal_channel",
]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
MAX_VALUE_BYTES = 64 * 1024


# -- validation -------------------------------------------------------------------------------------


def check_name(name: Any, *, field: str = "secret_name") -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidInputError(
            "Invalid secret name",
            {field: "1-128 letters, digits, '.', '_' or '-', starting with a letter or digit"},
        )
    return name


def check_value(value: Any) -> bytes:
    """The value's bytes. The message never quotes the value."""
    if not isinstance(value, str) or not value:
        raise InvalidInputError("Invalid secret value", {"value": "a non-empty string"})
    try:
        data = value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate ("\ud800" in the JSON)
        raise InvalidInputError("Invalid secret value", {"value": "valid Unicode text"}) from None
    if len(data) > MAX_VALUE_BYTES:
        raise InvalidInputError(
            "Invalid secret value", {"value": f"at most {MAX_VALUE_BYTES} bytes"}
        )
    return data


def check_environment(environment: Any) -> str:
    """The stored form: ``""`` for none (every environment), else a valid environment name."""
    if environment is None or environment == "":
        return GLOBAL
    return environments.check_name(environment, field="environment")


def environment_of(row: SecretRow) -> str | None:
    return row.environment or None


def _may_change(store: DuckDBStore, actor: Actor, environment: str) -> None:
    if environment:
        env = env_sql.get(store, actor.org_id, environment)
        if env is not None:
            environments.may_change(env, actor.role)


# -- metadata ---------------------------------------------------------------------------------------


def page(
    store: DuckDBStore,
    org_id: str,
    *,
    environment: str | None,
    after: tuple[str, str] | None,
    limit: int,
) -> list[SecretRow]:
    """A page of secrets (all, or of one environment; ``""`` for those of none), oldest first."""
    env = None if environment is None else check_environment(environment)
    return sql.page(store, org_id, environment=env, after=after, limit=limit)


def find(store: DuckDBStore, org_id: str, name: str, environment: str | None) -> SecretRow:
    """The secret ``name`` of ``environment`` (``""``: of none). Without one, the name must be
    unambiguous: a name in several environments is a 400 asking which."""
    if environment is not None:
        row = sql.get(store, org_id, check_environment(environment), name)
        if row is None:
            raise NotFoundError(f"Secret not found: {name}")
        return row
    rows = sql.named(store, org_id, name)
    if not rows:
        raise NotFoundError(f"Secret not found: {name}")
    if len(rows) > 1:
        where = ", ".join(r.environment or "(none)" for r in rows)
        raise InvalidInputError(
            f"Secret {name} exists in several environments: {where}",
            {"environment": "required: pass ?environment=<name> (empty for none)"},
        )
    return rows[0]


# -- values -----------------------------------------------------------------------------------------


def create(
    store: DuckDBStore,
    actor: Actor,
    *,
    secret_name: Any,
    value: Any,
    environment: Any = None,
) -> SecretRow:
    name = check_name(secret_name)
    data = check_value(value)
    env = check_environment(environment)
    org_id, now = actor.org_id, utcnow()
    with store.transaction():
        _may_change(store, actor, env)
        if sql.get(store, org_id, env, name) is not None:
            raise ConflictError(
                f"Secret already exists: {name}", {"secret_name": name, "environment": env or None}
            )
        chain = sealing.keys(store, create=True)
        assert chain.current is not None
        row = SecretRow(
            ids.new_id("secret"),
            org_id,
            name,
            env,
            chain.current.key_id,
            sealing.seal(chain, org_id, env, name, data),
            1,
            actor.email,
            now,
            now,
        )
        sql.insert(store, row)
        audit.write(
            store,
            actor,
            "create",
            "secret",
            row.secret_id,
            resource_name=name,
            changes={"environment": [None, environment_of(row)]},
        )
    return row


def reveal(
    store: DuckDBStore, actor: Actor, name: str, environment: str | None
) -> tuple[SecretRow, str]:
    """The secret and its value; the read is audited as ``actor``."""
    with store.transaction():
        row = find(store, actor.org_id, name, environment)
        data = sealing.unseal(sealing.keys(store), row)
        audit.write(store, actor, "read", "secret", row.secret_id, resource_name=row.secret_name)
    return row, data.decode("utf-8")


def update_value(
    store: DuckDBStore, actor: Actor, name: str, value: Any, environment: str | None
) -> tuple[SecretRow, int]:
    """Seal a new value (a fresh nonce, the current key); returns the row and its old version."""
    data = check_value(value)
    now = utcnow()
    with store.transaction():
        row = find(store, actor.org_id, name, environment)
        _may_change(store, actor, row.environment)
        chain = sealing.keys(store, create=True)
        assert chain.current is not None
        blob = sealing.seal(chain, row.org_id, row.environment, row.secret_name, data)
        sql.reseal(
            store,
            row.secret_id,
            chain.current.key_id,
            blob,
            version=row.version + 1,
            updated_at=now,
        )
        updated = sql.get(store, row.org_id, row.environment, row.secret_name)
        assert updated is not None
        audit.write(
            store,
            actor,
            "update",
            "secret",
            row.secret_id,
            resource_name=row.secret_name,
            changes={"version": [row.version, updated.version]},
        )
    return updated, row.version


def put(
    store: DuckDBStore, actor: Actor, name: Any, value: Any, environment: Any
) -> tuple[SecretRow, bool]:
    """Create the secret of exactly ``environment`` (None: of none), or update its value; returns
    the row and whether it was created (`dagy secrets set`)."""
    scope = check_environment(environment)
    with store.transaction():
        if sql.get(store, actor.org_id, scope, check_name(name)) is None:
            return create(store, actor, secret_name=name, value=value, environment=scope), True
        return update_value(store, actor, name, value, scope)[0], False


def delete(store: DuckDBStore, actor: Actor, name: str, environment: str | None) -> SecretRow:
    with store.transaction():
        row = find(store, actor.org_id, name, environment)
        _may_change(store, actor, row.environment)
        sql.delete(store, row.secret_id)
        audit.write(store, actor, "delete", "secret", row.secret_id, resource_name=row.secret_name)
    return row


def values_for(store: DuckDBStore, org_id: str, environment: str | None) -> dict[str, str]:
    """Every secret a run in ``environment`` sees: those of no environment, then its own."""
    scopes = [GLOBAL, environment] if environment else [GLOBAL]
    with store.connection():
        rows = sql.for_environments(store, org_id, scopes)
        if not rows:
            return {}
        chain = sealing.keys(store)
        rows.sort(key=lambda r: r.environment != GLOBAL)  # an environment's own secret wins
        return {r.secret_name: sealing.unseal(chain, r).decode("utf-8") for r in rows}


def materialize_for_run(
    store: DuckDBStore, org_id: str, environment: str | None, dest: Path
) -> Path:
    """Write the secrets a run sees to ``dest`` (JSON, mode 0600) for ``DAGY_SECRETS_FILE``.

    The caller deletes the file when the run ends; ``dest`` belongs in a private temporary folder,
    not under the Dagy home."""
    values = values_for(store, org_id, environment)
    dest.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    write_private(dest, json.dumps({"environment": environment, "secrets": values}))
    return dest


def lookup(
    store: DuckDBStore, org_id: str, name: str, environment: str | None
) -> tuple[SecretRow, str]:
    """``environment``'s own secret ``name``, else the one of none, and its value. Not audited:
    the caller writes the read's audit row (``resolve``, a channel's delivery)."""
    check_name(name, field="name")
    with store.connection():
        for scope in [environment, GLOBAL] if environment else [GLOBAL]:
            row = sql.get(store, org_id, check_environment(scope), name)
            if row is not None:
                return row, sealing.unseal(sealing.keys(store), row).decode("utf-8")
    raise NotFoundError(not_found_in(name, environment))


def resolve(
    store: DuckDBStore, actor: Actor, name: str, environment: str | None
) -> tuple[SecretRow, str]:
    """What ``dagy.secret(name)`` finds (``lookup``), the read audited as ``actor``."""
    with store.transaction():
        row, value = lookup(store, actor.org_id, name, environment)
        audit.write(store, actor, "read", "secret", row.secret_id, resource_name=row.secret_name)
    return row, value


def not_found_in(name: str, environment: str | None) -> str:
    where = f"environment {environment} or in none" if environment else "no environment"
    return f"Secret not found: {name} (in {where})"

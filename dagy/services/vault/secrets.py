"""Secrets: named values stored sealed with the master key (dagy/auth/crypto.py).

Rules that live here, for the server and the CLI alike:
- a value is stored only sealed, bound to its org, environment and name; no value reaches a
  listing, an error message, an audit row or a log (callers audit a value read as ``read``);
- names are 1-128 letters, digits, '.', '_' or '-', once per environment (409); a secret without
  an environment is seen by every environment, and an environment's own secret of the same name
  wins (``values_for``);
- a secret of a protected environment is changed only by an owner or admin (as the environment);
- the first secret creates the master key; a master key found missing while sealed secrets
  exist is an error, never a reason to make a new one (that would orphan them).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dagy.auth import crypto
from dagy.auth import secrets as ids
from dagy.config.files import write_private
from dagy.config.paths import DagyPaths
from dagy.errors import (
    APIError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    RequestError,
)
from dagy.services.vault import environments
from dagy.store import environments as env_sql
from dagy.store import notifications as channel_sql
from dagy.store import secrets as sql
from dagy.store.duckdb_store import DuckDBStore
from dagy.store.records import utcnow
from dagy.store.secrets import GLOBAL, SecretRow

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
MAX_VALUE_BYTES = 64 * 1024


class SecretsUnavailableError(RequestError):
    """The master key is unusable, or a stored ciphertext does not open with it."""

    status, error = 503, "secrets_unavailable"


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


def _associated(org_id: str, environment: str, name: str) -> bytes:
    return json.dumps(["dagy.secret.v1", org_id, environment, name]).encode()


# -- the master key ---------------------------------------------------------------------------------


def _keys(store: DuckDBStore, *, create: bool = False) -> crypto.KeyChain:
    try:
        chain = crypto.load(store.paths)
        if chain.current is None and create:
            sealed = sorted({*sql.key_ids(store), *channel_sql.sealed_key_ids(store)})
            if sealed:
                raise SecretsUnavailableError(
                    f"No master key found (DAGY_MASTER_KEY, the keyring, "
                    f"{crypto.key_file(store.paths)}), but secrets are sealed with "
                    f"{', '.join(sealed)}: restore that key"
                )
            chain = crypto.create(store.paths)
    except crypto.MasterKeyError as exc:
        raise SecretsUnavailableError(str(exc)) from None
    return chain


def _seal(chain: crypto.KeyChain, org_id: str, environment: str, name: str, data: bytes) -> bytes:
    assert chain.current is not None
    return crypto.seal(chain.current, data, _associated(org_id, environment, name))


def _unseal(chain: crypto.KeyChain, row: SecretRow) -> bytes:
    try:
        return crypto.unseal(
            chain,
            row.key_id,
            row.ciphertext,
            _associated(row.org_id, row.environment, row.secret_name),
        )
    except crypto.SealError as exc:
        raise SecretsUnavailableError(f"Secret {row.secret_name} cannot be read: {exc}") from None


def _may_change(store: DuckDBStore, org_id: str, role: str | None, environment: str) -> None:
    if environment:
        env = env_sql.get(store, org_id, environment)
        if env is not None:
            environments.may_change(env, role)


# -- a notification channel's secret fields --------------------------------------------------------


def _channel_associated(org_id: str, channel_id: str) -> bytes:
    return json.dumps(["dagy.channel.v1", org_id, channel_id]).encode()


def seal_channel(
    store: DuckDBStore, org_id: str, channel_id: str, data: bytes
) -> tuple[str, bytes]:
    """(key_id, sealed) of a channel's secret fields, bound to its org and id."""
    chain = _keys(store, create=True)
    assert chain.current is not None
    return chain.current.key_id, crypto.seal(
        chain.current, data, _channel_associated(org_id, channel_id)
    )


def open_channel(store: DuckDBStore, row: channel_sql.ChannelRow) -> bytes:
    assert row.key_id is not None and row.sealed_config is not None
    return _open_channel(_keys(store), row)


def _open_channel(chain: crypto.KeyChain, row: channel_sql.ChannelRow) -> bytes:
    assert row.key_id is not None and row.sealed_config is not None
    try:
        return crypto.unseal(
            chain, row.key_id, row.sealed_config, _channel_associated(row.org_id, row.channel_id)
        )
    except crypto.SealError as exc:
        raise SecretsUnavailableError(f"Channel {row.channel_id} cannot be read: {exc}") from None


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
    org_id: str,
    role: str | None,
    actor_email: str | None,
    *,
    secret_name: Any,
    value: Any,
    environment: Any = None,
) -> SecretRow:
    name = check_name(secret_name)
    data = check_value(value)
    env = check_environment(environment)
    now = utcnow()
    with store.connection():
        _may_change(store, org_id, role, env)
        if sql.get(store, org_id, env, name) is not None:
            raise ConflictError(
                f"Secret already exists: {name}", {"secret_name": name, "environment": env or None}
            )
        chain = _keys(store, create=True)
        assert chain.current is not None
        row = SecretRow(
            ids.new_id("secret"),
            org_id,
            name,
            env,
            chain.current.key_id,
            _seal(chain, org_id, env, name, data),
            1,
            actor_email,
            now,
            now,
        )
        sql.insert(store, row)
    return row


def reveal(
    store: DuckDBStore, org_id: str, name: str, environment: str | None
) -> tuple[SecretRow, str]:
    """The secret and its value. Whoever calls this audits the read."""
    with store.connection():
        row = find(store, org_id, name, environment)
        data = _unseal(_keys(store), row)
    return row, data.decode("utf-8")


def update_value(
    store: DuckDBStore,
    org_id: str,
    role: str | None,
    name: str,
    value: Any,
    environment: str | None,
) -> tuple[SecretRow, int]:
    """Seal a new value (a fresh nonce, the current key); returns the row and its old version."""
    data = check_value(value)
    now = utcnow()
    with store.connection():
        row = find(store, org_id, name, environment)
        _may_change(store, org_id, role, row.environment)
        chain = _keys(store, create=True)
        assert chain.current is not None
        blob = _seal(chain, org_id, row.environment, row.secret_name, data)
        sql.reseal(
            store,
            row.secret_id,
            chain.current.key_id,
            blob,
            version=row.version + 1,
            updated_at=now,
        )
        updated = sql.get(store, org_id, row.environment, row.secret_name)
    assert updated is not None
    return updated, row.version


def delete(
    store: DuckDBStore, org_id: str, role: str | None, name: str, environment: str | None
) -> SecretRow:
    with store.connection():
        row = find(store, org_id, name, environment)
        _may_change(store, org_id, role, row.environment)
        sql.delete(store, row.secret_id)
    return row


def values_for(store: DuckDBStore, org_id: str, environment: str | None) -> dict[str, str]:
    """Every secret a run in ``environment`` sees: those of no environment, then its own."""
    scopes = [GLOBAL, environment] if environment else [GLOBAL]
    with store.connection():
        rows = sql.for_environments(store, org_id, scopes)
        if not rows:
            return {}
        chain = _keys(store)
        rows.sort(key=lambda r: r.environment != GLOBAL)  # an environment's own secret wins
        return {r.secret_name: _unseal(chain, r).decode("utf-8") for r in rows}


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


def resolve(
    store: DuckDBStore, org_id: str, name: str, environment: str | None
) -> tuple[SecretRow, str]:
    """What ``dagy.secret(name)`` finds in the store: ``environment``'s own, else of none."""
    for scope in [environment, GLOBAL] if environment else [GLOBAL]:
        try:
            return reveal(store, org_id, name, scope)
        except NotFoundError:
            continue
    where = f"environment {environment} or in none" if environment else "no environment"
    raise NotFoundError(f"Secret not found: {name} (in {where})")


def local_value(paths: DagyPaths, name: str, environment: str | None) -> str:
    """``dagy.secret(name)`` outside a server run: through the live server of this home (the read
    is audited there), else from the file (audited here, as the local user)."""
    from dagy.config import server_file

    check_name(name, field="name")
    live = server_file.read(paths)
    if live is None:
        from dagy.services.accounts import audit
        from dagy.services.accounts import users as accounts

        store = DuckDBStore(paths)
        with store.connection():
            row, value = resolve(store, accounts.PERSONAL_ORG, name, environment)
            audit.record(
                store,
                accounts.local_identity(),
                "read",
                "secret",
                row.secret_id,
                resource_name=name,
            )
        return value
    from urllib.parse import quote

    from dagy.client.http import DagyClient

    client = DagyClient(live.api_url, live.token)
    for scope in [environment, GLOBAL] if environment else [GLOBAL]:
        try:
            body = client.get(f"/secrets/{quote(name, safe='')}/value", environment=scope)
        except APIError as exc:
            if exc.status_code == 404:
                continue
            raise
        return str(body["value"])
    where = f"environment {environment} or in none" if environment else "no environment"
    raise NotFoundError(f"Secret not found: {name} (in {where})")


# -- rotation ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rotation:
    key_id: str
    previous_key_ids: list[str]
    source: str
    rotated: int


def rotate_master_key(
    store: DuckDBStore,
    new_key: bytes | None = None,
    environ: MutableMapping[str, str] | None = None,
) -> Rotation:
    """Re-seal every secret (of every org), and every channel's secret fields, under a new master
    key, stored where the old one was.

    The new key is stored first with the old ones after it, so a crash at any point leaves every
    ciphertext openable; the old keys are dropped once the re-sealing has committed. A key from
    ``DAGY_MASTER_KEY`` cannot be stored by Dagy: the new one must be given, and this process
    uses it from now on; the operator sets ``DAGY_MASTER_KEY`` to it before the next start."""
    env = os.environ if environ is None else environ
    paths = store.paths
    with store.connection() as con:
        chain = _keys(store, create=True)
        current = chain.current
        assert current is not None
        if current.source == "env" and new_key is None:
            raise InvalidInputError(
                "The master key comes from DAGY_MASTER_KEY: give the new key, then set "
                "DAGY_MASTER_KEY to it before the next start",
                {"new_key": "required while DAGY_MASTER_KEY is set"},
            )
        fresh = crypto.MasterKey(new_key or crypto.generate_key(), current.source)
        if chain.find(fresh.key_id) is not None:
            raise InvalidInputError(
                "The new master key is the current one", {"new_key": "must differ"}
            )
        opened = [(row, _unseal(chain, row)) for row in sql.everything(store)]
        channels = [(row, _open_channel(chain, row)) for row in channel_sql.sealed_channels(store)]
        old = [k.key for k in chain.keys]
        try:
            crypto.save(paths, [fresh.key, *old], current.source)
            con.execute("BEGIN")
            try:
                for row, data in opened:
                    blob = crypto.seal(
                        fresh, data, _associated(row.org_id, row.environment, row.secret_name)
                    )
                    sql.reseal(store, row.secret_id, fresh.key_id, blob)
                for channel, data in channels:
                    blob = crypto.seal(
                        fresh, data, _channel_associated(channel.org_id, channel.channel_id)
                    )
                    channel_sql.reseal_channel(store, channel.channel_id, fresh.key_id, blob)
            except BaseException:
                con.execute("ROLLBACK")
                crypto.save(paths, old, current.source)
                raise
            con.execute("COMMIT")
            crypto.save(paths, [fresh.key], current.source)
        except crypto.MasterKeyError as exc:
            raise SecretsUnavailableError(str(exc)) from None
        if current.source == "env":
            env[crypto.ENV_VAR] = crypto.encode_key(fresh.key)
    return Rotation(fresh.key_id, [k.key_id for k in chain.keys], current.source, len(opened))

"""The master key and what it seals: secret values, notification channels' secret fields and
webhook sensors' signing secrets.

A master key found missing while sealed data exists is an error, never a reason to make a new
one (that would orphan the sealed data); the first seal creates it.
"""

from __future__ import annotations

import json

from dagy.auth import crypto
from dagy.errors import RequestError
from dagy.store import notifications as channel_sql
from dagy.store import secrets as sql
from dagy.store import sensors as sensor_sql
from dagy.store.duckdb_store import DuckDBStore
from dagy.store.secrets import SecretRow


class SecretsUnavailableError(RequestError):
    """The master key is unusable, or a stored ciphertext does not open with it."""

    status, error = 503, "secrets_unavailable"


def keys(store: DuckDBStore, *, create: bool = False) -> crypto.KeyChain:
    """The key chain (current key first); ``create`` makes the first key when nothing is sealed."""
    try:
        chain = crypto.load(store.paths)
        if chain.current is None and create:
            sealed = sorted(
                {
                    *sql.key_ids(store),
                    *channel_sql.sealed_key_ids(store),
                    *sensor_sql.sealed_key_ids(store),
                }
            )
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


# -- secret values ----------------------------------------------------------------------------------


def secret_associated(org_id: str, environment: str, name: str) -> bytes:
    """What a secret's ciphertext is bound to: a value moved to another name does not open."""
    return json.dumps(["dagy.secret.v1", org_id, environment, name]).encode()


def seal(chain: crypto.KeyChain, org_id: str, environment: str, name: str, data: bytes) -> bytes:
    assert chain.current is not None
    return crypto.seal(chain.current, data, secret_associated(org_id, environment, name))


def unseal(chain: crypto.KeyChain, row: SecretRow) -> bytes:
    try:
        return crypto.unseal(
            chain,
            row.key_id,
            row.ciphertext,
            secret_associated(row.org_id, row.environment, row.secret_name),
        )
    except crypto.SealError as exc:
        raise SecretsUnavailableError(f"Secret {row.secret_name} cannot be read: {exc}") from None


# -- a notification channel's secret fields --------------------------------------------------------


def channel_associated(org_id: str, channel_id: str) -> bytes:
    return json.dumps(["dagy.channel.v1", org_id, channel_id]).encode()


def seal_channel(
    store: DuckDBStore, org_id: str, channel_id: str, data: bytes
) -> tuple[str, bytes]:
    """(key_id, sealed) of a channel's secret fields, bound to its org and id."""
    chain = keys(store, create=True)
    assert chain.current is not None
    return chain.current.key_id, crypto.seal(
        chain.current, data, channel_associated(org_id, channel_id)
    )


def open_channel(store: DuckDBStore, row: channel_sql.ChannelRow) -> bytes:
    assert row.key_id is not None and row.sealed_config is not None
    return unseal_channel(keys(store), row)


def unseal_channel(chain: crypto.KeyChain, row: channel_sql.ChannelRow) -> bytes:
    assert row.key_id is not None and row.sealed_config is not None
    try:
        return crypto.unseal(
            chain, row.key_id, row.sealed_config, channel_associated(row.org_id, row.channel_id)
        )
    except crypto.SealError as exc:
        raise SecretsUnavailableError(f"Channel {row.channel_id} cannot be read: {exc}") from None


# -- a webhook sensor's signing secret ---------------------------------------------------------------


def webhook_associated(org_id: str, sensor_id: str) -> bytes:
    """What a webhook secret's ciphertext is bound to: it opens for its own sensor only."""
    return json.dumps(["dagy.webhook-secret.v1", org_id, sensor_id]).encode()


def seal_webhook_secret(
    store: DuckDBStore, org_id: str, sensor_id: str, secret: str
) -> tuple[str, bytes]:
    """(key_id, sealed) of a webhook sensor's secret (the first seal creates the master key)."""
    chain = keys(store, create=True)
    assert chain.current is not None
    return chain.current.key_id, crypto.seal(
        chain.current, secret.encode(), webhook_associated(org_id, sensor_id)
    )


def unseal_webhook_secret(chain: crypto.KeyChain, row: sensor_sql.SensorRow) -> str:
    assert row.secret_key_id is not None and row.sealed_secret is not None
    try:
        data = crypto.unseal(
            chain,
            row.secret_key_id,
            row.sealed_secret,
            webhook_associated(row.org_id, row.sensor_id),
        )
    except crypto.SealError as exc:
        raise SecretsUnavailableError(
            f"The secret of sensor {row.sensor_id} cannot be read: {exc}"
        ) from None
    return data.decode()

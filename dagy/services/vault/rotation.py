"""Rotating the master key: every sealed value (secrets of every org, channels' secret fields,
webhook sensors' secrets) re-sealed under a new key, stored where the old one was."""

from __future__ import annotations

import os
from collections.abc import MutableMapping
from dataclasses import dataclass

from dagy.auth import crypto
from dagy.errors import InvalidInputError
from dagy.services.accounts import audit
from dagy.services.accounts.audit import Actor
from dagy.services.vault import sealing
from dagy.services.vault.sealing import SecretsUnavailableError
from dagy.store import notifications as channel_sql
from dagy.store import secrets as sql
from dagy.store import sensors as sensor_sql
from dagy.store.duckdb_store import DuckDBStore


@dataclass(frozen=True)
class Rotation:
    key_id: str
    previous_key_ids: list[str]
    source: str  # where the key is kept: env, keyring or file
    rotated: int  # how many secrets were re-sealed


def rotate_master_key(
    store: DuckDBStore,
    actor: Actor,
    new_key: bytes | None = None,
    environ: MutableMapping[str, str] | None = None,
) -> Rotation:
    """Re-seal everything under a new master key and audit it as ``actor``.

    The new key is stored first with the old ones after it, so a crash at any point leaves every
    ciphertext openable; the old keys are dropped once the re-sealing has committed. A key from
    ``DAGY_MASTER_KEY`` cannot be stored by Dagy: the new one must be given, and this process
    uses it from now on; the operator sets ``DAGY_MASTER_KEY`` to it before the next start."""
    env = os.environ if environ is None else environ
    paths = store.paths
    with store.connection():
        chain = sealing.keys(store, create=True)
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
        opened = [(row, sealing.unseal(chain, row)) for row in sql.everything(store)]
        channels = [
            (row, sealing.unseal_channel(chain, row)) for row in channel_sql.sealed_channels(store)
        ]
        webhooks = [
            (row, sealing.unseal_webhook_secret(chain, row))
            for row in sensor_sql.sealed_secrets(store)
        ]
        old = [k.key for k in chain.keys]
        try:
            crypto.save(paths, [fresh.key, *old], current.source)
            try:
                with store.transaction():
                    for row, data in opened:
                        associated = sealing.secret_associated(
                            row.org_id, row.environment, row.secret_name
                        )
                        blob = crypto.seal(fresh, data, associated)
                        sql.reseal(store, row.secret_id, fresh.key_id, blob)
                    for channel, data in channels:
                        associated = sealing.channel_associated(channel.org_id, channel.channel_id)
                        blob = crypto.seal(fresh, data, associated)
                        channel_sql.reseal_channel(store, channel.channel_id, fresh.key_id, blob)
                    for sensor, secret in webhooks:
                        associated = sealing.webhook_associated(sensor.org_id, sensor.sensor_id)
                        blob = crypto.seal(fresh, secret.encode(), associated)
                        sensor_sql.reseal_secret(store, sensor.sensor_id, fresh.key_id, blob)
                    audit.write(
                        store,
                        actor,
                        "update",
                        "master_key",
                        fresh.key_id,
                        changes={"key_id": [current.key_id, fresh.key_id], "secrets": len(opened)},
                    )
            except BaseException:
                crypto.save(paths, old, current.source)
                raise
            crypto.save(paths, [fresh.key], current.source)
        except crypto.MasterKeyError as exc:
            raise SecretsUnavailableError(str(exc)) from None
        if current.source == "env":
            env[crypto.ENV_VAR] = crypto.encode_key(fresh.key)
    return Rotation(fresh.key_id, [k.key_id for k in chain.keys], current.source, len(opened))

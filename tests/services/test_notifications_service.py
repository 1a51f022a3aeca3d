"""dagy.services.notifications.channels on a real store: channel secrets sealed, surviving a master key
rotation, and missing when the key is gone."""

from __future__ import annotations

import pytest

from dagy.auth import crypto
from dagy.config.paths import DagyPaths
from dagy.services.accounts.audit import local_actor
from dagy.services.notifications import channels as notifications
from dagy.services.vault import secrets
from dagy.store.duckdb_store import DuckDBStore

ORG = "personal"
KEY = "R0UT1NGKEY0123456789abcdefWXYZ"


@pytest.fixture
def store(paths: DagyPaths, monkeypatch: pytest.MonkeyPatch) -> DuckDBStore:
    monkeypatch.setenv("DAGY_KEYRING", "0")
    monkeypatch.delenv(crypto.ENV_VAR, raising=False)
    return DuckDBStore(paths)


def pagerduty(store: DuckDBStore) -> str:
    row = notifications.create_channel(
        store, ORG, "o@x", name="pd", channel_type="pagerduty", config_json={"routing_key": KEY}
    )
    return row.channel_id


def test_a_channels_secret_is_stored_sealed_and_opens_with_the_key(store, paths):
    channel_id = pagerduty(store)
    row = notifications.get_channel(store, ORG, channel_id)
    assert (
        KEY not in row.config_json and row.sealed_config and KEY.encode() not in row.sealed_config
    )
    assert notifications.open_channel(store, row).config["routing_key"] == KEY
    assert notifications.shown_config(store, row)["routing_key"] == "****WXYZ"


def test_a_master_key_rotation_reseals_channels_too(store):
    channel_id = pagerduty(store)
    before = notifications.get_channel(store, ORG, channel_id)
    done = secrets.rotate_master_key(store, local_actor())
    after = notifications.get_channel(store, ORG, channel_id)
    assert after.key_id == done.key_id != before.key_id
    assert notifications.open_channel(store, after).secret == {"routing_key": KEY}


def test_a_lost_master_key_is_never_replaced_while_channels_are_sealed(store, paths):
    pagerduty(store)
    (paths.home / crypto.KEY_FILE).unlink()
    with pytest.raises(secrets.SecretsUnavailableError, match="restore that key"):
        pagerduty(store)

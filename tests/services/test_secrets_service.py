"""dagy.services.vault.secrets on a real store: sealing, what a run sees, materializing, rotation."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest

from dagy.auth import crypto
from dagy.auth.identity import Identity
from dagy.config.paths import DagyPaths
from dagy.errors import ConflictError, InvalidInputError, NotFoundError
from dagy.services.accounts.audit import Actor
from dagy.services.vault import environments, secrets
from dagy.store.duckdb_store import DuckDBStore

ORG = "personal"


def as_role(role: str | None, org: str = ORG) -> Actor:
    """Someone of ``role`` in ``org``, as a route's ``actor_of(request)`` would give."""
    return Actor(Identity("someone@example.com", org, role or "", frozenset(), "token"))


OWNER = as_role("owner")


@pytest.fixture
def store(paths: DagyPaths, monkeypatch: pytest.MonkeyPatch) -> DuckDBStore:
    monkeypatch.setenv("DAGY_KEYRING", "0")
    monkeypatch.delenv(crypto.ENV_VAR, raising=False)
    return DuckDBStore(paths)


def add(store: DuckDBStore, name: str, value: str, environment: str | None = None) -> None:
    secrets.create(
        store,
        OWNER,
        secret_name=name,
        value=value,
        environment=environment,
    )


def test_a_value_is_stored_sealed_and_read_back(store: DuckDBStore, paths: DagyPaths):
    add(store, "api-key", "sk_live_plaintext_1234")
    row, value = secrets.reveal(store, OWNER, "api-key", None)
    assert value == "sk_live_plaintext_1234"
    assert row.key_id == crypto.load(paths).current.key_id  # type: ignore[union-attr]
    with store.connection() as con:
        stored = con.execute("SELECT ciphertext FROM secrets").fetchone()[0]
    assert b"sk_live_plaintext_1234" not in bytes(stored)
    for path in paths.db.parent.glob(paths.db.name + "*"):  # the file and its write-ahead log
        assert b"sk_live_plaintext_1234" not in path.read_bytes(), path.name


def test_the_same_name_once_per_environment(store: DuckDBStore):
    add(store, "db", "global-value")
    add(store, "db", "prod-value", "production")
    with pytest.raises(ConflictError):
        add(store, "db", "again", "production")
    with pytest.raises(InvalidInputError) as caught:  # ambiguous without an environment
        secrets.find(store, ORG, "db", None)
    assert "environment" in caught.value.details
    assert secrets.reveal(store, OWNER, "db", "")[1] == "global-value"
    assert secrets.reveal(store, OWNER, "db", "production")[1] == "prod-value"


def test_a_run_sees_global_secrets_overridden_by_its_environments(store: DuckDBStore):
    add(store, "db", "global-db")
    add(store, "token", "global-token")
    add(store, "db", "staging-db", "staging")
    add(store, "other", "prod-only", "production")
    assert secrets.values_for(store, ORG, "staging") == {
        "db": "staging-db",
        "token": "global-token",
    }
    assert secrets.values_for(store, ORG, None) == {"db": "global-db", "token": "global-token"}
    assert secrets.values_for(store, "another-org", "staging") == {}


def test_materialize_for_run_writes_a_0600_json_file(store: DuckDBStore, tmp_path: Path):
    add(store, "db", "staging-db", "staging")
    dest = secrets.materialize_for_run(store, ORG, "staging", tmp_path / "run" / "secrets.json")
    assert stat.S_IMODE(os.stat(dest).st_mode) == 0o600
    assert json.loads(dest.read_text()) == {
        "environment": "staging",
        "secrets": {"db": "staging-db"},
    }


def test_no_secrets_means_no_master_key_is_made(store: DuckDBStore, paths: DagyPaths, tmp_path):
    assert secrets.values_for(store, ORG, "staging") == {}
    secrets.materialize_for_run(store, ORG, None, tmp_path / "s.json")
    assert not (paths.home / "master.key").exists()


def test_a_lost_master_key_is_an_error_never_a_new_key(store: DuckDBStore, paths: DagyPaths):
    add(store, "api-key", "value-1234")
    (paths.home / "master.key").unlink()
    with pytest.raises(secrets.SecretsUnavailableError, match="restore that key"):
        add(store, "second", "value-5678")
    with pytest.raises(secrets.SecretsUnavailableError, match="not available"):
        secrets.reveal(store, OWNER, "api-key", None)
    assert not (paths.home / "master.key").exists()


def test_protected_environment_secrets_change_only_for_owners_and_admins(store: DuckDBStore):
    environments.create(store, OWNER, env_name="production", is_protected=True)
    for role in ("developer", None, ""):
        with pytest.raises(Exception) as caught:
            secrets.create(
                store,
                as_role(role),
                secret_name="x",
                value="v-1234",
                environment="production",
            )
        assert getattr(caught.value, "status", None) == 403
    add(store, "x", "v-1234", "production")  # owner
    with pytest.raises(Exception) as caught:
        secrets.delete(store, as_role("developer"), "x", "production")
    assert getattr(caught.value, "status", None) == 403
    secrets.delete(store, as_role("admin"), "x", "production")


def test_rotation_reseals_every_secret_and_drops_the_old_key(store: DuckDBStore, paths: DagyPaths):
    add(store, "a", "value-a-1234")
    add(store, "b", "value-b-5678", "staging")
    secrets.create(store, as_role("owner", "other-org"), secret_name="c", value="value-c-9012")
    old = crypto.load(paths).current
    assert old is not None
    with store.connection() as con:
        before = dict(con.execute("SELECT secret_id, ciphertext FROM secrets").fetchall())
    done = secrets.rotate_master_key(store, OWNER)
    assert done.rotated == 3 and done.previous_key_ids == [old.key_id] and done.source == "file"
    chain = crypto.load(paths)
    assert [k.key_id for k in chain.keys] == [done.key_id] != [old.key_id]
    with store.connection() as con:
        after = dict(con.execute("SELECT secret_id, ciphertext FROM secrets").fetchall())
        assert {r[0] for r in con.execute("SELECT key_id FROM secrets").fetchall()} == {done.key_id}
    assert all(bytes(after[k]) != bytes(before[k]) for k in before)
    assert secrets.reveal(store, OWNER, "a", None)[1] == "value-a-1234"
    assert secrets.reveal(store, OWNER, "b", "staging")[1] == "value-b-5678"
    assert secrets.reveal(store, as_role("owner", "other-org"), "c", None)[1] == "value-c-9012"


def test_rotation_that_cannot_open_a_secret_changes_nothing(store: DuckDBStore, paths: DagyPaths):
    add(store, "a", "value-a-1234")
    with store.connection() as con:  # a row sealed by a key nobody has
        con.execute("UPDATE secrets SET key_id = 'mk_0000000000000000'")
    key_text = (paths.home / "master.key").read_text()
    with pytest.raises(secrets.SecretsUnavailableError, match="mk_0000000000000000"):
        secrets.rotate_master_key(store, OWNER)
    assert (paths.home / "master.key").read_text() == key_text


def test_rotation_with_an_env_key_needs_the_new_one_and_uses_it_from_then_on(
    store: DuckDBStore, paths: DagyPaths
):
    first, second = os.urandom(32), os.urandom(32)
    environ = {crypto.ENV_VAR: base64.b64encode(first).decode()}
    os.environ[crypto.ENV_VAR] = environ[crypto.ENV_VAR]
    try:
        add(store, "a", "value-a-1234")
        assert not (paths.home / "master.key").exists()
        with pytest.raises(InvalidInputError, match="DAGY_MASTER_KEY"):
            secrets.rotate_master_key(store, OWNER, environ=environ)
        done = secrets.rotate_master_key(store, OWNER, second, environ=environ)
        assert done.source == "env" and done.key_id == crypto.key_id(second)
        assert environ[crypto.ENV_VAR] == base64.b64encode(second).decode()
        os.environ[crypto.ENV_VAR] = environ[crypto.ENV_VAR]
        assert secrets.reveal(store, OWNER, "a", None)[1] == "value-a-1234"
        assert not (paths.home / "master.key").exists()
    finally:
        del os.environ[crypto.ENV_VAR]


def test_resolve_prefers_the_environments_own_secret(store: DuckDBStore):
    add(store, "db", "global-db")
    add(store, "db", "staging-db", "staging")
    assert secrets.resolve(store, OWNER, "db", "staging")[1] == "staging-db"
    assert secrets.resolve(store, OWNER, "db", "production")[1] == "global-db"
    assert secrets.resolve(store, OWNER, "db", None)[1] == "global-db"
    with pytest.raises(NotFoundError, match="nope"):
        secrets.resolve(store, OWNER, "nope", "staging")


@pytest.mark.parametrize("value", ["", None, 5, "x" * (64 * 1024 + 1), "lone \ud800"])
def test_invalid_values_are_refused_without_quoting_them(store: DuckDBStore, value):
    with pytest.raises(InvalidInputError) as caught:
        add(store, "bad", value)  # type: ignore[arg-type]
    assert "value" in caught.value.details
    if isinstance(value, str) and value:
        assert value not in str(caught.value) and value not in json.dumps(caught.value.details)

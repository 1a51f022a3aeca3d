"""dagy.auth.crypto: where the master key comes from, and AES-GCM sealing bound to its row."""

from __future__ import annotations

import base64
import os
import stat
from collections.abc import Callable, Iterator

import keyring
import pytest
from keyring.backend import KeyringBackend
from keyring.backends import fail

from dagy.auth import crypto
from dagy.config.paths import DagyPaths
from tests.config.test_credentials import LockedKeyring, MemoryKeyring

AD = b'["dagy.secret.v1","personal","","api-key"]'


class ForgetfulKeyring(MemoryKeyring):
    """Accepts every write and gives nothing back (the round-trip check must catch it)."""

    def get_password(self, service: str, username: str) -> str | None:
        return None


@pytest.fixture(autouse=True)
def no_env_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(crypto.ENV_VAR, raising=False)


@pytest.fixture
def use_keyring(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[KeyringBackend], None]]:
    monkeypatch.delenv("DAGY_KEYRING", raising=False)
    yield keyring.set_keyring
    keyring.set_keyring(fail.Keyring())


@pytest.fixture
def no_keyring(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DAGY_KEYRING", "0")


def b64(key: bytes) -> str:
    return base64.b64encode(key).decode()


# -- the key's source -------------------------------------------------------------------------------


def test_no_key_anywhere_is_an_empty_chain(paths: DagyPaths, no_keyring: None):
    chain = crypto.load(paths)
    assert chain.current is None and chain.keys == ()


def test_first_key_goes_to_a_0600_file_without_keyring(paths: DagyPaths, no_keyring: None):
    created = crypto.create(paths)
    assert created.current is not None and created.current.source == "file"
    key_file = paths.home / "master.key"
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    assert key_file.read_text() == b64(created.current.key) + "\n"
    loaded = crypto.load(paths)
    assert loaded.current == created.current
    assert not [p for p in paths.home.iterdir() if p.name.endswith(".tmp")]


def test_first_key_goes_to_the_keyring_when_it_round_trips(paths: DagyPaths, use_keyring):
    backend = MemoryKeyring()
    use_keyring(backend)
    created = crypto.create(paths)
    assert created.current is not None and created.current.source == "keyring"
    assert list(backend.entries) == [("dagy", f"master-key:{paths.home}")]
    assert not (paths.home / "master.key").exists()
    assert crypto.load(paths).current == created.current


@pytest.mark.parametrize("backend", [LockedKeyring, ForgetfulKeyring])
def test_a_keyring_that_does_not_keep_the_key_means_the_file(
    paths: DagyPaths, use_keyring, backend
):
    use_keyring(backend())
    created = crypto.create(paths)
    assert created.current is not None and created.current.source == "file"
    assert (paths.home / "master.key").exists()


def test_dagy_keyring_0_keeps_away_from_a_working_keyring(
    paths: DagyPaths, use_keyring, monkeypatch
):
    backend = MemoryKeyring()
    use_keyring(backend)
    monkeypatch.setenv("DAGY_KEYRING", "0")
    assert crypto.create(paths).current.source == "file"  # type: ignore[union-attr]
    assert backend.entries == {}


def test_env_wins_over_keyring_and_keyring_over_file(paths: DagyPaths, use_keyring, monkeypatch):
    in_file, in_keyring, in_env = os.urandom(32), os.urandom(32), os.urandom(32)
    crypto.save(paths, [in_file], "file")
    backend = MemoryKeyring()
    use_keyring(backend)
    assert crypto.load(paths).current.key == in_file  # type: ignore[union-attr]
    crypto.save(paths, [in_keyring], "keyring")
    assert crypto.load(paths).current.source == "keyring"  # type: ignore[union-attr]
    assert crypto.load(paths).current.key == in_keyring  # type: ignore[union-attr]
    monkeypatch.setenv(crypto.ENV_VAR, b64(in_env))
    chain = crypto.load(paths)
    assert (chain.current.key, chain.current.source) == (in_env, "env")  # type: ignore[union-attr]
    assert len(chain.keys) == 1


@pytest.mark.parametrize(
    "value, says",
    [
        ("not base64 !!", "not valid base64"),
        (b64(b"short"), "got 5 bytes"),
        (b64(b"k" * 33), "got 33 bytes"),
    ],
)
def test_a_malformed_env_key_is_a_clear_error_that_does_not_quote_it(
    paths: DagyPaths, monkeypatch, value, says
):
    monkeypatch.setenv(crypto.ENV_VAR, value)
    with pytest.raises(crypto.MasterKeyError) as caught:
        crypto.load(paths)
    assert "DAGY_MASTER_KEY" in str(caught.value) and says in str(caught.value)
    assert value not in str(caught.value)


def test_a_damaged_key_file_names_the_file(paths: DagyPaths, no_keyring: None):
    paths.home.mkdir(parents=True)
    (paths.home / "master.key").write_text("garbage\n")
    with pytest.raises(crypto.MasterKeyError, match="master.key"):
        crypto.load(paths)


def test_a_file_lists_the_current_key_first_then_older_ones(paths: DagyPaths, no_keyring: None):
    new, old = os.urandom(32), os.urandom(32)
    crypto.save(paths, [new, old], "file")
    chain = crypto.load(paths)
    assert [k.key for k in chain.keys] == [new, old]
    assert chain.find(crypto.key_id(old)).key == old  # type: ignore[union-attr]


# -- sealing ----------------------------------------------------------------------------------------


def key(raw: bytes | None = None) -> crypto.MasterKey:
    return crypto.MasterKey(raw or os.urandom(32), "file")


def test_key_id_names_a_key_without_revealing_it():
    raw = os.urandom(32)
    assert crypto.key_id(raw) == crypto.key_id(raw)
    assert crypto.key_id(raw) != crypto.key_id(os.urandom(32))
    assert crypto.key_id(raw).startswith("mk_") and len(crypto.key_id(raw)) == 19
    assert raw.hex()[:16] not in crypto.key_id(raw)
    assert "key=" not in repr(key(raw))  # the dataclass does not print the key


def test_seal_round_trips_with_a_fresh_nonce_each_time():
    k = key()
    one, two = crypto.seal(k, b"sk_live_123", AD), crypto.seal(k, b"sk_live_123", AD)
    assert one != two and one[:12] != two[:12]
    assert b"sk_live_123" not in one
    chain = crypto.KeyChain((k,))
    assert crypto.unseal(chain, k.key_id, one, AD) == b"sk_live_123"
    assert crypto.unseal(chain, k.key_id, two, AD) == b"sk_live_123"


def test_a_ciphertext_moved_to_another_row_does_not_open():
    k = key()
    blob = crypto.seal(k, b"value", AD)
    moved = b'["dagy.secret.v1","personal","production","api-key"]'
    with pytest.raises(crypto.SealError, match="altered or moved"):
        crypto.unseal(crypto.KeyChain((k,)), k.key_id, blob, moved)


def test_a_tampered_ciphertext_does_not_open():
    k = key()
    blob = bytearray(crypto.seal(k, b"value", AD))
    blob[-1] ^= 1
    with pytest.raises(crypto.SealError):
        crypto.unseal(crypto.KeyChain((k,)), k.key_id, bytes(blob), AD)


def test_a_ciphertext_of_another_key_is_recognised_by_its_key_id():
    old, new = key(), key()
    blob = crypto.seal(old, b"value", AD)
    with pytest.raises(crypto.SealError) as caught:
        crypto.unseal(crypto.KeyChain((new,)), old.key_id, blob, AD)
    assert old.key_id in str(caught.value) and new.key_id in str(caught.value)
    both = crypto.KeyChain((new, old))
    assert crypto.unseal(both, old.key_id, blob, AD) == b"value"

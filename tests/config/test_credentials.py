"""dagy.config.credentials: the token in the keyring when one works, else in a 0600 file."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable, Iterator

import keyring
import pytest
from keyring.backend import KeyringBackend
from keyring.backends import fail, null
from keyring.errors import KeyringLocked, PasswordDeleteError

from dagy.client.http import DagyClient
from dagy.config import credentials
from dagy.config.credentials import Credentials
from dagy.config.paths import DagyPaths

API = "http://127.0.0.1:9/v1"
LOGIN = Credentials(
    access_token="tok-1",
    api_url=API,
    expires_at="2026-03-02T12:00:00Z",
    user_email="ada@example.com",
    org_id="org-1",
    org_name="Acme",
    role="admin",
)


class MemoryKeyring(KeyringBackend):
    """A keyring that keeps passwords in a dict (for set_keyring in this process only)."""

    priority = -100  # type: ignore[assignment]  # never chosen by keyring's own detection

    def __init__(self) -> None:
        super().__init__()
        self.entries: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.entries.pop((service, username), None) is None:
            raise PasswordDeleteError(username)


class LockedKeyring(MemoryKeyring):
    """A keyring whose every write fails, as a locked one does."""

    def set_password(self, service: str, username: str, password: str) -> None:
        raise KeyringLocked("locked")


@pytest.fixture
def use_keyring(
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Callable[[KeyringBackend], KeyringBackend]]:
    """Install a keyring backend for the test (and DAGY_KEYRING on); the fail backend afterwards."""
    monkeypatch.delenv("DAGY_KEYRING", raising=False)

    def install(backend: KeyringBackend) -> KeyringBackend:
        keyring.set_keyring(backend)
        return backend

    yield install
    keyring.set_keyring(fail.Keyring())


@pytest.fixture
def no_keyring(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DAGY_KEYRING", "0")


def _file(paths: DagyPaths) -> dict[str, object]:
    return json.loads(paths.credentials.read_text())


def _mode(paths: DagyPaths) -> int:
    return stat.S_IMODE(os.stat(paths.credentials).st_mode)


def test_without_keyring_the_token_goes_to_a_0600_file(paths: DagyPaths, no_keyring: None):
    saved = credentials.save(paths, LOGIN)
    assert saved.storage == "file"
    assert _mode(paths) == 0o600
    assert _file(paths) == {
        "access_token": "tok-1",
        "token_type": "Bearer",
        "expires_at": "2026-03-02T12:00:00Z",
        "api_url": API,
        "user_email": "ada@example.com",
        "org_id": "org-1",
        "org_name": "Acme",
        "role": "admin",
        "storage": "file",
    }
    assert credentials.load(paths) == saved
    assert credentials.stored_token(paths) == "tok-1"


def test_an_existing_readable_file_is_replaced_by_a_0600_one_and_no_temp_file_is_left(
    paths: DagyPaths, no_keyring: None
):
    paths.home.mkdir(parents=True)
    paths.credentials.write_text("{}")
    os.chmod(paths.credentials, 0o644)
    credentials.save(paths, LOGIN)
    assert _mode(paths) == 0o600
    assert sorted(p.name for p in paths.home.iterdir()) == ["credentials"]


@pytest.mark.parametrize(
    "backend", [fail.Keyring(), null.Keyring(), LockedKeyring()], ids=["fail", "null", "locked"]
)
def test_an_unusable_keyring_falls_back_to_the_file(paths: DagyPaths, use_keyring, backend):
    use_keyring(backend)
    assert credentials.save(paths, LOGIN).storage == "file"
    assert _file(paths)["access_token"] == "tok-1"
    assert _mode(paths) == 0o600


def test_a_working_keyring_holds_the_token_and_the_file_only_says_where(
    paths: DagyPaths, use_keyring
):
    ring = use_keyring(MemoryKeyring())
    saved = credentials.save(paths, LOGIN)
    assert saved.storage == "keyring"
    assert ring.entries == {("dagy", API): "tok-1"}
    document = _file(paths)
    assert "access_token" not in document
    assert document["storage"] == "keyring" and document["user_email"] == "ada@example.com"
    assert _mode(paths) == 0o600
    assert credentials.load(paths) == saved
    assert DagyClient(API, paths=paths).token == "tok-1"
    assert DagyClient(API, token="explicit", paths=paths).token == "explicit"


def test_the_keyring_token_comes_before_one_in_the_file(paths: DagyPaths, use_keyring):
    ring = use_keyring(MemoryKeyring())
    ring.set_password("dagy", API, "from-keyring")
    paths.home.mkdir(parents=True)
    paths.credentials.write_text(
        json.dumps({"access_token": "from-file", "api_url": API, "storage": "keyring"})
    )
    assert credentials.stored_token(paths) == "from-keyring"
    ring.entries.clear()
    assert credentials.stored_token(paths) == "from-file"


def test_dagy_keyring_0_ignores_a_keyring_token(
    paths: DagyPaths, use_keyring, monkeypatch: pytest.MonkeyPatch
):
    use_keyring(MemoryKeyring())
    credentials.save(paths, LOGIN)
    monkeypatch.setenv("DAGY_KEYRING", "0")
    stored = credentials.load(paths)
    assert stored is not None and stored.access_token is None and stored.storage == "keyring"
    assert credentials.delete(paths) == "the keyring is disabled (DAGY_KEYRING=0)"


def test_delete_removes_the_keyring_entry_and_the_file(paths: DagyPaths, use_keyring):
    ring = use_keyring(MemoryKeyring())
    credentials.save(paths, LOGIN)
    assert credentials.delete(paths) is None
    assert ring.entries == {} and not paths.credentials.exists()
    assert credentials.load(paths) is None
    assert credentials.delete(paths) is None  # nothing stored: nothing to do


def test_a_new_login_elsewhere_drops_the_previous_keyring_entry(paths: DagyPaths, use_keyring):
    ring = use_keyring(MemoryKeyring())
    credentials.save(paths, LOGIN)
    other = "https://api.example.com/v1"
    credentials.save(paths, Credentials(access_token="tok-2", api_url=other))
    assert ring.entries == {("dagy", other): "tok-2"}


def test_missing_or_corrupt_files_mean_no_login(paths: DagyPaths, no_keyring: None):
    assert credentials.load(paths) is None
    paths.home.mkdir(parents=True)
    for text in ("not json", "[1, 2]", '{"access_token": 5}'):
        paths.credentials.write_text(text)
        assert credentials.stored_token(paths) is None


def test_a_file_with_only_an_access_token_still_counts(paths: DagyPaths, no_keyring: None):
    paths.home.mkdir(parents=True)
    paths.credentials.write_text(json.dumps({"access_token": "old-style"}))
    stored = credentials.load(paths)
    assert stored == Credentials(access_token="old-style", api_url=None)

"""Which credential DagyClient sends: explicit, DAGY_TOKEN, DAGY_API_KEY, the stored login."""

from __future__ import annotations

import pytest

from dagy.client.http import DagyClient
from dagy.config import credentials
from dagy.config.paths import DagyPaths

API = "http://127.0.0.1:1/v1"


@pytest.fixture
def stored(paths: DagyPaths, monkeypatch: pytest.MonkeyPatch) -> DagyPaths:
    monkeypatch.setenv("DAGY_KEYRING", "0")
    credentials.save(paths, credentials.Credentials(access_token="stored-tok", api_url=API))
    return paths


def test_the_stored_login_when_the_environment_has_no_credential(stored: DagyPaths) -> None:
    client = DagyClient(API, paths=stored)
    assert client.token == "stored-tok"
    assert client.credential is not None
    assert client.credential.describe() == f"stored login ({stored.credentials})"


def test_dagy_api_key_comes_before_the_stored_login(stored, monkeypatch) -> None:
    monkeypatch.setenv("DAGY_API_KEY", "dagy_sk_ci")
    client = DagyClient(API, paths=stored)
    assert client.token == "dagy_sk_ci"
    assert client.credential is not None
    assert client.credential.describe() == "DAGY_API_KEY (environment)"
    assert "dagy_sk_ci" not in repr(client.credential)


def test_dagy_token_comes_before_dagy_api_key(stored, monkeypatch) -> None:
    monkeypatch.setenv("DAGY_API_KEY", "dagy_sk_ci")
    monkeypatch.setenv("DAGY_TOKEN", "env-tok")
    assert DagyClient(API, paths=stored).token == "env-tok"
    assert DagyClient("http://other.example/v1", paths=stored).token == "env-tok"  # any API


def test_an_explicit_token_wins_and_an_empty_one_sends_none(stored, monkeypatch) -> None:
    monkeypatch.setenv("DAGY_TOKEN", "env-tok")
    assert DagyClient(API, "live-server-token", paths=stored).token == "live-server-token"
    empty = DagyClient(API, "", paths=stored)
    assert (empty.token, empty.credential) == (None, None)


def test_an_explicit_environ_is_used_instead_of_the_process_one(stored, monkeypatch) -> None:
    monkeypatch.setenv("DAGY_TOKEN", "process-tok")
    assert DagyClient(API, paths=stored, environ={"DAGY_API_KEY": "k"}).token == "k"
    assert DagyClient(API, paths=stored, environ={}).token == "stored-tok"


def test_a_blank_variable_counts_as_unset(stored, monkeypatch) -> None:
    monkeypatch.setenv("DAGY_TOKEN", "  ")
    assert DagyClient(API, paths=stored).token == "stored-tok"

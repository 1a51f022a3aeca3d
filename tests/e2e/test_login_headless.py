"""Headless login against a real `dagy serve`: `dagy login --with-token`, DAGY_TOKEN/DAGY_API_KEY.

The CLI runs on its own DAGY_LOCAL_DIR (not the server's home), as on another machine or in CI.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from tests.conftest import ServerProcess

OWNER = "owner@example.com"


@pytest.fixture
def client_home(tmp_path: Path) -> Path:
    return tmp_path / "client-home"


@pytest.fixture
def env(server: ServerProcess, client_home: Path) -> dict[str, str]:
    """The remote CLI's environment: the server's API, its own home, no keyring."""
    return {
        "DAGY_LOCAL_DIR": str(client_home),
        "DAGY_API_URL": server.api_url,
        "DAGY_KEYRING": "0",
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }


def api_key(server: ServerProcess, *scopes: str) -> str:
    token = server.login(OWNER)
    status, _, body = server.request(
        "POST", "/api-keys", token=token, body={"name": "ci", "scopes": list(scopes)}
    )
    assert status == 201, body
    assert isinstance(body, dict) and str(body["key"]).startswith("dagy_sk_")
    return str(body["key"])


def test_login_with_token_checks_it_and_stores_it_like_a_browser_login(
    run_dagy, server, env, client_home
):
    token = server.login(OWNER)
    result = run_dagy("login", "--with-token", input=token + "\n", env=env)
    assert (result.returncode, result.stdout, result.stderr) == (0, "Login successful!\n", "")
    stored = json.loads((client_home / "credentials").read_text())
    assert stored == {
        "access_token": token,
        "token_type": "Bearer",
        "api_url": server.api_url,
        "user_email": OWNER,
        "org_id": stored["org_id"],
        "org_name": stored["org_name"],
        "role": "owner",
        "storage": "file",
    }
    assert stat.S_IMODE(os.stat(client_home / "credentials").st_mode) == 0o600

    status = run_dagy("auth", "status", env=env)
    assert status.returncode == 0, status.stderr
    lines = status.stdout.splitlines()
    assert lines[0] == f"Logged in as {OWNER}"
    assert f"API URL: {server.api_url}" in lines
    assert lines[-1] == f"Credential: stored login ({client_home / 'credentials'})"
    assert token not in status.stdout + status.stderr


def test_login_with_an_api_key_from_stdin(run_dagy, server, env, client_home):
    key = api_key(server, "flows.read")
    result = run_dagy("login", "--with-token", input=key + "\n", env=env)
    assert result.returncode == 0, result.stderr
    assert json.loads((client_home / "credentials").read_text())["access_token"] == key
    flows = run_dagy("flows", "list", env=env)  # the stored key authenticates the next command
    assert flows.returncode == 0, flows.stderr


def test_a_refused_token_is_an_api_error_and_nothing_is_stored(run_dagy, server, env, client_home):
    result = run_dagy("login", "--with-token", input="not-a-token\n", env=env)
    assert result.returncode == 6 and result.stdout == ""
    assert result.stderr.startswith("APIError 401: ") and len(result.stderr.splitlines()) == 1
    assert not (client_home / "credentials").exists()


def test_login_with_an_empty_stdin_is_bad_input(run_dagy, server, env, client_home):
    result = run_dagy("login", "--with-token", input="", env=env)
    assert (result.returncode, result.stderr) == (2, "Login failed: no token on stdin\n")
    assert not (client_home / "credentials").exists()


def test_dagy_api_key_alone_authenticates_every_command(run_dagy, server, env, client_home):
    unauthenticated = run_dagy("flows", "list", env=env)
    assert unauthenticated.returncode == 6
    assert unauthenticated.stderr.startswith("APIError 401: ")

    key = api_key(server, "flows.read")
    with_key = {**env, "DAGY_API_KEY": key}
    flows = run_dagy("flows", "list", env=with_key)
    assert flows.returncode == 0, flows.stderr
    assert "flow_name" in flows.stdout

    status = run_dagy("auth", "status", env=with_key)
    assert status.returncode == 0, status.stderr
    assert status.stdout.splitlines()[0] == f"Logged in as {OWNER}"
    assert status.stdout.splitlines()[-1] == "Credential: DAGY_API_KEY (environment)"
    assert key not in status.stdout + status.stderr
    assert not (client_home / "credentials").exists()  # nothing was stored


def test_dagy_token_comes_before_dagy_api_key_and_the_stored_login(run_dagy, server, env):
    token = server.login(OWNER)
    stored = run_dagy("login", "--with-token", input="\n" + token, env=env)
    assert stored.returncode == 2  # one line: the token must be on the first
    assert run_dagy("login", "--with-token", input=token, env=env).returncode == 0

    both = {**env, "DAGY_TOKEN": token, "DAGY_API_KEY": "dagy_sk_not_a_key"}
    status = run_dagy("auth", "status", env=both)
    assert status.returncode == 0, status.stderr
    assert status.stdout.splitlines()[-1] == "Credential: DAGY_TOKEN (environment)"

    bad_key = run_dagy("auth", "status", env={**env, "DAGY_API_KEY": "dagy_sk_not_a_key"})
    assert bad_key.returncode == 1  # the environment wins over the (good) stored login
    assert bad_key.stderr == (
        "Not logged in: DAGY_API_KEY was rejected (expired or revoked). "
        "Set another DAGY_API_KEY or unset it.\n"
    )


def test_an_environment_credential_without_an_api_url_is_a_config_error(run_dagy, env):
    bare = {**env, "DAGY_API_URL": "", "DAGY_TOKEN": "anything"}
    result = run_dagy("auth", "status", env=bare)
    assert result.returncode == 4
    assert (
        result.stderr
        == "ConfigError: Missing Dagy API URL. Set DAGY_API_URL or run 'dagy config'.\n"
    )

"""Secrets against a real `dagy serve`: the API reference's Secrets Management section, audit of
value reads, tenancy, protected environments, master key rotation, and no plaintext at rest."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO, ServerProcess, dagy_cmd, start_server
from tests.server.members_support import add_user, assert_error

META_KEYS = {"secret_id", "secret_name", "environment", "created_at", "updated_at"}
NO_KEYRING = {"DAGY_RATE_LIMIT_PER_MINUTE": "0", "DAGY_KEYRING": "0", "DAGY_MASTER_KEY": ""}


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = start_server(tmp_path_factory.mktemp("secrets") / "home", env=NO_KEYRING)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def owner(srv: ServerProcess) -> str:
    return add_user(srv, "owner@example.com", "owner")


@pytest.fixture(scope="module")
def admin(srv: ServerProcess, owner: str) -> str:
    return add_user(srv, "admin@example.com", "admin")


@pytest.fixture(scope="module")
def developer(srv: ServerProcess, owner: str) -> str:
    return add_user(srv, "dev@example.com", "developer")


@pytest.fixture(scope="module")
def viewer(srv: ServerProcess, owner: str) -> str:
    return add_user(srv, "viewer@example.com", "viewer")


def unique(prefix: str = "key") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def create(
    srv: ServerProcess, token: str, name: str, value: str, environment: str | None = None
) -> dict:
    payload = {"secret_name": name, "value": value}
    if environment is not None:
        payload["environment"] = environment
    status, _, body = srv.request("POST", "/secrets", token=token, body=payload)
    assert status == 201, body
    return body


# -- the spec's routes ------------------------------------------------------------------------------


def test_create_returns_201_with_metadata_only(srv, owner):
    name = unique("api-key-prod")
    body = create(srv, owner, name, "sk_live_1234567890abcdefghijklmnop", "production")
    assert set(body) == {"secret_id", "secret_name", "environment", "created_at"}
    assert (body["secret_name"], body["environment"]) == (name, "production")
    assert body["secret_id"].startswith("secret_") and body["created_at"].endswith("Z")


def test_a_secret_without_environment_shows_null(srv, owner):
    body = create(srv, owner, unique(), "value-without-env")
    assert body["environment"] is None


def test_the_same_name_twice_in_one_environment_is_409(srv, owner):
    name = unique()
    create(srv, owner, name, "first-value", "staging")
    status, _, body = srv.request(
        "POST",
        "/secrets",
        token=owner,
        body={"secret_name": name, "value": "second-value", "environment": "staging"},
    )
    assert status == 409, body
    assert_error(body, "conflict")
    assert "second-value" not in str(body)
    create(srv, owner, name, "other-env-value", "production")  # another environment: fine


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"value": "v-123456"}, "secret_name"),
        ({"secret_name": "a b", "value": "v-123456"}, "secret_name"),
        ({"secret_name": "x" * 129, "value": "v-123456"}, "secret_name"),
        ({"secret_name": "ok-name"}, "value"),
        ({"secret_name": "ok-name", "value": ""}, "value"),
        ({"secret_name": "ok-name", "value": 12345}, "value"),
        ({"secret_name": "ok-name", "value": "v-123456", "environment": "no/slash"}, "environment"),
    ],
)
def test_invalid_name_or_value_is_400(srv, owner, payload, field):
    status, _, body = srv.request("POST", "/secrets", token=owner, body=payload)
    assert status == 400, body
    assert field in assert_error(body)["details"]


def test_list_is_metadata_only_and_filters_by_environment(srv, owner):
    env = unique("env")
    names = sorted(unique() for _ in range(3))
    for name in names:
        create(srv, owner, name, f"value-of-{name}", env)
    status, _, body = srv.request("GET", f"/secrets?environment={env}", token=owner)
    assert status == 200, body
    assert [i["secret_name"] for i in body["items"]] == names  # oldest first
    assert all(set(i) == META_KEYS for i in body["items"])
    assert "value-of-" not in str(body)
    everything = srv.request("GET", "/secrets?limit=100", token=owner)[2]
    assert set(names) <= {i["secret_name"] for i in everything["items"]}


def test_list_pages_with_limit_and_next_token(srv, owner):
    env = unique("paged")
    for _ in range(3):
        create(srv, owner, unique(), "paged-value", env)
    seen, token = [], None
    for _ in range(5):
        suffix = f"&next_token={token}" if token else ""
        body = srv.request("GET", f"/secrets?environment={env}&limit=2{suffix}", token=owner)[2]
        seen += [i["secret_name"] for i in body["items"]]
        token = body["next_token"]
        if token is None:
            break
    assert len(seen) == 3 == len(set(seen))


def test_get_metadata_and_value_and_the_read_is_audited(srv, owner):
    name = unique()
    created = create(srv, owner, name, "sk_read_me_1234567890")
    status, _, meta = srv.request("GET", f"/secrets/{name}", token=owner)
    assert status == 200 and set(meta) == META_KEYS and "sk_read_me" not in str(meta)
    status, _, body = srv.request("GET", f"/secrets/{name}/value", token=owner)
    assert status == 200
    assert body == {"secret_name": name, "value": "sk_read_me_1234567890"}
    status, _, audit = srv.request(
        "GET", f"/audit-logs/resource/secret/{created['secret_id']}", token=owner
    )
    assert [r["action"] for r in audit["items"]] == ["read", "create"]
    assert audit["items"][0]["actor_email"] == "owner@example.com"
    assert "sk_read_me" not in str(audit)


def test_a_name_in_several_environments_needs_the_environment(srv, owner):
    name = unique()
    create(srv, owner, name, "global-value-1")
    create(srv, owner, name, "staging-value-1", "staging")
    status, _, body = srv.request("GET", f"/secrets/{name}/value", token=owner)
    assert status == 400 and "environment" in assert_error(body)["details"]
    assert "value-1" not in str(body)
    got = srv.request("GET", f"/secrets/{name}/value?environment=staging", token=owner)[2]
    assert got["value"] == "staging-value-1"
    got = srv.request("GET", f"/secrets/{name}/value?environment=", token=owner)[2]
    assert got["value"] == "global-value-1"


def test_put_replaces_the_value(srv, owner):
    name = unique()
    created = create(srv, owner, name, "sk_old_value_123")
    status, _, body = srv.request(
        "PUT", f"/secrets/{name}", token=owner, body={"value": "sk_new_value_456"}
    )
    assert status == 200, body
    assert set(body) == {"secret_id", "secret_name", "updated_at"}
    assert body["secret_id"] == created["secret_id"]
    value = srv.request("GET", f"/secrets/{name}/value", token=owner)[2]["value"]
    assert value == "sk_new_value_456"
    status, _, body = srv.request("PUT", f"/secrets/{name}", token=owner, body={"value": ""})
    assert status == 400, body
    audit = srv.request("GET", f"/audit-logs/resource/secret/{created['secret_id']}", token=owner)
    update = [r for r in audit[2]["items"] if r["action"] == "update"]
    assert update[0]["changes"] == {"version": [1, 2]}
    assert "sk_new_value" not in str(audit[2]) and "sk_old_value" not in str(audit[2])


def test_delete_is_204_then_404(srv, owner):
    name = unique()
    create(srv, owner, name, "doomed-value")
    status, _, body = srv.request("DELETE", f"/secrets/{name}", token=owner)
    assert status == 204 and body is None
    for method, path in (
        ("GET", f"/secrets/{name}"),
        ("GET", f"/secrets/{name}/value"),
        ("DELETE", f"/secrets/{name}"),
    ):
        status, _, body = srv.request(method, path, token=owner)
        assert status == 404, (method, body)
        assert_error(body, "not_found")
    status, _, body = srv.request("PUT", f"/secrets/{name}", token=owner, body={"value": "v-1234"})
    assert status == 404


# -- who may do what --------------------------------------------------------------------------------


def test_viewers_have_no_secrets_access(srv, owner, viewer):
    name = unique()
    create(srv, owner, name, "hidden-value")
    for method, path, body in (
        ("GET", "/secrets", None),
        ("GET", f"/secrets/{name}", None),
        ("GET", f"/secrets/{name}/value", None),
        ("POST", "/secrets", {"secret_name": unique(), "value": "v-1234"}),
        ("PUT", f"/secrets/{name}", {"value": "v-1234"}),
        ("DELETE", f"/secrets/{name}", None),
    ):
        status, _, answer = srv.request(method, path, token=viewer, body=body)
        assert status == 403, (method, path, answer)


def test_developers_manage_secrets_but_not_those_of_a_protected_environment(
    srv, owner, admin, developer
):
    name = unique()
    create(srv, developer, name, "dev-made-value")
    assert srv.request("GET", f"/secrets/{name}/value", token=developer)[0] == 200
    assert srv.request("DELETE", f"/secrets/{name}", token=developer)[0] == 204
    protected = unique("production")
    srv.request(
        "POST", "/environments", token=owner, body={"env_name": protected, "is_protected": True}
    )
    payload = {"secret_name": name, "value": "prod-value-1", "environment": protected}
    status, _, body = srv.request("POST", "/secrets", token=developer, body=payload)
    assert status == 403, body
    assert srv.request("POST", "/secrets", token=admin, body=payload)[0] == 201
    path = f"/secrets/{name}?environment={protected}"
    assert srv.request("PUT", path, token=developer, body={"value": "x-1234"})[0] == 403
    assert srv.request("DELETE", path, token=developer)[0] == 403
    got = srv.request("GET", f"/secrets/{name}/value?environment={protected}", token=developer)
    assert got[0] == 200 and got[2]["value"] == "prod-value-1"  # reading is secrets.read


def test_another_orgs_secrets_are_404(srv, owner):
    name = unique()
    create(srv, owner, name, "personal-org-value")
    org = srv.request("POST", "/orgs", token=owner, body={"org_name": unique("Org")})[2]
    other = {"X-Dagy-Org": org["org_id"]}
    assert srv.request("GET", "/secrets", token=owner, headers=other)[2]["items"] == []
    for method, path, body in (
        ("GET", f"/secrets/{name}", None),
        ("GET", f"/secrets/{name}/value", None),
        ("PUT", f"/secrets/{name}", {"value": "v-1234"}),
        ("DELETE", f"/secrets/{name}", None),
    ):
        status, _, answer = srv.request(method, path, token=owner, headers=other, body=body)
        assert status == 404, (method, path, answer)


def test_the_rotation_route_is_for_the_local_token_only(srv, owner):
    status, _, body = srv.request("POST", "/_local/secrets/rotate-master-key", token=owner, body={})
    assert status == 403, body


# -- at rest ----------------------------------------------------------------------------------------


def files_under(home: Path) -> list[Path]:
    return [p for p in home.rglob("*") if p.is_file()]


def dagy(home: Path, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*dagy_cmd(), *args],
        input=input,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **NO_KEYRING, "DAGY_LOCAL_DIR": str(home)},
        cwd=str(REPO),
    )


def test_no_plaintext_at_rest_and_rotation_with_and_without_a_server(tmp_path):
    home = tmp_path / "home"
    plaintext = f"sk_live_{uuid.uuid4().hex}"
    server = start_server(home, "--local", env=NO_KEYRING)
    try:
        token = server.local_token
        body = {"secret_name": "api-key", "value": plaintext, "environment": "production"}
        assert server.request("POST", "/secrets", token=token, body=body)[0] == 201
        path = "/secrets/api-key/value"
        assert server.request("GET", path, token=token)[2]["value"] == plaintext
        key_before = (home / "master.key").read_text()
        rotated = dagy(home, "secrets", "rotate-master-key")
        assert rotated.returncode == 0, rotated.stderr
        assert "1 secret(s) re-encrypted" in rotated.stdout
        assert (home / "master.key").read_text() != key_before
        assert len((home / "master.key").read_text().splitlines()) == 1  # the old key is gone
        assert server.request("GET", path, token=token)[2]["value"] == plaintext
        assert (
            server.request("PUT", "/secrets/api-key", token=token, body={"value": plaintext})[0]
            == 200
        )
    finally:
        server.stop()
    stderr_log = Path(server.stderr_path)  # type: ignore[attr-defined]
    for path in [*files_under(home), stderr_log]:
        assert plaintext.encode() not in path.read_bytes(), path
    # Without a server the CLI opens the store itself.
    key_before = (home / "master.key").read_text()
    rotated = dagy(home, "secrets", "rotate-master-key")
    assert rotated.returncode == 0, rotated.stderr
    assert (home / "master.key").read_text() != key_before
    server = start_server(home, "--local", env=NO_KEYRING)
    try:
        got = server.request("GET", "/secrets/api-key/value", token=server.local_token)
        assert got[2]["value"] == plaintext
        audit = server.request(
            "GET", "/audit-logs?resource_type=master_key", token=server.local_token
        )[2]
        assert len(audit["items"]) == 2
    finally:
        server.stop()
    for path in files_under(home):
        assert plaintext.encode() not in path.read_bytes(), path


def test_a_malformed_master_key_is_a_clear_503(tmp_path):
    server = start_server(
        tmp_path / "home", "--local", env={**NO_KEYRING, "DAGY_MASTER_KEY": "too-short"}
    )
    try:
        body = {"secret_name": "x", "value": "value-1234"}
        status, _, answer = server.request("POST", "/secrets", token=server.local_token, body=body)
        assert status == 503, answer
        assert "DAGY_MASTER_KEY" in assert_error(answer, "secrets_unavailable")["message"]
    finally:
        server.stop()

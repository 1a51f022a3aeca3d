"""Organizations, members, roles and API keys against a real `dagy serve`, as the API reference lists them."""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from collections.abc import Iterator

import duckdb
import pytest

from tests.conftest import ServerProcess, start_server

PASSWORD = "password-123"
ERROR_KEYS = {"error", "message", "details", "detail"}
# GET /orgs/{org_id}/roles, copied from the API reference (not from dagy.auth.rbac: the spec decides).
SPEC_ROLES = {
    "owner": [
        "flows.read", "flows.write", "flows.delete", "runs.read", "runs.trigger", "runs.cancel",
        "schedules.read", "schedules.write", "schedules.delete", "api_keys.read", "api_keys.write",
        "api_keys.delete", "admin.members", "admin.api_keys", "admin.audit", "secrets.read",
        "secrets.write", "secrets.delete", "notifications.read", "notifications.write",
        "environments.read", "environments.write", "sensors.read", "sensors.write", "billing.read",
        "billing.write",
    ],
    "admin": [
        "flows.read", "flows.write", "flows.delete", "runs.read", "runs.trigger", "runs.cancel",
        "schedules.read", "schedules.write", "api_keys.read", "api_keys.write", "admin.members",
        "admin.api_keys", "admin.audit", "secrets.read", "secrets.write", "notifications.read",
        "notifications.write", "environments.read", "environments.write", "sensors.read",
        "sensors.write", "billing.read",
    ],
    "developer": [
        "flows.read", "flows.write", "runs.read", "runs.trigger", "runs.cancel", "schedules.read",
        "schedules.write", "secrets.read", "secrets.write", "notifications.read",
        "environments.read", "sensors.read", "sensors.write",
    ],
    "viewer": ["flows.read", "runs.read", "schedules.read", "environments.read", "billing.read"],
}  # fmt: skip


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    # The limiter has its own tests (test_api_ratelimit_jwt.py); here it would only add noise.
    server = start_server(
        tmp_path_factory.mktemp("orgs") / "home", env={"DAGY_RATE_LIMIT_PER_MINUTE": "0"}
    )
    add_user(server, "owner@example.com", "owner")
    yield server
    server.stop()


def add_user(srv: ServerProcess, email: str, role: str, org_id: str = "personal") -> None:
    """What `dagy users create` does with a live server: the local route, with the local token."""
    status, _, body = srv.request(
        "POST",
        "/_local/users",
        token=srv.local_token,
        body={"email": email, "password": PASSWORD, "role": role, "org_id": org_id},
    )
    assert status == 201, body


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}@example.com"


@pytest.fixture(scope="module")
def owner(srv: ServerProcess) -> str:
    return srv.login("owner@example.com")


def assert_error(body: object, code: str | None = None) -> dict:
    assert isinstance(body, dict) and set(body) == ERROR_KEYS, body
    assert body["detail"] == body["message"]
    if code is not None:
        assert body["error"] == code
    return body


def token_of(position: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(position).encode()).decode().rstrip("=")


# -- organizations ----------------------------------------------------------------------------------


def test_create_org_returns_201_with_the_spec_shape_and_lists_it(srv, owner):
    status, _, body = srv.request(
        "POST", "/orgs", token=owner, body={"org_name": "Acme Corporation", "plan": "professional"}
    )
    assert status == 201, body
    assert set(body) == {"org_id", "org_name", "plan", "owner_email", "created_at"}
    assert body["org_name"] == "Acme Corporation"
    assert body["plan"] == "professional"
    assert body["owner_email"] == "owner@example.com"
    assert body["created_at"].endswith("Z")

    status, _, listed = srv.request("GET", "/orgs", token=owner)
    assert status == 200
    mine = {item["org_id"]: item for item in listed["items"]}
    assert set(mine[body["org_id"]]) == {"org_id", "org_name", "plan", "role", "created_at"}
    assert mine[body["org_id"]]["role"] == "owner"
    assert mine["personal"]["role"] == "owner"


def test_create_org_without_plan_is_free(srv, owner):
    status, _, body = srv.request("POST", "/orgs", token=owner, body={"org_name": "Planless Inc"})
    assert status == 201 and body["plan"] == "free"


@pytest.mark.parametrize(
    "payload",
    [
        {"org_name": ""},
        {"org_name": "   "},
        {"org_name": "x" * 101},
        {"org_name": 5},
        {"org_name": None},
        {"plan": "free"},
        {"org_name": "Goldfish Ltd", "plan": "gold"},
        {"org_name": "Listy Ltd", "plan": ["free"]},
    ],
)
def test_create_org_rejects_bad_name_or_plan_with_400(srv, owner, payload):
    status, _, body = srv.request("POST", "/orgs", token=owner, body=payload)
    assert status == 400, body
    assert_error(body)


def test_create_org_with_a_taken_name_is_409_whatever_the_case(srv, owner):
    assert srv.request("POST", "/orgs", token=owner, body={"org_name": "Dup Co"})[0] == 201
    for name in ("Dup Co", "dup co", "  DUP CO "):
        status, _, body = srv.request("POST", "/orgs", token=owner, body={"org_name": name})
        assert status == 409, body
        assert_error(body, "conflict")


def test_orgs_need_a_token(srv):
    for method, path in (("GET", "/orgs"), ("POST", "/orgs")):
        status, _, body = srv.request(method, path, body={"org_name": "Nope"})
        assert status == 401, body
        assert_error(body, "unauthorized")


# -- members ----------------------------------------------------------------------------------------


def test_adding_an_unknown_email_invites_it(srv, owner):
    email = unique("invitee")
    status, _, body = srv.request(
        "POST", "/orgs/personal/members", token=owner, body={"email": email, "role": "developer"}
    )
    assert status == 201, body
    assert set(body) == {"member_id", "email", "role", "added_at", "status"}
    assert (body["email"], body["role"], body["status"]) == (email, "developer", "invited")
    assert body["member_id"].startswith("member_")
    assert body["added_at"].endswith("Z")


def test_adding_an_existing_account_makes_it_active(srv, owner):
    email = unique("existing")
    status, _, org = srv.request("POST", "/orgs", token=owner, body={"org_name": f"Org of {email}"})
    add_user(srv, email, "viewer")  # an account of the personal org, with a password
    status, _, body = srv.request(
        "POST",
        f"/orgs/{org['org_id']}/members",
        token=owner,
        headers={"X-Dagy-Org": org["org_id"]},
        body={"email": email.upper(), "role": "admin"},
    )
    assert status == 201, body
    assert (body["email"], body["status"]) == (email, "active")


def test_adding_a_member_twice_is_409(srv, owner):
    email = unique("twice")
    payload = {"email": email, "role": "viewer"}
    assert srv.request("POST", "/orgs/personal/members", token=owner, body=payload)[0] == 201
    status, _, body = srv.request(
        "POST",
        "/orgs/personal/members",
        token=owner,
        body={"email": email.upper(), "role": "admin"},
    )
    assert status == 409, body
    assert_error(body, "conflict")


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"email": "new-member@example.com", "role": "superuser"}, "role"),
        ({"email": "new-member@example.com", "role": "Owner"}, "role"),
        ({"email": "not-an-email", "role": "viewer"}, "email"),
        ({"email": "a b@example.com", "role": "viewer"}, "email"),
        ({"email": "x" * 300 + "@example.com", "role": "viewer"}, "email"),
        ({"email": "new-member@example.com"}, "role"),
        ({"role": "viewer"}, "email"),
        ({"email": ["a@example.com"], "role": "viewer"}, "email"),
    ],
)
def test_add_member_rejects_bad_email_or_role_with_400_naming_the_field(srv, owner, payload, field):
    status, _, body = srv.request("POST", "/orgs/personal/members", token=owner, body=payload)
    assert status == 400, body
    assert field in assert_error(body)["details"]


def test_members_of_another_org_are_404_whether_or_not_it_exists(srv, owner):
    status, _, other = srv.request("POST", "/orgs", token=owner, body={"org_name": "Elsewhere"})
    # The token is bound to `personal`: the new org is reachable only with X-Dagy-Org.
    for org_id in (other["org_id"], "org_doesnotexist"):
        for method, path, payload in (
            ("POST", f"/orgs/{org_id}/members", {"email": unique("x"), "role": "viewer"}),
            ("GET", f"/orgs/{org_id}/members", None),
            ("GET", f"/orgs/{org_id}/roles", None),
            ("PATCH", f"/orgs/{org_id}/members/owner@example.com/role", {"role": "admin"}),
        ):
            status, _, body = srv.request(method, path, token=owner, body=payload)
            assert status == 404, (method, path, body)
            assert_error(body, "not_found")
    status, _, body = srv.request(
        "GET",
        f"/orgs/{other['org_id']}/members",
        token=owner,
        headers={"X-Dagy-Org": other["org_id"]},
    )
    assert status == 200 and [m["email"] for m in body["items"]] == ["owner@example.com"]


def test_list_members_shape(srv, owner):
    status, _, body = srv.request("GET", "/orgs/personal/members", token=owner)
    assert status == 200, body
    assert set(body) == {"items", "next_token"}
    first = body["items"][0]
    assert set(first) == {"member_id", "email", "role", "status", "joined_at"}
    assert (first["email"], first["role"], first["status"]) == (
        "owner@example.com",
        "owner",
        "active",
    )
    assert first["joined_at"].endswith("Z")


def test_list_members_pages_with_limit_and_next_token(srv, owner):
    status, _, org = srv.request("POST", "/orgs", token=owner, body={"org_name": "Paged Org"})
    org_id = org["org_id"]
    scoped = {"X-Dagy-Org": org_id}
    invited = [unique(f"page{i}") for i in range(4)]
    for email in invited:
        assert (
            srv.request(
                "POST",
                f"/orgs/{org_id}/members",
                token=owner,
                headers=scoped,
                body={"email": email, "role": "viewer"},
            )[0]
            == 201
        )
    seen: list[str] = []
    token: str | None = None
    for _ in range(10):
        query = "?limit=1" + (f"&next_token={token}" if token else "")
        status, _, body = srv.request(
            "GET", f"/orgs/{org_id}/members{query}", token=owner, headers=scoped
        )
        assert status == 200, body
        assert len(body["items"]) == 1
        seen.append(body["items"][0]["email"])
        token = body["next_token"]
        if token is None:
            break
    assert seen == ["owner@example.com", *invited]  # oldest first, each exactly once


@pytest.mark.parametrize(
    "next_token",
    [
        "garbage!!",
        "%%%",
        token_of([]),
        token_of({"a": 1}),
        token_of(["2026-01-01T00:00:00", "member_x", "extra"]),
        token_of(["x", "y"]),  # valid JSON, but no time: reached SQL as a bad TIMESTAMP (a 500)
        token_of([1, 2]),
        token_of(["2026-01-01T00:00:00", 7]),
    ],
)
def test_malformed_next_token_is_400_on_every_list(srv, owner, next_token):
    for path in ("/orgs/personal/members", "/api-keys", "/audit-logs"):
        status, _, body = srv.request("GET", f"{path}?next_token={next_token}", token=owner)
        assert status == 400, (path, body)
        assert assert_error(body)["details"] == {"next_token": "malformed"}
    status, _, body = srv.request(
        "GET", f"/audit-logs/resource/org/personal?next_token={next_token}", token=owner
    )
    assert status == 400, body


@pytest.mark.parametrize("limit", ["0", "-1", "abc", "1.5"])
def test_bad_limit_is_400(srv, owner, limit):
    status, _, body = srv.request("GET", f"/orgs/personal/members?limit={limit}", token=owner)
    assert status == 400, body
    assert "limit" in assert_error(body)["details"]


def test_roles_is_exactly_the_spec_matrix(srv, owner):
    status, _, body = srv.request("GET", "/orgs/personal/roles", token=owner)
    assert status == 200, body
    assert body == {"roles": SPEC_ROLES}


# -- roles of members -------------------------------------------------------------------------------


def test_change_role_returns_200_and_sticks(srv, owner):
    email = unique("promote")
    srv.request(
        "POST", "/orgs/personal/members", token=owner, body={"email": email, "role": "viewer"}
    )
    status, _, body = srv.request(
        "PATCH", f"/orgs/personal/members/{email.upper()}/role", token=owner, body={"role": "admin"}
    )
    assert status == 200, body
    assert set(body) == {"member_id", "email", "role", "updated_at"}
    assert (body["email"], body["role"]) == (email, "admin")
    members = srv.request("GET", "/orgs/personal/members", token=owner)[2]["items"]
    assert {m["email"]: m["role"] for m in members}[email] == "admin"


@pytest.mark.parametrize("role", ["root", "", "ADMIN", None, 3])
def test_change_role_to_an_invalid_role_is_400(srv, owner, role):
    status, _, body = srv.request(
        "PATCH", "/orgs/personal/members/owner@example.com/role", token=owner, body={"role": role}
    )
    assert status == 400, body
    assert "role" in assert_error(body)["details"]


def test_removing_the_last_owner_is_400(srv, owner):
    status, _, org = srv.request("POST", "/orgs", token=owner, body={"org_name": "Solo Owner Org"})
    status, _, body = srv.request(
        "PATCH",
        f"/orgs/{org['org_id']}/members/owner@example.com/role",
        token=owner,
        headers={"X-Dagy-Org": org["org_id"]},
        body={"role": "admin"},
    )
    assert status == 400, body
    assert assert_error(body)["details"] == {"role": "last owner"}


def test_an_admin_cannot_grant_or_remove_owner(srv, owner):
    admin_email, target = unique("admin"), unique("target")
    add_user(srv, admin_email, "admin")
    admin = srv.login(admin_email)
    srv.request(
        "POST", "/orgs/personal/members", token=owner, body={"email": target, "role": "viewer"}
    )
    for email, role in ((target, "owner"), ("owner@example.com", "viewer")):
        status, _, body = srv.request(
            "PATCH", f"/orgs/personal/members/{email}/role", token=admin, body={"role": role}
        )
        assert status == 403, body
        assert_error(body, "forbidden")
    status, _, body = srv.request(
        "POST", "/orgs/personal/members", token=admin, body={"email": unique("o"), "role": "owner"}
    )
    assert status == 403, body
    # ... while roles below owner are theirs to give.
    status, _, body = srv.request(
        "PATCH", f"/orgs/personal/members/{target}/role", token=admin, body={"role": "developer"}
    )
    assert status == 200, body


def test_change_role_of_an_unknown_member_is_404(srv, owner):
    status, _, body = srv.request(
        "PATCH",
        "/orgs/personal/members/ghost@example.com/role",
        token=owner,
        body={"role": "admin"},
    )
    assert status == 404, body
    assert_error(body, "not_found")


# -- API keys ---------------------------------------------------------------------------------------


def create_key(srv: ServerProcess, token: str, scopes: list[str], name: str = "ci") -> dict:
    status, _, body = srv.request(
        "POST", "/api-keys", token=token, body={"name": name, "scopes": scopes}
    )
    assert status == 201, body
    return body


def test_create_key_shows_the_key_once_with_prefix_and_scopes(srv, owner):
    body = create_key(srv, owner, ["flows.read", "runs.trigger", "runs.read"], "Production ETL")
    assert set(body) == {"key_id", "name", "key", "key_prefix", "scopes", "created_at"}
    assert body["name"] == "Production ETL"
    assert body["key"].startswith("dagy_") and len(body["key"]) >= 40
    assert body["key_prefix"].endswith("***")
    assert body["key"].startswith(body["key_prefix"].removesuffix("***"))
    assert body["scopes"] == ["flows.read", "runs.trigger", "runs.read"]

    status, _, listed = srv.request("GET", "/api-keys", token=owner)
    assert status == 200
    item = next(k for k in listed["items"] if k["key_id"] == body["key_id"])
    assert "key" not in item and "key_hash" not in item
    assert item["key_prefix"] == body["key_prefix"] and item["scopes"] == body["scopes"]
    assert body["key"] not in json.dumps(listed)


@pytest.mark.parametrize(
    "scopes", [["flows.read", "flows.fly"], ["admin"], ["*"], ["public"], ["store.local"]]
)
def test_create_key_with_an_unknown_scope_is_400(srv, owner, scopes):
    status, _, body = srv.request(
        "POST", "/api-keys", token=owner, body={"name": "bad", "scopes": scopes}
    )
    assert status == 400, body
    assert "scopes" in assert_error(body)["details"]


@pytest.mark.parametrize(
    "payload",
    [
        {"name": "k", "scopes": []},
        {"name": "k", "scopes": "runs.read"},
        {"name": "k", "scopes": [1]},
        {"name": "", "scopes": ["runs.read"]},
        {"name": "k" * 201, "scopes": ["runs.read"]},
        {"scopes": ["runs.read"]},
        {"name": "k", "scopes": ["runs.read"], "expires_in_days": 0},
        {"name": "k", "scopes": ["runs.read"], "expires_in_days": 10**30},
    ],
)
def test_create_key_rejects_malformed_bodies_with_400(srv, owner, payload):
    status, _, body = srv.request("POST", "/api-keys", token=owner, body=payload)
    assert status == 400, body
    assert_error(body)


def test_a_key_never_carries_a_scope_its_creator_lacks(srv):
    email = unique("keyadmin")
    add_user(srv, email, "admin")
    admin = srv.login(email)
    status, _, body = srv.request(
        "POST", "/api-keys", token=admin, body={"name": "pay", "scopes": ["billing.write"]}
    )
    assert status == 400, body
    assert assert_error(body)["details"] == {"scopes": {"not_held": ["billing.write"]}}


def test_developers_cannot_manage_keys(srv, owner):
    email = unique("dev")
    add_user(srv, email, "developer")
    dev = srv.login(email)
    key_id = create_key(srv, owner, ["runs.read"])["key_id"]
    for method, path, payload in (
        ("POST", "/api-keys", {"name": "mine", "scopes": ["runs.read"]}),
        ("GET", "/api-keys", None),
        ("DELETE", f"/api-keys/{key_id}", None),
    ):
        status, _, body = srv.request(method, path, token=dev, body=payload)
        assert status == 403, (method, body)
        assert assert_error(body, "forbidden")["details"] == {"permission": "admin.api_keys"}


def test_a_key_can_do_only_what_its_scopes_allow(srv, owner):
    key = create_key(srv, owner, ["runs.read"])["key"]
    status, _, me = srv.request("GET", "/me", token=key)
    assert status == 200, me
    assert me == {"user_email": "owner@example.com", "org_id": "personal", "role": "owner"}
    for path in ("/api-keys", "/orgs/personal/members", "/audit-logs"):
        status, _, body = srv.request("GET", path, token=key)
        assert status == 403, (path, body)
    status, _, body = srv.request(
        "POST", "/api-keys", token=key, body={"name": "x", "scopes": ["runs.read"]}
    )
    assert status == 403, body


def test_a_key_loses_a_scope_when_its_creator_loses_it(srv, owner):
    email = unique("demoted")
    add_user(srv, email, "admin")
    key = create_key(srv, srv.login(email), ["admin.members"])["key"]
    assert srv.request("GET", "/orgs/personal/members", token=key)[0] == 200
    srv.request(
        "PATCH", f"/orgs/personal/members/{email}/role", token=owner, body={"role": "viewer"}
    )
    assert srv.request("GET", "/orgs/personal/members", token=key)[0] == 403


def test_last_used_at_is_set_when_a_key_is_used(srv, owner):
    created = create_key(srv, owner, ["runs.read"])

    def listed() -> dict:
        items = srv.request("GET", "/api-keys", token=owner)[2]["items"]
        return next(k for k in items if k["key_id"] == created["key_id"])

    assert listed()["last_used_at"] is None
    assert srv.request("GET", "/me", token=created["key"])[0] == 200
    assert listed()["last_used_at"].endswith("Z")


def test_delete_key_is_204_then_404_and_the_key_stops_working(srv, owner):
    created = create_key(srv, owner, ["runs.read"])
    assert srv.request("GET", "/me", token=created["key"])[0] == 200
    status, _, body = srv.request("DELETE", f"/api-keys/{created['key_id']}", token=owner)
    assert (status, body) == (204, None)
    status, _, body = srv.request("DELETE", f"/api-keys/{created['key_id']}", token=owner)
    assert status == 404, body
    assert_error(body, "not_found")
    status, _, body = srv.request("GET", "/me", token=created["key"])
    assert status == 401, body
    assert_error(body, "unauthorized")
    items = srv.request("GET", "/api-keys", token=owner)[2]["items"]
    assert created["key_id"] not in {k["key_id"] for k in items}


def test_delete_unknown_key_is_404(srv, owner):
    for key_id in ("key_000000000000", "x" * 500, "%ff%fe"):
        status, _, body = srv.request("DELETE", f"/api-keys/{key_id}", token=owner)
        assert status == 404, body


def test_list_keys_pages(srv, owner):
    for i in range(3):
        create_key(srv, owner, ["runs.read"], f"paged-{i}")
    seen, token = [], None
    for _ in range(100):
        query = "?limit=2" + (f"&next_token={token}" if token else "")
        status, _, body = srv.request("GET", f"/api-keys{query}", token=owner)
        assert status == 200 and len(body["items"]) <= 2
        seen += [k["key_id"] for k in body["items"]]
        token = body["next_token"]
        if token is None:
            break
    everything = srv.request("GET", "/api-keys?limit=100", token=owner)[2]["items"]
    assert seen == [k["key_id"] for k in everything]
    assert len(set(seen)) == len(seen) >= 3


# -- secrets at rest --------------------------------------------------------------------------------


def test_tokens_keys_and_passwords_are_stored_only_as_hashes(server: ServerProcess):
    password = "correct horse battery staple"
    add_user(server, "hashed@example.com", "admin")
    status, _, _ = server.request(
        "POST",
        "/_local/users",
        token=server.local_token,
        body={"email": "pw@example.com", "password": password, "role": "viewer"},
    )
    assert status == 201
    token = server.login("owner@example.com")
    pw_token = server.login("pw@example.com", password)
    key = create_key(server, token, ["runs.read"])["key"]
    assert server.stop() == 0

    db = server.home / "dagy.duckdb"
    con = duckdb.connect(str(db), read_only=True)
    try:
        dumps = {
            table: json.dumps(con.execute(f"SELECT * FROM {table}").fetchall(), default=str)
            for table in ("access_tokens", "api_keys", "users")
        }
        token_hashes = {
            r[0] for r in con.execute("SELECT token_hash FROM access_tokens").fetchall()
        }
        key_hashes = {r[0] for r in con.execute("SELECT key_hash FROM api_keys").fetchall()}
        password_hashes = [r[0] for r in con.execute("SELECT password_hash FROM users").fetchall()]
    finally:
        con.close()
    for secret in (token, pw_token, key, password, PASSWORD, server.local_token):
        for table, dump in dumps.items():
            assert secret not in dump, f"a secret in plain text in {table}"
    # ... and what is stored is their hash, so the server can still check them.
    assert hashlib.sha256(token.encode()).hexdigest() in token_hashes
    assert hashlib.sha256(key.encode()).hexdigest() in key_hashes
    assert all(h.startswith("scrypt$") for h in password_hashes if h)


def test_control_characters_are_refused_in_emails_and_org_names(srv, owner):
    status, _, body = srv.request(
        "POST",
        "/orgs/personal/members",
        token=owner,
        body={"email": "\u0000@example.com", "role": "viewer"},
    )
    assert status == 400 and assert_error(body, "validation_error")
    status, _, body = srv.request("POST", "/orgs", token=owner, body={"org_name": "a\u0007b"})
    assert status == 400 and "org_name" in assert_error(body)["details"]

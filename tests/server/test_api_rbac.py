"""Who may do what: the RBAC matrix per role on representative routes, and isolation between orgs."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from dagy.auth import rbac
from tests.conftest import ServerProcess, start_server

PASSWORD = "password-123"
ROLES = ("viewer", "developer", "admin", "owner")

# (method, path, body, permission, status when allowed). "authenticated": any role.
ROUTES = [
    ("GET", "/me", None, rbac.AUTHENTICATED, 200),
    ("GET", "/users/me", None, rbac.AUTHENTICATED, 200),
    ("GET", "/health/detailed", None, rbac.AUTHENTICATED, 200),
    ("GET", "/orgs", None, rbac.AUTHENTICATED, 200),
    ("GET", "/orgs/personal/members", None, "admin.members", 200),
    ("GET", "/orgs/personal/roles", None, "admin.members", 200),
    ("POST", "/api-keys", {"name": "rbac", "scopes": ["runs.read"]}, "admin.api_keys", 201),
    ("GET", "/api-keys", None, "admin.api_keys", 200),
    ("GET", "/audit-logs", None, "admin.audit", 200),
    ("GET", "/audit-logs/resource/user/owner@example.com", None, "admin.audit", 200),
]


def add_user(srv: ServerProcess, email: str, role: str, org_id: str = "personal") -> str:
    status, _, body = srv.request(
        "POST",
        "/_local/users",
        token=srv.local_token,
        body={"email": email, "password": PASSWORD, "role": role, "org_id": org_id},
    )
    assert status == 201, body
    return srv.login(email)


@dataclass
class World:
    """Org A (`personal`) with one account per role; org B, whose only own member is carol."""

    srv: ServerProcess
    tokens: dict[str, str]
    org_b: str
    carol: str
    key_a: dict
    key_b: dict


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    srv = start_server(
        tmp_path_factory.mktemp("rbac") / "home", env={"DAGY_RATE_LIMIT_PER_MINUTE": "0"}
    )
    tokens = {role: add_user(srv, f"{role}@example.com", role) for role in ROLES}
    # org_b is created by A's owner (someone has to), then carol joins it and only it.
    status, _, org = srv.request("POST", "/orgs", token=tokens["owner"], body={"org_name": "Org B"})
    assert status == 201, org
    carol = add_user(srv, "carol@example.com", "owner", org_id=org["org_id"])
    key_a = srv.request(
        "POST", "/api-keys", token=tokens["owner"], body={"name": "a", "scopes": ["admin.api_keys"]}
    )[2]
    key_b = srv.request(
        "POST",
        "/api-keys",
        token=carol,
        body={"name": "b", "scopes": ["admin.api_keys", "admin.audit"]},
    )[2]
    yield World(srv, tokens, org["org_id"], carol, key_a, key_b)
    srv.stop()


# -- the matrix -------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(
    "method, path, body, permission, allowed", ROUTES, ids=[f"{m} {p}" for m, p, *_ in ROUTES]
)
def test_each_role_gets_what_the_matrix_gives_it(
    world, role, method, path, body, permission, allowed
):
    expected = (
        allowed if permission == rbac.AUTHENTICATED or permission in rbac.MATRIX[role] else 403
    )
    status, _, answer = world.srv.request(method, path, token=world.tokens[role], body=body)
    assert status == expected, answer
    if expected == 403:
        assert answer["error"] == "forbidden"
        assert answer["details"] == {"permission": permission}


@pytest.mark.parametrize("role", ["viewer", "developer"])
def test_a_forbidden_caller_learns_nothing_from_validation(world, role):
    """The guard answers before the body is looked at: 403, never a 400 about the payload."""
    status, _, body = world.srv.request(
        "POST",
        "/orgs/personal/members",
        token=world.tokens[role],
        body={"email": "not-an-email", "role": "emperor"},
    )
    assert status == 403, body


def test_the_role_follows_the_org_chosen_with_x_dagy_org(world):
    """A's owner is B's owner too; a viewer of A made a viewer of B is a viewer there as well."""
    srv, b = world.srv, {"X-Dagy-Org": world.org_b}
    status, _, body = srv.request(
        "POST",
        f"/orgs/{world.org_b}/members",
        token=world.tokens["owner"],
        headers=b,
        body={"email": "viewer@example.com", "role": "viewer"},
    )
    assert status == 201, body
    status, _, me = srv.request("GET", "/me", token=world.tokens["viewer"], headers=b)
    assert (status, me["org_id"], me["role"]) == (200, world.org_b, "viewer")
    status, _, _ = srv.request(
        "GET", f"/orgs/{world.org_b}/members", token=world.tokens["viewer"], headers=b
    )
    assert status == 403


# -- isolation between orgs -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "method, path, body",
    [
        ("GET", "/orgs/personal/members", None),
        ("POST", "/orgs/personal/members", {"email": "spy@example.com", "role": "viewer"}),
        ("GET", "/orgs/personal/roles", None),
        ("PATCH", "/orgs/personal/members/viewer@example.com/role", {"role": "admin"}),
        ("PATCH", "/orgs/personal/members/carol@example.com/role", {"role": "admin"}),
    ],
)
def test_a_member_of_org_b_gets_404_for_org_a(world, method, path, body):
    status, _, answer = world.srv.request(method, path, token=world.carol, body=body)
    assert status == 404, answer
    assert answer["error"] == "not_found"


def test_a_member_of_org_b_cannot_switch_into_org_a(world):
    status, _, body = world.srv.request(
        "GET", "/orgs/personal/members", token=world.carol, headers={"X-Dagy-Org": "personal"}
    )
    assert status == 403, body
    assert body["error"] == "forbidden" and body["details"] == {"org_id": "not a member"}


def test_org_b_sees_only_its_own_keys_and_cannot_delete_org_as(world):
    srv = world.srv
    for token in (world.carol, world.key_b["key"]):
        listed = srv.request("GET", "/api-keys", token=token)[2]["items"]
        assert world.key_a["key_id"] not in {k["key_id"] for k in listed}
        status, _, body = srv.request("DELETE", f"/api-keys/{world.key_a['key_id']}", token=token)
        assert status == 404, body
    # ... and A's key still works.
    assert srv.request("GET", "/api-keys", token=world.key_a["key"])[0] == 200


def test_audit_logs_of_org_b_do_not_show_org_as_rows(world):
    srv = world.srv
    a_rows = srv.request("GET", "/audit-logs?limit=100", token=world.tokens["owner"])[2]["items"]
    assert any(r["resource_id"] == world.key_a["key_id"] for r in a_rows)
    for token in (world.carol, world.key_b["key"]):
        status, _, body = srv.request("GET", "/audit-logs?limit=100", token=token)
        assert status == 200, body
        b_ids = {r["audit_id"] for r in body["items"]}
        assert b_ids and not b_ids & {r["audit_id"] for r in a_rows}
        assert world.key_b["key_id"] in {r["resource_id"] for r in body["items"]}
        status, _, body = srv.request(
            "GET", f"/audit-logs/resource/api_key/{world.key_a['key_id']}", token=token
        )
        assert status == 404, body

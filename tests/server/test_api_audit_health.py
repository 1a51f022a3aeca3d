"""Audit logs, health, the OpenAPI document, --base-path, and the spec's error shape on bad input."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from dagy import __version__
from tests.conftest import ServerProcess, start_server

PASSWORD = "password-123"
ERROR_KEYS = {"error", "message", "details", "detail"}
NO_LIMIT = {"DAGY_RATE_LIMIT_PER_MINUTE": "0"}
SPEC_PATHS = {
    "/auth/login",
    "/auth/logout",
    "/me",
    "/users/me",
    "/orgs",
    "/orgs/{org_id}/members",
    "/orgs/{org_id}/roles",
    "/orgs/{org_id}/members/{email}/role",
    "/api-keys",
    "/api-keys/{key_id}",
    "/audit-logs",
    "/audit-logs/resource/{resource_type}/{resource_id}",
    "/health",
    "/health/detailed",
}


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = start_server(tmp_path_factory.mktemp("audit") / "home", env=NO_LIMIT)
    status, _, body = server.request(
        "POST",
        "/_local/users",
        token=server.local_token,
        body={"email": "owner@example.com", "password": PASSWORD, "role": "owner"},
    )
    assert status == 201, body
    yield server
    server.stop()


@pytest.fixture(scope="module")
def owner(srv: ServerProcess) -> str:
    return srv.login("owner@example.com")


def assert_error(body: object, code: str | None = None) -> dict:
    assert isinstance(body, dict) and set(body) == ERROR_KEYS, body
    assert body["detail"] == body["message"] and isinstance(body["details"], dict)
    if code is not None:
        assert body["error"] == code, body
    return body


def all_pages(srv: ServerProcess, token: str, query: str, headers: dict) -> list[dict]:
    items: list[dict] = []
    next_token = None
    for _ in range(100):
        suffix = f"&next_token={next_token}" if next_token else ""
        status, _, body = srv.request(
            "GET", f"/audit-logs?{query}{suffix}", token=token, headers=headers
        )
        assert status == 200, body
        items += body["items"]
        next_token = body["next_token"]
        if next_token is None:
            return items
    raise AssertionError("paging did not end")


# -- every mutation leaves a row --------------------------------------------------------------------


def test_every_mutation_writes_an_audit_row(srv):
    agent = f"audit-test/{uuid.uuid4().hex}"
    ua = {"User-Agent": agent}
    status, _, login = srv.request(
        "POST", "/auth/login", headers=ua, body={"email": "owner@example.com", "password": PASSWORD}
    )
    token = login["access_token"]
    org = srv.request("POST", "/orgs", token=token, headers=ua, body={"org_name": agent})[2]
    email = f"{uuid.uuid4().hex[:8]}@example.com"
    member = srv.request(
        "POST",
        "/orgs/personal/members",
        token=token,
        headers=ua,
        body={"email": email, "role": "viewer"},
    )[2]
    status, _, _ = srv.request(
        "PATCH",
        f"/orgs/personal/members/{email}/role",
        token=token,
        headers=ua,
        body={"role": "developer"},
    )
    assert status == 200
    key = srv.request(
        "POST",
        "/api-keys",
        token=token,
        headers=ua,
        body={"name": "audited", "scopes": ["runs.read"]},
    )[2]
    assert srv.request("DELETE", f"/api-keys/{key['key_id']}", token=token, headers=ua)[0] == 204
    assert srv.request("POST", "/auth/logout", token=token, headers=ua)[0] == 204

    reader = srv.login("owner@example.com")
    rows = [r for r in all_pages(srv, reader, "limit=100", {}) if r["user_agent"] == agent]
    org_rows = all_pages(srv, reader, "limit=100", {"X-Dagy-Org": org["org_id"]})
    rows += [r for r in org_rows if r["user_agent"] == agent]
    for row in rows:
        assert set(row) == {
            "audit_id",
            "timestamp",
            "actor_email",
            "action",
            "resource_type",
            "resource_id",
            "resource_name",
            "changes",
            "ip_address",
            "user_agent",
        }
        assert row["actor_email"] == "owner@example.com"
        assert row["ip_address"] == "127.0.0.1"
        assert row["timestamp"].endswith("Z")
    session = next(r["resource_id"] for r in rows if r["action"] == "login")
    assert session.startswith("tok_")

    def entry(action, kind, resource_id, name, changes=None):
        return (action, kind, resource_id, name, json.dumps(changes or {}))

    got = [
        entry(r["action"], r["resource_type"], r["resource_id"], r["resource_name"], r["changes"])
        for r in rows
    ]
    member_id, key_id, me = member["member_id"], key["key_id"], "owner@example.com"
    assert sorted(got) == sorted(
        [
            entry("login", "session", session, me),
            entry("create", "org", org["org_id"], agent, {"plan": [None, "free"]}),
            entry("create", "member", member_id, email, {"role": [None, "viewer"]}),
            entry("update", "member", member_id, email, {"role": ["viewer", "developer"]}),
            entry("create", "api_key", key_id, "audited", {"scopes": [None, ["runs.read"]]}),
            entry("delete", "api_key", key_id, "audited"),
            entry("logout", "session", session, me),
        ]
    )


def test_a_refused_request_writes_no_row(srv, owner):
    agent = f"refused/{uuid.uuid4().hex}"
    srv.request("POST", "/orgs", token=owner, headers={"User-Agent": agent}, body={"org_name": ""})
    srv.request(
        "POST",
        "/auth/login",
        headers={"User-Agent": agent},
        body={"email": "owner@example.com", "password": "nope-nope"},
    )
    rows = all_pages(srv, owner, "limit=100", {})
    assert not [r for r in rows if r["user_agent"] == agent]


# -- GET /audit-logs: filters, limits, paging -------------------------------------------------------


@dataclass
class Busy:
    """An org with a known trail: create org, 105 keys created, one deleted, one member added."""

    org_id: str
    headers: dict[str, str]
    deleted_key: dict
    rows: int = 108


@pytest.fixture(scope="module")
def busy(srv: ServerProcess, owner: str) -> Busy:
    org = srv.request("POST", "/orgs", token=owner, body={"org_name": "Busy Org"})[2]
    headers = {"X-Dagy-Org": org["org_id"]}
    keys = [
        srv.request(
            "POST",
            "/api-keys",
            token=owner,
            headers=headers,
            body={"name": f"k{i}", "scopes": ["runs.read"]},
        )[2]
        for i in range(105)
    ]
    assert (
        srv.request("DELETE", f"/api-keys/{keys[7]['key_id']}", token=owner, headers=headers)[0]
        == 204
    )
    srv.request(
        "POST",
        f"/orgs/{org['org_id']}/members",
        token=owner,
        headers=headers,
        body={"email": "busy-member@example.com", "role": "viewer"},
    )
    return Busy(org["org_id"], headers, keys[7])


def test_audit_limit_defaults_to_20_and_clamps_at_100(srv, owner, busy):
    status, _, body = srv.request("GET", "/audit-logs", token=owner, headers=busy.headers)
    assert status == 200 and len(body["items"]) == 20 and body["next_token"]
    status, _, body = srv.request(
        "GET", "/audit-logs?limit=1000", token=owner, headers=busy.headers
    )
    assert status == 200 and len(body["items"]) == 100 and body["next_token"]


def test_audit_next_token_walks_every_row_once_newest_first(srv, owner, busy):
    rows = all_pages(srv, owner, "limit=50", busy.headers)
    assert len(rows) == len({r["audit_id"] for r in rows}) == busy.rows
    stamps = [r["timestamp"] for r in rows]
    assert stamps == sorted(stamps, reverse=True)
    assert rows[-1]["resource_type"] == "org" and rows[-1]["action"] == "create"


@pytest.mark.parametrize(
    "query, expected",
    [
        ("resource_type=api_key", 106),
        ("resource_type=member", 1),
        ("resource_type=flow", 0),
        ("action=delete", 1),
        ("action=create&resource_type=api_key", 105),
        ("actor_email=OWNER@example.com", 108),
        ("actor_email=nobody@example.com", 0),
    ],
)
def test_audit_filters(srv, owner, busy, query, expected):
    rows = all_pages(srv, owner, f"{query}&limit=100", busy.headers)
    assert len(rows) == expected
    for part in query.split("&"):
        name, value = part.split("=")
        assert all(str(r[name]).lower() == value.lower() for r in rows)


def test_audit_date_filters(srv, owner, busy):
    now = dt.datetime.now(dt.timezone.utc)
    day = dt.timedelta(days=1)

    def count(query: str) -> int:
        return len(all_pages(srv, owner, f"{query}&limit=100", busy.headers))

    assert count(f"start_date={(now - day).date()}&end_date={(now + day).date()}") == busy.rows
    assert count(f"start_date={(now + day).date()}") == 0
    assert count(f"end_date={(now - day).date()}") == 0
    later = (now + dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    earlier = (now - dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert count(f"start_date={later}") == 0
    assert count(f"start_date={earlier}&end_date={later}") == busy.rows


@pytest.mark.parametrize(
    "query",
    [
        "start_date=yesterday",
        "end_date=2026-13-01",
        "start_date=2026-01-01T25:00:00",
        "end_date=%00",
        "start_date=2026-02-01&end_date=2026-01-01",
        "limit=0",
        "limit=ten",
    ],
)
def test_bad_audit_query_is_400(srv, owner, query):
    status, _, body = srv.request("GET", f"/audit-logs?{query}", token=owner)
    assert status == 400, body
    assert_error(body)


def test_resource_trail_lists_one_resources_history(srv, owner, busy):
    key = busy.deleted_key
    status, _, body = srv.request(
        "GET", f"/audit-logs/resource/api_key/{key['key_id']}", token=owner, headers=busy.headers
    )
    assert status == 200, body
    assert body["resource_id"] == key["key_id"]
    assert (body["resource_type"], body["resource_name"]) == ("api_key", key["name"])
    assert [i["action"] for i in body["items"]] == ["delete", "create"]
    for item in body["items"]:
        assert set(item) == {"audit_id", "timestamp", "actor_email", "action", "changes"}
        assert item["actor_email"] == "owner@example.com"


@pytest.mark.parametrize(
    "path", ["/audit-logs/resource/api_key/key_nope", "/audit-logs/resource/flow/flow_123abc"]
)
def test_resource_trail_of_an_unknown_resource_is_404(srv, owner, path):
    status, _, body = srv.request("GET", path, token=owner)
    assert status == 404, body
    assert_error(body, "not_found")


def test_audit_logs_need_a_token(srv):
    for path in ("/audit-logs", "/audit-logs/resource/api_key/x"):
        status, _, body = srv.request("GET", path)
        assert status == 401, body


# -- health and the OpenAPI document ----------------------------------------------------------------


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer not-a-token"}])
def test_health_is_public(srv, headers):
    status, _, body = srv.request("GET", "/health", headers=headers)
    assert status == 200, body
    assert set(body) == {"status", "version", "components", "timestamp"}
    assert (body["status"], body["version"]) == ("healthy", __version__)
    assert body["timestamp"].endswith("Z")
    names = [c["name"] for c in body["components"]]
    assert {"api", "database"} <= set(names)
    assert all(c == {"name": c["name"], "status": "healthy"} for c in body["components"])


def test_detailed_health_needs_a_token_and_gives_latencies(srv, owner):
    status, _, body = srv.request("GET", "/health/detailed")
    assert status == 401, body
    assert_error(body, "unauthorized")
    status, _, body = srv.request("GET", "/health/detailed", token=owner)
    assert status == 200, body
    assert body["status"] == "healthy"
    for component in body["components"]:
        assert set(component) == {"name", "status", "latency_ms"}
        assert isinstance(component["latency_ms"], (int, float)) and component["latency_ms"] >= 0


def test_openapi_lists_the_routes(srv):
    status, _, body = srv.request("GET", "/openapi.json")
    assert status == 200, body
    assert body["openapi"].startswith("3.")
    paths = set(body["paths"])
    assert {"/v1" + p for p in SPEC_PATHS} <= paths
    assert not [p for p in paths if "_local" in p]  # the CLI's own route stays out of the document
    assert body["paths"]["/v1/orgs"].keys() >= {"get", "post"}


def test_base_path_moves_every_route(tmp_path):
    server = start_server(tmp_path / "home", "--base-path", "/api", env=NO_LIMIT)
    try:
        assert server.api_url == server.url + "/api"
        status, _, body = server.request(
            "POST",
            "/_local/users",
            token=server.local_token,
            body={"email": "owner@example.com", "password": PASSWORD, "role": "owner"},
        )
        assert status == 201, body
        token = server.login("owner@example.com")  # POST /api/auth/login
        assert server.request("GET", server.url + "/api/me", token=token)[0] == 200
        assert server.request("GET", server.url + "/api/health")[0] == 200
        for old in ("/v1/health", "/v1/me", "/health", "/v1/openapi.json"):
            status, _, body = server.request("GET", server.url + old, token=token)
            assert status == 404, (old, body)
            assert_error(body, "not_found")
        paths = set(server.request("GET", server.url + "/api/openapi.json")[2]["paths"])
        assert {"/api" + p for p in SPEC_PATHS} <= paths
        assert all(p.startswith("/api/") for p in paths)
    finally:
        server.stop()


# -- the error shape, and never a 500 for bad input -------------------------------------------------


def test_unknown_route_is_404_in_the_error_shape(srv, owner):
    for path in ("/nope", "/orgs/personal/nope", "/me/extra"):
        status, _, body = srv.request("GET", path, token=owner)
        assert status == 404, (path, body)
        assert_error(body, "not_found")
    status, _, body = srv.request("GET", srv.url + "/not-the-api")
    assert status == 404
    assert_error(body, "not_found")


@pytest.mark.parametrize(
    "method, path",
    [
        ("DELETE", "/me"),
        ("PUT", "/orgs"),
        ("GET", "/auth/login"),
        ("POST", "/health"),
        ("PATCH", "/api-keys"),
    ],
)
def test_wrong_method_is_405_in_the_error_shape(srv, owner, method, path):
    status, _, body = srv.request(method, path, token=owner)
    assert status == 405, body
    assert_error(body, "method_not_allowed")


@pytest.mark.parametrize(
    "raw, content_type",
    [
        (b"not json", "application/json"),
        (b"{", "application/json"),
        (b"\xff\xfe", "application/json"),
        (b"", "application/json"),
    ],
)
def test_a_body_that_is_not_json_is_400(srv, owner, raw, content_type):
    status, _, body = srv.request(
        "POST", "/orgs", token=owner, raw=raw, headers={"Content-Type": content_type}
    )
    assert status == 400, body
    assert_error(body)


@pytest.mark.parametrize(
    "path, payload, field",
    [
        ("/orgs", {}, "org_name"),
        ("/api-keys", {"name": "x"}, "scopes"),
        ("/orgs/personal/members", {"role": "viewer"}, "email"),
        ("/auth/login", {}, "email"),
    ],
)
def test_a_missing_field_is_400_naming_it(srv, owner, path, payload, field):
    status, _, body = srv.request("POST", path, token=owner, body=payload)
    assert status == 400, body
    assert field in assert_error(body, "validation_error")["details"]
    assert field in body["message"]


HUGE = "x" * 200_000
MALFORMED = [
    ("POST", "/orgs", {"body": []}),
    ("POST", "/orgs", {"body": "Acme"}),
    ("POST", "/orgs", {"body": 12}),
    ("POST", "/orgs", {"raw": b"null"}),
    ("POST", "/orgs", {"body": {"org_name": HUGE}}),
    ("POST", "/orgs", {"body": {"org_name": {"$ne": None}}}),
    ("POST", "/orgs", {"body": {"org_name": "Plan Types", "plan": 3}}),
    ("POST", "/orgs", {"raw": b'{"org_name": "\\ud800"}'}),
    ("POST", "/orgs", {"raw": b"[" * 5000 + b"]" * 5000}),  # was a 500 (RecursionError)
    ("POST", "/auth/login", {"raw": b'{"a":' * 2000 + b"1" + b"}" * 2000}),
    ("POST", "/orgs", {"raw": b"org_name=x", "headers": {"Content-Type": "application/x-www-form-urlencoded"}}),
    ("POST", "/api-keys", {"body": {"name": 1, "scopes": [None]}}),
    ("POST", "/api-keys", {"body": {"name": "many", "scopes": ["runs.read"] * 10_000}, "ok": True}),
    ("POST", "/api-keys", {"body": {"name": "k", "scopes": [HUGE]}}),
    ("POST", "/api-keys", {"body": {"name": "k", "scopes": ["runs.read"], "expires_in_days": "7"}, "ok": True}),
    ("POST", "/api-keys", {"body": {"name": "k", "scopes": ["runs.read"], "expires_in_days": -1}}),
    ("POST", "/orgs/personal/members", {"body": {"email": HUGE + "@example.com", "role": "viewer"}}),
    ("POST", "/orgs/personal/members", {"body": {"email": "\u0000@example.com", "role": "viewer"}, "ok": True}),
    ("POST", "/orgs/" + "o" * 5000 + "/members", {"body": {"email": "a@example.com", "role": "viewer"}}),
    ("PATCH", "/orgs/personal/members/%00/role", {"body": {"role": "admin"}}),
    ("PATCH", "/orgs/personal/members/%C3%A9%40x/role", {"body": {"role": "admin"}}),
    ("PATCH", "/orgs/personal/members/" + "e" * 5000 + "/role", {"body": {"role": "admin"}}),
    ("PATCH", "/orgs/personal/members/owner@example.com/role", {"body": {"role": ["owner"]}}),
    ("DELETE", "/api-keys/%ff%fe%00", {}),
    ("DELETE", "/api-keys/" + "k" * 5000, {}),
    ("GET", "/orgs/personal/members?limit=99999999999999999999999999", {"ok": True}),
    ("GET", "/orgs/personal/members?limit=", {"ok": True}),
    ("GET", "/orgs/personal/members?limit=1e3", {"ok": True}),
    ("GET", "/audit-logs?resource_type=" + "r" * 5000, {"ok": True}),
    ("GET", "/audit-logs?next_token=" + "A" * 10_000, {}),
    ("GET", "/audit-logs?start_date=0000-00-00", {}),
    ("GET", "/audit-logs?start_date=9999-12-31T23:59:59.999999%2B14:00", {"ok": True}),
    ("GET", "/audit-logs?end_date=0001-01-01T00:00:00-14:00", {"ok": True}),
    ("GET", "/audit-logs/resource/%00/%00", {}),
    ("GET", "/audit-logs/resource/api_key/x?limit=abc", {}),
    ("POST", "/auth/login", {"body": {"email": "owner@example.com", "password": 12345678}}),
    ("POST", "/auth/login", {"body": {"email": "owner@example.com", "password": HUGE}}),
    ("POST", "/auth/login", {"body": {"email": "owner@example.com", "password": PASSWORD, "org_id": 5}}),
    ("POST", "/auth/token", {"body": {"code": "x", "code_verifier": "y", "redirect_uri": "z"}}),
    ("GET", "/me", {"headers": {"X-Dagy-Org": "o" * 5000}}),
    ("GET", "/me", {"headers": {"Authorization": "Bearer " + "t" * 10_000}, "no_token": True}),
    ("GET", "/me", {"headers": {"Authorization": "Bearer eyJ.eyJ.sig"}, "no_token": True}),
]  # fmt: skip


@pytest.mark.parametrize(
    "method, path, options", MALFORMED, ids=[f"{i}-{m}" for i, (m, _, _) in enumerate(MALFORMED)]
)
def test_malformed_input_is_a_4xx_in_the_error_shape_never_a_500(srv, owner, method, path, options):
    """Bad input is the client's problem. ("ok": odd but acceptable input, which may succeed.)"""
    status, _, body = srv.request(
        method,
        path,
        token=None if options.get("no_token") else owner,
        body=options.get("body"),
        raw=options.get("raw"),
        headers=options.get("headers"),
    )
    assert status < 500, str(body)[:300]
    if status < 400:
        assert options.get("ok"), (status, str(body)[:300])
    else:
        assert_error(body)

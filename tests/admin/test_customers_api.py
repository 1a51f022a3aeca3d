"""The Super Admin routes against a real multi-user `dagy serve`: every /admin route refuses a
non-super-admin with 403 `Super admin access required`; customers listed, filtered, counted and
paged; detail, PATCH (and its 400s), members, usage, audit, sessions, credits; session revoke
(the next request is 401); impersonation and the audit rows that name both the super admin and
the org; quota overrides that turn a 429 into a 202."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.admin.admin_support import (
    SUPER,
    SUPER_REQUIRED,
    customer,
    impersonating,
    member,
    register_flow,
    start,
)
from tests.conftest import ServerProcess
from tests.server.flows_support import Api, assert_error, login, unique
from tests.server.runs_support import wait_until


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, Api, Path]]:
    server, admin, flows_file = start(tmp_path_factory.mktemp("admin"))
    yield server, admin, flows_file
    server.stop()


ROUTES = [
    ("GET", "/admin/customers", None),
    ("GET", "/admin/customers/personal", None),
    ("PATCH", "/admin/customers/personal", {"notes": "x"}),
    ("GET", "/admin/customers/personal/members", None),
    ("GET", "/admin/customers/personal/usage", None),
    ("GET", "/admin/customers/personal/audit", None),
    ("GET", "/admin/customers/personal/sessions", None),
    ("DELETE", "/admin/customers/personal/sessions/owner@example.com", None),
    ("POST", "/admin/customers/personal/suspend", None),
    ("POST", "/admin/customers/personal/activate", None),
    ("POST", "/admin/customers/personal/credits", {"amount": 5}),
    ("POST", "/admin/impersonate/personal", None),
]


def test_every_admin_route_is_403_for_a_non_super_admin_and_401_without_a_token(env):
    server, _, _ = env
    owner = login(server, "owner@example.com", "owner")  # owner of personal: still no admin
    for method, path, body in ROUTES:
        status, answer = owner.call(method, path, body)
        assert (status, answer) == (403, SUPER_REQUIRED), (method, path)
        status, _, answer = server.request(method, path, body=body)
        assert status == 401, (method, path, answer)
    # and nothing happened: personal is still active
    status, answer = owner.call("GET", "/users/me")
    assert status == 200 and answer["super_admin"] is False


def test_users_me_shows_the_super_admin_flag(env):
    _, admin, _ = env
    me = admin.ok("GET", "/users/me")
    assert me["user_email"] == SUPER and me["super_admin"] is True


def test_customers_are_listed_filtered_searched_counted_and_paged(env):
    server, admin, _ = env
    tag = unique("zeta")
    _, first, first_owner = customer(server, f"{tag} One")
    _, second, _ = customer(server, f"{tag} Two")
    admin.ok("PATCH", f"/admin/customers/{second}", {"plan": "enterprise"})
    admin.ok("POST", f"/admin/customers/{second}/suspend")

    found = admin.ok("GET", f"/admin/customers?search={tag}")
    assert found["total"] == 2 and [i["org_id"] for i in found["items"]] == [first, second]
    item = found["items"][0]
    assert set(item) == {
        "org_id", "org_name", "owner_email", "plan", "status", "member_count", "created_at",
        "updated_at",
    }  # fmt: skip
    assert item["org_name"] == f"{tag} One" and item["owner_email"] == first_owner
    assert item["plan"] == "free" and item["status"] == "active" and item["member_count"] == 1

    by_owner = admin.ok("GET", f"/admin/customers?search={first_owner.upper()}")
    assert [i["org_id"] for i in by_owner["items"]] == [first] and by_owner["total"] == 1
    assert admin.ok("GET", f"/admin/customers?search={tag}&status=suspended")["total"] == 1
    assert (
        admin.ok("GET", f"/admin/customers?search={tag}&plan=enterprise")["items"][0]["org_id"]
        == second
    )
    assert admin.ok("GET", f"/admin/customers?search={tag}&status=active&plan=free")["total"] == 1

    page = admin.ok("GET", f"/admin/customers?search={tag}&limit=1")
    assert page["total"] == 2 and [i["org_id"] for i in page["items"]] == [first]
    rest = admin.ok("GET", f"/admin/customers?search={tag}&limit=1&next_token={page['next_token']}")
    assert [i["org_id"] for i in rest["items"]] == [second] and rest["next_token"] is None

    everyone = admin.ok("GET", "/admin/customers?limit=200")
    assert everyone["total"] >= 3 and "personal" in {i["org_id"] for i in everyone["items"]}

    for query, field in (
        ("status=gone", "status"),
        ("plan=platinum", "plan"),
        ("limit=0", "limit"),
        ("next_token=@@", "next_token"),
    ):
        status, body = admin.call("GET", f"/admin/customers?{query}")
        assert_error(body, status, 400, field)
    admin.ok("POST", f"/admin/customers/{second}/activate")


def test_detail_and_its_404(env):
    server, admin, _ = env
    _, org_id, owner_email = customer(server, unique("Detail"))
    detail = admin.ok("GET", f"/admin/customers/{org_id}")
    assert detail["org_id"] == org_id and detail["owner_email"] == owner_email
    assert detail["quota_overrides"] == {} and detail["feature_flags"] == {}
    assert detail["notes"] is None and detail["credits_balance"] == 100.0  # the free grant
    assert detail["status"] == "active" and detail["plan"] == "free"
    status, body = admin.call("GET", "/admin/customers/org_nope")
    assert_error(body, status, 404)


def test_patch_changes_what_it_names_and_audits_it(env):
    server, admin, _ = env
    owner, org_id, _ = customer(server, unique("Patch"))
    body = {
        "plan": "enterprise",
        "quota_overrides": {"monthly_runs": 50000},
        "feature_flags": {"beta_ai_studio": True, "ai_studio": False},
        "notes": "Upgraded to enterprise",
        "credits_balance": 1000.0,
    }
    after = admin.ok("PATCH", f"/admin/customers/{org_id}", body)
    assert after["plan"] == "enterprise" and after["notes"] == "Upgraded to enterprise"
    assert after["quota_overrides"] == {"monthly_runs": 50000}
    assert after["feature_flags"] == {"beta_ai_studio": True, "ai_studio": False}
    assert after["credits_balance"] == 1000.0
    assert admin.ok("GET", f"/admin/customers/{org_id}") == after

    # the quota the server enforces follows: the org's own /usage/quota shows it
    quota = owner.ok("GET", "/usage/quota")
    assert quota["plan"] == "enterprise" and quota["limits"]["monthly_runs"] == 50000

    # flags merge: null unsets one
    again = admin.ok("PATCH", f"/admin/customers/{org_id}", {"feature_flags": {"ai_studio": None}})
    assert again["feature_flags"] == {"beta_ai_studio": True}

    rows = admin.ok("GET", f"/admin/customers/{org_id}/audit?limit=10")["items"]
    update = next(r for r in rows if r["resource_type"] == "customer")
    assert update["actor_email"] == SUPER and update["org_id"] == org_id
    assert update["metadata"]["feature_flags"] == {"ai_studio": None}
    credit = next(r for r in rows if r["resource_type"] == "credits")
    assert credit["metadata"] == {"amount": 900.0, "credits_balance": 1000.0}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "body"),
        ({"colour": "red"}, "colour"),
        ({"status": "deleted"}, "status"),
        ({"plan": "platinum"}, "plan"),
        ({"quota_overrides": {"monthly_runs": -1}}, "monthly_runs"),
        ({"quota_overrides": {"rockets": 1}}, "quota_overrides"),
        ({"quota_overrides": {"monthly_runs": 2**70}}, "monthly_runs"),
        ({"quota_overrides": []}, "quota_overrides"),
        ({"feature_flags": {"Bad Name": True}}, "feature_flags"),
        ({"feature_flags": {"ok": "yes"}}, "ok"),
        ({"notes": 5}, "notes"),
        ({"credits_balance": -1}, "credits_balance"),
        ({"credits_balance": "lots"}, "credits_balance"),
        ({"credits_balance": 1e300}, "credits_balance"),
        ({"notes": "fine", "plan": "platinum"}, "plan"),  # nothing written when one field is bad
    ],
)
def test_a_bad_patch_is_400_and_changes_nothing(env, body, field):
    server, admin, _ = env
    org_id = "personal"
    before = admin.ok("GET", f"/admin/customers/{org_id}")
    status, answer = admin.call("PATCH", f"/admin/customers/{org_id}", body)
    assert_error(answer, status, 400, field)
    assert admin.ok("GET", f"/admin/customers/{org_id}") == before


def test_patch_of_an_unknown_org_is_404(env):
    _, admin, _ = env
    status, body = admin.call("PATCH", "/admin/customers/org_nope", {"notes": "x"})
    assert_error(body, status, 404)


def test_members_usage_audit_and_sessions(env):
    server, admin, flows_file = env
    owner, org_id, owner_email = customer(server, unique("Busy"))
    _, dev_email = member(server, owner)
    register_flow(owner, flows_file)
    run = owner.ok("POST", "/runs", {"flow_name": "etl", "flow_version": "1.0.0"}, 202)
    wait_until(
        lambda: owner.ok("GET", f"/runs/{run['run_id']}")["status"] == "completed", 30, "the run"
    )

    members = admin.ok("GET", f"/admin/customers/{org_id}/members")["items"]
    assert [(m["user_email"], m["role"]) for m in members] == [
        (owner_email, "owner"),
        (dev_email, "developer"),
    ]
    assert all(m["joined_at"] for m in members)
    status, body = admin.call("GET", "/admin/customers/org_nope/members")
    assert_error(body, status, 404)

    usage = admin.ok("GET", f"/admin/customers/{org_id}/usage")
    month = usage["items"][0]
    assert month["org_id"] == org_id and len(month["period"]) == 7
    assert month["run_count"] == 1 and month["task_count"] == 4  # 3 doubles and a total
    assert month["error_count"] == 0 and month["api_call_count"] >= 0
    assert len(usage["items"]) == 3 and usage["items"][1]["run_count"] == 0

    # the daily series is the org's own /usage/timeseries
    # (API calls are written in batches: left out of the comparison)
    def figures(days: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{k: v for k, v in d.items() if k != "api_call_count"} for d in days]

    assert figures(usage["daily"]) == figures(owner.ok("GET", "/usage/timeseries")["items"])
    assert sum(d["run_count"] for d in usage["daily"]) == 1

    audit = admin.ok("GET", f"/admin/customers/{org_id}/audit?limit=2")["items"]
    assert len(audit) == 2
    assert set(audit[0]) >= {
        "org_id", "event_time", "resource_type", "resource_id", "action", "actor_email", "metadata"
    }  # fmt: skip
    everything = admin.ok("GET", f"/admin/customers/{org_id}/audit?limit=500")["items"]
    assert {r["org_id"] for r in everything} == {org_id}
    assert ("execute", "run", run["run_id"]) in {
        (r["action"], r["resource_type"], r["resource_id"]) for r in everything
    }
    status, body = admin.call("GET", f"/admin/customers/{org_id}/audit?limit=abc")
    assert_error(body, status, 400, "limit")

    sessions = {
        s["user_email"]: s for s in admin.ok("GET", f"/admin/customers/{org_id}/sessions")["items"]
    }
    assert set(sessions) == {owner_email, dev_email}
    assert sessions[dev_email]["current_token_issued_at"] is not None
    assert sessions[dev_email]["last_login_at"] >= sessions[dev_email]["current_token_issued_at"]
    assert sessions[dev_email]["active_sessions"] == 1
    # the owner's token is bound to their personal org (X-Dagy-Org selects this one)
    assert sessions[owner_email]["current_token_issued_at"] is None


def test_credits_add_and_deduct_and_refuse_bad_amounts(env):
    server, admin, _ = env
    _, org_id, _ = customer(server, unique("Credits"))
    path = f"/admin/customers/{org_id}/credits"
    assert admin.ok("POST", path, {"amount": 500.0}) == {"org_id": org_id, "credits_balance": 600.0}
    assert admin.ok("POST", path, {"amount": -100}) == {"org_id": org_id, "credits_balance": 500.0}
    for bad in (
        {"amount": 0},
        {"amount": "500"},
        {"amount": True},
        {},
        {"amount": -10_000},
        {"amount": 1e300},
    ):
        status, body = admin.call("POST", path, bad)
        assert_error(body, status, 400, "amount")
    status, _, body = server.request(
        "POST",
        path,
        token=admin.token,
        raw=b'{"amount": NaN}',
        headers={"Content-Type": "application/json"},
    )
    assert status == 400 and isinstance(body, dict) and body["error"], body
    assert admin.ok("GET", f"/admin/customers/{org_id}")["credits_balance"] == 500.0
    status, body = admin.call("POST", "/admin/customers/org_nope/credits", {"amount": 1})
    assert_error(body, status, 404)


def test_revoking_a_users_sessions_makes_their_next_request_401(env):
    server, admin, _ = env
    owner, org_id, _ = customer(server, unique("Revoke"))
    dev, dev_email = member(server, owner)
    assert dev.call("GET", "/me")[0] == 200  # cached by the server from here on
    # a second login: two live tokens in the org
    status, _, second = server.request(
        "POST", "/auth/login",
        body={"email": dev_email, "password": "password-123", "org_id": org_id},
    )  # fmt: skip
    assert status == 200

    answer = admin.ok("DELETE", f"/admin/customers/{org_id}/sessions/{dev_email.upper()}")
    assert answer == {"status": "revoked", "user_email": dev_email, "deleted": 2}
    status, body = dev.call("GET", "/me")
    assert_error(body, status, 401)
    status, _, body = server.request("GET", "/me", token=second["access_token"])
    assert status == 401
    assert owner.call("GET", "/me")[0] == 200  # others keep theirs
    again = admin.ok("DELETE", f"/admin/customers/{org_id}/sessions/{dev_email}")
    assert again["deleted"] == 0
    sessions = admin.ok("GET", f"/admin/customers/{org_id}/sessions")["items"]
    assert next(s for s in sessions if s["user_email"] == dev_email)["active_sessions"] == 0
    row = next(
        r
        for r in admin.ok("GET", f"/admin/customers/{org_id}/audit")["items"]
        if r["resource_type"] == "session" and r["action"] == "delete"
    )
    assert row["actor_email"] == SUPER and row["resource_id"] == dev_email
    status, body = admin.call("DELETE", f"/admin/customers/{org_id}/sessions/not-an-email")
    assert_error(body, status, 400)


def test_impersonation_gives_owner_access_and_every_audit_row_names_both(env):
    server, admin, flows_file = env
    owner, org_id, _ = customer(server, unique("Imp"))
    # the header alone, before an impersonation is started, is refused
    status, body = Api(server, admin.token, {"X-Impersonate-Org": org_id}).call("GET", "/flows")
    assert_error(body, status, 403)
    assert "POST /admin/impersonate" in body["message"]
    started = admin.ok("POST", f"/admin/impersonate/{org_id}")
    assert started["expires_at"].endswith("Z")
    assert started["org_id"] == org_id and started["impersonating"] is True
    assert started["org_name"].startswith("Imp-")
    status, body = admin.call("POST", "/admin/impersonate/org_nope")
    assert_error(body, status, 404)

    # without the header the super admin is no member of the org
    status, _ = Api(server, admin.token, {"X-Dagy-Org": org_id}).call("GET", "/flows")
    assert status in (401, 403)
    acting = impersonating(admin, org_id)
    me = acting.ok("GET", "/users/me")
    assert me["org_id"] == org_id and me["role"] == "owner" and me["super_admin"] is True
    register_flow(acting, flows_file)  # an owner's write, in the customer's org
    schedule = unique("imp-sched")
    acting.ok(
        "POST", "/schedules", {"schedule_id": schedule, "flow_name": "etl", "mode": "manual"}, 201
    )
    assert {f["flow_name"] for f in owner.ok("GET", "/flows")["items"]} == {"etl"}

    rows = owner.ok("GET", "/audit-logs?limit=50")["items"]  # the org's own trail shows it too
    mine = [r for r in rows if r["actor_email"] == SUPER]
    assert {r["resource_type"] for r in mine} >= {"flow", "schedule"}
    assert all(
        r.get("impersonated_by") == SUPER for r in mine if r["resource_type"] != "impersonation"
    )
    trail = admin.ok("GET", f"/admin/customers/{org_id}/audit")["items"]
    made = next(r for r in trail if r["resource_type"] == "schedule")
    assert made["org_id"] == org_id and made["actor_email"] == SUPER
    assert made["impersonated_by"] == SUPER
    start_row = next(r for r in trail if r["resource_type"] == "impersonation")
    assert start_row["action"] == "login" and start_row["metadata"]["super_admin"] == SUPER
    # the owner's own rows name no impersonator
    assert all(r["impersonated_by"] is None for r in trail if r["actor_email"] != SUPER)

    # someone else sending the header is refused, whatever the org
    status, body = Api(server, owner.token, {"X-Impersonate-Org": org_id}).call("GET", "/flows")
    assert (status, body) == (403, SUPER_REQUIRED)
    status, body = Api(server, owner.token, {"X-Impersonate-Org": "personal"}).call("GET", "/me")
    assert (status, body) == (403, SUPER_REQUIRED)
    status, body = impersonating(admin, "org_nope").call("GET", "/me")
    assert_error(body, status, 404)


def test_a_quota_override_turns_a_429_into_a_202(env):
    server, admin, flows_file = env
    owner, org_id, _ = customer(server, unique("Quota"))
    register_flow(owner, flows_file)
    admin.ok("PATCH", f"/admin/customers/{org_id}", {"quota_overrides": {"monthly_runs": 0}})
    status, body = owner.call("POST", "/runs", {"flow_name": "etl", "flow_version": "1.0.0"})
    assert status == 429 and body["error"] == "quota_exceeded" and body["limit"] == 0, body

    after = admin.ok(
        "PATCH", f"/admin/customers/{org_id}", {"quota_overrides": {"monthly_runs": 5}}
    )
    assert after["quota_overrides"] == {"monthly_runs": 5}
    owner.ok("POST", "/runs", {"flow_name": "etl", "flow_version": "1.0.0"}, 202)
    assert owner.ok("GET", "/usage/quota")["limits"]["monthly_runs"] == 5
    cleared = admin.ok("PATCH", f"/admin/customers/{org_id}", {"quota_overrides": {}})
    assert cleared["quota_overrides"] == {}
    assert owner.ok("GET", "/usage/quota")["limits"]["monthly_runs"] == 100  # the plan's


def test_the_ai_studio_flag_a_super_admin_turns_off_refuses_the_orgs_turns_until_on_again(env):
    from tests.studio.studio_support import SPEC_MESSAGE, new_session, send

    server, admin, _ = env
    owner, org_id, _ = customer(server, unique("Flags"))
    session = new_session(owner, title="flagged")["session_id"]
    status, answer = send(owner, session, {"message": SPEC_MESSAGE, "intent": "build"})
    assert status == 200, answer
    before = len(owner.ok("GET", f"/ai-studio/sessions/{session}")["history"])

    admin.ok("PATCH", f"/admin/customers/{org_id}", {"feature_flags": {"ai_studio": False}})
    status, answer = send(owner, session, {"message": SPEC_MESSAGE, "intent": "build"})
    assert_error(answer, status, 403)
    assert answer["error"] == "feature_disabled"
    assert len(owner.ok("GET", f"/ai-studio/sessions/{session}")["history"]) == before
    admin.ok("PATCH", f"/admin/customers/{org_id}", {"feature_flags": {"ai_studio": None}})
    status, answer = send(owner, session, {"message": SPEC_MESSAGE, "intent": "build"})
    assert status == 200, answer
    assert len(owner.ok("GET", f"/ai-studio/sessions/{session}")["history"]) > before

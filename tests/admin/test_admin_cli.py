"""`dagy admin customers|suspend|activate|credits` and `dagy users create --super-admin` /
`set-super-admin` in each mode: on the store file, through this home's live server, and against
an API with a super admin's (or someone else's) token."""

from __future__ import annotations

import json
from pathlib import Path

from tests.admin.admin_support import SUPER, customer, dagy, start
from tests.conftest import start_server
from tests.server.flows_support import PASSWORD, add_user, unique


def _store_rows(home: Path, sql: str) -> list[tuple]:
    from dagy.config.paths import DagyPaths
    from dagy.store.duckdb_store import DuckDBStore

    store = DuckDBStore(DagyPaths(home))
    with store.connection() as con:
        return con.execute(sql).fetchall()


def test_the_cli_on_the_store_file(tmp_path):
    home = tmp_path / "home"
    made = dagy(
        home,
        "users", "create", "--email", "Boss@Example.com", "--role", "owner", "--super-admin",
        "--password-stdin",
        input=PASSWORD + "\n",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert made.stdout.strip() == "Created boss@example.com (owner of personal, super admin)"
    assert _store_rows(home, "SELECT email, super_admin FROM users") == [("boss@example.com", True)]

    listed = dagy(home, "admin", "customers", "--json")
    assert listed.returncode == 0, listed.stderr
    body = json.loads(listed.stdout)
    assert body["total"] == 1 and body["items"][0]["org_id"] == "personal"
    assert body["items"][0]["owner_email"] == "boss@example.com"
    table = dagy(home, "admin", "customers")
    assert "personal" in table.stdout and "boss@example.com" in table.stdout

    done = dagy(home, "admin", "suspend", "personal")
    assert (done.returncode, done.stdout.strip()) == (0, "personal is suspended")
    suspended = json.loads(
        dagy(home, "admin", "customers", "--status", "suspended", "--json").stdout
    )
    assert [i["org_id"] for i in suspended["items"]] == ["personal"]
    done = dagy(home, "admin", "activate", "personal")
    assert (done.returncode, done.stdout.strip()) == (0, "personal is active")
    assert (
        json.loads(dagy(home, "admin", "customers", "--status", "suspended", "--json").stdout)[
            "total"
        ]
        == 0
    )

    added = dagy(home, "admin", "credits", "personal", "50", "--note", "goodwill")
    assert (added.returncode, added.stdout.strip()) == (0, "personal credits balance: 150")
    taken = dagy(home, "admin", "credits", "personal", "--", "-30")
    assert (taken.returncode, taken.stdout.strip()) == (0, "personal credits balance: 120")
    zero = dagy(home, "admin", "credits", "personal", "0")
    assert zero.returncode == 2 and "amount" in zero.stderr
    missing = dagy(home, "admin", "credits", "org_nope", "5")
    assert missing.returncode == 3 and "Organization not found: org_nope" in missing.stderr
    assert _store_rows(
        home,
        "SELECT delta, reason, ref FROM credit_ledger WHERE reason = 'adjust' ORDER BY created_at",
    ) == [(50.0, "adjust", "goodwill"), (-30.0, "adjust", None)]

    off = dagy(home, "users", "set-super-admin", "boss@example.com", "--off")
    assert (off.returncode, off.stdout.strip()) == (
        0,
        "boss@example.com is no longer a super admin",
    )
    assert _store_rows(home, "SELECT super_admin FROM users") == [(False,)]
    nobody = dagy(home, "users", "set-super-admin", "nobody@example.com", "--on")
    assert nobody.returncode == 3 and "User not found" in nobody.stderr
    rows = _store_rows(
        home,
        "SELECT actor_email, action, resource_id, changes FROM audit_log "
        "WHERE resource_type = 'user' AND changes LIKE '%super_admin%' ORDER BY ts",
    )
    assert [(r[0], r[1], r[2], json.loads(r[3])) for r in rows] == [
        ("local", "update", "boss@example.com", {"super_admin": [False, True]}),
        ("local", "update", "boss@example.com", {"super_admin": [True, False]}),
    ]
    assert dagy(home, "users", "set-super-admin", "boss@example.com").returncode == 2  # --on/--off


def test_the_cli_through_the_live_server_and_a_remote_api(tmp_path):
    server, admin, _ = start(tmp_path)  # the super admin was made through the live server
    try:
        add_user(server, "owner@example.com", "owner")
        on = dagy(server.home, "users", "set-super-admin", "owner@example.com", "--on")
        assert on.returncode == 0, on.stderr
        assert on.stdout.strip() == "owner@example.com is now a super admin"
        owner_token = server.login("owner@example.com", PASSWORD)
        status, _, me = server.request("GET", "/users/me", token=owner_token)
        assert status == 200 and me["super_admin"] is True
        assert server.request("GET", "/admin/customers", token=owner_token)[0] == 200
        off = dagy(server.home, "users", "set-super-admin", "owner@example.com", "--off")
        assert off.returncode == 0, off.stderr
        # at once, though the server had the identity cached
        assert server.request("GET", "/admin/customers", token=owner_token)[0] == 403

        _, org_id, owner_email = customer(server, unique("Cli"))
        live = dagy(server.home, "admin", "customers", "--search", owner_email, "--json")
        assert live.returncode == 0, live.stderr
        assert [i["org_id"] for i in json.loads(live.stdout)["items"]] == [org_id]

        # a remote API with the super admin's token
        api_home = tmp_path / "elsewhere"
        remote = {"DAGY_API_URL": server.api_url, "DAGY_TOKEN": admin.token}
        listed = dagy(api_home, "admin", "customers", "--json", env=remote)
        assert listed.returncode == 0, listed.stderr
        assert org_id in {i["org_id"] for i in json.loads(listed.stdout)["items"]}
        done = dagy(api_home, "admin", "suspend", org_id, env=remote)
        assert (done.returncode, done.stdout.strip()) == (0, f"{org_id} is suspended")
        done = dagy(api_home, "admin", "activate", org_id, env=remote)
        assert (done.returncode, done.stdout.strip()) == (0, f"{org_id} is active")
        paid = dagy(api_home, "admin", "credits", org_id, "25.5", env=remote)
        assert (paid.returncode, paid.stdout.strip()) == (0, f"{org_id} credits balance: 125.5")
        bad = dagy(api_home, "admin", "credits", org_id, "0", env=remote)
        assert bad.returncode == 2 and "amount" in bad.stderr
        missing = dagy(api_home, "admin", "suspend", "org_nope", env=remote)
        assert missing.returncode == 3

        granted = dagy(api_home, "users", "set-super-admin", SUPER, "--off", env=remote)
        assert granted.returncode == 2 and "a remote API cannot grant it" in granted.stderr

        someone = {"DAGY_API_URL": server.api_url, "DAGY_TOKEN": server.login("owner@example.com")}
        refused = dagy(api_home, "admin", "customers", env=someone)
        assert refused.returncode == 6
        assert "APIError 403: Super admin access required" in refused.stderr
    finally:
        server.stop()


def test_only_the_machine_grants_the_flag_no_public_route_does(tmp_path):
    server = start_server(tmp_path / "home", env={"DAGY_RATE_LIMIT_PER_MINUTE": "0"})
    try:
        add_user(server, "owner@example.com", "owner")
        token = server.login("owner@example.com", PASSWORD)
        status, _, _ = server.request(
            "PUT",
            "/_local/users/owner@example.com/super-admin",
            token=token,
            body={"super_admin": True},
        )
        assert status == 403
        status, _, me = server.request("GET", "/users/me", token=token)
        assert me["super_admin"] is False
    finally:
        server.stop()

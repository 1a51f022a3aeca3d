"""Suspension takes effect on a real `dagy serve`: a suspended org's member, API key, webhook,
schedule tick and polling sensor are refused or skipped (403 ``org_suspended``; the schedule and
the sensor record why) while a super admin still reaches the org; activation restores them all."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.admin.admin_support import customer, impersonating, member, register_flow, start
from tests.conftest import ServerProcess
from tests.server.flows_support import Api, unique
from tests.server.runs_support import wait_until
from tests.server.sensors_support import Endpoint


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, Api, Path]]:
    server, admin, flows_file = start(tmp_path_factory.mktemp("suspend"))
    yield server, admin, flows_file
    server.stop()


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    found = Endpoint()
    found.status, found.body = 200, {"state": "same"}
    yield found
    found.close()


def hook(server: ServerProcess, token: str) -> tuple[int, Any]:
    status, _, body = server.request("POST", f"/webhooks/{token}", body={"n": 1})
    return status, body


def test_a_suspended_org_refuses_its_member_key_webhook_schedule_and_sensor_until_activated(
    env, endpoint
):
    server, admin, flows_file = env
    owner, org_id, _ = customer(server, unique("Sus"))
    dev, _ = member(server, owner)
    register_flow(owner, flows_file)
    admin.ok(  # room for the schedule's and the webhook's runs
        "PATCH", f"/admin/customers/{org_id}", {"quota_overrides": {"concurrent_runs": 1000}}
    )
    key = owner.ok("POST", "/api-keys", {"name": "ci", "scopes": ["runs.read"]}, 201)["key"]
    keyed = Api(server, key)
    webhook = owner.ok(
        "POST",
        "/sensors",
        {"name": unique("hook"), "sensor_type": "webhook", "flow_name": "etl"},
        201,
    )["webhook_token"]
    polling = owner.ok(
        "POST",
        "/sensors",
        {
            "name": unique("poll"),
            "sensor_type": "polling",
            "flow_name": "etl",
            "config_json": {"url": endpoint.url, "interval_seconds": 0.2},
        },
        201,
    )["sensor_id"]
    schedule = unique("tick")
    owner.ok(
        "POST",
        "/schedules",
        {"schedule_id": schedule, "flow_name": "etl", "flow_version": "1.0.0",
         "mode": "interval", "interval_seconds": 1},
        201,
    )  # fmt: skip

    # before: everything works
    assert dev.call("GET", "/runs")[0] == 200
    assert keyed.call("GET", "/runs")[0] == 200
    assert hook(server, webhook)[0] == 202

    assert admin.ok("POST", f"/admin/customers/{org_id}/suspend") == {
        "status": "suspended",
        "org_id": org_id,
    }
    for api in (dev, owner, keyed):
        status, body = api.call("GET", "/runs")
        assert status == 403 and body["error"] == "org_suspended", body
        assert org_id in body["message"] and "suspended" in body["message"]
    status, body = hook(server, webhook)
    assert status == 403 and body["error"] == "org_suspended", body
    status, _, body = server.request("POST", f"/webhooks/{webhook}", raw=b"not json")
    assert status == 403 and body["error"] == "org_suspended", body

    # the super admin still reaches it, and sees why the schedule and the sensor did nothing
    acting = impersonating(admin, org_id)
    assert admin.ok("GET", f"/admin/customers/{org_id}")["status"] == "suspended"

    def refused_schedule() -> Any:
        found = acting.ok("GET", f"/schedules/{schedule}")
        return found["last_error"] and "suspended" in found["last_error"] and found

    wait_until(refused_schedule, 20, "the scheduler to skip the suspended org")

    def skipped_sensor() -> Any:
        found = acting.ok("GET", f"/sensors/{polling}")
        return found["last_error"] and found["last_error"].startswith("org_suspended") and found

    wait_until(skipped_sensor, 20, "the sensor loop to skip the suspended org")
    hits = endpoint.hits
    runs_then = {r["run_id"] for r in acting.ok("GET", "/runs?limit=100")["items"]}
    status, body = acting.call("POST", "/runs", {"flow_name": "etl", "flow_version": "1.0.0"})
    assert status == 403 and body["error"] == "org_suspended"  # a suspended org runs nothing
    assert {r["run_id"] for r in acting.ok("GET", "/runs?limit=100")["items"]} == runs_then
    wait_until(skipped_sensor, 20, "another skipped look")
    assert endpoint.hits == hits  # skipped looks never reach the endpoint

    assert admin.ok("POST", f"/admin/customers/{org_id}/activate") == {
        "status": "active",
        "org_id": org_id,
    }
    assert dev.call("GET", "/runs")[0] == 200
    assert keyed.call("GET", "/runs")[0] == 200
    assert hook(server, webhook)[0] == 202

    def fired_again() -> Any:
        found = owner.ok("GET", f"/schedules/{schedule}")
        return found["last_error"] is None and found["last_run_id"] not in runs_then and found

    wait_until(fired_again, 20, "the schedule to fire again")

    def looked_again() -> Any:
        found = owner.ok("GET", f"/sensors/{polling}")
        return not (found["last_error"] or "").startswith("org_suspended") and found

    wait_until(looked_again, 20, "the sensor to look again")
    wait_until(lambda: endpoint.hits > hits, 20, "the endpoint to be polled again")

    rows = admin.ok("GET", f"/admin/customers/{org_id}/audit?limit=200")["items"]
    statuses = [r["metadata"].get("status") for r in rows if r["resource_type"] == "customer"]
    assert ["active", "suspended"] in statuses and ["suspended", "active"] in statuses


def test_suspend_and_activate_of_an_unknown_org_are_404_and_repeat_harmlessly(env):
    server, admin, _ = env
    for action in ("suspend", "activate"):
        status, body = admin.call("POST", f"/admin/customers/org_nope/{action}")
        assert status == 404 and body["error"] == "not_found"
    owner, org_id, _ = customer(server, unique("Twice"))
    admin.ok("POST", f"/admin/customers/{org_id}/suspend")
    admin.ok("POST", f"/admin/customers/{org_id}/suspend")
    detail = admin.ok("GET", f"/admin/customers/{org_id}")
    assert detail["status"] == "suspended" and detail["suspended_at"]
    admin.ok("PATCH", f"/admin/customers/{org_id}", {"status": "active"})
    assert owner.call("GET", "/me")[0] == 200
    assert admin.ok("GET", f"/admin/customers/{org_id}")["suspended_at"] is None

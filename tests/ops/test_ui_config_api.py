"""UI config through a real `dagy serve`: marketing and navigation public, the dashboard's numbers
the same as GET /usage/summary's, settings reflecting what is configured (channels, Stripe,
executors, artifact stores, AI providers), and the content coming from the package's data files."""

from __future__ import annotations

import json
from collections.abc import Iterator
from importlib import resources

import pytest

from dagy.auth import rbac
from tests.conftest import ServerProcess
from tests.ops.support import OWNER, assert_error, serve
from tests.server.runs_support import register, trigger, wait_status, write_flows


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    tmp = tmp_path_factory.mktemp("ui")
    home = tmp / "home"
    flows = write_flows(tmp / "code")
    register(home, flows)
    srv = serve(home, env={"STRIPE_WEBHOOK_SECRET": "whsec_x_ui_test"})
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def owner(server: ServerProcess) -> str:
    return server.login(OWNER)


def content(name: str) -> dict:
    text = resources.files("dagy.services.ui").joinpath(f"content/{name}.json").read_text()
    return json.loads(text)


def test_marketing_and_navigation_are_public_and_come_from_the_data_files(server):
    status, _, body = server.request("GET", "/ui/marketing")
    assert status == 200
    assert set(body) == {"hero", "features", "pricing", "testimonials"}
    assert body["hero"] == content("marketing")["hero"]
    assert [p["plan_id"] for p in body["pricing"]["plans"]] == [
        "free",
        "professional",
        "enterprise",
    ]
    status, _, plans = server.request("GET", "/billing/plans")
    assert body["pricing"]["plans"] == plans["items"]
    status, _, nav = server.request("GET", "/ui/navigation")
    assert status == 200 and nav == content("navigation")
    assert set(nav) == {"main_nav", "sidebar_nav", "footer_nav"}


def test_every_permission_the_content_names_exists():
    named = [i["permission"] for i in content("navigation")["sidebar_nav"]]
    named += [s["permission"] for s in content("settings")["sections"]]
    known = {p for perms in rbac.MATRIX.values() for p in perms} | {rbac.AUTHENTICATED}
    assert set(named) <= known


def test_dashboard_numbers_are_the_usage_summarys(server, owner):
    for n in range(2):
        run_id = trigger(server, flow_name="quick", flow_version="1.0.0", parameters={"n": n + 1})[
            "run_id"
        ]
        wait_status(server, run_id, "completed")
    status, _, dash = server.request("GET", "/ui/dashboard", token=owner)
    assert status == 200, dash
    assert set(dash) == {"widgets", "stats", "recent_activity"}
    status, _, summary = server.request("GET", "/usage/summary", token=owner)
    assert status == 200
    # Each call counts once its answer starts: the summary has seen the dashboard call, no more.
    assert summary["api_call_count"] == dash["stats"]["api_call_count"] + 1
    dash["stats"]["api_call_count"] += 1
    assert {k: dash["stats"][k] for k in summary} == summary
    assert dash["stats"]["run_count"] >= 2 and dash["stats"]["runs_in_progress"] == 0
    assert [w["id"] for w in dash["widgets"]] == [w["id"] for w in content("dashboard")["widgets"]]
    recent = dash["recent_activity"]
    assert recent[0]["type"] == "run" and recent[0]["status"] == "completed"
    assert recent[0]["run_id"] == run_id and recent[0]["flow_name"] == "quick"


def test_dashboard_needs_runs_read_and_settings_a_login(server):
    for path in ("/ui/dashboard", "/ui/settings"):
        status, _, body = server.request("GET", path)
        assert_error(status, body, 401)


def test_settings_reflect_what_is_configured(server, owner):
    status, _, body = server.request(
        "POST",
        "/channels",
        token=owner,
        body={
            "name": "ops",
            "channel_type": "webhook",
            "config_json": {"url": "http://127.0.0.1:9/x", "secret": "whsec-channel-1"},
        },
    )
    assert status == 201, body
    status, _, page = server.request("GET", "/ui/settings", token=owner)
    assert status == 200, page
    assert set(page) == {"sections", "integrations", "preferences"}
    by_id = {i["id"]: i for i in page["integrations"]}
    assert by_id["channel_webhook"]["configured"] is True
    assert by_id["channel_webhook"]["count"] == 1
    assert by_id["channel_slack"]["configured"] is False
    stripe = by_id["stripe"]
    assert stripe["configured"] is False and stripe["api_key_set"] is False
    assert stripe["webhook_secret_set"] is True
    assert by_id["executor_local"]["configured"] and by_id["executor_process"]["configured"]
    assert by_id["artifact_store_local"]["active"] is True
    assert by_id["ai_provider_offline"]["type"] == "ai_provider"
    sections = {s["id"]: s for s in page["sections"]}
    assert sections["billing"]["allowed"] is True
    assert page["preferences"]["email"] == OWNER and page["preferences"]["role"] == "owner"

"""The deployments API against a real `dagy serve`: create or update, list, get, change version,
settings, rollback, delete; the flow versions' active/inactive status; RBAC, other orgs, audit."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ServerProcess
from tests.server.flows_support import (
    Api,
    assert_error,
    build_spec,
    login,
    new_org,
    start,
    unique,
    write_flows,
)

DEPLOYMENT_KEYS = {
    "deployment_id", "deployment_name", "flow_name", "flow_version", "environment", "status",
    "schedule", "timezone", "default_executor", "execution_mode", "tags", "dep_package_slugs",
    "max_concurrent_runs", "created_at", "updated_at", "promoted_from_env",
    "promoted_from_deployment", "promoted_at",
}  # fmt: skip


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = start(tmp_path_factory.mktemp("deployments") / "home")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def flows_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_flows(tmp_path_factory.mktemp("code"))


@pytest.fixture(scope="module")
def owner(srv: ServerProcess) -> Api:
    return Api(srv, srv.login("owner@example.com"))


@pytest.fixture(scope="module")
def viewer(srv: ServerProcess) -> Api:
    return login(srv, "viewer@example.com", "viewer")


@pytest.fixture
def flow(owner: Api, flows_file: Path) -> str:
    """A flow of this test's own with versions 1.0.0, 2.0.0 and 3.0.0 (registered in that order)."""
    name = unique("etl")
    for version in ("1.0.0", "2.0.0", "3.0.0"):
        owner.register(build_spec(flows_file, flow_name=name, flow_version=version))
    return name


def deploy(api: Api, flow: str, version: Any = "1.0.0", code: int = 201, **fields: Any) -> Any:
    body = {"name": fields.pop("name", None) or unique("dep"), "flow_name": flow}
    return api.ok("POST", "/deployments", {**body, "flow_version": version, **fields}, code)


def statuses(api: Api, flow: str) -> dict[str, str]:
    items = api.ok("GET", f"/flows/{flow}/versions")["items"]
    return {v["flow_version"]: v["status"] for v in items}


# -- POST /deployments ------------------------------------------------------------------------------


def test_creating_is_201_updating_is_200_and_each_writes_an_audit_row(owner, flow):
    created = deploy(
        owner,
        flow,
        schedule="0 9 * * *",
        default_executor="kubernetes",  # a remote backend's name is kept, installed or not
        execution_mode="nano",
        tags=["production", "critical"],  # the spec's POST example sends labels
        environment="production",
    )
    assert set(created) == DEPLOYMENT_KEYS | {"name"}  # the spec's 201 has `name`
    assert created["name"] == created["deployment_name"]
    assert created["deployment_id"].startswith("deploy_") and created["status"] == "active"
    assert created["flow_name"] == flow and created["flow_version"] == "1.0.0"
    assert created["tags"] == {"production": "", "critical": ""}
    assert created["schedule"] == "0 9 * * *" and created["default_executor"] == "kubernetes"
    assert statuses(owner, flow) == {"1.0.0": "active", "2.0.0": "inactive", "3.0.0": "inactive"}

    name = created["deployment_name"]
    updated = deploy(owner, flow, "2.0.0", code=200, name=name, tags={"team": "data"})
    assert updated["deployment_id"] == created["deployment_id"]
    assert updated["flow_version"] == "2.0.0" and updated["tags"] == {"team": "data"}
    assert updated["schedule"] == "0 9 * * *"  # not given: unchanged
    assert updated["created_at"] == created["created_at"]
    assert statuses(owner, flow)["2.0.0"] == "active"

    trail = owner.audit("deployment", created["deployment_id"])
    assert [(r["action"], r["changes"]["flow_version"]) for r in trail] == [
        ("update", ["1.0.0", "2.0.0"]),
        ("create", [None, "1.0.0"]),
    ]


def test_an_integer_flow_version_is_the_registration_number(owner, flow):
    assert deploy(owner, flow, 3)["flow_version"] == "3.0.0"


def test_an_unknown_flow_or_version_is_404(owner, flow):
    for body in (
        {"name": unique("dep"), "flow_name": flow, "flow_version": "9.9.9"},
        {"name": unique("dep"), "flow_name": flow, "flow_version": 99},
        {"name": unique("dep"), "flow_name": "no-such-flow", "flow_version": "1.0.0"},
    ):
        status, answer = owner.call("POST", "/deployments", body)
        assert_error(answer, status, 404)
        assert owner.call("GET", f"/deployments/{body['name']}")[0] == 404


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"name": "has space"}, "name"),
        ({"execution_mode": "huge"}, "execution_mode"),
        ({"schedule": "0 25 * * *"}, "schedule"),
        ({"schedule": "* * *"}, "schedule"),
        ({"status": "gone"}, "status"),
        ({"max_concurrent_runs": 0}, "max_concurrent_runs"),
        ({"dep_package_slugs": "pandas"}, "dep_package_slugs"),
        ({"tags": "x"}, "tags"),
        ({"default_executor": "no spaces allowed"}, "default_executor"),
        ({"flow_version": None}, "flow_version"),
        ({"unknown": 1}, "unknown"),
    ],
)
def test_an_invalid_deployment_is_a_400_naming_the_field(owner, flow, fields, field):
    body = {"name": unique("dep"), "flow_name": flow, "flow_version": "1.0.0", **fields}
    status, answer = owner.call("POST", "/deployments", body)
    assert_error(answer, status, 400, field)


def test_a_deployment_keeps_its_flow(owner, flow, flows_file):
    other = unique("other")
    owner.register(build_spec(flows_file, "other", flow_name=other))
    name = deploy(owner, flow)["deployment_name"]
    status, answer = owner.call(
        "POST", "/deployments", {"name": name, "flow_name": other, "flow_version": "1.0.0"}
    )
    assert_error(answer, status, 400, "flow_name")


@pytest.mark.parametrize("schedule", ["*/15 9-17 * JAN-MAR MON-FRI", "0 0 1,15 * 7", "30m", "1d"])
def test_cron_expressions_and_intervals_are_accepted(owner, flow, schedule):
    assert deploy(owner, flow, schedule=schedule)["schedule"] == schedule


# -- GET /deployments -------------------------------------------------------------------------------


def test_the_list_filters_by_environment_and_pages_by_name(srv, flows_file):
    api = new_org(srv)
    api.register(build_spec(flows_file, flow_name="etl"))
    names = [f"dep-{i:02d}" for i in range(5)]
    for i, name in enumerate(reversed(names)):
        deploy(api, "etl", name=name, environment="prod" if i % 2 else "dev")
    listed = api.ok("GET", "/deployments")
    assert [d["deployment_name"] for d in listed["items"]] == names
    assert listed["next_token"] is None and set(listed["items"][0]) == DEPLOYMENT_KEYS
    prod = api.ok("GET", "/deployments?environment=prod")["items"]
    assert [d["deployment_name"] for d in prod] == ["dep-01", "dep-03"]

    seen, token = [], None
    while True:
        page = api.ok("GET", "/deployments?limit=2" + (f"&next_token={token}" if token else ""))
        seen += [d["deployment_name"] for d in page["items"]]
        token = page["next_token"]
        if not token:
            break
    assert seen == names
    assert len(api.ok("GET", "/deployments?limit=5000")["items"]) == 5  # clamped to 500


@pytest.mark.parametrize("query", ["limit=0", "limit=-3", "limit=many", "next_token=%%%"])
def test_an_invalid_limit_or_token_is_a_400(owner, query):
    status, answer = owner.call("GET", f"/deployments?{query}")
    assert_error(answer, status, 400)


# -- GET / PATCH /deployments/{name} ----------------------------------------------------------------


def test_get_and_404(owner, flow):
    created = deploy(owner, flow, dep_package_slugs=["pandas-layer"])
    got = owner.ok("GET", f"/deployments/{created['deployment_name']}")
    assert {**got, "name": got["deployment_name"]} == created  # POST adds the spec's `name`
    status, answer = owner.call("GET", "/deployments/no-such-deployment")
    assert_error(answer, status, 404)


def test_patch_changes_the_version_and_which_version_is_active(owner, flow):
    created = deploy(owner, flow)
    name = created["deployment_name"]
    patched = owner.ok("PATCH", f"/deployments/{name}", {"flow_version": "3.0.0"})
    assert patched["flow_version"] == "3.0.0" and patched["deployment_name"] == name
    assert statuses(owner, flow) == {"1.0.0": "inactive", "2.0.0": "inactive", "3.0.0": "active"}
    assert owner.ok("GET", f"/flows/{flow}/latest")["status"] == "active"

    row = owner.audit("deployment", created["deployment_id"])[0]
    assert row["action"] == "update" and row["changes"]["flow_version"] == ["1.0.0", "3.0.0"]

    status, answer = owner.call("PATCH", f"/deployments/{name}", {"flow_version": "8.0.0"})
    assert_error(answer, status, 404)
    status, answer = owner.call("PATCH", "/deployments/nope", {"flow_version": "1.0.0"})
    assert_error(answer, status, 404)
    status, answer = owner.call("PATCH", f"/deployments/{name}", {})
    assert_error(answer, status, 400, "flow_version")
    assert owner.ok("GET", f"/deployments/{name}")["flow_version"] == "3.0.0"


def test_an_inactive_deployment_does_not_change_the_active_version(owner, flow):
    deploy(owner, flow, "2.0.0")
    deploy(owner, flow, "1.0.0", status="inactive")
    assert statuses(owner, flow)["2.0.0"] == "active"


# -- PUT /deployments/{name}/settings ---------------------------------------------------------------


def test_settings_change_only_the_fields_given(owner, flow):
    created = deploy(
        owner,
        flow,
        schedule="0 9 * * *",
        execution_mode="nano",
        default_executor="lambda",
        tags={"team": "data-eng", "old": "x"},
        dep_package_slugs=["a"],
    )
    name = created["deployment_name"]
    path = f"/deployments/{name}/settings"
    first = owner.ok("PUT", path, {"execution_mode": "micro", "schedule": "0 9 * * 1-5"})
    assert first["execution_mode"] == "micro" and first["schedule"] == "0 9 * * 1-5"
    assert first["default_executor"] == "lambda" and first["tags"] == created["tags"]
    assert first["dep_package_slugs"] == ["a"] and first["flow_version"] == "1.0.0"

    second = owner.ok(
        "PUT",
        path,
        {
            "tags": {"team": "data-eng", "priority": "high"},
            "dep_package_slugs": ["pandas-layer", "numpy-utils"],
            "default_executor": "",
            "max_concurrent_runs": 2,
        },
    )
    assert second["tags"] == {"team": "data-eng", "priority": "high"}  # replaced, not merged
    assert second["dep_package_slugs"] == ["pandas-layer", "numpy-utils"]
    assert second["default_executor"] is None and second["max_concurrent_runs"] == 2
    assert second["execution_mode"] == "micro"

    third = owner.ok("PUT", path, {"schedule": "", "max_concurrent_runs": None})
    assert third["schedule"] is None and third["max_concurrent_runs"] is None
    assert owner.ok("GET", f"/deployments/{name}") == third

    row = owner.audit("deployment", created["deployment_id"])[0]
    assert row["action"] == "update"
    assert row["changes"] == {"schedule": ["0 9 * * 1-5", None], "max_concurrent_runs": [2, None]}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "settings"),
        ({"execution_mode": "gigantic"}, "execution_mode"),
        ({"schedule": "sometimes"}, "schedule"),
        ({"flow_version": "2.0.0"}, "flow_version"),
        ({"max_concurrent_runs": -1}, "max_concurrent_runs"),
    ],
)
def test_settings_refuse_nothing_to_change_and_invalid_values(owner, flow, body, field):
    name = deploy(owner, flow, execution_mode="small")["deployment_name"]
    status, answer = owner.call("PUT", f"/deployments/{name}/settings", body)
    assert_error(answer, status, 400, field)
    assert owner.ok("GET", f"/deployments/{name}")["execution_mode"] == "small"


def test_settings_of_an_unknown_deployment_are_404(owner):
    status, answer = owner.call("PUT", "/deployments/nope/settings", {"execution_mode": "micro"})
    assert_error(answer, status, 404)


# -- POST /deployments/{name}/rollback --------------------------------------------------------------


def test_rollback_to_a_named_version(owner, flow):
    name = deploy(owner, flow, "3.0.0")["deployment_name"]
    body = owner.ok("POST", f"/deployments/{name}/rollback", {"target_flow_version": "1.0.0"})
    assert set(body) == {
        "deployment_name", "previous_flow_version", "new_flow_version", "rolled_back_at",
    }  # fmt: skip
    assert body["deployment_name"] == name and body["rolled_back_at"].endswith("Z")
    assert (body["previous_flow_version"], body["new_flow_version"]) == ("3.0.0", "1.0.0")
    assert owner.ok("GET", f"/deployments/{name}")["flow_version"] == "1.0.0"
    assert statuses(owner, flow)["1.0.0"] == "active"


def test_rollback_without_a_target_goes_back_to_the_previous_version(owner, flow):
    created = deploy(owner, flow, "1.0.0")
    name = created["deployment_name"]
    status, answer = owner.call("POST", f"/deployments/{name}/rollback", {})
    assert_error(answer, status, 400, "target_flow_version")  # nothing before 1.0.0

    owner.ok("PATCH", f"/deployments/{name}", {"flow_version": "2.0.0"})
    owner.ok("PATCH", f"/deployments/{name}", {"flow_version": "3.0.0"})
    back = owner.ok("POST", f"/deployments/{name}/rollback")  # no body at all
    assert (back["previous_flow_version"], back["new_flow_version"]) == ("3.0.0", "2.0.0")
    # A second rollback undoes the first, as `kubectl rollout undo` does.
    again = owner.ok("POST", f"/deployments/{name}/rollback", {})
    assert (again["previous_flow_version"], again["new_flow_version"]) == ("2.0.0", "3.0.0")

    row = owner.audit("deployment", created["deployment_id"])[0]
    assert row["changes"] == {"flow_version": ["2.0.0", "3.0.0"], "rollback": True}


def test_rollback_of_an_unknown_deployment_or_version_is_404(owner, flow):
    name = deploy(owner, flow, "2.0.0")["deployment_name"]
    status, answer = owner.call("POST", "/deployments/nope/rollback", {})
    assert_error(answer, status, 404)
    status, answer = owner.call(
        "POST", f"/deployments/{name}/rollback", {"target_flow_version": "0.1.0"}
    )
    assert_error(answer, status, 404)
    assert owner.ok("GET", f"/deployments/{name}")["flow_version"] == "2.0.0"


# -- DELETE /deployments/{name} ---------------------------------------------------------------------


def test_delete_answers_the_spec_body_then_404_and_forgets_the_history(owner, flow):
    created = deploy(owner, flow, "1.0.0")
    name = created["deployment_name"]
    owner.ok("PATCH", f"/deployments/{name}", {"flow_version": "2.0.0"})
    assert owner.ok("DELETE", f"/deployments/{name}") == {
        "status": "deleted",
        "deployment_name": name,
    }
    assert owner.call("GET", f"/deployments/{name}")[0] == 404
    status, answer = owner.call("DELETE", f"/deployments/{name}")
    assert_error(answer, status, 404)
    assert owner.ok("GET", f"/flows/{flow}/versions")["items"]  # the flow stays

    again = deploy(owner, flow, "3.0.0", name=name)
    assert again["deployment_id"] != created["deployment_id"]
    status, answer = owner.call("POST", f"/deployments/{name}/rollback", {})
    assert_error(answer, status, 400)  # a new deployment: no history of the old one

    row = owner.audit("deployment", created["deployment_id"])[0]
    assert row["action"] == "delete" and row["changes"]["flow_version"] == "2.0.0"


# -- RBAC and other orgs ----------------------------------------------------------------------------


def test_a_viewer_reads_deployments_but_cannot_change_them(owner, viewer, flow):
    name = deploy(owner, flow)["deployment_name"]
    assert viewer.ok("GET", f"/deployments/{name}")["deployment_name"] == name
    assert viewer.ok("GET", "/deployments")["items"]
    for method, path, body in (
        ("POST", "/deployments", {"name": unique("d"), "flow_name": flow, "flow_version": "1.0.0"}),
        ("PATCH", f"/deployments/{name}", {"flow_version": "2.0.0"}),
        ("PUT", f"/deployments/{name}/settings", {"execution_mode": "micro"}),
        ("POST", f"/deployments/{name}/rollback", {"target_flow_version": "2.0.0"}),
        ("DELETE", f"/deployments/{name}", None),
    ):
        status, answer = viewer.call(method, path, body)
        assert_error(answer, status, 403)
    assert owner.ok("GET", f"/deployments/{name}")["flow_version"] == "1.0.0"


def test_another_orgs_deployment_is_404(srv, owner, flow):
    name = deploy(owner, flow)["deployment_name"]
    stranger = new_org(srv)
    for method, path, body in (
        ("GET", f"/deployments/{name}", None),
        ("PATCH", f"/deployments/{name}", {"flow_version": "2.0.0"}),
        ("PUT", f"/deployments/{name}/settings", {"execution_mode": "micro"}),
        ("POST", f"/deployments/{name}/rollback", {"target_flow_version": "2.0.0"}),
        ("DELETE", f"/deployments/{name}", None),
    ):
        status, answer = stranger.call(method, path, body)
        assert_error(answer, status, 404)
    # Nor can it point a deployment of its own at the other org's flow.
    status, answer = stranger.call(
        "POST", "/deployments", {"name": unique("d"), "flow_name": flow, "flow_version": "1.0.0"}
    )
    assert_error(answer, status, 404)
    assert stranger.ok("GET", "/deployments")["items"] == []
    assert owner.ok("GET", f"/deployments/{name}")["flow_version"] == "1.0.0"

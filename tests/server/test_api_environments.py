"""Environments against a real `dagy serve`: CRUD, variables, order, diff, promotion, protection,
tenancy and audit, as the API reference's Environments section shows them."""

from __future__ import annotations

import dataclasses
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from tests.conftest import ServerProcess, start_server
from tests.server.members_support import add_user, assert_error

ITEM_KEYS = {"env_id", "env_name", "default_executor", "is_protected", "created_at"}
FLOWS = """
    from dagy import flow, task

    @task
    def step(x: int) -> int:
        return x

    @flow(name="etl", version="1")
    def etl():
        return step(1)

    @flow(name="report", version="1")
    def report():
        return step(2)

    @flow(name="lonely", version="1")
    def lonely():
        return step(3)
"""
# deployment -> (flow, version, environment label), registered before the server starts.
DEPLOYMENTS = {
    "etl-staging": ("etl", "3", "stage-a"),
    "report-staging": ("report", "1", "stage-a"),
    "lonely-staging": ("lonely", "1", "stage-a"),
    "etl-prod": ("etl", "2", "prod-a"),
    "report-prod": ("report", "1", "prod-a"),
    "old-prod": ("report", "1", "prod-b"),
    "promo-src": ("etl", "3", "promo-from"),
    "promo-other": ("report", "1", "promo-elsewhere"),
}


def seed(home: Path, code: Path) -> None:
    """Flow versions etl:1-3, report:1, lonely:1 and DEPLOYMENTS, with no server running."""
    from dagy.config.paths import DagyPaths
    from dagy.sdk.loader import load_flow
    from dagy.services.catalog import deployments, flows
    from dagy.store.duckdb_store import DuckDBStore

    code.mkdir(parents=True, exist_ok=True)
    path = code / "env_flows.py"
    path.write_text(textwrap.dedent(FLOWS), encoding="utf-8")
    store = DuckDBStore(DagyPaths(home))
    for name, versions in (("etl", "123"), ("report", "1"), ("lonely", "1")):
        spec = load_flow(f"{path}:{name}").build()
        for version in versions:
            flows.register_version(
                store, "personal", dataclasses.replace(spec, flow_version=version)
            )
    for name, (flow_name, version, env) in DEPLOYMENTS.items():
        deployments.upsert(
            store,
            "personal",
            None,
            name=name,
            flow_name=flow_name,
            flow_version=version,
            environment=env,
            execution_mode="small",
            tags={"team": "data"},
            max_concurrent_runs=2,
        )


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    root = tmp_path_factory.mktemp("environments")
    seed(root / "home", root / "code")
    server = start_server(root / "home", env={"DAGY_RATE_LIMIT_PER_MINUTE": "0"})
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


def unique(prefix: str = "env") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def create(srv: ServerProcess, token: str, name: str, **fields: object) -> dict:
    status, _, body = srv.request(
        "POST", "/environments", token=token, body={"env_name": name, **fields}
    )
    assert status == 201, body
    return body


def audit_of(srv: ServerProcess, token: str, kind: str, resource_id: str) -> list[dict]:
    status, _, body = srv.request(
        "GET", f"/audit-logs/resource/{kind}/{resource_id}?limit=100", token=token
    )
    assert status == 200, body
    return body["items"]


# -- CRUD -------------------------------------------------------------------------------------------


def test_create_returns_201_with_the_spec_shape(srv, owner):
    name = unique("staging")
    body = create(
        srv,
        owner,
        name,
        default_executor="kubernetes",
        config_json={"memory_limit": "4Gi", "cpu_limit": "2", "timeout_seconds": 3600},
    )
    assert set(body) == ITEM_KEYS
    assert body["env_name"] == name and body["default_executor"] == "kubernetes"
    assert body["is_protected"] is False and body["env_id"].startswith("env_")
    assert body["created_at"].endswith("Z")
    status, _, got = srv.request("GET", f"/environments/{name}", token=owner)
    assert status == 200, got
    assert set(got) == ITEM_KEYS | {"config_json"}
    assert got["config_json"] == {"memory_limit": "4Gi", "cpu_limit": "2", "timeout_seconds": 3600}
    [row] = audit_of(srv, owner, "environment", body["env_id"])
    assert row["action"] == "create" and row["actor_email"] == "owner@example.com"


def test_create_with_only_a_name_has_defaults(srv, owner):
    body = create(srv, owner, unique())
    assert (body["default_executor"], body["is_protected"]) == (None, False)
    got = srv.request("GET", f"/environments/{body['env_name']}", token=owner)[2]
    assert got["config_json"] == {}


def test_create_twice_is_409(srv, owner):
    name = unique()
    create(srv, owner, name)
    status, _, body = srv.request("POST", "/environments", token=owner, body={"env_name": name})
    assert status == 409, body
    assert_error(body, "conflict")


@pytest.mark.parametrize(
    "payload, field",
    [
        ({}, "env_name"),
        ({"env_name": ""}, "env_name"),
        ({"env_name": "a b"}, "env_name"),
        ({"env_name": "reorder"}, "env_name"),
        ({"env_name": "ok", "config_json": "memory=4Gi"}, "config_json"),
        ({"env_name": "ok", "config_json": {"timeout_seconds": -1}}, "config_json.timeout_seconds"),
        ({"env_name": "ok", "default_executor": "no spaces allowed"}, "default_executor"),
        ({"env_name": "ok", "is_protected": "yes"}, "is_protected"),
    ],
)
def test_create_rejects_invalid_configuration_with_400_naming_the_field(srv, owner, payload, field):
    status, _, body = srv.request("POST", "/environments", token=owner, body=payload)
    assert status == 400, body
    assert field in assert_error(body)["details"]


def test_list_shows_the_orgs_environments_in_promotion_order(srv, owner):
    names = [unique("l") for _ in range(3)]
    for name in names:
        create(srv, owner, name)
    status, _, body = srv.request("GET", "/environments", token=owner)
    assert status == 200, body
    assert set(body) == {"items"}
    listed = [item["env_name"] for item in body["items"]]
    assert [n for n in listed if n in names] == names  # appended in creation order
    assert all(set(item) == ITEM_KEYS for item in body["items"])


def test_patch_updates_the_given_fields_and_audits_before_and_after(srv, owner):
    env = create(srv, owner, unique(), default_executor="kubernetes")
    name = env["env_name"]
    status, _, body = srv.request(
        "PATCH",
        f"/environments/{name}",
        token=owner,
        body={"default_executor": "lambda", "config_json": {"cpu_limit": "1"}},
    )
    assert status == 200, body
    assert set(body) == {"env_id", "env_name", "default_executor", "is_protected", "updated_at"}
    assert (body["default_executor"], body["is_protected"]) == ("lambda", False)
    got = srv.request("GET", f"/environments/{name}", token=owner)[2]
    assert got["config_json"] == {"cpu_limit": "1"} and got["default_executor"] == "lambda"
    update = [
        r for r in audit_of(srv, owner, "environment", env["env_id"]) if r["action"] == "update"
    ]
    assert update[0]["changes"] == {
        "default_executor": ["kubernetes", "lambda"],
        "config_json": [{}, {"cpu_limit": "1"}],
    }


def test_patch_and_get_of_an_unknown_environment_are_404(srv, owner):
    for method, body in (("GET", None), ("PATCH", {"is_protected": True}), ("DELETE", None)):
        status, _, answer = srv.request(method, "/environments/nowhere", token=owner, body=body)
        assert status == 404, (method, answer)
        assert_error(answer, "not_found")


def test_delete_removes_the_environment_and_its_variables(srv, owner):
    env = create(srv, owner, unique())
    name = env["env_name"]
    srv.request(
        "PUT", f"/environments/{name}/variables", token=owner, body={"variables": {"A": "1"}}
    )
    status, _, body = srv.request("DELETE", f"/environments/{name}", token=owner)
    assert status == 204 and body is None
    assert srv.request("GET", f"/environments/{name}", token=owner)[0] == 404
    create(srv, owner, name)
    assert srv.request("GET", f"/environments/{name}/variables", token=owner)[2]["variables"] == {}
    assert [r["action"] for r in audit_of(srv, owner, "environment", env["env_id"])][0] == "delete"


def test_a_protected_environment_cannot_be_deleted_by_anyone(srv, owner, admin):
    name = unique("production")
    create(srv, owner, name, is_protected=True)
    for token in (owner, admin):
        status, _, body = srv.request("DELETE", f"/environments/{name}", token=token)
        assert status == 404, body
        assert_error(body, "protected_environment")
        assert body["message"] == f"Cannot delete protected environment '{name}'"
    srv.request("PATCH", f"/environments/{name}", token=admin, body={"is_protected": False})
    assert srv.request("DELETE", f"/environments/{name}", token=admin)[0] == 204


# -- variables --------------------------------------------------------------------------------------


def test_variables_get_put_patch_delete(srv, owner):
    env = create(srv, owner, unique())
    name = env["env_name"]
    path = f"/environments/{name}/variables"
    assert srv.request("GET", path, token=owner)[2] == {"env_name": name, "variables": {}}
    put = {"DATABASE_URL": "postgres://staging-db:5432/app", "API_KEY": "sk_staging_new"}
    status, _, body = srv.request("PUT", path, token=owner, body={"variables": put})
    assert status == 200 and body == {"env_name": name, "variables": put}
    status, _, body = srv.request(
        "PATCH", path, token=owner, body={"variables": {"NEW_VAR": "value", "API_KEY": "x"}}
    )
    assert status == 200
    assert body["variables"] == {**put, "API_KEY": "x", "NEW_VAR": "value"}
    status, _, body = srv.request("PUT", path, token=owner, body={"variables": {"ONLY": "1"}})
    assert body["variables"] == {"ONLY": "1"}
    status, _, body = srv.request("DELETE", f"{path}/ONLY", token=owner)
    assert status == 200 and body == {"deleted": "ONLY", "env_name": name}
    assert srv.request("GET", path, token=owner)[2]["variables"] == {}
    status, _, body = srv.request("DELETE", f"{path}/ONLY", token=owner)
    assert status == 404, body
    changes = [r["changes"] for r in audit_of(srv, owner, "environment", env["env_id"])]
    assert {"variables": {"added": [], "changed": [], "removed": ["ONLY"]}} in changes
    assert {"variables": {"added": ["NEW_VAR"], "changed": ["API_KEY"], "removed": []}} in changes
    assert "sk_staging_new" not in str(changes)  # audit rows name keys, never values


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"variables": ["A"]},
        {"variables": "A=1"},
        {"variables": {"A": 1}},
        {"variables": {"DAGY_X": "1"}},
    ],
)
def test_variables_must_be_an_object_of_strings(srv, owner, payload):
    name = create(srv, owner, unique())["env_name"]
    for method in ("PUT", "PATCH"):
        status, _, body = srv.request(
            method, f"/environments/{name}/variables", token=owner, body=payload
        )
        assert status == 400, body
        assert_error(body, "validation_error")


def test_variables_of_an_unknown_environment_are_404(srv, owner):
    for method, body in (("GET", None), ("PUT", {"variables": {}}), ("PATCH", {"variables": {}})):
        status, _, answer = srv.request(
            method, "/environments/ghost/variables", token=owner, body=body
        )
        assert status == 404, answer


# -- order ------------------------------------------------------------------------------------------


def test_reorder_sets_the_promotion_order(srv, owner):
    a, b, c = (
        create(srv, owner, unique(p))["env_name"] for p in ("develop", "staging", "production")
    )
    status, _, body = srv.request(
        "PUT", "/environments/reorder", token=owner, body={"order": [c, a, b]}
    )
    assert status == 200, body
    items = body["items"]
    assert [i["env_name"] for i in items[:3]] == [c, a, b]
    assert [i["promotion_order"] for i in items] == list(range(len(items)))
    assert set(items[0]) == ITEM_KEYS | {"promotion_order"}
    listed = [i["env_name"] for i in srv.request("GET", "/environments", token=owner)[2]["items"]]
    assert listed[:3] == [c, a, b]
    status, _, body = srv.request(
        "PUT", "/environments/reorder", token=owner, body={"order": ["ghost"]}
    )
    assert status == 400, body


# -- diff and promotion -----------------------------------------------------------------------------


def test_diff_lists_deployments_only_in_one_and_version_differences(srv, owner):
    for name in ("stage-a", "prod-a"):
        create(srv, owner, name)
    status, _, body = srv.request("GET", "/environments/stage-a/diff/prod-a", token=owner)
    assert status == 200, body
    assert body["source_environment"] == "stage-a" and body["target_environment"] == "prod-a"
    assert [d["deployment_name"] for d in body["only_in_source"]] == ["lonely-staging"]
    assert set(body["only_in_source"][0]) == {
        "deployment_name",
        "flow_name",
        "flow_version",
        "updated_at",
    }
    assert body["only_in_target"] == []
    [differs] = body["version_differs"]
    assert differs["flow_name"] == "etl"
    assert (differs["source"]["deployment_name"], differs["source"]["flow_version"]) == (
        "etl-staging",
        "3",
    )
    assert (differs["target"]["deployment_name"], differs["target"]["flow_version"]) == (
        "etl-prod",
        "2",
    )
    reverse = srv.request("GET", "/environments/prod-a/diff/stage-a", token=owner)[2]
    assert [d["deployment_name"] for d in reverse["only_in_target"]] == ["lonely-staging"]
    status, _, body = srv.request("GET", "/environments/stage-a/diff/ghost", token=owner)
    assert status == 404, body


def test_promote_creates_the_target_deployment_and_records_where_from(srv, owner):
    target = create(srv, owner, "promo-to", is_protected=True)["env_name"]
    status, _, body = srv.request(
        "POST",
        "/environments/promote",
        token=owner,
        body={"source_deployment": "promo-src", "target_environment": target},
    )
    assert status == 201, body
    assert body == {
        "target_deployment": "promo-src-promo-to",
        "flow_name": "etl",
        "flow_version": "3",
        "target_environment": "promo-to",
    }
    # Again with a name and an older version: the same target deployment is updated.
    status, _, body = srv.request(
        "POST",
        "/environments/promote",
        token=owner,
        body={
            "source_deployment": "promo-src",
            "target_environment": target,
            "new_deployment_name": "etl-live",
            "flow_version": "1",
        },
    )
    assert status == 201, body
    assert (body["target_deployment"], body["flow_version"]) == ("etl-live", "1")
    status, _, body = srv.request(
        "POST",
        "/environments/promote",
        token=owner,
        body={
            "source_deployment": "promo-src",
            "target_environment": target,
            "new_deployment_name": "etl-live",
        },
    )
    assert status == 201 and body["flow_version"] == "3"
    create(srv, owner, "promo-from")
    diff = srv.request("GET", f"/environments/promo-from/diff/{target}", token=owner)[2]
    assert diff["version_differs"] == [] and diff["only_in_source"] == []
    audit = srv.request("GET", "/audit-logs?resource_type=deployment&limit=100", token=owner)[2]
    promoted = [r for r in audit["items"] if r["resource_name"] == "etl-live"]
    assert [r["action"] for r in promoted] == ["update", "create"]  # newest first
    assert promoted[0]["changes"]["flow_version"] == ["1", "3"]
    assert promoted[0]["changes"]["promoted_from_deployment"] == [None, "promo-src"]


@pytest.mark.parametrize(
    "payload, status, field",
    [
        ({"target_environment": "promo-to2"}, 400, "source_deployment"),
        ({"source_deployment": "promo-src"}, 400, "target_environment"),
        ({"source_deployment": "ghost", "target_environment": "promo-to2"}, 404, None),
        ({"source_deployment": "promo-src", "target_environment": "ghost"}, 404, None),
        ({"source_deployment": "promo-src", "target_environment": "promo-to2", "flow_version": "9"}, 404, None),
        ({"source_deployment": "promo-src", "target_environment": "promo-from"}, 400, "target_environment"),
        ({"source_deployment": "promo-src", "target_environment": "promo-to2", "new_deployment_name": "promo-other"}, 409, "new_deployment_name"),
    ],
)  # fmt: skip
def test_promote_refusals(srv, owner, payload, status, field):
    for name in ("promo-to2", "promo-from"):
        srv.request("POST", "/environments", token=owner, body={"env_name": name})
    code, _, body = srv.request("POST", "/environments/promote", token=owner, body=payload)
    assert code == status, body
    if field:
        assert field in assert_error(body)["details"]


# -- who may do what --------------------------------------------------------------------------------


def test_viewers_and_developers_read_but_cannot_write(srv, owner, developer, viewer):
    name = create(srv, owner, unique())["env_name"]
    for token in (developer, viewer):
        assert srv.request("GET", "/environments", token=token)[0] == 200
        assert srv.request("GET", f"/environments/{name}/variables", token=token)[0] == 200
        for method, path, body in (
            ("POST", "/environments", {"env_name": unique()}),
            ("PATCH", f"/environments/{name}", {"is_protected": True}),
            ("PUT", f"/environments/{name}/variables", {"variables": {}}),
            ("DELETE", f"/environments/{name}", None),
            ("PUT", "/environments/reorder", {"order": []}),
            (
                "POST",
                "/environments/promote",
                {"source_deployment": "promo-src", "target_environment": name},
            ),
        ):
            status, _, answer = srv.request(method, path, token=token, body=body)
            assert status == 403, (method, path, answer)
            assert assert_error(answer, "forbidden")["details"] == {
                "permission": "environments.write"
            }


def test_admins_may_change_and_promote_into_a_protected_environment(srv, owner, admin):
    name = create(srv, owner, unique("prod"), is_protected=True)["env_name"]
    status, _, body = srv.request(
        "PATCH", f"/environments/{name}/variables", token=admin, body={"variables": {"A": "1"}}
    )
    assert status == 200, body
    status, _, body = srv.request(
        "POST",
        "/environments/promote",
        token=admin,
        body={"source_deployment": "promo-src", "target_environment": name},
    )
    assert status == 201, body


def test_without_a_token_every_route_is_401(srv):
    for method, path in (("GET", "/environments"), ("POST", "/environments/promote")):
        status, _, body = srv.request(method, path, body={} if method == "POST" else None)
        assert status == 401, body


def test_another_orgs_environments_are_404(srv, owner):
    name = create(srv, owner, unique())["env_name"]
    org = srv.request("POST", "/orgs", token=owner, body={"org_name": unique("Org")})[2]
    other = {"X-Dagy-Org": org["org_id"]}
    assert srv.request("GET", "/environments", token=owner, headers=other)[2] == {"items": []}
    for method, path, body in (
        ("GET", f"/environments/{name}", None),
        ("PATCH", f"/environments/{name}", {"is_protected": True}),
        ("GET", f"/environments/{name}/variables", None),
        ("PUT", f"/environments/{name}/variables", {"variables": {}}),
        ("DELETE", f"/environments/{name}", None),
        ("GET", f"/environments/{name}/diff/{name}", None),
        (
            "POST",
            "/environments/promote",
            {"source_deployment": "promo-src", "target_environment": name},
        ),
    ):
        status, _, answer = srv.request(method, path, token=owner, headers=other, body=body)
        assert status == 404, (method, path, answer)
    # The same name is free in the other org.
    status, _, body = srv.request(
        "POST", "/environments", token=owner, headers=other, body={"env_name": name}
    )
    assert status == 201, body


# -- the deployments row after a promotion ----------------------------------------------------------


def test_promotion_is_recorded_on_the_deployments_row(tmp_path):
    home = tmp_path / "home"
    seed(home, tmp_path / "code")
    server = start_server(home, "--local", env={"DAGY_RATE_LIMIT_PER_MINUTE": "0"})
    try:
        token = server.local_token
        server.request("POST", "/environments", token=token, body={"env_name": "prod-x"})
        status, _, body = server.request(
            "POST",
            "/environments/promote",
            token=token,
            body={"source_deployment": "etl-staging", "target_environment": "prod-x"},
        )
        assert status == 201, body
    finally:
        server.stop()
    con = duckdb.connect(str(home / "dagy.duckdb"))
    row = con.execute(
        "SELECT name, flow_name, flow_version, environment, execution_mode, tags, "
        "max_concurrent_runs, promoted_from_env, promoted_from_deployment, promoted_at "
        "FROM deployments WHERE name = 'etl-staging-prod-x'"
    ).fetchone()
    con.close()
    assert row[:9] == (
        "etl-staging-prod-x",
        "etl",
        "3",
        "prod-x",
        "small",
        '{"team": "data"}',
        2,
        "stage-a",
        "etl-staging",
    )
    assert row[9] is not None


# -- `dagy run --env` with a live server ------------------------------------------------------------


def test_resolve_for_run_reads_through_the_live_server(srv, owner):
    from dagy.backend import open_backend
    from dagy.config.paths import DagyPaths
    from dagy.errors import NotFoundError

    name = create(srv, owner, unique("local"))["env_name"]
    srv.request(
        "PUT", f"/environments/{name}/variables", token=owner, body={"variables": {"A": "1"}}
    )
    backend = open_backend(DagyPaths(srv.home))
    assert backend.mode == "server"
    found = backend.environments.resolve_for_run(name)
    environ: dict[str, str] = {}
    found.apply(environ)
    assert found.variables == {"A": "1"} and environ == {"A": "1", "DAGY_ENVIRONMENT": name}
    with pytest.raises(NotFoundError):
        backend.environments.resolve_for_run("ghost")

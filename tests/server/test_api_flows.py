"""The flows API against a real `dagy serve`: register, list, latest, versions, one version,
validate, delete (and what it cascades to), GET /backends; RBAC, other orgs, audit rows."""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.conftest import ServerProcess, dagy_cmd, start_server
from tests.server.flows_support import (
    Api,
    add_user,
    assert_error,
    build_spec,
    login,
    new_org,
    start,
    unique,
    write_flows,
)


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = start(tmp_path_factory.mktemp("flows") / "home")
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
def spec(flows_file: Path) -> Any:
    """``spec(**overrides)``: the etl flow's spec under a name of this test's own."""
    name = unique("etl")

    def make(**overrides: Any) -> dict[str, Any]:
        return build_spec(flows_file, **{"flow_name": name, **overrides})

    return make


# -- POST /flows ------------------------------------------------------------------------------------


def test_registering_a_flow_answers_201_in_the_spec_shape_and_writes_an_audit_row(owner, spec):
    body = owner.register(
        spec(),
        artifact_s3_uri="s3://dagy-artifacts/flows/etl-v1.zip",
        namespace="data/ingestion",
        tags={"team": "data-eng", "env": "prod"},
    )
    name = body["flow_name"]
    assert body["flow_version"] == "1.0.0" and body["status"] == "active"
    assert body["namespace"] == "data/ingestion"
    assert body["tags"] == {"team": "data-eng", "env": "prod"}
    assert body["created_at"].endswith("Z") and body["deployment_version"] == 1
    assert body["deployment_name"] is None

    got = owner.ok("GET", f"/flows/{name}/latest")
    assert got["artifact_s3_uri"] == "s3://dagy-artifacts/flows/etl-v1.zip"
    assert got["flow_spec"] == spec()  # stored as sent (the same FlowSpec JSON)

    (row,) = owner.audit("flow", name)
    assert row["action"] == "create" and row["actor_email"] == "owner@example.com"
    assert row["changes"]["flow_version"] == "1.0.0"
    assert row["changes"]["artifact_uri"] == "s3://dagy-artifacts/flows/etl-v1.zip"


def test_registering_with_a_deployment_name_creates_the_deployment_pointing_at_it(owner, spec):
    deployment = unique("etl-prod")
    body = owner.register(
        spec(), deployment_name=deployment, schedule="0 9 * * *", default_executor="process"
    )
    assert body["deployment_name"] == deployment
    got = owner.ok("GET", f"/deployments/{deployment}")
    assert got["flow_name"] == body["flow_name"] and got["flow_version"] == "1.0.0"
    assert got["schedule"] == "0 9 * * *" and got["default_executor"] == "process"
    assert owner.audit("deployment", got["deployment_id"])[0]["action"] == "create"

    owner.register(spec(flow_version="2.0.0"), deployment_name=deployment)
    assert owner.ok("GET", f"/deployments/{deployment}")["flow_version"] == "2.0.0"
    assert owner.audit("deployment", got["deployment_id"])[0]["action"] == "update"


def test_re_registering_a_version_replaces_it_and_keeps_its_deployment_version(owner, spec):
    first = owner.register(spec())
    owner.register(spec(flow_version="2.0.0"))
    again = owner.register(spec(), artifact_s3_uri="s3://b/new.zip", status="inactive")
    assert again["deployment_version"] == first["deployment_version"] == 1
    assert again["status"] == "inactive"
    name = first["flow_name"]
    assert owner.ok("GET", f"/flows/{name}/1.0.0")["artifact_s3_uri"] == "s3://b/new.zip"
    assert [r["action"] for r in owner.audit("flow", name)] == ["update", "create", "create"]


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        (lambda s: {"flow_spec": {**s, "task_runs": s["task_runs"] + s["task_runs"][:1]}},
         "flow_spec", "duplicate task_run_id"),
        (lambda s: {"flow_spec": {**s, "tasks": {}}}, "flow_spec", "is not in tasks"),
        (lambda s: {"flow_spec": {**s, "flow_version": "latest"}}, "flow_spec", "reserved"),
        (lambda s: {"flow_spec": {**s, "flow_name": "a/b"}}, "flow_spec", "must not contain '/'"),
        (lambda s: {"flow_spec": {**s, "outputs": {"$ref": "nope-1"}}}, "flow_spec",
         "outputs refer to unknown task run 'nope-1'"),
        (lambda s: {"flow_spec": {k: v for k, v in s.items() if k != "flow_version"}},
         "flow_spec", "flow_version is required"),
        (lambda s: {"flow_spec": "{not json"}, "flow_spec", "not JSON"),
        (lambda s: {"flow_spec": [s]}, "flow_spec", "must be an object"),
        (lambda s: {}, "flow_spec", "missing required field"),
        (lambda s: {"flow_spec": s, "tags": ["a"]}, "tags", "Expected `object | null`"),
        (lambda s: {"flow_spec": s, "status": "paused"}, "status", "Invalid status"),
        (lambda s: {"flow_spec": s, "schedule": "every day"}, "schedule", "Invalid schedule"),
        (lambda s: {"flow_spec": s, "schedule": "61 * * * *"}, "schedule", "Invalid schedule"),
        (lambda s: {"flow_spec": s, "deployment_name": "no spaces"}, "deployment_name", None),
        (lambda s: {"flow_spec": s, "artifact_s3_uri": "flows/a.zip"}, "artifact_s3_uri", None),
        (lambda s: {"flow_spec": s, "flow_name": "x"}, "flow_name", "Unknown field: flow_name"),
    ],
)  # fmt: skip
def test_an_invalid_registration_is_a_400_naming_the_problem(owner, spec, change, field, words):
    status, body = owner.call("POST", "/flows", change(spec()))
    assert_error(body, status, 400, field)
    if words:
        assert words in json.dumps(body), body
    assert owner.call("GET", f"/flows/{spec()['flow_name']}/latest")[0] == 404


def test_a_cycle_is_refused_with_the_cycle_named(owner, spec):
    raw = spec()
    first, second = raw["task_runs"][0]["task_run_id"], raw["task_runs"][1]["task_run_id"]
    raw["task_runs"][0]["upstream"] = [second]
    raw["task_runs"][1]["upstream"] = [first]
    status, body = owner.call("POST", "/flows", {"flow_spec": raw})
    assert_error(body, status, 400, "flow_spec")
    assert "dependency cycle" in body["message"] and first in body["message"]


# -- GET /flows -------------------------------------------------------------------------------------


def test_the_list_has_one_item_per_flow_its_active_version_and_its_time_span(srv, flows_file):
    api = new_org(srv)
    a1 = api.register(build_spec(flows_file, flow_name="alpha"), tags={"v": "1"})
    api.register(build_spec(flows_file, flow_name="alpha", flow_version="2.0.0"), tags={"v": "2"})
    api.register(build_spec(flows_file, "other"), namespace="misc")
    body = api.ok("GET", "/flows")
    assert body["next_token"] is None
    alpha, other = body["items"]
    assert set(alpha) == {
        "flow_name", "flow_version", "namespace", "tags", "status", "created_at", "updated_at",
        "artifact_s3_uri",
    }  # fmt: skip
    assert alpha["flow_name"] == "alpha" and alpha["flow_version"] == "2.0.0"
    assert alpha["tags"] == {"v": "2"} and alpha["status"] == "active"
    assert alpha["created_at"] == a1["created_at"]  # the first version's
    assert alpha["updated_at"] >= alpha["created_at"]
    assert other["flow_name"] == "other" and other["namespace"] == "misc"

    # An inactive newest version: the list shows the active one.
    api.register(build_spec(flows_file, flow_name="alpha", flow_version="3.0.0"), status="inactive")
    assert api.ok("GET", "/flows")["items"][0]["flow_version"] == "2.0.0"


def test_the_list_pages_by_name_with_next_token(srv, flows_file):
    api = new_org(srv)
    names = [f"flow-{i:02d}" for i in range(7)]
    for name in reversed(names):
        api.register(build_spec(flows_file, flow_name=name))
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        query = "limit=3" + (f"&next_token={token}" if token else "")
        body = api.ok("GET", f"/flows?{query}")
        seen += [item["flow_name"] for item in body["items"]]
        pages += 1
        token = body["next_token"]
        if token is None:
            break
    assert seen == names and pages == 3
    assert len(api.ok("GET", "/flows")["items"]) == 7  # default limit 20
    assert len(api.ok("GET", "/flows?limit=1000")["items"]) == 7  # clamped to 100, not refused


@pytest.mark.parametrize("query", ["limit=0", "limit=abc", "next_token=!!!", "next_token=WzFd"])
def test_a_bad_limit_or_token_is_a_400(owner, query):
    status, body = owner.call("GET", f"/flows?{query}")
    assert_error(body, status, 400)


# -- one flow ---------------------------------------------------------------------------------------


def test_latest_versions_and_one_version(owner, spec):
    name = owner.register(spec(), deployment_name=unique("dep"))["flow_name"]
    owner.register(spec(flow_version="2.0.0"), artifact_s3_uri="s3://b/2.zip")
    owner.register(spec(flow_version="1.5.0"), status="inactive")

    latest = owner.ok("GET", f"/flows/{name}/latest")
    assert latest["flow_version"] == "1.5.0" and latest["deployment_version"] == 3
    assert set(latest) == {
        "flow_name", "flow_version", "artifact_s3_uri", "created_at", "updated_at", "schedule",
        "status", "deployment_name", "default_executor", "tags", "namespace",
        "deployment_version", "code_hash", "flow_spec",
    }  # fmt: skip

    versions = owner.ok("GET", f"/flows/{name}/versions")
    assert versions["flow_name"] == name
    assert [
        (v["flow_version"], v["deployment_version"], v["status"]) for v in versions["items"]
    ] == [
        ("1.5.0", 3, "inactive"),
        ("2.0.0", 2, "active"),
        ("1.0.0", 1, "inactive"),
    ]
    assert versions["items"][1]["artifact_s3_uri"] == "s3://b/2.zip"

    one = owner.ok("GET", f"/flows/{name}/1.0.0")
    assert one["flow_version"] == "1.0.0" and one["status"] == "inactive"
    assert one["deployment_name"] and one["flow_spec"]["flow_version"] == "1.0.0"


def test_unknown_flows_and_versions_are_404(owner, spec):
    name = owner.register(spec())["flow_name"]
    for path in (
        "/flows/no-such-flow/latest",
        "/flows/no-such-flow/versions",
        "/flows/no-such-flow/1.0.0",
        f"/flows/{name}/9.9.9",
    ):
        status, body = owner.call("GET", path)
        assert_error(body, status, 404)
    status, body = owner.call("DELETE", "/flows/no-such-flow")
    assert_error(body, status, 404)


def test_static_routes_win_over_a_version_and_validate_over_a_flow_name(owner, spec):
    name = owner.register(spec())["flow_name"]
    assert owner.ok("GET", f"/flows/{name}/latest")["flow_version"] == "1.0.0"
    assert "items" in owner.ok("GET", f"/flows/{name}/versions")
    status, body = owner.call("POST", "/flows", {"flow_spec": spec(flow_version="versions")})
    assert_error(body, status, 400, "flow_spec")
    status, body = owner.call("POST", "/flows", {"flow_spec": spec(flow_name="validate")})
    assert_error(body, status, 400, "flow_spec")
    assert owner.ok("POST", "/flows/validate", {"flow_spec": spec()})["valid"] is True


# -- POST /flows/validate ---------------------------------------------------------------------------


def test_validate_answers_200_with_every_problem_and_never_registers(owner, viewer, spec):
    good = viewer.ok("POST", "/flows/validate", {"flow_spec": spec()})
    assert good["valid"] is True and good["errors"] == []
    assert good["flow"]["flow_name"] == spec()["flow_name"]
    assert good["flow"]["tasks"] == 2 and good["flow"]["task_runs"] == 4
    assert good["flow"]["parameters"] == ["n"]

    raw = spec(flow_version="")
    raw["task_runs"][0]["task_name"] = "missing"
    raw["outputs"] = {"$ref": "ghost-1"}
    bad = viewer.ok("POST", "/flows/validate", {"flow_spec": raw})
    assert bad["valid"] is False
    assert len(bad["errors"]) == 3, bad
    assert any("flow_version is required" in e for e in bad["errors"])
    assert any("'missing' is not in tasks" in e for e in bad["errors"])
    assert any("ghost-1" in e for e in bad["errors"])

    for body in ({"flow_spec": "nope"}, {"flow_spec": 3}, {}):
        answer = viewer.ok("POST", "/flows/validate", body)
        assert answer["valid"] is False and answer["errors"], answer
    assert owner.call("GET", f"/flows/{spec()['flow_name']}/latest")[0] == 404


# -- RBAC and other orgs ----------------------------------------------------------------------------


def test_a_viewer_reads_but_cannot_write_and_no_token_is_401(owner, viewer, spec):
    name = owner.register(spec())["flow_name"]
    assert viewer.ok("GET", f"/flows/{name}/latest")["flow_name"] == name
    assert viewer.ok("GET", "/flows")["items"]
    assert viewer.ok("GET", f"/flows/{name}/versions")["items"]
    assert viewer.ok("GET", "/backends")
    for method, path, body in (
        ("POST", "/flows", {"flow_spec": spec(flow_version="2.0.0")}),
        ("DELETE", f"/flows/{name}", None),
    ):
        status, answer = viewer.call(method, path, body)
        assert_error(answer, status, 403)
    status, _, answer = owner.server.request("GET", "/flows")
    assert_error(answer, status, 401)
    assert owner.ok("GET", f"/flows/{name}/versions")["items"][0]["flow_version"] == "1.0.0"


def test_another_orgs_flow_is_404_and_not_listed(srv, owner, spec):
    name = owner.register(spec())["flow_name"]
    stranger = new_org(srv)
    for path in (f"/flows/{name}/latest", f"/flows/{name}/versions", f"/flows/{name}/1.0.0"):
        status, body = stranger.call("GET", path)
        assert_error(body, status, 404)
    status, body = stranger.call("DELETE", f"/flows/{name}")
    assert_error(body, status, 404)
    assert stranger.ok("GET", "/flows")["items"] == []
    # The same name in the other org is a flow of its own.
    stranger.register(spec(flow_version="7.0.0"))
    assert stranger.ok("GET", f"/flows/{name}/latest")["flow_version"] == "7.0.0"
    assert owner.ok("GET", f"/flows/{name}/latest")["flow_version"] == "1.0.0"


# -- DELETE /flows/{flow_name} ----------------------------------------------------------------------


def cli_run(server: ServerProcess, target: str, *params: str) -> str:
    """`dagy run` while the server owns the store: its rows travel to the server (org personal)."""
    args = [p for param in params for p in ("--param", param)]
    done = subprocess.run(
        [*dagy_cmd(), "run", target, *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "DAGY_LOCAL_DIR": str(server.home)},
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.split("Run completed: ", 1)[1].split()[0]


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[ServerProcess]:
    """A server of this test's own, so the test can read its store file once it stopped."""
    server = start(tmp_path / "home")
    yield server
    server.stop()


def test_deleting_a_flow_removes_its_versions_deployments_runs_and_files(
    own_server: ServerProcess, tmp_path: Path
):
    srv = own_server
    owner = Api(srv, srv.login("owner@example.com"))
    name, keep = unique("doomed"), unique("kept")
    flows = tmp_path / "doomed_flows.py"
    flows.write_text(
        textwrap.dedent(f"""
            from dagy import flow, task

            @task
            def double(x: int) -> int:
                return x * 2

            @flow(name="{name}", version="1.0.0")
            def doomed(n: int = 2):
                return [double(i) for i in range(n)]

            @flow(name="{keep}", version="1.0.0")
            def kept():
                return double(1)
        """),
        encoding="utf-8",
    )
    home = srv.home
    store_folder = home / "artifact-store" / "dagy" / "flows" / "personal" / name / "1.0.0"
    store_folder.mkdir(parents=True)
    (store_folder / "artifact.zip").write_bytes(b"zip")
    outside = tmp_path / "outside.zip"
    outside.write_bytes(b"not the store's")
    spec = build_spec(flows, "doomed")
    deployment = unique("doomed-prod")
    owner.register(spec, deployment_name=deployment,
                   artifact_s3_uri=(store_folder / "artifact.zip").as_uri())  # fmt: skip
    owner.register({**spec, "flow_version": "2.0.0"}, artifact_s3_uri=outside.as_uri())
    owner.register(build_spec(flows, "kept"))
    code_folder = home / "code" / "personal" / name / "1.0.0"
    code_folder.mkdir(parents=True)  # what a worker unpacked for a run of this version

    doomed_runs = [cli_run(srv, f"{flows}:doomed"), cli_run(srv, f"{flows}:doomed", "n=3")]
    kept_run = cli_run(srv, f"{flows}:kept")
    for run_id in [*doomed_runs, kept_run]:
        assert (home / "runs" / run_id).is_dir() and (home / "artifacts" / run_id).is_dir()
        assert owner.ok("GET", f"/runs/{run_id}")["status"] == "completed"

    # A queued run blocks the delete (409) until it is cancelled.
    queued = owner.ok(
        "POST",
        "/runs",
        {"flow_name": name, "flow_version": "1.0.0", "execute": False},
        status=202,
    )
    status, body = owner.call("DELETE", f"/flows/{name}")
    assert_error(body, status, 409)
    assert body["details"]["run_ids"] == [queued["run_id"]]
    owner.ok("POST", f"/runs/{queued['run_id']}/cancel")

    assert owner.ok("DELETE", f"/flows/{name}") == {"status": "deleted", "flow_name": name}

    for path in (f"/flows/{name}/latest", f"/flows/{name}/versions", f"/deployments/{deployment}"):
        assert owner.call("GET", path)[0] == 404
    for run_id in [*doomed_runs, queued["run_id"]]:
        assert owner.call("GET", f"/runs/{run_id}")[0] == 404
        assert not (home / "runs" / run_id).exists()
        assert not (home / "artifacts" / run_id).exists()
    assert not (store_folder / "artifact.zip").exists()
    assert not (home / "artifact-store" / "dagy").exists()  # emptied folders pruned
    assert not (home / "code" / "personal" / name).exists()
    assert outside.read_bytes() == b"not the store's"  # only the store's own files are removed
    assert name not in [f["flow_name"] for f in owner.ok("GET", "/flows?limit=100")["items"]]

    # Another flow's run is untouched.
    assert owner.ok("GET", f"/runs/{kept_run}")["status"] == "completed"
    assert (home / "runs" / kept_run).is_dir() and (home / "artifacts" / kept_run).is_dir()

    row = owner.audit("flow", name)[0]
    assert row["action"] == "delete"
    assert row["changes"]["flow_versions"] == ["1.0.0", "2.0.0"]
    assert row["changes"]["deployments"] == [deployment] and row["changes"]["runs"] == 3

    # The name is free again: a new registration starts at deployment_version 1.
    assert owner.register(spec)["deployment_version"] == 1

    # What is left in the store file, read once the server let go of it.
    assert srv.stop() == 0
    deleted = [*doomed_runs, queued["run_id"]]
    with duckdb.connect(str(home / "dagy.duckdb"), read_only=True) as con:

        def count(sql: str, *params: Any) -> int:
            return int(con.execute(sql, list(params)).fetchone()[0])  # type: ignore[index]

        marks = ", ".join("?" for _ in deleted)
        assert count(f"SELECT count(*) FROM runs WHERE run_id IN ({marks})", *deleted) == 0
        assert count(f"SELECT count(*) FROM task_runs WHERE run_id IN ({marks})", *deleted) == 0
        assert count("SELECT count(*) FROM task_runs WHERE run_id = ?", kept_run) == 1
        assert count("SELECT count(*) FROM deployments WHERE flow_name = ?", name) == 0
        assert count("SELECT count(*) FROM deployment_history WHERE deployment_name = ?",
                     deployment) == 0  # fmt: skip
        assert count("SELECT count(*) FROM flows WHERE flow_name = ?", name) == 1  # re-registered
        assert (
            count("SELECT count(*) FROM events WHERE flow_name = ? AND status = 'pending'", name)
            == 0
        )


def test_a_developer_may_delete_a_flow_as_the_spec_says_flows_write(srv, spec):
    developer = login(srv, f"{unique('dev')}@example.com", "developer")
    name = developer.register(spec())["flow_name"]
    assert developer.ok("DELETE", f"/flows/{name}")["status"] == "deleted"


# -- GET /backends ----------------------------------------------------------------------------------


def test_backends_lists_the_installed_executors(viewer):
    body = viewer.ok("GET", "/backends")
    by_name = {b["name"]: b for b in body}
    assert {"local", "process"} <= set(by_name)
    local = by_name["local"]
    assert set(local) == {
        "name", "capabilities", "max_concurrent_runs", "max_timeout_seconds", "status",
    }  # fmt: skip
    assert "threads" in local["capabilities"] and local["status"] == "available"
    assert "process_isolation" in by_name["process"]["capabilities"]


def test_a_plugin_that_fails_to_import_is_listed_unavailable(tmp_path: Path):
    """A real installed distribution (a .dist-info on the path) whose executor cannot import."""
    site = tmp_path / "site"
    info = site / "dagy_broken_plugin-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: dagy-broken-plugin\nVersion: 0.1\n"
    )
    (info / "entry_points.txt").write_text(
        "[dagy.executors]\n"
        "broken = dagy_no_such_module:Executor\n"
        "tiny = dagy_tiny_executor:TinyExecutor\n"
    )
    (site / "dagy_tiny_executor.py").write_text(
        "class TinyExecutor:\n"
        "    capabilities = ('cpu', 'gpu')\n"
        "    max_concurrent_runs = 3\n"
        "    max_timeout_seconds = 60\n"
    )
    path = os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH")) if p)
    server = start_server(tmp_path / "home", env={"PYTHONPATH": path})
    try:
        add_user(server, "owner@example.com", "owner")
        api = Api(server, server.login("owner@example.com"))
        by_name = {b["name"]: b for b in api.ok("GET", "/backends")}
        assert by_name["broken"]["status"] == "unavailable"
        assert "dagy_no_such_module" in by_name["broken"]["error"]
        assert by_name["tiny"] == {
            "name": "tiny",
            "capabilities": ["cpu", "gpu"],
            "max_concurrent_runs": 3,
            "max_timeout_seconds": 60,
            "status": "available",
        }
        assert by_name["local"]["status"] == "available"
    finally:
        server.stop()

"""The answers the server keeps between writes (dagy/server/readcache.py): GET /runs, a run, its
task runs and /flows are served again while the store is unchanged, and never once it changed or
the caller lost the right to see them."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, ServerProcess, dagy_cmd
from tests.server.flows_support import (
    Api,
    build_spec,
    login,
    new_org,
    start,
    unique,
    write_flows,
)


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = start(tmp_path_factory.mktemp("cache") / "home")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def flows_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_flows(tmp_path_factory.mktemp("code"))


@pytest.fixture(scope="module")
def owner(srv: ServerProcess) -> Api:
    return Api(srv, srv.login("owner@example.com"))


@pytest.fixture(scope="module")
def flow(owner: Api, flows_file: Path) -> str:
    name = unique("cached")
    owner.register(build_spec(flows_file, flow_name=name, flow_version="1.0.0"))
    return name


def queue_run(api: Api, flow: str) -> dict[str, Any]:
    """A run recorded as queued (``execute: false``): written, never executed."""
    return api.ok(  # type: ignore[no-any-return]
        "POST", "/runs", {"flow_name": flow, "flow_version": "1.0.0", "execute": False}, 202
    )


def test_each_run_written_is_on_the_very_next_read_of_the_first_page(owner, flow):
    for _ in range(2):  # the page is read (and kept) before each write
        owner.ok("GET", "/runs?limit=5")
    for _ in range(5):
        before = owner.ok("GET", "/runs?limit=5")
        assert before == owner.ok("GET", "/runs?limit=5")  # unchanged store: the same answer
        run = queue_run(owner, flow)
        page = owner.ok("GET", "/runs?limit=5")
        assert page["items"][0]["run_id"] == run["run_id"]
        assert page["items"][0]["status"] == "queued"
        assert page["items"][1:] == before["items"][:4]


def test_a_status_change_shows_at_once_in_the_page_and_the_run(owner, flow):
    run = queue_run(owner, flow)
    run_id = run["run_id"]
    for path in ("/runs?limit=3", f"/runs/{run_id}", f"/runs/{run_id}/task-runs"):
        owner.ok("GET", path)
        owner.ok("GET", path)
    assert owner.ok("GET", f"/runs/{run_id}")["status"] == "queued"
    owner.ok("POST", f"/runs/{run_id}/cancel")
    assert owner.ok("GET", f"/runs/{run_id}")["status"] == "cancelled"
    item = next(r for r in owner.ok("GET", "/runs?limit=3")["items"] if r["run_id"] == run_id)
    assert item["status"] == "cancelled"
    assert owner.ok("GET", f"/runs/{run_id}/task-runs")["run_id"] == run_id


def test_a_run_of_dagy_run_through_the_server_is_on_the_next_page(srv, owner, flows_file):
    owner.ok("GET", "/runs?limit=1")
    owner.ok("GET", "/runs?limit=1")
    env = {**os.environ, "DAGY_LOCAL_DIR": str(srv.home)}
    done = subprocess.run(
        [*dagy_cmd(), "run", f"{flows_file}:other", "-q"],
        env=env,
        cwd=str(REPO),
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    newest = owner.ok("GET", "/runs?limit=1")["items"][0]
    assert (newest["flow_name"], newest["status"]) == ("other", "completed")
    task_runs = owner.ok("GET", f"/runs/{newest['run_id']}/task-runs")["items"]
    assert [t["status"] for t in task_runs] == ["SUCCEEDED"]


def test_a_flow_registered_is_in_the_next_list_of_flows(owner, flows_file):
    owner.ok("GET", "/flows?limit=100")
    owner.ok("GET", "/flows?limit=100")
    name = unique("fresh")
    owner.register(build_spec(flows_file, flow_name=name, flow_version="1.0.0"))
    assert name in [f["flow_name"] for f in owner.ok("GET", "/flows?limit=100")["items"]]


def test_another_org_never_gets_the_page_kept_for_this_one(srv, owner, flow):
    queue_run(owner, flow)
    mine = owner.ok("GET", "/runs?limit=5")
    assert mine["items"]
    other = new_org(srv)
    assert other.ok("GET", "/runs?limit=5") == {"items": [], "next_token": None}
    assert other.call("GET", f"/runs/{mine['items'][0]['run_id']}")[0] == 404


def test_a_deleted_api_key_is_refused_at_once_for_a_page_that_is_kept(srv, owner, flow):
    queue_run(owner, flow)
    key = owner.ok("POST", "/api-keys", {"name": unique("k"), "scopes": ["runs.read"]}, 201)
    reader = Api(srv, key["key"])
    first = reader.ok("GET", "/runs?limit=5")
    assert reader.ok("GET", "/runs?limit=5") == first
    status, _, _ = srv.request("DELETE", f"/api-keys/{key['key_id']}", token=owner.token)
    assert status == 204
    status, body = reader.call("GET", "/runs?limit=5")
    assert status == 401, body


def test_a_logged_out_token_is_refused_at_once_for_a_page_that_is_kept(srv, flow):
    viewer = login(srv, f"{unique('viewer')}@example.com", "viewer")
    viewer.ok("GET", "/runs?limit=5")
    viewer.ok("GET", "/runs?limit=5")
    viewer.ok("POST", "/auth/logout", status=204)
    status, body = viewer.call("GET", "/runs?limit=5")
    assert status == 401, body
    status, body = viewer.call("GET", "/flows")
    assert status == 401, body

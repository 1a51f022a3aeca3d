"""GET /runs/{run_id}/artifacts and its download route, and `dagy runs artifacts` (no browser).

One multi-user `dagy serve` per module; its run writes a result, a CSV and a text file of its own,
and a second task writes nothing of its own.
"""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, ServerProcess, dagy_cmd, start_server
from tests.server.runs_support import wait_until

FLOWS = """
    from dagy import flow, task
    from dagy.engine import context


    @task
    def write_files(n: int) -> dict:
        folder = context.current().artifact_dir
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "report.csv").write_text("a,b\\n1,2\\n")
        (folder / "notes.txt").write_text("hello " * n)
        return {"rows": n}


    @task
    def quiet(previous: dict) -> None:
        return None


    @flow(name="artflow", version="1.0.0")
    def artflow(n: int = 2):
        return quiet(write_files(n))
"""

OWNER = "owner@example.com"


def write_flows(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "art_flows.py"
    path.write_text(textwrap.dedent(FLOWS), encoding="utf-8")
    return path


def register(home: Path, target: str) -> None:
    from dagy.config.paths import DagyPaths
    from dagy.sdk.loader import load_flow
    from dagy.services.catalog import flows
    from dagy.store.duckdb_store import DuckDBStore

    flows.register_version(DuckDBStore(DagyPaths(home)), "personal", load_flow(target).build())


class Setup:
    def __init__(self, server: ServerProcess, token: str, run_id: str, other_org: str) -> None:
        self.server, self.token, self.run_id, self.other_org = server, token, run_id, other_org

    def get(self, path: str, **headers: str) -> tuple[int, dict[str, str], Any]:
        return self.server.request("GET", path, token=self.token, headers=headers)

    def raw(self, path: str) -> tuple[int, dict[str, str], bytes]:
        req = urllib.request.Request(
            self.server.api_url + path, headers={"Authorization": f"Bearer {self.token}"}
        )
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
        except urllib.error.HTTPError as exc:
            return exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read()


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    base = tmp_path_factory.mktemp("artifacts")
    home = base / "home"
    home.mkdir()
    flows_file = write_flows(base / "code")
    register(home, f"{flows_file}:artflow")
    server = start_server(home, env={"DAGY_SERVER_WORKERS": "1", "DAGY_LOCAL_KEEP_RUNS": "0"})
    try:
        server.create_user(OWNER, "owner")
        token = server.login(OWNER)
        status, _, body = server.request(
            "POST",
            "/runs",
            token=token,
            body={"flow_name": "artflow", "flow_version": "1.0.0", "parameters": {"n": 3}},
        )
        assert status == 202, body
        run_id = body["run_id"]

        def done() -> bool:
            _, _, run = server.request("GET", f"/runs/{run_id}", token=token)
            assert run["status"] not in ("failed", "cancelled", "crashed"), run
            return run["status"] == "completed"

        wait_until(done, 60, "the artifacts run to complete")
        status, _, org = server.request("POST", "/orgs", token=token, body={"org_name": "Other"})
        assert status == 201, org
        yield Setup(server, token, run_id, org["org_id"])
    finally:
        server.stop()


def _task_ids(s: Setup) -> dict[str, str]:
    _, _, body = s.get(f"/runs/{s.run_id}/task-runs")
    return {t["task_name"]: t["task_run_id"] for t in body["items"]}


def test_lists_each_task_runs_result_and_own_files(setup: Setup) -> None:
    status, _, body = setup.get(f"/runs/{setup.run_id}/artifacts")
    assert status == 200, body
    assert body["run_id"] == setup.run_id and body["next_token"] is None
    writer = _task_ids(setup)["write_files"]
    mine = {f["name"]: f for f in body["items"] if f["task_run_id"] == writer}
    assert set(mine) == {"notes.txt", "report.csv", "result.json"}
    assert mine["result.json"]["kind"] == "result"
    assert mine["result.json"]["content_type"] == "application/json"
    assert mine["report.csv"] == {
        **mine["report.csv"],
        "kind": "file",
        "task_name": "write_files",
        "size": len("a,b\n1,2\n"),
        "content_type": "text/csv",
    }
    assert mine["notes.txt"]["size"] == len("hello " * 3)
    assert mine["notes.txt"]["created_at"].endswith("Z")
    # a task that wrote nothing of its own lists at most its result
    quiet = _task_ids(setup)["quiet"]
    assert {f["name"] for f in body["items"] if f["task_run_id"] == quiet} <= {"result.json"}


def test_pages_cover_the_same_files_once(setup: Setup) -> None:
    _, _, whole = setup.get(f"/runs/{setup.run_id}/artifacts")
    seen: list[tuple[str, str]] = []
    token = ""
    for _ in range(20):
        path = f"/runs/{setup.run_id}/artifacts?limit=1" + (f"&next_token={token}" if token else "")
        status, _, page = setup.get(path)
        assert status == 200, page
        assert len(page["items"]) <= 1
        seen += [(f["task_run_id"], f["name"]) for f in page["items"]]
        token = page["next_token"]
        if not token:
            break
    assert seen == [(f["task_run_id"], f["name"]) for f in whole["items"]]


@pytest.mark.parametrize("query", ["limit=0", "limit=501", "limit=x", "next_token=%21%21"])
def test_bad_paging_is_400(setup: Setup, query: str) -> None:
    status, _, body = setup.get(f"/runs/{setup.run_id}/artifacts?{query}")
    assert status == 400, body
    assert set(body) >= {"error", "message", "details"}


def test_download_gives_bytes_type_and_attachment(setup: Setup) -> None:
    writer = _task_ids(setup)["write_files"]
    status, headers, data = setup.raw(f"/runs/{setup.run_id}/artifacts/{writer}/result.json")
    assert status == 200
    assert json.loads(data) == {"rows": 3}
    assert headers["content-type"].startswith("application/json")
    assert headers["content-disposition"].startswith("attachment")
    assert 'filename="result.json"' in headers["content-disposition"]
    assert headers["x-content-type-options"] == "nosniff"
    status, headers, data = setup.raw(f"/runs/{setup.run_id}/artifacts/{writer}/report.csv")
    assert status == 200 and data == b"a,b\n1,2\n"
    assert headers["content-type"].startswith("text/csv")


def test_unknown_foreign_and_escaping_names_are_refused(setup: Setup) -> None:
    writer = _task_ids(setup)["write_files"]
    base = f"/runs/{setup.run_id}/artifacts"
    # unknown run, another org's view of this run: 404 for the list and the file
    assert setup.get("/runs/run_nope/artifacts")[0] == 404
    assert setup.get(base, **{"X-Dagy-Org": setup.other_org})[0] == 404
    status, _, body = setup.get(f"{base}/{writer}/result.json", **{"X-Dagy-Org": setup.other_org})
    assert status == 404 and body["error"] == "not_found"
    # unknown task run, unknown file
    assert setup.get(f"{base}/tr_nope/result.json")[0] == 404
    assert setup.get(f"{base}/{writer}/missing.txt")[0] == 404
    # names that would leave the folder: never a file from outside
    for name in ("..", "%2E%2E", "..%2F..%2Fdagy.duckdb", "a%5Cb"):
        status, _, body = setup.get(f"{base}/{writer}/{name}")
        assert status in (400, 404), (name, status, body)
    status, _, body = setup.get(f"{base}/..%2F{writer}/result.json")
    assert status in (400, 404), body


def test_links_and_folders_in_a_task_folder_are_not_served(setup: Setup) -> None:
    writer = _task_ids(setup)["write_files"]
    folder = setup.server.home / "artifacts" / setup.run_id / writer
    secret = setup.server.home.parent / "outside.txt"
    secret.write_text("not yours")
    os.symlink(secret, folder / "link.txt")
    (folder / "sub").mkdir()
    try:
        _, _, body = setup.get(f"/runs/{setup.run_id}/artifacts")
        names = {f["name"] for f in body["items"] if f["task_run_id"] == writer}
        assert "link.txt" not in names and "sub" not in names
        base = f"/runs/{setup.run_id}/artifacts/{writer}"
        assert setup.get(f"{base}/link.txt")[0] == 404
        assert setup.get(f"{base}/sub")[0] == 404
    finally:
        (folder / "link.txt").unlink()
        (folder / "sub").rmdir()


def _cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*dagy_cmd(), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "DAGY_LOCAL_DIR": str(home)},
        cwd=str(REPO),
    )


def test_cli_lists_through_the_live_server(setup: Setup) -> None:
    done = _cli(setup.server.home, "runs", "artifacts", setup.run_id, "--json")
    assert done.returncode == 0, done.stderr
    files = json.loads(done.stdout)
    assert {"report.csv", "notes.txt", "result.json"} <= {f["name"] for f in files}
    done = _cli(setup.server.home, "runs", "artifacts", "run_nope")
    assert done.returncode != 0 and "run_nope" in done.stderr


def test_cli_lists_from_the_store_file(tmp_path: Path) -> None:
    home = tmp_path / "home"
    flows_file = write_flows(tmp_path / "code")
    ran = _cli(home, "run", f"{flows_file}:artflow")
    assert ran.returncode == 0, ran.stderr
    run_id = ran.stdout.split("Run completed: ")[1].split()[0]
    done = _cli(home, "runs", "artifacts", run_id)
    assert done.returncode == 0, done.stderr
    lines = [line.split() for line in done.stdout.splitlines()]
    csv = [x for x in lines if x[2] == "report.csv"]
    assert csv and csv[0][1] == "write_files" and csv[0][3] == "8" and csv[0][4] == "text/csv"

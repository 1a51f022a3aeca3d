"""Replay and diff through a real `dagy serve --local`: the CLI in server mode (this home's live
server) and in API mode (DAGY_API_URL), and the routes themselves, org isolation included."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ServerProcess, dagy_cmd, start_server
from tests.replay.replay_support import (
    as_json,
    by_id,
    forbid_extract,
    run_id_of,
    tally,
    write_flow,
    write_pipeline,
)

REPO = Path(__file__).resolve().parents[2]


class Setup:
    def __init__(self, server: ServerProcess, home: Path, folder: Path) -> None:
        self.server, self.home, self.folder = server, home, folder

    def dagy(
        self, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        clean = {k: v for k, v in os.environ.items() if k not in ("DAGY_API_URL", "DAGY_TOKEN")}
        return subprocess.run(
            [*dagy_cmd(), *args],
            capture_output=True,
            text=True,
            timeout=90,
            env={**clean, "DAGY_LOCAL_DIR": str(self.home), **(env or {})},
            cwd=str(REPO),
        )

    def call(self, method: str, path: str, body: Any = None, token: str | None = None) -> Any:
        return self.server.request(method, path, token=token or self.server.local_token, body=body)


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    base = tmp_path_factory.mktemp("replay-server")
    home = base / "home"
    server = start_server(home, "--local", env={"DAGY_LOCAL_KEEP_RUNS": "0"})
    try:
        yield Setup(server, home, base / "code")
    finally:
        server.stop()


@pytest.fixture(scope="module")
def source(setup: Setup) -> str:
    """A run of the flow recorded through the live server, then the flow edited (transform) and
    extract made to fail if called."""
    flow = write_flow(setup.folder)
    done = setup.dagy("run", f"{flow}:etl", "--param", f"tally={setup.folder / 'tally.txt'}")
    assert done.returncode == 0, done.stderr
    write_flow(setup.folder, factor=20)
    forbid_extract(setup.folder)
    return run_id_of(done)


def _replay_of(setup: Setup, run_id: str) -> str:
    status, _, body = setup.call("GET", f"/runs/{run_id}")
    assert status == 200, body
    return str(body["replay_of"])


def test_cli_replay_through_the_live_server_is_queued_there_and_reuses(setup, source):
    before = len(tally(setup.folder))

    done = setup.dagy("runs", "replay", source)

    assert done.returncode == 0, (done.stdout, done.stderr)
    replay = run_id_of(done)
    assert tally(setup.folder)[before:] == ["transform", "load"]
    assert _replay_of(setup, replay) == source
    status, _, run = setup.call("GET", f"/runs/{replay}")
    assert run["trigger"] == "replay" and run["status"] == "completed"
    status, _, tasks = setup.call("GET", f"/runs/{replay}/task-runs")
    reused = {t["task_run_id"]: t["reused_from"] for t in tasks["items"]}
    assert reused == {"extract-1": source, "transform-1": None, "load-1": None}
    assert all(t["source_hash"] for t in tasks["items"])


def test_api_diff_and_the_cli_in_server_and_api_mode_agree(setup, source):
    replay = run_id_of(setup.dagy("runs", "replay", source))

    status, _, body = setup.call("GET", f"/runs/{source}/diff/{replay}")

    assert status == 200, body
    assert [i["task_run_id"] for i in body["items"] if i["result"] != "equal"] == ["transform-1"]
    assert body["run_b"]["replay_of"] == source
    served = as_json(setup.dagy("runs", "diff", source, replay, "--json"))
    remote = as_json(
        setup.dagy(
            "runs",
            "diff",
            source,
            replay,
            "--json",
            env={"DAGY_API_URL": setup.server.api_url, "DAGY_TOKEN": setup.server.local_token},
        )
    )
    assert served == remote == body


def test_api_replay_from_a_step(setup, source):
    before = len(tally(setup.folder))
    status, _, queued = setup.call("POST", f"/runs/{source}/replay", {"from_step": "load"})
    assert status == 202, queued
    assert queued["replay_of"] == source and queued["status"] in ("queued", "running")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status, _, run = setup.call("GET", f"/runs/{queued['run_id']}")
        if run["status"] in ("completed", "failed", "cancelled"):
            break
        time.sleep(0.05)
    assert run["status"] == "completed", run
    assert tally(setup.folder)[before:] == ["load"]
    tasks = by_id(setup.call("GET", f"/runs/{queued['run_id']}/task-runs")[2]["items"])
    assert tasks["transform-1"]["reused_from"] == source  # pinned: upstream of --from


def test_route_refusals(setup, source):
    status, _, body = setup.call("POST", f"/runs/{source}/replay", {"from_step": "nope"})
    assert status == 400, body
    assert (
        body["message"] == "Unknown step: nope (steps of this run: extract-1, load-1, transform-1)"
    )
    assert "from_step" in body["details"]
    status, _, body = setup.call("POST", f"/runs/{source}/replay", {"from": "load"})
    assert status == 400, body
    status, _, body = setup.call("POST", "/runs/etl-nope/replay", {})
    assert status == 404 and body["message"] == "Run not found: etl-nope"
    status, _, body = setup.call("GET", f"/runs/{source}/diff/etl-nope")
    assert status == 404 and body["message"] == "Run not found: etl-nope"
    cli = setup.dagy("runs", "replay", source, "--from", "nope")
    assert cli.returncode == 2 and "Unknown step: nope" in cli.stderr


def test_another_orgs_run_is_404(setup, source):
    status, _, login = setup.server.request(
        "POST", "/auth/login", body={"email": "local@localhost"}
    )
    assert status == 200, login
    status, _, org = setup.server.request(
        "POST", "/orgs", token=login["access_token"], body={"org_name": "Elsewhere"}
    )
    assert status == 201, org
    status, _, login = setup.server.request(
        "POST", "/auth/login", body={"email": "local@localhost", "org_id": org["org_id"]}
    )
    stranger = login["access_token"]
    for method, path, body in (
        ("GET", f"/runs/{source}/diff/{source}", None),
        ("POST", f"/runs/{source}/replay", {}),
    ):
        status, _, answer = setup.server.request(method, path, token=stranger, body=body)
        assert status == 404, answer
        assert answer["message"] == f"Run not found: {source}"


def test_cli_replay_in_api_mode(setup, source):
    before = len(tally(setup.folder))
    api = {"DAGY_API_URL": setup.server.api_url, "DAGY_TOKEN": setup.server.local_token}

    done = setup.dagy("runs", "replay", source, "--from", "transform-1", env=api)

    assert done.returncode == 0, (done.stdout, done.stderr)
    assert tally(setup.folder)[before:] == ["transform", "load"]
    assert _replay_of(setup, run_id_of(done)) == source
    unknown = setup.dagy("runs", "replay", "etl-nope", env=api)
    assert unknown.returncode == 3 and unknown.stderr.strip() == "Run not found: etl-nope"


def test_a_pipeline_replays_through_the_live_server(setup):
    folder = setup.folder.parent / "pipe"
    pipeline = write_pipeline(folder)
    first = setup.dagy("run", str(pipeline), "--param", f"tally={folder / 'tally.txt'}")
    assert first.returncode == 0, first.stderr
    source = run_id_of(first)
    write_pipeline(folder, factor=5)
    forbid_extract(folder)

    done = setup.dagy("runs", "replay", source)

    assert done.returncode == 0, (done.stdout, done.stderr)
    assert tally(folder)[5:] == ["scale"]
    status, _, body = setup.call("GET", f"/runs/{source}/diff/{run_id_of(done)}")
    assert [i["task_run_id"] for i in body["items"] if i["result"] not in ("equal", "reused")] == [
        "scale"
    ]

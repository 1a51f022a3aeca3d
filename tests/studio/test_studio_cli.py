"""`dagy studio`: one turn through the one Backend in its three modes (the store file, this
home's live server, a remote API), the answer and validation printed, ``--save`` writing the YAML
and ``--draft`` a DAG draft; a request that builds nothing valid exits 1 and saves nothing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from dagy.pipelines import check, yaml_format
from tests.conftest import ServerProcess
from tests.server.flows_support import add_user
from tests.studio.studio_support import SPEC_MESSAGE, SPEC_TYPES

Run = Callable[..., Any]


def _saved_ok(path: Path) -> None:
    pipeline = yaml_format.parse_pipeline(path.read_text())
    assert check.check_pipeline(pipeline) == []
    assert [s.node for s in pipeline.steps] == SPEC_TYPES


def test_on_the_store_file_it_prints_the_answer_and_saves_yaml_and_a_draft(
    run_dagy: Run, tmp_path: Path, dagy_home: Path
):
    target = tmp_path / "orders"
    done = run_dagy("studio", SPEC_MESSAGE, "--save", str(target), "--draft")
    assert done.returncode == 0, done.stderr
    assert "Validation: valid" in done.stdout and "Workflow: generated" in done.stdout
    assert f"Saved: {target}.yaml" in done.stdout and "Draft: draft_" in done.stdout
    _saved_ok(Path(f"{target}.yaml"))

    from dagy.config.paths import DagyPaths
    from dagy.store.duckdb_store import DuckDBStore

    with DuckDBStore(DagyPaths(dagy_home)).connection() as con:
        drafts = con.execute("SELECT flow_name FROM dag_drafts").fetchall()
        sessions = con.execute("SELECT flow_name, draft_id FROM studio_sessions").fetchall()
        spent = con.execute("SELECT delta FROM credit_ledger WHERE reason = 'spend'").fetchall()
    assert drafts == [("orders",)]
    assert sessions[0][0] == "orders" and sessions[0][1]
    assert spent == [(-1.0,)]


def test_a_request_that_builds_nothing_valid_exits_1_and_saves_nothing(
    run_dagy: Run, tmp_path: Path
):
    target = tmp_path / "walls.yaml"
    done = run_dagy(
        "studio", "Build a workflow that paints my kitchen walls blue", "--intent", "build",
        "--save", str(target),
    )  # fmt: skip
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert "Validation: invalid" in done.stdout
    assert "did not produce a valid workflow" in done.stderr
    assert not target.exists()
    usage = run_dagy("studio", "x", "--draft")
    assert usage.returncode == 2 and "--save" in usage.stderr


def test_through_the_live_server_and_a_remote_api(
    server_factory: Callable[..., ServerProcess],
    run_dagy: Run,
    tmp_path: Path,
    dagy_home: Path,
):
    server = server_factory(env={"DAGY_RATE_LIMIT_PER_MINUTE": "0"})
    add_user(server, "owner@example.com", "owner")
    done = run_dagy("studio", SPEC_MESSAGE, "--save", str(tmp_path / "live.yaml"))
    assert done.returncode == 0, done.stderr
    _saved_ok(tmp_path / "live.yaml")
    status, _, mine = server.request("GET", "/ai-studio/sessions", token=server.local_token)
    assert status == 200 and len(mine["items"]) == 1  # the turn went through the server

    token = server.login("owner@example.com", "password-123")
    elsewhere = tmp_path / "other-home"
    env = {"DAGY_LOCAL_DIR": str(elsewhere), "DAGY_API_URL": server.api_url, "DAGY_TOKEN": token}
    remote = run_dagy(
        "studio", SPEC_MESSAGE, "--save", str(tmp_path / "remote.yaml"), "--draft", env=env
    )
    assert remote.returncode == 0, remote.stderr
    _saved_ok(tmp_path / "remote.yaml")
    status, _, theirs = server.request("GET", "/ai-studio/sessions", token=token)
    assert [s["flow_name"] for s in theirs["items"]] == ["remote"]
    status, _, drafts = server.request("GET", "/dag-drafts", token=token)
    assert [d["flow_name"] for d in drafts["items"]] == ["remote"]

"""The CLI and a running `dagy serve` share one store: the CLI's writes travel through the server.

Real processes throughout: a `dagy serve` on a free port, `dagy run` / `dagy runs` / `dagy logs` as
subprocesses on the same DAGY_LOCAL_DIR, and the API read back over HTTP.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.conftest import ServerProcess, popen_dagy

GATED_FLOW = """
    import time
    from pathlib import Path

    from dagy import flow, task


    @task
    def step(i: int, gates: str) -> int:
        gate = Path(gates) / f"gate-{i}"
        deadline = time.monotonic() + 60
        while not gate.exists():
            if time.monotonic() > deadline:
                raise TimeoutError(f"{gate} never opened")
            time.sleep(0.02)
        return i * 10


    @flow(name="gated", version="1.0.0")
    def gated(gates: str, n: int = 4):
        return [step(i, gates) for i in range(n)]
"""

QUICK_FLOW = """
    from pathlib import Path

    from dagy import flow, task


    @task
    def double(x: int) -> int:
        return x * 2


    @task
    def check(marker: str) -> str:
        if not Path(marker).exists():
            raise RuntimeError("no marker yet")
        return "ok"


    @flow(name="quick", version="2.1.0")
    def quick(n: int = 3):
        return sum_up([double(i) for i in range(n)])


    @task
    def sum_up(values: list) -> dict:
        return {"total": sum(values), "count": len(values)}


    @flow(name="picky", version="1.0.0")
    def picky(marker: str):
        return check(marker)
"""


def wait_until(predicate: Callable[[], Any], timeout: float = 60, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def no_duckdb(tmp_path: Path) -> dict[str, str]:
    """An environment in which `import duckdb` fails: a CLI that opens the file cannot work."""
    blocker = tmp_path / "no-duckdb"
    blocker.mkdir()
    (blocker / "duckdb.py").write_text(
        "raise ImportError('the CLI must not open dagy.duckdb while dagy serve owns it')\n"
    )
    path = os.pathsep.join(p for p in (str(blocker), os.environ.get("PYTHONPATH")) if p)
    return {"PYTHONPATH": path}


def assert_server_holds_the_file(home: Path) -> None:
    with pytest.raises(duckdb.IOException, match="lock"):
        duckdb.connect(str(home / "dagy.duckdb"))


def api_run(server: ServerProcess, token: str, run_id: str) -> dict[str, Any]:
    status, _, body = server.request("GET", f"/runs/{run_id}", token=token)
    assert status == 200, body
    assert isinstance(body, dict)
    return body


def task_states(server: ServerProcess, run_id: str) -> dict[str, str]:
    """Task-run states as the server's store has them (the internal route the CLI uses)."""
    status, _, body = server.request(
        "GET", f"/_local/store/runs/{run_id}/task-runs", token=server.local_token
    )
    assert status == 200, body
    assert isinstance(body, dict)
    at_id, at_status = body["columns"].index("task_run_id"), body["columns"].index("status")
    return {row[at_id]: row[at_status] for row in body["rows"]}


def running_run_id(server: ServerProcess, token: str) -> str | None:
    status, _, body = server.request("GET", "/runs?status=running", token=token)
    assert status == 200, body
    assert isinstance(body, dict)
    items = body["items"]
    return items[0]["run_id"] if items else None


class GatedRun:
    """`dagy run` of GATED_FLOW in the background: step i returns once gate i is opened."""

    def __init__(self, flows: Path, gates: Path, env: dict[str, str] | None) -> None:
        self.gates = gates
        self.proc = popen_dagy("run", f"{flows}:gated", "--param", f"gates={gates}", env=env)

    def open(self, *steps: int) -> None:
        for i in steps:
            (self.gates / f"gate-{i}").touch()

    def finish(self, timeout: float = 30) -> str:
        """Wait for the run to succeed; its stderr."""
        _, err = self.proc.communicate(timeout=timeout)
        assert self.proc.returncode == 0, err
        return err


@pytest.fixture
def gated_run(write_flow, tmp_path: Path) -> Iterator[Callable[..., GatedRun]]:
    flows = write_flow(GATED_FLOW)
    started: list[GatedRun] = []

    def start(env: dict[str, str] | None = None) -> GatedRun:
        gates = tmp_path / f"gates-{len(started)}"
        gates.mkdir()
        started.append(GatedRun(flows, gates, env))
        return started[-1]

    yield start
    for run in started:
        if run.proc.poll() is None:
            run.proc.kill()
            run.proc.communicate(timeout=10)


def started_id(out: str) -> str:
    return out.split("Run completed: ", 1)[1].split()[0]


# -- while the server runs ---------------------------------------------------------------------------


def test_a_cli_run_goes_through_the_server_and_the_api_sees_it_at_once(
    server: ServerProcess, run_dagy, write_flow, no_duckdb
):
    flows = write_flow(QUICK_FLOW)
    token = server.login("owner@example.com")

    done = run_dagy("run", f"{flows}:quick", "--param", "n=4", env=no_duckdb)
    assert done.returncode == 0, done.stderr
    run_id = started_id(done.stdout)

    body = api_run(server, token, run_id)
    assert body["status"] == "completed"
    assert body["flow_name"] == "quick" and body["flow_version"] == "2.1.0"
    assert body["output"] == {"total": 12, "count": 4}
    assert body["parameters"] == {"n": 4}
    assert body["error"] is None and body["retry_count"] == 0 and body["tags"] == ["cli"]
    assert body["executor"] == "local"
    assert body["run_slug"].startswith("quick-") and body["completed_at"].endswith("Z")
    assert isinstance(body["duration_seconds"], float) and body["duration_seconds"] >= 0
    status, _, listed = server.request("GET", "/runs", token=token)
    assert status == 200
    assert isinstance(listed, dict)
    assert [i["run_id"] for i in listed["items"]] == [run_id]
    assert listed["items"][0]["status"] == "completed" and listed["next_token"] is None
    assert_server_holds_the_file(server.home)


def test_runs_list_show_and_logs_work_through_the_server(
    server: ServerProcess, run_dagy, write_flow, no_duckdb, tmp_path: Path
):
    flows = write_flow(QUICK_FLOW)
    marker = tmp_path / "marker"
    failed = run_dagy("run", f"{flows}:picky", "--param", f"marker={marker}", env=no_duckdb)
    assert failed.returncode == 1, failed.stderr
    failed_id = started_id(failed.stdout)

    listed = run_dagy("runs", "list", env=no_duckdb)
    assert listed.returncode == 0, listed.stderr
    assert f"{failed_id} FAILED" in listed.stdout
    shown = run_dagy("runs", "show", failed_id, env=no_duckdb)
    assert shown.returncode == 0, shown.stderr
    assert "status=FAILED" in shown.stdout and "check-1 check status=FAILED" in shown.stdout
    logs = run_dagy("logs", failed_id, env=no_duckdb)
    assert logs.returncode == 0, logs.stderr
    assert f"run {failed_id} finished status=FAILED" in logs.stdout
    missing = run_dagy("runs", "show", "no-such-run", env=no_duckdb)
    assert missing.returncode == 3 and missing.stderr.strip() == "Run not found: no-such-run"

    # A retry through the server is a run of its own, counted as one retry of the first.
    marker.touch()
    retried = run_dagy("runs", "retry", failed_id, env=no_duckdb)
    assert retried.returncode == 0, retried.stderr
    token = server.login("owner@example.com")
    body = api_run(server, token, started_id(retried.stdout))
    assert body["status"] == "completed" and body["output"] == "ok"
    assert body["retry_count"] == 1 and body["tags"] == ["retry"]
    first = api_run(server, token, failed_id)
    assert first["status"] == "failed" and "no marker yet" in first["error"]
    assert_server_holds_the_file(server.home)


def test_task_states_reach_the_api_while_a_long_run_runs(
    server: ServerProcess, gated_run, no_duckdb
):
    token = server.login("owner@example.com")
    run = gated_run(env=no_duckdb)
    run_id = wait_until(lambda: running_run_id(server, token), what="the run in GET /runs")
    assert api_run(server, token, run_id)["completed_at"] is None
    run.open(0, 1)
    states = wait_until(
        lambda: (s := task_states(server, run_id)).get("step-2") == "SUCCEEDED" and s,
        what="a mid-run flush",
    )
    assert states["step-3"] in ("PENDING", "RUNNING") and states["step-4"] == "PENDING"
    assert api_run(server, token, run_id)["status"] == "running"
    run.open(2, 3)
    run.finish()
    assert set(task_states(server, run_id).values()) == {"SUCCEEDED"}
    body = api_run(server, token, run_id)
    assert body["status"] == "completed" and body["output"] == [0, 10, 20, 30]


# -- the server comes and goes mid-run ---------------------------------------------------------------


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL], ids=["stopped", "killed"])
def test_a_run_finishes_and_is_recorded_after_the_server_stops_mid_run(
    server_factory, run_dagy, gated_run, dagy_home: Path, how: signal.Signals
):
    server = server_factory("--local")
    run = gated_run()
    run_id = wait_until(lambda: running_run_id(server, server.local_token))
    run.open(0)
    wait_until(lambda: task_states(server, run_id).get("step-1") == "SUCCEEDED")
    if how == signal.SIGTERM:
        assert server.stop() == 0
        assert not (dagy_home / "server.json").exists()
    else:  # no clean-up at all: a stale server.json, and the lock dies with the process
        assert server.stop(how) == -how
        assert (dagy_home / "server.json").exists()
    run.open(1, 2, 3)
    assert "lock" not in run.finish().lower()
    shown = run_dagy("runs", "show", run_id, "--json")
    assert shown.returncode == 0, shown.stderr
    record = json.loads(shown.stdout)
    assert record["status"] == "SUCCEEDED" and record["output"] == [0, 10, 20, 30]
    assert [t["status"] for t in record["task_runs"]] == ["SUCCEEDED"] * 4


def test_a_run_keeps_recording_through_a_server_that_starts_mid_run(
    server_factory, gated_run, dagy_home: Path
):
    run = gated_run()
    wait_until(lambda: list((dagy_home / "runs").glob("*/events.jsonl")), what="the run's start")
    run.open(0)
    server = server_factory("--local")  # takes the file between the CLI's brief holds
    token = server.local_token
    run_id = wait_until(lambda: running_run_id(server, token), what="the run in GET /runs")
    wait_until(
        lambda: task_states(server, run_id).get("step-1") == "SUCCEEDED",
        what="a flush through the server",
    )
    run.open(1, 2, 3)
    assert "lock" not in run.finish().lower()
    body = api_run(server, token, run_id)
    assert body["status"] == "completed" and body["output"] == [0, 10, 20, 30]
    assert set(task_states(server, run_id).values()) == {"SUCCEEDED"}
    assert_server_holds_the_file(dagy_home)


def test_a_cli_run_killed_with_sigkill_is_failed_by_the_servers_sweep(
    server: ServerProcess, gated_run
):
    token = server.login("owner@example.com")
    run = gated_run()
    run_id = wait_until(lambda: running_run_id(server, token))
    run.open(0)
    wait_until(lambda: task_states(server, run_id).get("step-1") == "SUCCEEDED")
    run.proc.send_signal(signal.SIGKILL)
    run.proc.wait(timeout=10)
    body = wait_until(
        lambda: (b := api_run(server, token, run_id))["status"] == "failed" and b,
        timeout=20,
        what="the recovery sweep (every 5 s)",
    )
    assert body["error"].startswith(f"crashed: process {run.proc.pid} on ")
    assert body["completed_at"] is not None
    states = task_states(server, run_id)
    assert states["step-1"] == "SUCCEEDED" and states["step-2"] == "FAILED"
    assert states["step-3"] == states["step-4"] == "CANCELLED"


# -- who sees what -----------------------------------------------------------------------------------


def test_another_orgs_user_gets_404_for_the_run(server: ServerProcess, run_dagy, write_flow):
    flows = write_flow(QUICK_FLOW)
    done = run_dagy("run", f"{flows}:quick")
    assert done.returncode == 0, done.stderr
    run_id = started_id(done.stdout)
    owner = server.login("owner@example.com")
    status, _, org = server.request("POST", "/orgs", token=owner, body={"org_name": "Acme"})
    assert status == 201, org
    assert isinstance(org, dict)
    created = run_dagy(
        "users",
        "create",
        "--email",
        "stranger@example.com",
        "--role",
        "owner",
        "--org",
        org["org_id"],
        "--password-stdin",
        input="password-123\n",
    )
    assert created.returncode == 0, created.stderr
    stranger = server.login("stranger@example.com")
    status, _, body = server.request("GET", f"/runs/{run_id}", token=stranger)
    assert status == 404 and isinstance(body, dict) and body["error"] == "not_found"
    status, _, unknown = server.request("GET", "/runs/no-such-run", token=owner)
    assert status == 404 and isinstance(unknown, dict)
    assert body["message"] == f"Run not found: {run_id}"  # the same answer as for no run at all
    assert unknown["error"] == "not_found" and unknown["message"] == "Run not found: no-such-run"
    status, _, listed = server.request("GET", "/runs", token=stranger)
    assert status == 200 and listed == {"items": [], "next_token": None}
    status, _, _ = server.request("GET", f"/runs/{run_id}", token=owner)
    assert status == 200


def test_runs_filter_by_api_status_and_page_with_next_token(
    server: ServerProcess, run_dagy, write_flow, tmp_path: Path
):
    flows = write_flow(QUICK_FLOW)
    ids = []
    for _ in range(3):
        done = run_dagy("run", f"{flows}:quick")
        assert done.returncode == 0, done.stderr
        ids.append(started_id(done.stdout))
    failed = run_dagy("run", f"{flows}:picky", "--param", f"marker={tmp_path / 'none'}")
    assert failed.returncode == 1
    token = server.login("owner@example.com")

    status, _, body = server.request("GET", "/runs?status=bogus", token=token)
    assert status == 400 and isinstance(body, dict)
    assert "status" in body["details"] and "completed" in body["details"]["status"]
    status, _, body = server.request("GET", "/runs?status=failed", token=token)
    assert status == 200 and isinstance(body, dict)
    assert [i["run_id"] for i in body["items"]] == [started_id(failed.stdout)]
    assert body["items"][0]["status"] == "failed"
    status, _, body = server.request(
        "GET", "/runs?status=completed&flow_name=quick&limit=2", token=token
    )
    assert status == 200 and isinstance(body, dict)
    first = [i["run_id"] for i in body["items"]]
    assert len(first) == 2 and body["next_token"]
    status, _, rest = server.request(
        "GET",
        f"/runs?status=completed&flow_name=quick&limit=2&next_token={body['next_token']}",
        token=token,
    )
    assert status == 200 and isinstance(rest, dict)
    assert first + [i["run_id"] for i in rest["items"]] == list(reversed(ids))
    assert rest["next_token"] is None
    status, _, bad = server.request("GET", "/runs?next_token=bm9wZQ", token=token)
    assert status == 400 and isinstance(bad, dict) and "next_token" in bad["details"]
    status, _, bad = server.request("GET", "/runs?limit=0", token=token)
    assert status == 400 and isinstance(bad, dict) and "limit" in bad["details"]
    status, _, _ = server.request("GET", "/runs")
    assert status == 401


def test_the_internal_store_routes_take_only_the_local_token(server: ServerProcess):
    owner = server.login("owner@example.com")
    status, _, body = server.request("GET", "/_local/store/runs", token=owner)
    assert status == 403 and isinstance(body, dict) and body["error"] == "forbidden"
    status, _, _ = server.request("GET", "/_local/store/runs")
    assert status == 401
    status, _, body = server.request("GET", "/_local/store/runs", token=server.local_token)
    assert status == 200 and body == {"items": []}
    status, _, spec = server.request("GET", "/openapi.json", token=owner)
    assert status == 200 and isinstance(spec, dict)
    assert not [p for p in spec["paths"] if "_local" in p]
    assert "/v1/runs" in spec["paths"] or "/runs" in spec["paths"]

"""`dagy run <deployment>` and `dagy runs cancel` against a real `dagy serve`, and cancel of a
local `dagy run` process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import ServerProcess, pid_alive, popen_dagy
from tests.server.runs_support import (
    get,
    start,
    tally,
    trigger,
    wait_status,
    wait_until,
    write_flows,
)


@pytest.fixture
def served(tmp_path: Path):
    server = start(
        tmp_path / "home", tmp_path, workers=1, deployments={"quick-prod": ("quick", None)}
    )
    yield server
    server.stop()


@pytest.fixture
def client_env(served: ServerProcess, tmp_path: Path) -> dict[str, str]:
    """A CLI home of its own, logged in to the server (token in the credentials file)."""
    from dagy.config import credentials
    from dagy.config.paths import DagyPaths

    status, _, body = served.request("POST", "/auth/login", body={"email": "local@localhost"})
    assert status == 200, body
    env = {"DAGY_LOCAL_DIR": str(tmp_path / "client"), "DAGY_KEYRING": "0"}
    credentials.save(
        DagyPaths(tmp_path / "client"),
        credentials.Credentials(access_token=body["access_token"], api_url=served.api_url),
        environ=env,
    )
    return env


def test_dagy_run_of_a_deployment_queues_it_on_the_api(served, client_env, run_dagy):
    env = {**client_env, "DAGY_API_URL": served.api_url}
    done = run_dagy("run", "quick-prod", "--param", "n=4", "--param", "label=cli", env=env)
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout.strip())
    assert printed["status"] == "PENDING" and printed["flow_name"] == "quick"
    assert printed["parameters"] == {"n": 4, "label": "cli"}
    assert list(printed)[:2] == ["run_id", "run_slug"]
    run = wait_status(served, printed["run_id"], "completed")
    assert run["output"] == {"total": 12, "label": "cli"} and run["deployment_name"] == "quick-prod"

    assert done.stdout.startswith('{\n  "run_id": ')  # JSON, indented, not a Python dict

    bad = run_dagy("run", "quick-prod", "--param", "n=x", env=env)
    assert bad.returncode == 2  # as from the store file: the same service refuses it
    assert bad.stderr == "Error: ParameterTypeError: Parameter 'n' expects int, got 'x'\n"
    missing = run_dagy("run", "nope", env=env)
    assert missing.returncode == 3 and missing.stderr == "Error: Deployment not found: nope\n"


def test_dagy_run_finds_the_api_in_the_profile(served, client_env, run_dagy, tmp_path):
    from dagy.config.paths import DagyPaths
    from dagy.config.profiles import Config, Profile, save_config, with_profile

    save_config(
        DagyPaths(tmp_path / "client"),
        with_profile(Config(), Profile(name="staging", api_url=served.api_url)),
    )
    done = run_dagy("run", "quick-prod", "--profile", "staging", env=client_env)
    assert done.returncode == 0, done.stderr
    wait_status(served, json.loads(done.stdout)["run_id"], "completed")


def test_dagy_runs_cancel_through_the_api(served, client_env, run_dagy, tmp_path):
    pidfile = tmp_path / "spin.pid"
    run_id = trigger(
        served, flow_name="spins", flow_version="1.0.0", parameters={"pidfile": str(pidfile)}
    )["run_id"]
    wait_until(pidfile.exists, what="the spinning task")
    env = {**client_env, "DAGY_API_URL": served.api_url}
    done = run_dagy("runs", "cancel", run_id, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"Run cancelled: {run_id} status=CANCELLED\n"
    assert not pid_alive(int(pidfile.read_text()))
    again = run_dagy("runs", "cancel", run_id, env=env)
    assert again.returncode == 2
    assert again.stderr == "Error: Run cannot be cancelled (already cancelled)\n"


def test_dagy_runs_cancel_on_the_servers_home_uses_the_server(served, run_dagy, tmp_path):
    """No API URL, but a live server owns this home: it cancels the runs it executes."""
    pidfile = tmp_path / "spin.pid"
    run_id = trigger(
        served, flow_name="spins", flow_version="1.0.0", parameters={"pidfile": str(pidfile)}
    )["run_id"]
    queued = trigger(served, flow_name="quick", flow_version="1.0.0")["run_id"]
    wait_until(pidfile.exists, what="the spinning task")
    env = {"DAGY_LOCAL_DIR": str(served.home)}
    for target in (queued, run_id):
        done = run_dagy("runs", "cancel", target, env=env)
        assert done.returncode == 0, done.stderr
        assert get(served, f"/runs/{target}")["status"] == "cancelled"
    missing = run_dagy("runs", "cancel", "no-such-run", env=env)
    assert missing.returncode == 3 and missing.stderr == "Run not found: no-such-run\n"
    finished = run_dagy("runs", "cancel", run_id, env=env)
    assert finished.returncode == 2
    assert finished.stderr == "Error: Run cannot be cancelled (already cancelled)\n"


def test_dagy_runs_cancel_stops_a_local_dagy_run(run_dagy, dagy_home: Path, tmp_path: Path):
    flows = write_flows(tmp_path / "code")
    gate, counts = tmp_path / "gate", tmp_path / "tally"
    proc = popen_dagy(
        "run", f"{flows}:gated", "--param", f"gate={gate}", "--param", f"tally={counts}"
    )
    try:
        wait_until(lambda: tally(counts), what="the task to start")
        run_id = next(p.name for p in (dagy_home / "runs").iterdir())
        done = run_dagy("runs", "cancel", run_id)
        assert done.returncode == 0, done.stderr
        assert done.stdout == f"Run cancelled: {run_id} status=CANCELLED\n"
        out, err = proc.communicate(timeout=20)
        assert proc.returncode == 130, err
        assert f"Run completed: {run_id} status=CANCELLED" in out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    again = run_dagy("runs", "cancel", run_id)
    assert again.returncode == 2
    assert again.stderr == "Error: Run cannot be cancelled (already cancelled)\n"


def test_the_api_cancels_a_dagy_run_process_writing_through_the_server(served, tmp_path: Path):
    """A `dagy run` on the server's home records through the server; cancelling it through the
    API sends the process SIGTERM and it records CANCELLED itself."""
    flows = tmp_path / "code" / "exec_flows.py"
    gate, counts = tmp_path / "gate", tmp_path / "tally"
    proc = popen_dagy(
        "run",
        f"{flows}:gated",
        "--param",
        f"gate={gate}",
        "--param",
        f"tally={counts}",
        env={"DAGY_LOCAL_DIR": str(served.home)},
    )
    try:
        wait_until(lambda: tally(counts), what="the task to start")
        run_id = next(
            p.name for p in (served.home / "runs").iterdir() if p.name.startswith("gated")
        )
        status, _, body = served.request("POST", f"/runs/{run_id}/cancel", token=served.local_token)
        assert status == 200 and body["status"] == "cancelled", body
        _, err = proc.communicate(timeout=20)
        assert proc.returncode == 130, err
        run = get(served, f"/runs/{run_id}")
        assert run["status"] == "cancelled" and run["tags"] == ["cli"]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()

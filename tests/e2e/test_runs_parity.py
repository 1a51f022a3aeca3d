"""`dagy runs list|show|retry|cancel` and `dagy logs [--follow]` read the same in the three modes:
the store file (no server), this home's live `dagy serve`, and a remote API reached from another
home with a login token. Real store files and real server processes."""

from __future__ import annotations

import json
import re
import signal
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import ServerProcess, popen_dagy
from tests.server.runs_support import register, start, tally, wait_until, write_flows

DEPLOYMENTS: dict[str, tuple[str, int | None]] = {
    "flaky-dep": ("flaky", None),
    "gated-dep": ("gated", None),
}
RUN_LINE = re.compile(r"^Run completed: (\S+) status=(\w+)$")


@dataclass
class Mode:
    name: str
    env: dict[str, str]
    server: ServerProcess | None = None


@pytest.fixture(params=["store", "server", "api"])
def mode(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Mode]:
    home = tmp_path / "home"
    if request.param == "store":
        register(home, write_flows(tmp_path / "code"), DEPLOYMENTS)
        yield Mode("store", {"DAGY_LOCAL_DIR": str(home)})
        return
    server = start(home, tmp_path, workers=2, deployments=DEPLOYMENTS)
    try:
        if request.param == "server":
            yield Mode("server", {"DAGY_LOCAL_DIR": str(home)}, server)
            return
        from dagy.config import credentials
        from dagy.config.paths import DagyPaths

        status, _, body = server.request("POST", "/auth/login", body={"email": "local@localhost"})
        assert status == 200, body
        client = tmp_path / "client"  # a CLI home of its own, logged in with a token
        env = {"DAGY_LOCAL_DIR": str(client), "DAGY_KEYRING": "0"}
        credentials.save(
            DagyPaths(client),
            credentials.Credentials(access_token=body["access_token"], api_url=server.api_url),
            environ=env,
        )
        yield Mode("api", {**env, "DAGY_API_URL": server.api_url}, server)
    finally:
        server.stop()


def _start_run(mode: Mode, run_dagy: Callable[..., subprocess.CompletedProcess[str]], *args: str):
    """`dagy run <deployment>`: executed here from the store file (finished), or queued on the
    server (its JSON). Returns the run id."""
    import json

    done = run_dagy("run", *args, env=mode.env)
    if mode.name == "store":
        found = RUN_LINE.match(done.stdout.strip())
        assert found, (done.stdout, done.stderr)
        return found.group(1)
    assert done.returncode == 0, done.stderr
    queued = json.loads(done.stdout)
    assert queued["status"] == "PENDING"
    return queued["run_id"]


def _status(mode: Mode, run_dagy, run_id: str) -> str:
    first = run_dagy("runs", "show", run_id, env=mode.env).stdout.splitlines()[0]
    return first.split("status=")[1].split()[0]


def _wait_status(mode: Mode, run_dagy, run_id: str, *wanted: str) -> None:
    wait_until(lambda: _status(mode, run_dagy, run_id) in wanted, 30, f"{run_id} {wanted}")


def _canon(text: str, **ids: str) -> str:
    """Output with the run ids named and the times blanked, to compare across modes."""
    for name, value in ids.items():
        text = text.replace(value, f"<{name}>")
    return re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", "<time>", text)


def test_list_show_logs_and_retry_read_the_same(mode: Mode, run_dagy, tmp_path: Path):
    empty = run_dagy("runs", "list", env=mode.env)
    assert (empty.returncode, empty.stdout) == (0, "No runs found.\n")

    marker, counts = tmp_path / "marker", tmp_path / "tally"
    params = ("--param", f"marker={marker}", "--param", f"tally={counts}")
    failed = _start_run(mode, run_dagy, "flaky-dep", *params)
    _wait_status(mode, run_dagy, failed, "FAILED")

    listed = run_dagy("runs", "list", env=mode.env)
    assert _canon(listed.stdout, failed=failed) == "<failed> FAILED <time> flaky:1.0.0\n"
    shown = run_dagy("runs", "show", failed, env=mode.env)
    assert shown.returncode == 0
    assert _canon(shown.stdout, failed=failed).splitlines() == [
        "Run: <failed> status=FAILED flow=flaky:1.0.0",
        "Start: <time> End: <time>",
        "Error: TaskFailedError: Task picky failed: RuntimeError: no marker yet",
        "- first-1 first status=SUCCEEDED attempt=1",
        "- picky-1 picky status=FAILED attempt=1",
        "    error: RuntimeError: no marker yet",
    ]
    log = run_dagy("logs", failed, env=mode.env)
    assert log.returncode == 0
    assert f"INFO run {failed} started flow=flaky:1.0.0" in log.stdout
    assert f"ERROR run {failed} finished status=FAILED" in log.stdout.splitlines()[-1]
    assert "no marker yet" in run_dagy("logs", failed, "--task", "picky-1", env=mode.env).stdout

    marker.touch()
    again = run_dagy("runs", "retry", failed, env=mode.env)
    assert again.returncode == 0, again.stderr
    found = RUN_LINE.match(again.stdout.strip())
    assert found and found.group(2) == "SUCCEEDED", again.stdout
    retried = found.group(1)
    shown = run_dagy("runs", "show", retried, env=mode.env).stdout
    assert _canon(shown, failed=failed, retried=retried).splitlines() == [
        "Run: <retried> status=SUCCEEDED flow=flaky:1.0.0",
        "Start: <time> End: <time>",
        "Retry of: <failed>",
        "- first-1 first status=SUCCEEDED attempt=1 (reused from <failed>)",
        "- picky-1 picky status=SUCCEEDED attempt=1",
    ]
    assert tally(counts) and len(tally(counts)) == 1  # `first` ran once: the retry reused it
    followed = run_dagy("logs", retried, "--follow", env=mode.env, timeout=30)
    assert followed.returncode == 0
    assert f"run {retried} finished status=SUCCEEDED" in followed.stdout.splitlines()[-1]

    nothing = run_dagy("runs", "retry", retried, env=mode.env)
    assert (nothing.returncode, nothing.stderr) == (
        2,
        f"Error: Run {retried} succeeded; there is nothing to retry\n",
    )
    for args in (("runs", "show", "nope"), ("logs", "nope"), ("runs", "cancel", "nope")):
        missing = run_dagy(*args, env=mode.env)
        assert (missing.returncode, missing.stderr) == (3, "Run not found: nope\n"), args
    unknown = run_dagy("logs", failed, "--task", "nope-1", env=mode.env)
    assert (unknown.returncode, unknown.stderr) == (3, "Error: Task run not found: nope-1\n")


def test_cancel_ends_a_running_run_and_follow_sees_it_end(mode: Mode, run_dagy, tmp_path: Path):
    gate, counts = tmp_path / "gate", tmp_path / "tally"
    args = ("gated-dep", "--param", f"gate={gate}", "--param", f"tally={counts}")
    runner = None
    if mode.name == "store":  # it executes in that `dagy run` process
        runner = popen_dagy("run", *args, env=mode.env)
        wait_until(lambda: tally(counts), 30, "the task to start")
        listed = run_dagy("runs", "list", "--status", "RUNNING", env=mode.env).stdout
        run_id = listed.split()[0]
    else:
        run_id = _start_run(mode, run_dagy, *args)
        wait_until(lambda: tally(counts), 30, "the task to start")
    follower = popen_dagy("logs", run_id, "--follow", env=mode.env)
    try:
        done = run_dagy("runs", "cancel", run_id, env=mode.env)
        assert (done.returncode, done.stdout) == (0, f"Run cancelled: {run_id} status=CANCELLED\n")
        out, err = follower.communicate(timeout=30)
        assert follower.returncode == 0, err
        assert "started flow=gated:1.0.0" in out
        assert "status=CANCELLED" in out.splitlines()[-1]
        if runner is not None:
            out, _ = runner.communicate(timeout=30)
            assert runner.returncode == 130 and f"{run_id} status=CANCELLED" in out
    finally:
        for proc in (follower, runner):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.communicate()
    assert _status(mode, run_dagy, run_id) == "CANCELLED"
    again = run_dagy("runs", "cancel", run_id, env=mode.env)
    assert (again.returncode, again.stderr) == (
        2,
        "Error: Run cannot be cancelled (already cancelled)\n",
    )


def test_ctrl_c_stops_logs_follow_quietly(run_dagy, dagy_home: Path, tmp_path: Path):
    flows = write_flows(tmp_path / "code")
    gate, counts = tmp_path / "gate", tmp_path / "tally"
    runner = popen_dagy(
        "run", f"{flows}:gated", "--param", f"gate={gate}", "--param", f"tally={counts}"
    )
    try:
        wait_until(lambda: tally(counts), 30, "the task to start")
        run_id = run_dagy("runs", "list").stdout.split()[0]
        follower = popen_dagy("logs", run_id, "--follow")
        assert follower.stdout is not None
        first = follower.stdout.readline()  # it is following: the lines so far were printed
        assert f"run {run_id} started" in first
        follower.send_signal(signal.SIGINT)
        _, err = follower.communicate(timeout=30)
        assert (follower.returncode, err) == (130, "")
    finally:
        gate.touch()
        runner.communicate(timeout=30)


def test_an_unknown_profile_is_a_config_error_for_every_target(run_dagy, tmp_path: Path):
    flows = write_flows(tmp_path / "code")
    for args in (
        ("run", "--profile", "nosuch", f"{flows}:quick"),
        ("run", "--profile", "nosuch", "some-deployment"),
        ("runs", "list", "--profile", "nosuch"),
        ("logs", "x", "--profile", "nosuch"),
    ):
        done = run_dagy(*args)
        assert (done.returncode, done.stderr) == (4, "ConfigError: Profile not found: nosuch\n")
    assert run_dagy("runs", "list").stdout == "No runs found.\n"  # nothing ran


def _audit_rows(home: Path, server: ServerProcess | None) -> list[tuple[str, str, str, str]]:
    """(actor, action, resource type, changes) of the runs' audit rows, oldest first."""
    import json

    if server is not None:
        status, _, body = server.request(
            "GET", "/audit-logs?resource_type=run&limit=100", token=server.local_token
        )
        assert status == 200, body
        rows = [
            (i["actor_email"], i["action"], i["resource_type"], json.dumps(i["changes"]))
            for i in reversed(body["items"])
        ]
        return rows
    import duckdb

    con = duckdb.connect(str(home / "dagy.duckdb"), read_only=True)
    try:
        found = con.execute(
            "SELECT actor_email, action, resource_type, changes FROM audit_log "
            "WHERE resource_type = 'run' ORDER BY ts"
        ).fetchall()
    finally:
        con.close()
    return [(a, b, c, json.dumps(json.loads(d))) for a, b, c, d in found]


def test_retry_and_cancel_write_the_same_audit_rows_from_the_store_as_through_the_server(
    mode: Mode, run_dagy, tmp_path: Path
):
    marker, counts = tmp_path / "marker", tmp_path / "tally"
    failed = _start_run(
        mode, run_dagy, "flaky-dep", "--param", f"marker={marker}", "--param", f"tally={counts}"
    )
    _wait_status(mode, run_dagy, failed, "FAILED")
    marker.touch()
    assert run_dagy("runs", "retry", failed, env=mode.env).returncode == 0
    gate, more = tmp_path / "gate", tmp_path / "more"
    args = ("gated-dep", "--param", f"gate={gate}", "--param", f"tally={more}")
    runner = popen_dagy("run", *args, env=mode.env) if mode.name == "store" else None
    try:
        if runner is None:
            gated = _start_run(mode, run_dagy, *args)
        wait_until(lambda: tally(more), 30, "the task to start")
        if runner is not None:
            gated = run_dagy("runs", "list", "--status", "RUNNING", env=mode.env).stdout.split()[0]
        assert run_dagy("runs", "cancel", gated, env=mode.env).returncode == 0
        if runner is not None:
            runner.communicate(timeout=30)
    finally:
        if runner is not None and runner.poll() is None:
            runner.kill()
            runner.communicate()
    rows = _audit_rows(tmp_path / "home", mode.server)
    assert [(r[1], r[3]) for r in rows] == [
        ("execute", '{"deployment_name": "flaky-dep", "flow_version": "1.0.0"}'),
        ("execute", json.dumps({"retry_of": failed})),
        ("execute", '{"deployment_name": "gated-dep", "flow_version": "1.0.0"}'),
        ("update", '{"status": "cancelled"}'),
    ]
    # The machine's user from its home (the file or the local token), else the logged-in user.
    assert {r[0] for r in rows} == {"local@localhost" if mode.name == "api" else "local"}


def test_states_and_levels_are_coloured_on_a_terminal_only(run_dagy, tmp_path: Path):
    import os
    import pty

    from tests.conftest import dagy_cmd

    flows = write_flows(tmp_path / "code")
    marker, counts = tmp_path / "marker", tmp_path / "tally"
    args = ("--param", f"marker={marker}", "--param", f"tally={counts}")
    failed = RUN_LINE.match(run_dagy("run", f"{flows}:flaky", *args).stdout.strip())
    assert failed

    def on_a_terminal(*command: str) -> str:
        leader, follower = pty.openpty()
        with subprocess.Popen([*dagy_cmd(), *command], stdout=follower, stderr=follower) as proc:
            os.close(follower)
            chunks = []
            while True:
                try:
                    chunk = os.read(leader, 4096)
                except OSError:  # the terminal closed: the command has ended
                    break
                if not chunk:
                    break
                chunks.append(chunk)
            proc.wait(timeout=30)
        os.close(leader)
        return b"".join(chunks).decode()

    assert "\x1b[31mFAILED\x1b[0m" in on_a_terminal("runs", "list")
    assert "\x1b[31m\x1b[1mERROR\x1b[0m" in on_a_terminal("logs", failed.group(1))
    piped = run_dagy("runs", "list").stdout + run_dagy("logs", failed.group(1)).stdout
    assert "\x1b[" not in piped and " FAILED " in piped and " ERROR " in piped

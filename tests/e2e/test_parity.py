"""One scenario, three backends: the CLI reads and changes the same things, with the same lines and
exit codes, on the store file, through this home's live `dagy serve`, and on a remote API from a
home of its own (docs/cli.md, "Where a command looks").

Each mode is real: a store file in a temporary DAGY_LOCAL_DIR; a `dagy serve` process holding that
home's file; a `dagy serve` on another home reached with DAGY_API_URL and a token from the
environment. Where the spec makes the modes differ (a deployment runs here on the store file, but
is queued on a server), the test says so and checks each side.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import REPO, ServerProcess, dagy_cmd, start_server

FLOWS = """
    import time
    from pathlib import Path

    from dagy import flow, task


    @task
    def prepare(n: int) -> int:
        return n + 1


    @task
    def settle(value: int, marker: str) -> int:
        if not Path(marker).exists():
            Path(marker).write_text("seen")
            raise RuntimeError("the first attempt fails")
        return value * 2


    @flow(name="flaky", version="1.0.0")
    def flaky(marker: str, n: int = 1):
        return settle(prepare(n), marker)


    @task
    def wait_for(gate: str) -> str:
        deadline = time.monotonic() + 120
        while not Path(gate).exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        return "opened"


    @flow(name="gated", version="1.0.0")
    def gated(gate: str):
        return wait_for(gate)
"""

RUN_ID = re.compile(r"Run completed: (\S+) status=(\w+)")


@dataclass
class Cli:
    """The `dagy` command as a user of one mode runs it."""

    mode: str
    env: dict[str, str]
    work: Path
    server: ServerProcess | None = None
    processes: list[subprocess.Popen[str]] = field(default_factory=list)

    def __call__(self, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*dagy_cmd(), *args],
            input=input,
            capture_output=True,
            text=True,
            timeout=180,
            env=self.env,
            cwd=str(REPO),
        )

    def ok(self, *args: str, input: str | None = None) -> str:
        done = self(*args, input=input)
        assert done.returncode == 0, (args, done.stdout, done.stderr)
        return done.stdout

    def popen(self, *args: str) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            [*dagy_cmd(), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=self.env,
            cwd=str(REPO),
        )
        self.processes.append(proc)
        return proc

    def show(self, run_id: str) -> str:
        return self.ok("runs", "show", run_id)

    def wait_status(self, run_id: str, *statuses: str, timeout: float = 90) -> str:
        """`dagy runs show` until the run is in one of ``statuses`` (a server runs it meanwhile)."""
        deadline = time.monotonic() + timeout
        shown = ""
        while time.monotonic() < deadline:
            shown = self.show(run_id)
            status = shown.splitlines()[0].split("status=")[1].split()[0]
            if status in statuses:
                return shown
            time.sleep(0.1)
        raise AssertionError(f"{run_id} never became {statuses}: {shown}")

    def start_deployment(self, deployment: str, *params: str) -> tuple[str, str]:
        """`dagy run <deployment>`: on the store file it runs here and prints `Run completed`;
        on a server it is queued and the API's answer is printed as JSON. (run_id, stdout)."""
        args = [a for p in params for a in ("--param", p)]
        done = self("run", deployment, *args)
        if self.mode == "store":
            found = RUN_ID.search(done.stdout)
            assert found, (done.stdout, done.stderr)
            return found.group(1), done.stdout
        assert done.returncode == 0, done.stderr
        answer = json.loads(done.stdout)
        assert answer["status"] == "PENDING", answer
        return str(answer["run_id"]), done.stdout


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("DAGY_") or k in ("DAGY_KEYRING",)
    }
    return {**env, "DAGY_LOCAL_DIR": str(home), "DAGY_KEYRING": "0", **extra}


@pytest.fixture(params=["store", "server", "api"])
def cli(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Cli]:
    work = tmp_path / "work"
    work.mkdir()
    (work / "parity_flows.py").write_text(textwrap.dedent(FLOWS), encoding="utf-8")
    server_env = {"DAGY_SERVER_WORKERS": "2", "DAGY_SERVER_CANCEL_GRACE": "3"}
    home = tmp_path / "home"
    mode = request.param
    if mode == "store":
        made = Cli(mode, _env(home), work)
    elif mode == "server":
        server = start_server(home, "--local", env=server_env)
        made = Cli(mode, _env(home), work, server)
    else:
        server = start_server(home, env=server_env)
        server.create_user("owner@example.com", "owner")
        token = server.login("owner@example.com")
        client_home = tmp_path / "client-home"
        made = Cli(
            mode, _env(client_home, DAGY_API_URL=server.api_url, DAGY_TOKEN=token), work, server
        )
    yield made
    for proc in made.processes:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=30)
    if made.server is not None:
        made.server.stop()


def _deploy(cli: Cli, flow_name: str, deployment: str, *params: str) -> None:
    """`dagy build` (with the parameters its FlowSpec is built with) and `dagy deploy`."""
    args = [a for p in params for a in ("--param", p)]
    built = cli.ok(
        "build", f"{cli.work / 'parity_flows.py'}:{flow_name}", "--output-dir", str(cli.work), *args
    )
    artifact = built.strip().removeprefix("Artifact: ")
    cli.ok(
        "deploy",
        artifact,
        "--deployment",
        deployment,
        "--flow-name",
        flow_name,
    )


def test_the_same_story_in_every_mode(cli: Cli) -> None:
    """Deploy, run, list, show, read logs, retry a failed run, cancel a running one, a schedule and
    a sensor created, paused and deleted, a secret set and listed: the same lines in each mode."""
    _deploy(cli, "flaky", "flaky-prod", "marker=unused")
    _deploy(cli, "gated", "gated-prod", "gate=unused")
    flows = cli.ok("flows", "list")
    for name in ("flaky", "gated"):
        assert re.search(rf"^\W*{name}\W+1\.0\.0\W", flows, re.M), flows
    assert "flaky-prod" in cli.ok("deployments", "show", "flaky-prod")

    # A run that fails, and its retry that reuses what succeeded.
    marker = cli.work / "marker"
    failed, _ = cli.start_deployment("flaky-prod", f"marker={marker}")
    shown = cli.wait_status(failed, "FAILED")
    assert shown.splitlines()[0] == f"Run: {failed} status=FAILED flow=flaky:1.0.0"
    assert "the first attempt fails" in shown
    done = cli("runs", "retry", failed)
    assert done.returncode == 0, done.stderr
    found = RUN_ID.search(done.stdout)
    assert found and found.group(2) == "SUCCEEDED", done.stdout
    retry = found.group(1)
    lines = cli.show(retry).splitlines()
    assert lines[0] == f"Run: {retry} status=SUCCEEDED flow=flaky:1.0.0"
    assert f"Retry of: {failed}" in lines
    assert f"- prepare-1 prepare status=SUCCEEDED attempt=1 (reused from {failed})" in lines
    assert "- settle-1 settle status=SUCCEEDED attempt=1" in lines
    listed = cli.ok("runs", "list").splitlines()
    assert [line.split()[:2] for line in listed[:2]] == [[retry, "SUCCEEDED"], [failed, "FAILED"]]
    assert f"run {retry} finished status=SUCCEEDED" in cli.ok("logs", retry)
    assert json.loads(cli.ok("runs", "show", retry, "--json"))["output"] == 4
    missing = cli("logs", "no-such-run")
    assert (missing.returncode, missing.stderr.strip()) == (3, "Run not found: no-such-run")

    # A running run, cancelled.
    gate = cli.work / "gate"
    if cli.mode == "store":  # it runs here, in a `dagy run` process of its own
        proc = cli.popen("run", "gated-prod", "--param", f"gate={gate}")
    else:
        cli.start_deployment("gated-prod", f"gate={gate}")
    running = _wait_running(cli, "gated:1.0.0")
    assert cli.ok("runs", "cancel", running).strip() == f"Run cancelled: {running} status=CANCELLED"
    cli.wait_status(running, "CANCELLED")
    if cli.mode == "store":
        assert proc.wait(timeout=60) == 130

    # A schedule and a sensor, created, paused and deleted.
    made = cli.ok(
        "schedules",
        "create",
        "nightly",
        "--deployment",
        "flaky-prod",
        "--cron",
        "0 2 * * *",
        "--param",
        f"marker={marker}",
    )
    assert made.startswith("Schedule created: nightly next_run_at="), made
    assert cli.ok("schedules", "pause", "nightly").strip() == "Schedule paused: nightly"
    row = next(line for line in cli.ok("schedules", "list").splitlines() if "nightly" in line)
    assert "0 2 * * *" in row and re.search(r"\bno\b", row), row
    assert cli.ok("schedules", "delete", "nightly").strip() == "Schedule deleted: nightly"
    made = cli.ok("sensors", "create", "on-push", "--type", "webhook", "--flow", "flaky")
    sensor = re.search(r"Sensor created: (\S+) name=on-push type=webhook flow=flaky", made)
    assert sensor, made
    sensor_id = sensor.group(1)
    assert cli.ok("sensors", "pause", sensor_id).strip() == f"Sensor paused: {sensor_id}"
    assert json.loads(cli.ok("sensors", "show", sensor_id, "--json"))["enabled"] is False
    assert cli.ok("sensors", "delete", sensor_id).strip() == f"Sensor deleted: {sensor_id}"
    gone = cli("sensors", "show", sensor_id)
    assert gone.returncode == 3, gone.stderr

    # A secret, set from stdin and listed, its value never printed.
    cli.ok("secrets", "set", "API_TOKEN", "--value-stdin", input="s3cr3t-value\n")
    listed_secrets = cli.ok("secrets", "list")
    assert "API_TOKEN" in listed_secrets and "s3cr3t-value" not in listed_secrets

    for args in (["runs", "list"], ["run", "x.py:f"], ["sensors", "list"], ["secrets", "list"]):
        done = cli(*args, "--profile", "nosuch")
        assert (done.returncode, done.stderr.strip()) == (
            4,
            "ConfigError: Profile not found: nosuch",
        ), args


def _wait_running(cli: Cli, flow_id: str, timeout: float = 90) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = cli.ok("runs", "list", "--status", "RUNNING").splitlines()
        found = next((line.split()[0] for line in lines if line.endswith(f" {flow_id}")), None)
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"no {flow_id} run started")

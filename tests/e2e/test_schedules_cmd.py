"""`dagy schedules` through the real command: on the home's store file with no server, after a
local `dagy deploy --schedule`, and through the home's live `dagy serve --local`, whose scheduler
then fires what the CLI created."""

from __future__ import annotations

import json
from pathlib import Path

from tests.server.runs_support import wait_until

FLOW = """
from dagy import flow, task


@task
def double(x: int) -> int:
    return x * 2


@flow(name="doubler", version="1.0")
def doubler(n: int = 1):
    return double(n)
"""


def deploy(run_dagy, write_flow, tmp_path: Path, *extra: str) -> None:
    source = write_flow(FLOW, name="doubler")
    built = run_dagy("build", f"{source}:doubler", "--output-dir", str(tmp_path / "dist"))
    assert built.returncode == 0, built.stderr
    artifact = built.stdout.strip().removeprefix("Artifact: ")
    done = run_dagy(
        "deploy", artifact, "--deployment", "doubler-prod", "--flow-name", "doubler",
        "--flow-version", "1.0", *extra,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


def listed(run_dagy, *args: str) -> list[dict]:
    done = run_dagy("schedules", "list", "--json", *args)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def test_a_local_deploy_with_a_schedule_creates_the_deployments_schedule(
    run_dagy, write_flow, tmp_path
):
    deploy(
        run_dagy, write_flow, tmp_path, "--schedule", "0 9 * * 1-5", "--timezone", "Europe/Paris"
    )
    [own] = listed(run_dagy)
    assert own["schedule_id"] == "deployment:doubler-prod"
    assert own["mode"] == "cron" and own["cron_expression"] == "0 9 * * 1-5"
    assert own["timezone"] == "Europe/Paris" and own["deployment_name"] == "doubler-prod"
    table = run_dagy("schedules", "list")
    assert "deployment:doubler-prod" in table.stdout and "0 9 * * 1-5" in table.stdout


def test_create_pause_resume_trigger_and_delete_on_the_store_file(run_dagy, write_flow, tmp_path):
    deploy(run_dagy, write_flow, tmp_path)
    done = run_dagy(
        "schedules", "create", "nightly", "--flow", "doubler", "--cron", "30 2 * * *",
        "--timezone", "America/New_York", "--catchup", "all", "--param", "n=4",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Schedule created: nightly next_run_at=20")

    assert run_dagy("schedules", "pause", "nightly").stdout == "Schedule paused: nightly\n"
    [paused] = listed(run_dagy, "--disabled")
    assert paused["schedule_id"] == "nightly" and paused["next_run_at"] is None
    resumed = run_dagy("schedules", "resume", "nightly")
    assert resumed.stdout.startswith("Schedule resumed: nightly next_run_at=20")

    queued = run_dagy("schedules", "trigger", "nightly")
    assert queued.returncode == 0, queued.stderr
    assert queued.stdout.startswith("Run queued: doubler-")
    assert "starts when `dagy serve` does" in queued.stderr
    runs = run_dagy("runs", "list", "--json")
    assert [r["status"] for r in json.loads(runs.stdout)] == ["PENDING"]

    assert run_dagy("schedules", "delete", "nightly").stdout == "Schedule deleted: nightly\n"
    assert listed(run_dagy) == []


def test_bad_input_is_one_line_with_its_exit_code(run_dagy, write_flow, tmp_path):
    deploy(run_dagy, write_flow, tmp_path)
    cases = [
        (["create", "x", "--flow", "doubler", "--cron", "0 9 * *"], 2, "cron_expression"),
        (["create", "x", "--flow", "doubler", "--cron", "0 9 * * *", "--timezone", "Mars/X"], 2,
         "time zone"),
        (["create", "x", "--flow", "nope", "--interval", "30m"], 3, "Flow not found: nope"),
        (["create", "x", "--flow", "doubler", "--cron", "0 9 * * *", "--interval", "5m"], 2,
         "one of --cron"),
        (["pause", "missing"], 3, "Schedule not found: missing"),
        (["trigger", "missing"], 3, "Schedule not found: missing"),
    ]  # fmt: skip
    for args, code, text in cases:
        done = run_dagy("schedules", *args)
        assert done.returncode == code, (args, done.stderr)
        assert text in done.stderr and "Traceback" not in done.stderr
    assert listed(run_dagy) == []


def test_through_a_live_server_its_scheduler_fires_what_the_cli_created(
    run_dagy, write_flow, tmp_path, server_factory
):
    deploy(run_dagy, write_flow, tmp_path)
    server = server_factory("--local", env={"DAGY_SCHEDULER_TICK": "0.1"})
    done = run_dagy("schedules", "create", "often", "--deployment", "doubler-prod",
                    "--interval", "1", "--param", "n=21")  # fmt: skip
    assert done.returncode == 0, done.stderr

    def finished() -> list[dict]:
        status, _, body = server.request("GET", "/runs", token=server.local_token)
        assert status == 200
        return [r for r in body["items"] if r["status"] == "completed"]  # type: ignore[index]

    run = wait_until(finished, 20, "a scheduled run to complete")[0]
    status, _, detail = server.request("GET", f"/runs/{run['run_id']}", token=server.local_token)
    assert detail["output"] == 42 and "schedule:often" in detail["tags"]  # type: ignore[index]
    assert run_dagy("schedules", "pause", "often").returncode == 0
    [paused] = listed(run_dagy, "--disabled")
    assert paused["schedule_id"] == "often"

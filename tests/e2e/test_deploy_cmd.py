"""`dagy deploy` through the real command: to a real `dagy serve` over its API, straight into the
home's store with no server, and through the home's own live server."""

from __future__ import annotations

import base64
import json
import os
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dagy.cli.deploy_cmd import spread_values
from tests.conftest import ServerProcess
from tests.server.runs_support import wait_status, wait_until

FLOW = """
from dagy import flow, task


@task
def greet(name: str) -> str:
    return f"hello {name}"


@flow(name="greeter", version="1.0")
def greeter(name: str = "world"):
    return greet(name)
"""
DEPLOYED = "Deployed to {uri} and registered as greeter:1.0\n"


@pytest.fixture
def build(run_dagy, write_flow, tmp_path) -> Callable[..., Path]:
    """`dagy build` of FLOW (plus ``extra`` source, ``padding`` bytes of random comment)."""
    count = iter(range(100))

    def make(extra: str = "", padding: int = 0) -> Path:
        lines = [base64.b64encode(os.urandom(75)).decode() for _ in range(padding // 100)]
        source = write_flow(FLOW + extra + "".join(f"# {x}\n" for x in lines), name="greeter")
        out = tmp_path / "dist" / str(next(count))
        done = run_dagy("build", f"{source}:greeter", "--output-dir", str(out))
        assert done.returncode == 0, done.stderr
        return Path(done.stdout.strip().removeprefix("Artifact: "))

    return make


@pytest.fixture
def client_env(server: ServerProcess, tmp_path: Path) -> dict[str, str]:
    """A CLI home of its own, logged in to the server as its owner, with DAGY_API_URL set."""
    from dagy.config import credentials
    from dagy.config.paths import DagyPaths

    env = {
        "DAGY_LOCAL_DIR": str(tmp_path / "client"),
        "DAGY_KEYRING": "0",
        "DAGY_API_URL": server.api_url,
    }
    token = server.login("owner@example.com")
    credentials.save(
        DagyPaths(tmp_path / "client"),
        credentials.Credentials(access_token=token, api_url=server.api_url),
        environ=env,
    )
    return env


def deploy_args(artifact: Path, *extra: str) -> list[str]:
    return ["deploy", str(artifact), "--deployment", "greeter-prod", "--flow-name", "greeter",
            "--flow-version", "1.0", *extra]  # fmt: skip


def stored(home: Path) -> Path:
    return (
        home / "artifact-store" / "dagy" / "flows" / "personal" / "greeter" / "1.0" / "artifact.zip"
    )


def serves_latest(server: ServerProcess, token: str) -> bool:
    """GET /flows/{name}/latest is built separately; until it is served there is nothing to compare."""
    status, _, body = server.request("GET", "/flows/greeter/latest", token=token)
    return status == 200 or not str(body.get("message", "")).startswith("Not found: /")


def run_of(server: ServerProcess, token: str, deployment: str) -> dict[str, Any]:
    status, _, run = server.request(
        "POST", "/runs", token=token, body={"deployment": deployment, "parameters": {"name": "cli"}}
    )
    assert status == 202, run
    return wait_status(server, run["run_id"], "completed", "failed", timeout=60)


def read_db(home: Path, sql: str) -> list[tuple[Any, ...]]:
    import duckdb

    with duckdb.connect(str(home / "dagy.duckdb"), read_only=True) as con:
        return con.execute(sql).fetchall()


# -- through the API ---------------------------------------------------------------------------------


def test_deploy_through_the_api_registers_a_deployment_the_server_runs(
    server, client_env, build, run_dagy, dagy_home
):
    artifact = build()
    done = run_dagy(*deploy_args(artifact, "--schedule", "0 9 * * *"), env=client_env)
    assert done.returncode == 0, done.stderr
    assert done.stdout == DEPLOYED.format(uri=stored(dagy_home).as_uri())
    assert done.stderr == ""
    assert stored(dagy_home).read_bytes() == artifact.read_bytes()
    assert list((dagy_home / "uploads").iterdir()) == []
    run = run_of(server, server.local_token, "greeter-prod")
    assert run["status"] == "completed" and run["output"] == "hello cli"


SLOW_V2 = """
import time
from pathlib import Path

from dagy import flow, task


@task
def greet(name: str) -> str:
    Path(name).write_text("started")  # the test passes a path: it knows the task is running
    time.sleep(60)
    return f"hello {name}"


@flow(name="greeter", version="2.0")
def greeter(name: str = "world"):
    return greet(name)
"""


def test_deploy_trigger_run_logs_cancel_and_rollback_end_to_end(
    server, client_env, build, run_dagy, write_flow, tmp_path
):
    """The whole path through the real command and a real server: deploy 1.0, run it and read its
    logs; deploy 2.0 (a slow task), start it and cancel it; roll back to 1.0 and run it again."""
    assert run_dagy(*deploy_args(build()), env=client_env).returncode == 0
    queued = run_dagy("run", "greeter-prod", "--param", "name=cli", env=client_env)
    assert queued.returncode == 0, queued.stderr
    run_id = json.loads(queued.stdout)["run_id"]
    done = wait_status(server, run_id, "completed", timeout=60)
    assert (done["flow_version"], done["output"]) == ("1.0", "hello cli")
    status, _, logs = server.request("GET", f"/runs/{run_id}/logs", token=server.local_token)
    assert status == 200 and logs["events"], logs  # type: ignore[index]
    assert all(e["timestamp"] for e in logs["events"])  # type: ignore[index]

    source = write_flow(SLOW_V2, name="greeter_v2")
    built = run_dagy("build", f"{source}:greeter", "--output-dir", str(tmp_path / "v2"))
    assert built.returncode == 0, built.stderr
    artifact = built.stdout.strip().removeprefix("Artifact: ")
    deployed = run_dagy(
        "deploy", artifact, "--deployment", "greeter-prod", "--flow-name", "greeter",
        "--flow-version", "2.0", env=client_env,
    )  # fmt: skip
    assert deployed.returncode == 0, deployed.stderr
    marker = tmp_path / "v2-running"
    slow = run_dagy("run", "greeter-prod", "--param", f"name={marker}", env=client_env)
    slow_id = json.loads(slow.stdout)["run_id"]
    wait_until(marker.exists, 60, "the 2.0 task to start")
    cancelled = run_dagy("runs", "cancel", slow_id, env=client_env)
    assert cancelled.stdout == f"Run cancelled: {slow_id} status=CANCELLED\n", cancelled.stderr
    assert wait_status(server, slow_id, "cancelled")["flow_version"] == "2.0"

    status, _, back = server.request(
        "POST", "/deployments/greeter-prod/rollback", token=server.local_token, body={}
    )
    assert status == 200, back
    status, _, deployment = server.request(
        "GET", "/deployments/greeter-prod", token=server.local_token
    )
    assert deployment["flow_version"] == "1.0", deployment  # type: ignore[index]
    again = run_of(server, server.local_token, "greeter-prod")
    assert (again["status"], again["flow_version"]) == ("completed", "1.0")


def test_an_unchanged_artifact_is_skipped_unless_forced(server, client_env, build, run_dagy):
    if not serves_latest(server, server.local_token):
        pytest.skip("GET /flows/{name}/latest is not served yet: nothing to compare against")
    artifact = build()
    assert run_dagy(*deploy_args(artifact), env=client_env).returncode == 0
    rebuilt = build()  # same source, new build: same code_hash
    again = run_dagy(*deploy_args(rebuilt), env=client_env)
    assert again.returncode == 0, again.stderr
    code_hash = again.stdout.splitlines()[1].split()[-1]
    assert again.stdout == (
        "No code changes detected (code_hash unchanged). Skipping deployment.\n"
        f"  Local:  {code_hash}\n"
        f"  Remote: {code_hash}\n"
        "Use --force to deploy anyway.\n"
    )
    forced = run_dagy(*deploy_args(rebuilt, "--force"), env=client_env)
    assert forced.returncode == 0 and forced.stdout.startswith("Deployed to file://")


def test_a_large_artifact_goes_up_in_parts(server, client_env, build, run_dagy, dagy_home):
    artifact = build(padding=12_000_000)  # ~9 MB zipped: two parts of at most 8 MB
    assert artifact.stat().st_size > 8 * 1024 * 1024
    done = run_dagy(*deploy_args(artifact), env=client_env)
    assert done.returncode == 0, done.stderr
    assert stored(dagy_home).read_bytes() == artifact.read_bytes()


def test_a_failed_upload_is_aborted_and_reported(server, client_env, build, run_dagy, dagy_home):
    artifact = build()
    tampered = artifact.with_name("tampered.zip")
    with zipfile.ZipFile(artifact) as src, zipfile.ZipFile(tampered, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            dst.writestr(info, data + b"\n# changed\n" if info.filename == "greeter.py" else data)
    done = run_dagy(*deploy_args(tampered), env=client_env)
    assert done.returncode == 6, done.stderr
    assert done.stderr.startswith("APIError 400: Invalid artifact: ") and "manifest" in done.stderr
    assert list((dagy_home / "uploads").iterdir()) == []  # aborted
    assert not stored(dagy_home).exists()


def test_api_errors_are_one_line(server, build, run_dagy, tmp_path):
    env = {"DAGY_LOCAL_DIR": str(tmp_path / "nobody"), "DAGY_API_URL": server.api_url}
    done = run_dagy(*deploy_args(build(), "--force"), env=env)
    assert done.returncode == 6
    assert done.stderr == "APIError 401: Invalid or missing token\n"


# -- refused before anything is sent -------------------------------------------------------------


def test_a_missing_artifact_is_file_not_found(run_dagy, tmp_path):
    missing = tmp_path / "nope" / "artifact.zip"
    done = run_dagy(*deploy_args(missing))
    assert done.returncode == 3
    assert done.stderr == f"FileNotFoundError: Artifact not found: {missing}\n"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--flow-name", "other", "--flow-version", "1.0"], "other:1.0"),
        (["--flow-name", "greeter", "--flow-version", "9"], "greeter:9"),
        (["--flow-name", "other"], "other:1.0"),  # --flow-version defaults to the artifact's
    ],
)
def test_an_artifact_of_another_flow_is_refused(build, run_dagy, dagy_home, args, expected):
    done = run_dagy("deploy", str(build()), "--deployment", "d", *args)
    assert done.returncode == 2
    assert done.stderr == (
        f"ValueError: Artifact flow spec mismatch. Expected {expected}, got greeter:1.0\n"
    )
    assert not (dagy_home / "dagy.duckdb").exists()


# -- without an API ----------------------------------------------------------------------------------


def test_without_an_api_or_server_it_registers_into_the_home_store(build, run_dagy, dagy_home):
    artifact = build()
    done = run_dagy(*deploy_args(artifact, "--dep-packages", "A1B2C3D4", "X9Y8Z7W6"))
    assert done.returncode == 0, done.stderr
    assert done.stdout == DEPLOYED.format(uri=stored(dagy_home).as_uri())
    assert stored(dagy_home).read_bytes() == artifact.read_bytes()
    assert read_db(
        dagy_home,
        "SELECT org_id, flow_name, flow_version, deployment_version, artifact_uri, status, "
        "deployment_name FROM flows",
    ) == [("personal", "greeter", "1.0", 1, stored(dagy_home).as_uri(), "active", "greeter-prod")]
    assert read_db(
        dagy_home,
        "SELECT name, flow_name, flow_version, status, timezone, execution_mode, "
        "dep_package_slugs FROM deployments",
    ) == [
        ("greeter-prod", "greeter", "1.0", "active", "America/New_York", "in-process",
         '["A1B2C3D4", "X9Y8Z7W6"]'),
    ]  # fmt: skip

    again = run_dagy(*deploy_args(build()))
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith("No code changes detected (code_hash unchanged).")
    assert again.stdout.endswith("Use --force to deploy anyway.\n")

    forced = run_dagy(
        *deploy_args(artifact, "--force", "--dep-packages", "ONE", "--dep-packages", "TWO",
                     "--execution-mode", "task-isolated", "--status", "PAUSED",
                     "--timezone", "UTC"),
    )  # fmt: skip
    assert forced.returncode == 0, forced.stderr
    assert read_db(
        dagy_home, "SELECT status, timezone, execution_mode, dep_package_slugs FROM deployments"
    ) == [("paused", "UTC", "task-isolated", '["ONE", "TWO"]')]


def test_changed_code_is_deployed_again(build, run_dagy, dagy_home):
    assert run_dagy(*deploy_args(build())).returncode == 0
    changed = run_dagy(*deploy_args(build(extra="\n# a change\n")))
    assert changed.returncode == 0 and changed.stdout.startswith("Deployed to "), changed.stderr
    hashes = read_db(dagy_home, "SELECT code_hash FROM flows")
    assert len(hashes) == 1  # the same version, re-registered with the new code


def test_a_bad_deployment_setting_is_refused_before_anything_is_stored(build, run_dagy, dagy_home):
    done = run_dagy(*deploy_args(build(), "--timezone", "Mars/Olympus"))
    assert done.returncode == 2
    assert done.stderr == "Error: Unknown timezone: 'Mars/Olympus'\n"
    assert not stored(dagy_home).exists()


def test_with_a_live_local_server_it_goes_through_the_server(
    server_factory, build, run_dagy, dagy_home
):
    artifact = build()
    server = server_factory()  # owns dagy.duckdb: the CLI must not try to open it
    done = run_dagy(*deploy_args(artifact))
    assert done.returncode == 0, done.stderr
    assert done.stdout == DEPLOYED.format(uri=stored(dagy_home).as_uri())
    status, _, rows = server.request(
        "GET", "/audit-logs?resource_type=deployment", token=server.local_token
    )
    assert status == 200 and [r["resource_id"] for r in rows["items"]] == ["greeter-prod"]
    assert run_of(server, server.local_token, "greeter-prod")["output"] == "hello cli"


# -- --dep-packages A B ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["a.zip", "--dep-packages", "A", "B"], ["a.zip", "--dep-packages", "A", "--dep-packages", "B"]),
        (["a.zip", "--dep-packages", "A", "--force"], ["a.zip", "--dep-packages", "A", "--force"]),
        (["--dep-packages", "A", "B", "a.zip", "--force"],
         ["--dep-packages", "A", "--dep-packages", "B", "a.zip", "--force"]),
        (["--dep-packages=A", "B"], ["--dep-packages=A", "--dep-packages", "B"]),
        (["--dep-packages", "A", "--", "B"], ["--dep-packages", "A", "--", "B"]),
        (["--deployment", "A", "B"], ["--deployment", "A", "B"]),
    ],
)  # fmt: skip
def test_dep_packages_take_several_values_after_one_flag(argv, expected):
    assert spread_values(argv) == expected

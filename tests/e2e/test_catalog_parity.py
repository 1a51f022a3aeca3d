"""Flows, deployments, sensors and schedules through the real `dagy` command in the three modes
dagy.backend chooses between: the home's store file (no server), the home's live `dagy serve`,
and a remote API (a CLI home of its own, logged in with a token in its credentials file). The
same scenario prints the same lines and exits with the same codes in each."""

from __future__ import annotations

import json
import re
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import ServerProcess

FLOW = """
from dagy import flow, task


@task
def double(x: int) -> int:
    return x * 2


@flow(name="doubler", version="1.0")
def doubler(n: int = 1):
    return double(n)
"""

_MASKS = [
    (re.compile(r"wh_[A-Za-z0-9_-]{43}"), "<token>"),
    (re.compile(r"wh_[A-Za-z0-9_-]{4}\*\*\*"), "<hint>"),
    (re.compile(r"sensor_[0-9a-f]+"), "<sensor>"),
    (re.compile(r"deploy_[0-9a-f]+"), "<deployment_id>"),
    (re.compile(r"doubler-\d{8}T\d{6}Z-[0-9a-f]+"), "<run>"),
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z"), "<time>"),
    (re.compile(r"(file|s3)://\S+"), "<uri>"),
]


def masked(text: str) -> str:
    for pattern, mask in _MASKS:
        text = pattern.sub(mask, text)
    return text


@dataclass
class Mode:
    name: str
    env: dict[str, str]
    server: ServerProcess | None  # who answers GET /audit-logs (None: read the store file)
    token: str | None
    home: Path  # the home whose store holds the data


@pytest.fixture(params=["store", "server", "api"])
def mode(request, dagy_home: Path, server_factory, tmp_path: Path) -> Mode:
    if request.param == "store":
        return Mode("store", {}, None, None, dagy_home)
    if request.param == "server":
        served = server_factory("--local")
        return Mode("server", {}, served, served.local_token, dagy_home)
    from dagy.config import credentials
    from dagy.config.paths import DagyPaths

    served = server_factory(home=tmp_path / "server-home")
    served.create_user("owner@example.com", "owner")
    token = served.login("owner@example.com")
    client = tmp_path / "client"
    env = {"DAGY_LOCAL_DIR": str(client), "DAGY_KEYRING": "0", "DAGY_API_URL": served.api_url}
    credentials.save(
        DagyPaths(client),
        credentials.Credentials(access_token=token, api_url=served.api_url),
        environ=env,
    )
    return Mode("api", env, served, token, tmp_path / "server-home")


@pytest.fixture
def dagy(run_dagy, mode: Mode) -> Callable[..., tuple[int, str, str]]:
    """Run `dagy` in the mode: (exit code, stdout with ids and times masked unless ``raw``,
    stderr)."""

    def run(*args: str, raw: bool = False) -> tuple[int, str, str]:
        done = run_dagy(*args, env=mode.env)
        assert "Traceback" not in done.stderr, done.stderr
        return done.returncode, done.stdout if raw else masked(done.stdout), done.stderr

    return run


@pytest.fixture(scope="module")
def artifact(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The flow built once for the module (a read-only zip every test deploys)."""
    import os
    import subprocess

    from tests.conftest import REPO, dagy_cmd

    folder = tmp_path_factory.mktemp("artifact")
    source = folder / "doubler.py"
    source.write_text(textwrap.dedent(FLOW), encoding="utf-8")
    built = subprocess.run(
        [*dagy_cmd(), "build", f"{source}:doubler", "--output-dir", str(folder / "dist")],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "DAGY_LOCAL_DIR": str(folder / "home")},
        cwd=str(REPO),
    )
    assert built.returncode == 0, built.stderr
    return built.stdout.strip().removeprefix("Artifact: ")


def audit_rows(mode: Mode, resource_type: str) -> list[tuple[str, str]]:
    """(action, resource_id) of the audit rows of ``resource_type``, oldest first."""
    if mode.server is not None:
        status, _, body = mode.server.request(
            "GET", f"/audit-logs?resource_type={resource_type}&limit=100", token=mode.token
        )
        assert status == 200, body
        return [(r["action"], r["resource_id"]) for r in reversed(body["items"])]  # type: ignore[index]
    import duckdb

    with duckdb.connect(str(mode.home / "dagy.duckdb"), read_only=True) as con:
        rows = con.execute(
            "SELECT action, resource_id FROM audit_log WHERE resource_type = ? ORDER BY ts",
            [resource_type],
        ).fetchall()
    return [(str(a), str(r)) for a, r in rows]


def test_deploy_then_flows_and_deployments_list_and_show(dagy, artifact, mode):
    code, out, err = dagy(
        "deploy", artifact, "--deployment", "doubler-prod", "--flow-name", "doubler"
    )
    assert (code, out) == (0, "Deployed to <uri> and registered as doubler:1.0\n"), err

    code, out, err = dagy("flows", "list")
    assert code == 0, err
    rows = [line.split("┃")[1:-1] for line in out.splitlines() if line.startswith("┃")]
    assert [[cell.strip() for cell in row] for row in rows] == [
        ["flow_name", "flow_version", "created_at", "updated_at", "artifact_s3_uri"],
        ["doubler", "1.0", "<time>", "<time>", "<uri>"],
    ]

    code, out, err = dagy("deployments", "list", "--json")
    assert code == 0, err
    [listed] = json.loads(out)
    assert listed["deployment_name"] == "doubler-prod" and listed["flow_version"] == "1.0"

    code, out, err = dagy("deployments", "show", "doubler-prod")
    assert code == 0, err
    assert out == (
        "deployment_name: doubler-prod\ndeployment_id: <deployment_id>\nflow_name: doubler\n"
        "flow_version: 1.0\nstatus: active\nenvironment: -\nschedule: -\n"
        "timezone: America/New_York\ndefault_executor: -\nexecution_mode: in-process\n"
        "max_concurrent_runs: -\ndep_package_slugs: -\ntags: -\ncreated_at: <time>\n"
        "updated_at: <time>\n"
    )
    code, out, err = dagy("deployments", "show", "nope")
    assert (code, out) == (3, "") and err.strip().endswith("Deployment not found: nope")

    kinds = {resource: action for action, resource in audit_rows(mode, "deployment")}
    assert kinds == {"doubler-prod": "create"}


def test_sensors_create_show_pause_resume_test_delete(dagy, artifact, mode):
    assert (
        dagy("deploy", artifact, "--deployment", "doubler-prod", "--flow-name", "doubler")[0] == 0
    )

    code, out, err = dagy(
        "sensors", "create", "orders", "--type", "webhook", "--flow", "doubler", "--param", "n=2"
    )
    assert code == 0, err
    assert out == (
        "Sensor created: <sensor> name=orders type=webhook flow=doubler enabled=yes\n"
        "Webhook token (shown once): <token>\n"
    )
    code, out, err = dagy("sensors", "list", "--json", raw=True)
    [item] = json.loads(out)
    sensor_id = item["sensor_id"]
    assert item["name"] == "orders" and item["enabled"] is True

    code, out, err = dagy("sensors", "show", sensor_id)
    assert code == 0, err
    assert out == (
        "sensor_id: <sensor>\nname: orders\nsensor_type: webhook\nflow_name: doubler\n"
        'enabled: yes\nconfig_json: {}\nflow_params_json: {"n": 2}\nwebhook_token: <hint>\n'
        "created_at: <time>\nlast_checked_at: -\nlast_triggered_at: -\nlast_run_id: -\n"
        "last_error: -\n"
    )
    assert dagy("sensors", "pause", sensor_id)[:2] == (0, "Sensor paused: <sensor>\n")
    assert json.loads(dagy("sensors", "show", sensor_id, "--json")[1])["enabled"] is False
    assert dagy("sensors", "resume", sensor_id)[:2] == (0, "Sensor resumed: <sensor>\n")
    assert json.loads(dagy("sensors", "show", sensor_id, "--json")[1])["enabled"] is True

    code, out, err = dagy("sensors", "test", sensor_id)
    assert (code, out) == (0, "Run queued: <run> sensor=<sensor>\n"), err
    assert ("starts when `dagy serve` does" in err) == (mode.name == "store")

    assert dagy("sensors", "delete", sensor_id)[:2] == (0, "Sensor deleted: <sensor>\n")
    code, out, err = dagy("sensors", "show", sensor_id)
    assert (code, out) == (3, "") and err.strip().endswith(f"Sensor not found: {sensor_id}")
    assert dagy("sensors", "list", "--json")[1] == "[]\n"

    assert audit_rows(mode, "sensor") == [
        ("create", sensor_id),
        ("update", sensor_id),
        ("update", sensor_id),
        ("delete", sensor_id),
    ]


def test_sensor_bad_input_exits_2_unknown_ids_3_and_nothing_changes(dagy, artifact, mode):
    assert (
        dagy("deploy", artifact, "--deployment", "doubler-prod", "--flow-name", "doubler")[0] == 0
    )
    cases = [
        (["create", "x", "--type", "webhook", "--flow", "doubler", "--param", "nope=1"], 2,
         "Unknown parameter 'nope'"),
        (["create", "x", "--type", "polling", "--flow", "doubler"], 2, "url or check is required"),
        (["create", "x", "--type", "nosuch", "--flow", "doubler"], 2, "Invalid value for '--type'"),
        (["create", "x", "--type", "webhook", "--flow", "doubler", "--config", "novalue"], 2,
         "expected KEY=VALUE"),
        (["create", "x", "--type", "webhook", "--flow", "nosuch"], 3, "Flow not found: nosuch"),
        (["pause", "sensor_missing"], 3, "Sensor not found: sensor_missing"),
        (["resume", "sensor_missing"], 3, "Sensor not found: sensor_missing"),
        (["test", "sensor_missing"], 3, "Sensor not found: sensor_missing"),
        (["delete", "sensor_missing"], 3, "Sensor not found: sensor_missing"),
    ]  # fmt: skip
    for args, expected, text in cases:
        code, out, err = dagy("sensors", *args)
        assert (code, out) == (expected, ""), (args, err)
        assert text in err, (args, err)
        assert err.count("\n") == 1 or err.startswith("Usage:"), err  # click's own usage errors
    assert dagy("sensors", "list", "--json")[1] == "[]\n"
    assert audit_rows(mode, "sensor") == []


def test_schedules_create_pause_resume_trigger_delete(dagy, artifact, mode):
    assert (
        dagy("deploy", artifact, "--deployment", "doubler-prod", "--flow-name", "doubler")[0] == 0
    )
    code, out, err = dagy(
        "schedules", "create", "nightly", "--deployment", "doubler-prod", "--cron", "30 2 * * *"
    )
    assert (code, out) == (0, "Schedule created: nightly next_run_at=<time>\n"), err
    assert dagy("schedules", "pause", "nightly")[:2] == (0, "Schedule paused: nightly\n")
    [paused] = json.loads(dagy("schedules", "list", "--json", "--disabled")[1])
    assert paused["schedule_id"] == "nightly" and paused["next_run_at"] is None
    assert dagy("schedules", "resume", "nightly")[:2] == (
        0,
        "Schedule resumed: nightly next_run_at=<time>\n",
    )
    code, out, err = dagy("schedules", "trigger", "nightly", "--param", "n=3")
    assert (code, out) == (0, "Run queued: <run> schedule=nightly\n"), err
    assert dagy("schedules", "delete", "nightly")[:2] == (0, "Schedule deleted: nightly\n")
    code, out, err = dagy("schedules", "pause", "nightly")
    assert (code, out) == (3, "") and "Schedule not found: nightly" in err
    code, out, err = dagy("schedules", "create", "x", "--flow", "doubler", "--cron", "0 9 * *")
    assert (code, out) == (2, "") and "cron_expression" in err
    assert dagy("schedules", "list", "--json")[1] == "[]\n"
    assert [action for action, _ in audit_rows(mode, "schedule")] == [
        "create",
        "update",
        "update",
        "execute",
        "delete",
    ]


@pytest.mark.parametrize(
    "args",
    [
        ["flows", "list"],
        ["deployments", "list"],
        ["deployments", "show", "x"],
        ["schedules", "list"],
        ["schedules", "pause", "x"],
        ["sensors", "list"],
        ["sensors", "show", "x"],
        ["sensors", "pause", "x"],
        ["sensors", "test", "x"],
        ["sensors", "delete", "x"],
    ],
)
def test_an_unknown_profile_is_a_config_error_for_every_command(run_dagy, args):
    done = run_dagy(*args, "--profile", "nosuch")
    assert (done.returncode, done.stdout) == (4, "")
    assert done.stderr == "ConfigError: Profile not found: nosuch\n"

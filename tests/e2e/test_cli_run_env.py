"""`dagy run <path>:<fn> --env NAME`: the environment's variables reach the run's tasks, in threads
and in `process` executor children; an unknown environment is one line and exit 3."""

from __future__ import annotations

import json

import pytest

FLOW = """
import os
from dagy import flow, task

@task
def read(names: list, out: str) -> dict:
    found = {name: os.environ.get(name) for name in names}
    with open(out, "w") as fh:
        fh.write(__import__("json").dumps(found))
    return found

@flow
def env_flow(out: str):
    return read(["API_BASE", "DAGY_ENVIRONMENT"], out)
"""


@pytest.fixture
def staging(paths):
    from dagy.services.accounts.audit import local_actor
    from dagy.services.vault import environments
    from dagy.store.duckdb_store import DuckDBStore

    store = DuckDBStore(paths)
    environments.create(store, local_actor(), env_name="staging")
    environments.set_variables(
        store, local_actor(), "staging", {"API_BASE": "https://staging"}, replace=True
    )
    return "staging"


@pytest.mark.parametrize("executor", ["local", "process"])
def test_run_with_env_gives_the_tasks_its_variables(
    run_dagy, write_flow, tmp_path, staging, executor
):
    flow_file = write_flow(FLOW, name=f"env_flow_{executor}")
    out = tmp_path / f"seen-{executor}.json"
    done = run_dagy(
        "run",
        f"{flow_file}:env_flow",
        "--param",
        f"out={out}",
        "--env",
        staging,
        "--executor",
        executor,
    )
    assert done.returncode == 0, done.stderr
    assert "status=SUCCEEDED" in done.stdout
    assert json.loads(out.read_text()) == {
        "API_BASE": "https://staging",
        "DAGY_ENVIRONMENT": "staging",
    }


def test_run_without_env_gets_none_of_them(run_dagy, write_flow, tmp_path, staging):
    flow_file = write_flow(FLOW, name="env_flow_none")
    out = tmp_path / "seen.json"
    done = run_dagy("run", f"{flow_file}:env_flow", "--param", f"out={out}")
    assert done.returncode == 0, done.stderr
    assert json.loads(out.read_text()) == {"API_BASE": None, "DAGY_ENVIRONMENT": None}


def test_an_unknown_env_is_one_line_and_exit_3(run_dagy, write_flow, tmp_path, staging):
    flow_file = write_flow(FLOW, name="env_flow_unknown")
    done = run_dagy(
        "run", f"{flow_file}:env_flow", "--param", f"out={tmp_path / 'x'}", "--env", "nope"
    )
    assert done.returncode == 3, done.stderr
    assert done.stderr.strip() == "Error: Environment not found: nope"
    assert "Traceback" not in done.stderr and not (tmp_path / "x").exists()


def test_env_is_explained_in_help_and_refused_for_a_deployment_target(run_dagy):
    help_text = run_dagy("run", "--help").stdout
    assert "--env NAME" in help_text and "exit 3" in help_text
    done = run_dagy("run", "my-deployment", "--env", "staging")
    assert done.returncode == 2 and "--env applies to local runs" in done.stderr

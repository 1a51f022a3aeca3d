"""Plugins through the real command: the example executor plugin of examples/ installed (into a
folder of the test's own, on PYTHONPATH, so the environment stays as it was) runs a flow; a broken
plugin is named by `dagy plugins list` and breaks nothing else."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

EXAMPLE = REPO / "examples" / "plugins" / "dagy-example-executor"
FLOW = """
from dagy import flow, task


@task
def double(x: int) -> int:
    print(f"doubling {x}")
    return x * 2


@task
def total(values: list) -> int:
    return sum(values)


@flow(name="plugged", version="1.0")
def plugged(n: int = 4):
    return total([double(i) for i in range(n)])
"""


@pytest.fixture(scope="module")
def example_plugin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("site")
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target),
         str(EXAMPLE)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return target


def broken_plugin(folder: Path) -> Path:
    """A distribution whose entry points name a module that does not exist."""
    info = folder / "dagy_broken-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: dagy-broken\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[dagy.executors]\nbroken = no_such_module:Executor\n\n"
        "[dagy.artifact_stores]\nbad = no_such_module:Store\n"
    )
    return folder


def _on_path(folder: Path) -> dict[str, str]:
    """``folder`` first on PYTHONPATH, the inherited entries (a checkout under test) after it."""
    return {
        "PYTHONPATH": os.pathsep.join(p for p in (str(folder), os.environ.get("PYTHONPATH")) if p)
    }


def test_the_example_plugin_is_listed_and_runs_a_flow(example_plugin, run_dagy, write_flow):
    env = _on_path(example_plugin)
    listed = run_dagy("plugins", "list", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    plugins = {(p["kind"], p["name"]): p for p in json.loads(listed.stdout)}
    example = plugins[("executor", "sequential")]
    assert (example["distribution"], example["version"], example["ok"]) == (
        "dagy-example-executor",
        "0.1.0",
        True,
    )
    assert plugins[("executor", "local")]["ok"] and plugins[("artifact_store", "local")]["ok"]

    source = write_flow(FLOW, name="plugged")
    done = run_dagy("run", f"{source}:plugged", "--executor", "sequential", env=env)
    assert done.returncode == 0, done.stderr
    run_id = done.stdout.split()[2]
    assert done.stdout == f"Run completed: {run_id} status=SUCCEEDED\n"
    shown = json.loads(run_dagy("runs", "show", run_id, "--json", env=env).stdout)
    assert shown["executor"] == "sequential" and shown["output"] == 12
    log = run_dagy("logs", run_id, "--task", "double-2", env=env)
    assert "doubling 1" in log.stdout


def test_a_broken_plugin_is_named_and_breaks_nothing_else(tmp_path, run_dagy, write_flow):
    env = _on_path(broken_plugin(tmp_path / "site"))
    listed = run_dagy("plugins", "list", env=env)
    assert listed.returncode == 0, listed.stderr
    rows = {line.split()[1]: line for line in listed.stdout.splitlines()[2:]}
    assert "broken: ModuleNotFoundError: No module named 'no_such_module'" in rows["broken"]
    assert "broken: ModuleNotFoundError" in rows["bad"]
    assert rows["local"].rstrip().endswith("ok")

    assert run_dagy("--help", env=env).returncode == 0
    source = write_flow(FLOW, name="plugged")
    assert run_dagy("run", f"{source}:plugged", env=env).returncode == 0
    done = run_dagy("run", f"{source}:plugged", "--executor", "broken", env=env)
    assert done.returncode == 2
    assert done.stderr == (
        "ValueError: Executor plugin 'broken' (no_such_module:Executor) failed to load: "
        "ModuleNotFoundError: No module named 'no_such_module'\n"
    )

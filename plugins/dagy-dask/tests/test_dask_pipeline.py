"""A YAML pipeline on the dask executor: its node, python and command steps and a for_each run as
dask futures, the workers loading the pipeline file as they load a flow file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

PIPELINE = """
name: dask_pipe
params: {n: 3}
steps:
  - id: numbers
    python: numbers.py:numbers
    with: {n: "${params.n}"}
  - id: square
    python: numbers.py:square
    with: {x: "${item}"}
    for_each: ${numbers}
  - id: unique
    node: deduplicator
    with: {data: "${square}"}
  - id: say
    command: echo squared
    depends: [unique]
"""
NUMBERS = """
def numbers(n):
    return [{"v": i % 2} for i in range(n)]


def square(x):
    return {"v": x["v"] * x["v"]}
"""


def _dagy() -> list[str]:
    return [sys.executable, "-c", "from dagy.cli.main import main; main()"]


def test_a_yaml_pipeline_runs_on_dask(dagy_home: Path, tmp_path: Path, scheduler: str):
    # named like the standard module on purpose: the pipeline's folder must not hide it
    (tmp_path / "numbers.py").write_text(textwrap.dedent(NUMBERS), encoding="utf-8")
    pipeline = tmp_path / "dask_pipe.yaml"
    pipeline.write_text(textwrap.dedent(PIPELINE), encoding="utf-8")
    env = {**os.environ, "DAGY_LOCAL_DIR": str(dagy_home), "DAGY_DASK_SCHEDULER": scheduler}
    run = subprocess.run(
        [*_dagy(), "run", str(pipeline), "--executor", "dask", "--max-workers", "2"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    run_id = run.stdout.strip().splitlines()[-1].split()[2]
    shown = subprocess.run(
        [*_dagy(), "runs", "show", run_id, "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
    )
    body = json.loads(shown.stdout)
    assert body["status"] == "SUCCEEDED", body
    assert body["output"] == {"say": "squared"}
    statuses = {t["task_run_id"]: t["status"] for t in body["task_runs"]}
    assert statuses["square.2"] == "SUCCEEDED" and statuses["unique"] == "SUCCEEDED"
    assert {t["executor"] for t in body["task_runs"] if t["task_run_id"] != "square"} == {"dask"}

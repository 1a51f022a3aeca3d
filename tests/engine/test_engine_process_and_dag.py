"""The process executor, DAG validation, `runs retry` reuse and retention."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from dagy import DependencyCycleError
from dagy.config.paths import DagyPaths
from dagy.engine.runner import validate
from dagy.sdk.loader import load_flow
from dagy.sdk.spec import FlowSpec, TaskDef, TaskRunSpec
from dagy.services.runs.execute import RunSettings, prune, retry_run, run_flow
from dagy.store.duckdb_store import DuckDBStore
from tests.conftest import pid_alive

PROCESS_FLOWS = """
import os, time
from pathlib import Path
from dagy import flow, task

@task(timeout_seconds=1)
def hang(pid_file: str) -> int:
    Path(pid_file).write_text(str(os.getpid()))
    time.sleep(60)
    return 1

@task
def whoami(x: int) -> dict:
    print("hello from the child")
    return {"pid": os.getpid(), "x": x}

@task
def plus(d: dict) -> int:
    return d["x"] + 1

@flow
def hang_flow(pid_file: str):
    return hang(pid_file)

@flow
def child_flow():
    return plus(whoami(41))
"""

RETRY_FLOWS = """
from pathlib import Path
from dagy import flow, task

COUNTS = Path(__file__).with_name("counts.txt")

def _count(name):
    with COUNTS.open("a") as fh:
        fh.write(name + "\\n")

@task
def first(x: int) -> int:
    _count("first")
    return x * 2

@task
def second(y: int) -> int:
    _count("second")
    if Path(__file__).with_name("broken").exists():
        raise RuntimeError("second is broken")
    return y + 1

@task
def third(z: int) -> int:
    _count("third")
    return z * 10

@flow
def chain(x: int = 5):
    return third(second(first(x)))
"""


def test_process_executor_runs_tasks_in_a_child_and_hydrates_results(paths: DagyPaths, write_flow):
    flow = load_flow(f"{write_flow(PROCESS_FLOWS, 'proc_flows')}:child_flow")
    record = run_flow(flow, {}, settings=RunSettings(executor="process"), paths=paths)
    assert record.status == "SUCCEEDED", record.error
    assert json.loads(record.output) == 42
    child = json.loads((paths.artifact_dir(record.run_id, "whoami-1") / "result.json").read_text())
    assert child["pid"] != os.getpid()
    assert "hello from the child" in paths.task_log(record.run_id, "whoami-1").read_text()


def test_process_executor_timeout_kills_the_task(paths: DagyPaths, write_flow, tmp_path: Path):
    flow = load_flow(f"{write_flow(PROCESS_FLOWS, 'proc_flows2')}:hang_flow")
    pid_file = tmp_path / "pid"
    record = run_flow(
        flow, {"pid_file": str(pid_file)}, settings=RunSettings(executor="process"), paths=paths
    )
    assert record.status == "FAILED"
    assert record.error == "TaskTimeoutError: Task exceeded timeout of 1s"
    pid = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not pid_alive(pid)


def _spec(task_runs: list[TaskRunSpec], outputs=None) -> FlowSpec:
    return FlowSpec("f", "1", {}, {"t": TaskDef("t", "m", "t")}, task_runs, outputs)


def test_cycles_and_missing_outputs_raise_dependency_cycle_error():
    cycle = _spec(
        [TaskRunSpec("t-1", "t", upstream=["t-2"]), TaskRunSpec("t-2", "t", upstream=["t-1"])]
    )
    dangling = _spec([TaskRunSpec("t-1", "t", upstream=["t-9"])])
    bad_output = _spec([TaskRunSpec("t-1", "t")], outputs={"$ref": "t-5"})
    for spec in (cycle, dangling, bad_output):
        with pytest.raises(
            DependencyCycleError, match="^Dependency cycle detected or missing dependency output$"
        ):
            validate(spec)
    assert validate(
        _spec([TaskRunSpec("t-2", "t", upstream=["t-1"]), TaskRunSpec("t-1", "t")])
    ) == ["t-1", "t-2"]


def test_retry_reexecutes_only_failed_and_downstream_task_runs(
    paths: DagyPaths, write_flow, tmp_path: Path
):
    flow = load_flow(f"{write_flow(RETRY_FLOWS, 'retry_flows')}:chain")
    (tmp_path / "broken").touch()
    failed = run_flow(flow, {}, paths=paths)
    assert failed.status == "FAILED"
    (tmp_path / "broken").unlink()
    retried = retry_run(failed.run_id, None, paths)
    assert retried.status == "SUCCEEDED" and retried.retry_of == failed.run_id
    assert json.loads(retried.output) == 110
    assert (tmp_path / "counts.txt").read_text().split() == ["first", "second", "second", "third"]
    tasks = {t.task_run_id: t for t in DuckDBStore(paths).task_runs(retried.run_id)}
    assert tasks["first-1"].reused_from == failed.run_id
    assert tasks["second-1"].reused_from is None and tasks["second-1"].status == "SUCCEEDED"
    assert (paths.artifact_dir(retried.run_id, "first-1") / "result.json").read_text() == "10"


def test_retention_keeps_files_of_the_newest_runs_and_all_rows(
    paths: DagyPaths, write_flow, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("DAGY_LOCAL_KEEP_RUNS", "2")
    flow = load_flow(f"{write_flow(RETRY_FLOWS, 'keep_flows')}:chain")
    ids = [run_flow(flow, {}, paths=paths).run_id for _ in range(4)]
    store = DuckDBStore(paths)
    assert [r.run_id for r in store.list_runs()] == ids[::-1]
    for old in ids[:2]:
        assert not paths.run_dir(old).exists() and not (paths.artifacts / old).exists()
        assert store.get_run(old).files_pruned
    for new in ids[2:]:
        assert paths.run_log(new).exists() and (paths.artifacts / new).exists()
    assert prune(paths, store, keep=2) == []
    assert prune(paths, store, keep=0) == [] and paths.run_log(ids[2]).exists()


def test_a_flow_file_copied_elsewhere_resolves_its_tasks(write_flow, tmp_path: Path):
    """A FlowSpec built from one path runs when the file is loaded from another (an unpacked artifact)."""
    import subprocess
    import sys

    original = write_flow(PROCESS_FLOWS, "portable_flows")
    spec_file = tmp_path / "flow_spec.json"
    spec_file.write_text(load_flow(f"{original}:child_flow").build().to_json())
    elsewhere = tmp_path / "unpacked"
    elsewhere.mkdir()
    copy = elsewhere / original.name
    copy.write_text(original.read_text())
    script = (
        "import sys\n"
        "from dagy.sdk.loader import load_module\n"
        "from dagy.sdk.spec import FlowSpec\n"
        "from dagy.sdk.task import resolve_task\n"
        "spec = FlowSpec.from_json(open(sys.argv[1]).read())\n"
        "module = load_module(sys.argv[2])\n"
        "assert spec.tasks['whoami'].module != module.__name__\n"
        "print(resolve_task(spec.tasks['whoami']).fn(5)['x'])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script, str(spec_file), str(copy)], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[-1] == "5"

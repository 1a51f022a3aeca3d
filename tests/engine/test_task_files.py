"""What a run leaves on disk per task run: a folder and task.log only for a task that wrote
something; results and the run's metadata for every task; nothing finished lost to a kill -9."""

from __future__ import annotations

import json
import time
from pathlib import Path

from dagy.config.paths import DagyPaths
from dagy.store.duckdb_store import DuckDBStore
from tests.conftest import popen_dagy

FLOWS = """
import time
from pathlib import Path
from dagy import flow, get_run_logger, task

@task
def silent(x: int) -> int:
    return x * 2

@task
def chatty(x: int) -> int:
    print("chatty says", x)
    get_run_logger().info("chatty logs %s", x)
    return x + 1

@task
def broken(x: int) -> int:
    raise ValueError("broken on purpose")

@task
def total(values: list) -> int:
    return sum(values)

@flow
def mixed():
    return total([silent(1), silent(2), chatty(3)])

@flow
def failing():
    return [silent(5), broken(1)]

@task
def hold(values: list, folder: str) -> int:
    (Path(folder) / "holding").write_text("yes")
    time.sleep(60)
    return 0

@flow
def quick_then_hold(folder: str):
    return hold([silent(i) for i in range(4)], folder)
"""


def _run_id(stdout: str) -> str:
    return stdout.split()[2]


def _task_runs(paths: DagyPaths, run_id: str) -> dict[str, object]:
    return {t.task_run_id: t for t in DuckDBStore(paths).task_runs(run_id)}


def test_a_task_that_writes_nothing_leaves_no_folder_but_its_result_and_an_empty_log(
    run_dagy, write_flow, paths: DagyPaths
):
    flows = write_flow(FLOWS)
    done = run_dagy("run", f"{flows}:mixed")
    assert done.returncode == 0, done.stderr
    run_id = _run_id(done.stdout)

    task_root = paths.run_dir(run_id) / "task_runs"
    # Only the task that printed has a folder: its log and its metadata.json.
    assert sorted(p.name for p in task_root.iterdir()) == ["chatty-1"]
    log = paths.task_log(run_id, "chatty-1").read_text()
    assert "INFO attempt 1 of chatty-1 started" in log
    assert "chatty says 3" in log and "chatty logs 3" in log
    assert "INFO attempt 1 succeeded in" in log
    meta = json.loads((task_root / "chatty-1" / "metadata.json").read_text())
    assert meta["status"] == "SUCCEEDED" and meta["task_run_id"] == "chatty-1"

    # Every task run still has its result where the store says, and in the run's metadata.json.
    records = _task_runs(paths, run_id)
    assert {tid: r.status for tid, r in records.items()} == {
        "silent-1": "SUCCEEDED",
        "silent-2": "SUCCEEDED",
        "chatty-1": "SUCCEEDED",
        "total-1": "SUCCEEDED",
    }
    result = paths.artifact_dir(run_id, "silent-2") / "result.json"
    assert records["silent-2"].artifact_path == str(result)
    assert json.loads(result.read_text()) == 4
    run_meta = json.loads((paths.run_dir(run_id) / "metadata.json").read_text())
    listed = {t["task_run_id"]: t for t in run_meta["task_runs"]}
    assert listed["silent-1"]["status"] == "SUCCEEDED"
    assert listed["silent-1"]["artifact_path"] == records["silent-1"].artifact_path
    assert listed["silent-1"]["started_at"].endswith("Z")

    # `dagy logs --task` answers for the silent task: an empty log, exit 0.
    logs = run_dagy("logs", run_id, "--task", "silent-1")
    assert logs.returncode == 0, logs.stderr
    assert logs.stdout.strip() == ""
    assert "chatty says 3" in run_dagy("logs", run_id, "--task", "chatty-1").stdout
    # An unknown task run is still not found.
    assert run_dagy("logs", run_id, "--task", "nope-1").returncode != 0


def test_a_failed_task_always_has_its_log(run_dagy, write_flow, paths: DagyPaths):
    flows = write_flow(FLOWS)
    done = run_dagy("run", f"{flows}:failing", "--no-fail-fast")
    assert done.returncode == 1
    run_id = _run_id(done.stdout)
    log = paths.task_log(run_id, "broken-1").read_text()
    assert "INFO attempt 1 of broken-1 started" in log
    assert "ValueError: broken on purpose" in log
    assert "ERROR attempt 1 failed: ValueError: broken on purpose" in log
    assert not paths.task_run_dir(run_id, "silent-1").exists()
    assert json.loads((paths.artifact_dir(run_id, "silent-1") / "result.json").read_text()) == 10


def test_kill_9_mid_run_loses_no_finished_task(run_dagy, write_flow, paths: DagyPaths, tmp_path):
    flows = write_flow(FLOWS)
    folder = tmp_path / "signal"
    folder.mkdir()
    proc = popen_dagy("run", f"{flows}:quick_then_hold", "--param", f"folder={folder}")
    try:
        deadline = time.monotonic() + 60
        while not (folder / "holding").exists():  # hold starts once the 4 silent tasks are done
            assert time.monotonic() < deadline, "the flow never reached its holding task"
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.05)
        # The silent tasks' SUCCEEDED states reach the store while the run still runs.
        run_id = ""
        while time.monotonic() < deadline:
            shown = run_dagy("runs", "list", "--status", "RUNNING").stdout.split()
            run_id = shown[0] if shown and shown[0] != "No" else ""
            if run_id and all(
                r.status == "SUCCEEDED"
                for tid, r in _task_runs(paths, run_id).items()
                if tid.startswith("silent")
            ):
                break
            time.sleep(0.1)
        assert run_id
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == -9
    # The next command recovers the run; every finished task keeps its state and its result.
    listed = run_dagy("runs", "list").stdout
    assert listed.startswith(f"{run_id} FAILED ")
    records = _task_runs(paths, run_id)
    assert records["hold-1"].status == "FAILED"
    for i in range(4):
        record = records[f"silent-{i + 1}"]
        assert record.status == "SUCCEEDED"
        assert json.loads(Path(record.artifact_path).read_text()) == i * 2
        logs = run_dagy("logs", run_id, "--task", f"silent-{i + 1}")
        assert logs.returncode == 0 and logs.stdout.strip() == ""

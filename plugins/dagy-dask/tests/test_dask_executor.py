"""The ``dask`` executor on a real LocalCluster: fan-out, retries, timeouts, fail-fast, logs,
worker death, and what GET /backends and the CLI show."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from distributed import Client

from dagy.config.paths import DagyPaths
from dagy.sdk.loader import load_flow
from dagy.services.runs.execute import RunSettings, run_flow
from dagy.store.duckdb_store import DuckDBStore
from dagy.store.records import RunRecord

FAN_OUT = """
import os
from dagy import flow, task

@task
def source() -> int:
    return 7

@task
def noop(head: int, i: int) -> dict:
    print(f"noop {i} says hello")
    return {"value": head + i, "pid": os.getpid()}

@task
def fan_in(results: list) -> dict:
    return {"total": sum(r["value"] for r in results), "pids": sorted({r["pid"] for r in results})}

@flow
def fan_out(n: int = 200):
    head = source()
    return fan_in([noop(head, i) for i in range(n)])
"""

RETRIES = """
from pathlib import Path
from dagy import flow, task

def _count(marks: str) -> int:
    with open(marks, "a") as fh:
        fh.write("x\\n")
    return len(Path(marks).read_text().split())

@task(retries=2, retry_delay_seconds=0)
def flaky(marks: str) -> str:
    count = _count(marks)
    if count < 3:
        raise RuntimeError(f"flaky attempt {count}")
    return f"ok after {count}"

@task(retries=1, retry_delay_seconds=0)
def broken(marks: str) -> str:
    _count(marks)
    raise ValueError("always broken")

@flow
def recovers(marks: str):
    return flaky(marks)

@flow
def gives_up(marks: str):
    return broken(marks)
"""

STOPPING = """
import time
from pathlib import Path
from dagy import flow, task

@task(timeout_seconds=1)
def hang() -> int:
    time.sleep(3)
    return 1

@task(timeout_seconds=1)
def long_hang(i: int) -> int:
    time.sleep(6)
    return i

@task
def boom() -> int:
    time.sleep(0.3)
    raise RuntimeError("boom")

@task
def slow(i: int, marks: str) -> int:
    with open(marks, "a") as fh:
        fh.write(f"{i}\\n")
    time.sleep(3)
    return i

@flow
def times_out():
    return hang()

@flow
def both_hang():
    return [long_hang(1), long_hang(2)]

@flow
def fails_fast(marks: str):
    return [boom()] + [slow(i, marks) for i in range(6)]
"""

VICTIM = """
import os, time
from pathlib import Path
from dagy import flow, task

@task
def victim(marks: str) -> int:
    with open(marks, "a") as fh:
        fh.write(f"{os.getpid()}\\n")
    if len(Path(marks).read_text().split()) == 1:
        time.sleep(30)  # the first try waits here to be killed
    return os.getpid()

@flow
def survives(marks: str):
    return victim(marks)
"""


def _dask(max_workers: int = 2, fail_fast: bool = True) -> RunSettings:
    return RunSettings(max_workers=max_workers, fail_fast=fail_fast, executor="dask")


def _tasks(paths: DagyPaths, run_id: str) -> dict:
    return {t.task_run_id: t for t in DuckDBStore(paths).task_runs(run_id)}


def test_a_200_task_fan_out_completes_on_both_workers(
    paths: DagyPaths, write_flow, client: Client, scheduler: str
):
    flow = load_flow(f"{write_flow(FAN_OUT, 'fan_out_flows')}:fan_out")
    record = run_flow(flow, {"n": 200}, settings=_dask(max_workers=8), paths=paths)
    assert record.status == "SUCCEEDED", record.error
    output = json.loads(record.output)
    assert output["total"] == sum(7 + i for i in range(200))
    worker_pids = set(client.run(os.getpid).values())
    assert set(output["pids"]) == worker_pids and len(worker_pids) == 2
    # Each task log names the worker that ran the attempt: both workers took some.
    addresses = set()
    for i in range(1, 201):
        log = paths.task_log(record.run_id, f"noop-{i}").read_text()
        assert f"noop {i - 1} says hello" in log
        addresses.add(log.split("(dask worker ", 1)[1].split(",", 1)[0])
    assert addresses == set(client.scheduler_info()["workers"])
    tasks = _tasks(paths, record.run_id)
    assert {t.status for t in tasks.values()} == {"SUCCEEDED"}
    assert {t.executor for t in tasks.values()} == {"dask"}
    artifact = paths.artifact_dir(record.run_id, "noop-5") / "result.json"
    assert json.loads(artifact.read_text())["value"] == 11
    assert tasks["noop-5"].artifact_path == str(artifact)


def test_a_failing_task_is_retried_per_its_retries(
    paths: DagyPaths, write_flow, tmp_path: Path, scheduler: str
):
    source = write_flow(RETRIES, "retry_flows")
    marks = tmp_path / "flaky.txt"
    record = run_flow(
        load_flow(f"{source}:recovers"), {"marks": str(marks)}, settings=_dask(), paths=paths
    )
    assert record.status == "SUCCEEDED", record.error
    assert json.loads(record.output) == "ok after 3"
    assert _tasks(paths, record.run_id)["flaky-1"].attempt == 3
    log = paths.task_log(record.run_id, "flaky-1").read_text()
    assert "RuntimeError: flaky attempt 1" in log and "RuntimeError: flaky attempt 2" in log

    marks = tmp_path / "broken.txt"
    record = run_flow(
        load_flow(f"{source}:gives_up"), {"marks": str(marks)}, settings=_dask(), paths=paths
    )
    assert record.status == "FAILED"
    assert record.error == "TaskFailedError: Task broken failed: ValueError: always broken"
    assert _tasks(paths, record.run_id)["broken-1"].attempt == 2
    assert len(marks.read_text().split()) == 2


def test_a_timeout_fails_the_attempt_without_waiting_for_the_task(
    paths: DagyPaths, write_flow, scheduler: str
):
    flow = load_flow(f"{write_flow(STOPPING, 'timeout_flows')}:times_out")
    start = time.monotonic()
    record = run_flow(flow, {}, settings=_dask(), paths=paths)
    assert time.monotonic() - start < 2.8  # the task sleeps 3 s; its future was cancelled at 1 s
    assert record.status == "FAILED"
    assert record.error == "TaskTimeoutError: Task exceeded timeout of 1s"
    log = paths.task_log(record.run_id, "hang-1").read_text()
    assert "stopped: TaskTimeoutError: Task exceeded timeout of 1s" in log


def test_a_timed_out_attempt_gives_its_worker_thread_back_to_dask(
    paths: DagyPaths, write_flow, scheduler: str
):
    record = run_flow(
        load_flow(f"{write_flow(STOPPING, 'slot_flows')}:both_hang"),
        {},
        settings=_dask(),
        paths=paths,
    )
    assert record.error == "TaskTimeoutError: Task exceeded timeout of 1s"
    # Both workers' threads were running a 6 s sleep; at its 1 s deadline each gave its thread back.
    start = time.monotonic()
    quick = run_flow(
        load_flow(f"{write_flow(FAN_OUT, 'after_hang_flows')}:fan_out"),
        {"n": 4},
        settings=_dask(),
        paths=paths,
    )
    assert quick.status == "SUCCEEDED", quick.error
    assert time.monotonic() - start < 4


def test_a_failed_task_cancels_in_flight_and_pending_tasks_when_fail_fast(
    paths: DagyPaths, write_flow, tmp_path: Path, scheduler: str
):
    flow = load_flow(f"{write_flow(STOPPING, 'fail_fast_flows')}:fails_fast")
    marks = tmp_path / "started.txt"
    start = time.monotonic()
    record = run_flow(flow, {"marks": str(marks)}, settings=_dask(max_workers=3), paths=paths)
    assert time.monotonic() - start < 2.8  # not waiting for the 3 s tasks
    assert record.status == "FAILED"
    assert record.error == "TaskFailedError: Task boom failed: RuntimeError: boom"
    tasks = _tasks(paths, record.run_id)
    assert tasks["boom-1"].status == "FAILED"
    assert {tasks[f"slow-{i}"].status for i in range(1, 7)} == {"CANCELLED"}
    # Only the two submitted with boom could start; the other four never reached dask.
    started = marks.read_text().split() if marks.exists() else []
    assert set(started) <= {"0", "1"}
    assert all(tasks[f"slow-{i}"].attempt == 0 for i in range(3, 7))


def _dagy() -> list[str]:
    found = shutil.which("dagy", path=str(Path(sys.executable).parent)) or shutil.which("dagy")
    return [found] if found else [sys.executable, "-c", "from dagy.cli.main import main; main()"]


def test_dagy_run_executor_dask_puts_task_prints_in_dagy_logs(
    dagy_home: Path, write_flow, scheduler: str
):
    target = f"{write_flow(FAN_OUT, 'cli_flows')}:fan_out"
    env = {**os.environ, "DAGY_LOCAL_DIR": str(dagy_home), "DAGY_DASK_SCHEDULER": scheduler}
    run = subprocess.run(
        [*_dagy(), "run", target, "--param", "n=3", "--executor", "dask", "--max-workers", "2"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    line = run.stdout.strip().splitlines()[-1]
    assert line.startswith("Run completed: ") and line.endswith(" status=SUCCEEDED")
    run_id = line.split()[2]
    logs = subprocess.run(
        [*_dagy(), "logs", run_id, "--task", "noop-2"],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
    )
    assert logs.returncode == 0, logs.stderr
    assert "noop 1 says hello" in logs.stdout
    assert f"started (dask worker {scheduler.rsplit(':', 1)[0]}:" in logs.stdout


def test_without_a_scheduler_the_run_fails_with_one_line(dagy_home: Path, write_flow):
    target = f"{write_flow(FAN_OUT, 'no_scheduler_flows')}:fan_out"
    env = {k: v for k, v in os.environ.items() if k != "DAGY_DASK_SCHEDULER"}
    env["DAGY_LOCAL_DIR"] = str(dagy_home)
    run = subprocess.run(
        [*_dagy(), "run", target, "--param", "n=2", "--executor", "dask"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert run.returncode == 1
    assert run.stdout.strip().endswith("status=FAILED")
    assert run.stderr.strip() == (
        "TaskFailedError: Task source failed: ConfigError: No dask scheduler: set "
        "DAGY_DASK_SCHEDULER to its address (e.g. tcp://127.0.0.1:8786)"
    )


def _kill_worker_mid_run(source: Path, marks: Path, paths: DagyPaths) -> RunRecord:
    """Run the victim flow, SIGKILL the worker process running its first try, return the run."""
    flow = load_flow(f"{source}:survives")
    done: list[RunRecord] = []
    thread = threading.Thread(
        target=lambda: done.append(
            run_flow(flow, {"marks": str(marks)}, settings=_dask(), paths=paths)
        )
    )
    thread.start()
    deadline = time.monotonic() + 20
    while not (marks.exists() and marks.read_text().strip()):
        assert time.monotonic() < deadline, "the task never started"
        time.sleep(0.05)
    os.kill(int(marks.read_text().split()[0]), signal.SIGKILL)
    thread.join(timeout=40)
    assert done, "the run did not finish"
    return done[0]


def test_a_killed_worker_s_task_is_rerun_by_dask_on_another_worker(
    paths: DagyPaths, write_flow, tmp_path: Path, client: Client, scheduler: str
):
    marks = tmp_path / "pids.txt"
    record = _kill_worker_mid_run(write_flow(VICTIM, "victim_flows"), marks, paths)
    assert record.status == "SUCCEEDED", record.error
    first, second = (int(p) for p in marks.read_text().split())
    assert json.loads(record.output) == second != first
    # dask reran it: to the engine it is still the first attempt.
    assert _tasks(paths, record.run_id)["victim-1"].attempt == 1
    client.wait_for_workers(2, timeout=30)  # the nanny restarts the killed worker


def test_a_killed_worker_fails_the_run_cleanly_when_dask_gives_up(
    paths: DagyPaths, write_flow, tmp_path: Path, monkeypatch, start_cluster
):
    # allowed_failures=0: the scheduler gives up on a task the first time its worker dies.
    with start_cluster(n_workers=1, allowed_failures=0) as cluster:
        monkeypatch.setenv("DAGY_DASK_SCHEDULER", cluster.scheduler_address)
        record = _kill_worker_mid_run(write_flow(VICTIM, "victim_flows2"), tmp_path / "p", paths)
    assert record.status == "FAILED"
    assert record.error.startswith("TaskFailedError: Task victim failed: KilledWorker: ")
    assert "\n" not in record.error
    log = paths.task_log(record.run_id, "victim-1").read_text()
    assert "ERROR KilledWorker: " in log


def test_backends_list_dask_with_its_capabilities_without_importing_dask():
    code = (
        "import json, sys\n"
        "from dagy.services.backends import installed\n"
        "dask = [b for b in installed() if b['name'] == 'dask']\n"
        "print(json.dumps({'dask': dask, 'imported': 'distributed' in sys.modules}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    data = json.loads(out.stdout)
    assert data["dask"] == [
        {
            "name": "dask",
            "capabilities": [
                "cpu",
                "distributed",
                "process_isolation",
                "memory_isolated",
                "long_running",
            ],
            "max_concurrent_runs": None,
            "max_timeout_seconds": None,
            "status": "available",
        }
    ]
    assert data["imported"] is False


def test_dagy_help_does_not_import_dask():
    code = (
        "import sys\n"
        "from dagy.cli.main import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "print('dask' in sys.modules or 'distributed' in sys.modules, file=sys.stderr)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stderr.strip().splitlines()[-1] == "False"

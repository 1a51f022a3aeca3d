"""kill -9 of `dagy run --executor process` leaves no task process behind and no late side effect."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from dagy.config.processes import kill_survivors, process_start_time, record_process
from tests.conftest import pid_alive, popen_dagy

FLOW = """
import os
import time
from pathlib import Path

from dagy import flow, task


@task
def effect(i: int, folder: str) -> int:
    here = Path(folder)
    (here / f"started-{i}").write_text(str(os.getpid()))
    deadline = time.monotonic() + 120
    while not (here / "gate").exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    (here / f"effect-{i}").write_text("done")  # the side effect a retry would repeat
    return i


@flow(name="effects", version="1.0.0")
def effects(folder: str):
    return [effect(i, folder) for i in range(4)]
"""


def _wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _running_tasks(home: Path) -> int:
    """How many task runs the run's events.jsonl records as RUNNING: what crash recovery reads."""
    from dagy.store import events

    found = 0
    for log in home.glob("runs/*/events.jsonl"):
        _, tasks, _ = events.replay(log, 0)
        found += sum(1 for t in tasks.values() if t.status == "RUNNING")
    return found


def test_kill_9_of_dagy_run_kills_its_task_processes(run_dagy, write_flow, tmp_path, dagy_home):
    flows = write_flow(FLOW)
    folder = tmp_path / "side"
    folder.mkdir()
    proc = popen_dagy(
        "run", f"{flows}:effects", "--param", f"folder={folder}",
        "--executor", "process", "--max-workers", "4",
    )  # fmt: skip
    try:
        _wait(lambda: len(list(folder.glob("started-*"))) == 4, 90, "4 running task processes")
        # The barrier: the 4 task runs recorded RUNNING (the engine appends its events a moment
        # after the processes start; a kill before that leaves them PENDING, i.e. CANCELLED).
        _wait(lambda: _running_tasks(dagy_home) == 4, 90, "4 task runs recorded RUNNING")
    except AssertionError:
        proc.kill()
        raise
    pids = [int((folder / f"started-{i}").read_text()) for i in range(4)]
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    (folder / "gate").write_text("open")  # a survivor would now write its effect file

    _wait(lambda: not any(pid_alive(p) for p in pids), 30, "the task processes to die")
    assert sorted(p.name for p in folder.iterdir()) == [
        "gate", "started-0", "started-1", "started-2", "started-3",
    ]  # fmt: skip

    listed = run_dagy("runs", "list")  # the next command's crash recovery
    assert listed.returncode == 0, listed.stderr
    run_id = listed.stdout.split()[0]
    assert listed.stdout.startswith(f"{run_id} FAILED ")
    shown = run_dagy("runs", "show", run_id).stdout
    assert shown.count("status=FAILED") >= 5, shown  # the run and its 4 task runs
    assert not list(folder.glob("effect-*"))


def test_crash_recovery_kills_a_recorded_survivor_group(tmp_path: Path):
    run_folder = tmp_path / "runs" / "r-1"
    task = run_folder / "task_runs" / "t-1"
    task.mkdir(parents=True)
    survivor = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(120)"], start_new_session=True
    )
    try:
        record_process(task, survivor.pid)
        other = run_folder / "task_runs" / "t-2"
        other.mkdir()
        (other / "process.json").write_text(
            f'{{"pid": {os.getpid()}, "pid_started": "not-{process_start_time(os.getpid())}"}}'
        )  # a reused pid (another start time) is never killed
        assert kill_survivors(run_folder) == [survivor.pid]
        assert survivor.wait(timeout=10) == -signal.SIGKILL
    finally:
        if survivor.poll() is None:
            survivor.kill()


STUBBORN_FLOW = """
import ctypes
import os
import time
from pathlib import Path

from dagy import flow, task


@task
def stubborn(folder: str) -> int:
    ctypes.CDLL(None).prctl(1, 0, 0, 0, 0)  # PR_SET_PDEATHSIG 0: as on a platform without it
    here = Path(folder)
    (here / "started").write_text(str(os.getpid()))
    deadline = time.monotonic() + 120
    while not (here / "gate").exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    (here / "effect").write_text("done")
    return 1


@flow(name="stubborn", version="1.0.0")
def stubborn_flow(folder: str):
    return stubborn(folder)
"""


def test_the_next_command_kills_a_surviving_task_before_failing_it(run_dagy, write_flow, tmp_path):
    flows = write_flow(STUBBORN_FLOW, "stubborn")
    folder = tmp_path / "side"
    folder.mkdir()
    proc = popen_dagy(
        "run", f"{flows}:stubborn_flow", "--param", f"folder={folder}", "--executor", "process"
    )
    try:
        _wait(lambda: (folder / "started").exists(), 60, "the task process")
    except AssertionError:
        proc.kill()
        raise
    pid = int((folder / "started").read_text())
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert pid_alive(pid)  # it outlived dagy, waiting at its gate
    try:
        listed = run_dagy("runs", "list")  # crash recovery: kill the survivor, then fail the run
        assert listed.returncode == 0, listed.stderr
        assert " FAILED " in listed.stdout.splitlines()[0]
        _wait(lambda: not pid_alive(pid), 30, "the surviving task process to be killed")
        (folder / "gate").write_text("open")
        assert not (folder / "effect").exists()
    finally:
        if pid_alive(pid):
            os.kill(pid, signal.SIGKILL)

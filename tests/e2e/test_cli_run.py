"""`dagy run`, `runs list/show/retry` and `logs` through the real command."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO, pid_alive, popen_dagy

RUN_LINE = re.compile(r"^Run completed: (example_flow-\d{8}T\d{6}Z-[0-9a-f]{6}) status=SUCCEEDED$")
EXAMPLE = "examples/flow_example.py:example_flow"

FLOWS = """
import time
from pathlib import Path
from pathlib import Path
from dagy import flow, task

@task
def sleeper(seconds: float) -> float:
    print("sleeping", seconds, flush=True)
    time.sleep(seconds)
    return seconds

@task
def boom(x: int) -> int:
    raise ValueError("it broke")

@task
def after(x: int) -> int:
    return x

@flow
def long_flow(seconds: float = 30):
    return sleeper(seconds)

@flow
def quick_then_long(seconds: float = 30):
    return [after(1), sleeper(seconds)]

@flow(name="broken", version="3.1.0")
def broken_flow(n: int = 1):
    return after(boom(n))
"""


def _run_id(stdout: str) -> str:
    return stdout.split()[2]


def test_run_example_prints_the_spec_line_and_records_the_run(run_dagy):
    result = run_dagy("run", EXAMPLE, "--param", "date=2026-03-04", "--max-workers", "4")
    assert result.returncode == 0, result.stderr
    match = RUN_LINE.match(result.stdout.strip())
    assert match, result.stdout
    run_id = match.group(1)

    listed = run_dagy("runs", "list")
    assert re.fullmatch(
        rf"{run_id} SUCCEEDED \d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\dZ example_flow:1.0.0",
        listed.stdout.strip(),
    )
    shown = run_dagy("runs", "show", run_id).stdout.splitlines()
    assert shown[0] == f"Run: {run_id} status=SUCCEEDED flow=example_flow:1.0.0"
    assert re.fullmatch(r"Start: \S+Z End: \S+Z", shown[1])
    assert "- extract-1 extract status=SUCCEEDED attempt=1" in shown
    assert "- load-1 load status=SUCCEEDED attempt=1" in shown

    run_log = run_dagy("logs", run_id)
    assert "task load-1 succeeded" in run_log.stdout
    task_log = run_dagy("logs", run_id, "--task", "load-1")
    assert "loaded 3 regions, total=270" in task_log.stdout
    assert "extracting" not in task_log.stdout
    assert (
        "extracting eu orders for 2026-03-04"
        in run_dagy("logs", run_id, "--task", "extract-1").stdout
    )


def test_runs_list_filters_and_json(run_dagy, write_flow):
    flows = write_flow(FLOWS)
    ok = _run_id(run_dagy("run", EXAMPLE).stdout)
    bad = _run_id(run_dagy("run", f"{flows}:broken_flow").stdout)
    assert run_dagy("runs", "list", "--status", "failed").stdout.split()[0] == bad
    assert run_dagy("runs", "list", "--flow", "example_flow").stdout.split()[0] == ok
    limited = run_dagy("runs", "list", "--limit", "1")
    assert limited.stdout.split()[0] == bad and "1 of 2 runs shown" in limited.stderr
    data = json.loads(run_dagy("runs", "list", "--json").stdout)
    assert [r["run_id"] for r in data] == [bad, ok]
    assert data[0]["status"] == "FAILED" and data[0]["flow_version"] == "3.1.0"
    shown = json.loads(run_dagy("runs", "show", ok, "--json").stdout)
    assert shown["output"] == {"regions": 3, "total": 270}
    assert [t["task_run_id"] for t in shown["task_runs"]][0] == "extract-1"
    bad_status = run_dagy("runs", "list", "--status", "weird")
    assert bad_status.returncode == 2 and "Unknown status 'weird'" in bad_status.stderr


def test_failed_run_reports_the_task_error_and_exits_1(run_dagy, write_flow):
    flows = write_flow(FLOWS)
    result = run_dagy("run", f"{flows}:broken_flow")
    assert result.returncode == 1
    assert re.match(r"^Run completed: broken-\S+ status=FAILED$", result.stdout.strip())
    assert result.stderr.strip() == "TaskFailedError: Task boom failed: ValueError: it broke"
    shown = run_dagy("runs", "show", _run_id(result.stdout)).stdout
    assert "- boom-1 boom status=FAILED attempt=1" in shown
    assert "- after-1 after status=CANCELLED attempt=0" in shown


def test_runs_retry_starts_a_new_run(run_dagy, write_flow):
    flows = write_flow(FLOWS)
    failed = _run_id(run_dagy("run", f"{flows}:broken_flow").stdout)
    again = run_dagy("runs", "retry", failed)
    assert again.returncode == 1 and "status=FAILED" in again.stdout
    new_id = _run_id(again.stdout)
    assert new_id != failed
    assert f"Retry of: {failed}" in run_dagy("runs", "show", new_id).stdout
    ok = _run_id(run_dagy("run", EXAMPLE).stdout)
    nothing = run_dagy("runs", "retry", ok)
    assert nothing.returncode == 2 and nothing.stderr.strip().endswith(
        "succeeded; there is nothing to retry"
    )


@pytest.mark.parametrize(
    ("args", "message", "code"),
    [
        (
            ["run", "examples/flow_example.py"],
            "ValueError: Flow target must be in <path>:<flow_fn> format",
            2,
        ),
        (
            ["run", "nope/missing.py:f"],
            f"FileNotFoundError: Flow file not found: {REPO}/nope/missing.py",
            3,
        ),
        (
            ["run", "examples/flow_example.py:nope"],
            f"AttributeError: Flow 'nope' not found in {REPO}/examples/flow_example.py",
            3,
        ),
        (
            ["run", EXAMPLE, "--param", "bad"],
            "ValueError: Invalid param 'bad', expected key=value",
            2,
        ),
        (["run", EXAMPLE, "--executor", "nowhere"], "ValueError: Unknown executor 'nowhere'", 2),
        (["runs", "show", "no-such-run"], "Run not found: no-such-run", 3),
        (["logs", "no-such-run"], "Run not found: no-such-run", 3),
    ],
)
def test_bad_input_gets_one_line_and_a_documented_exit_code(run_dagy, args, message, code):
    result = run_dagy(*args)
    assert result.returncode == code, result.stderr
    assert result.stderr.strip().startswith(message)
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr
    assert run_dagy("runs", "list", "--json").stdout.strip() in ("[]", "")


def test_parameter_of_the_wrong_type_is_a_parameter_type_error(run_dagy, write_flow):
    flows = write_flow(FLOWS)
    result = run_dagy("run", f"{flows}:broken_flow", "--param", "n=many")
    assert result.returncode == 2
    assert result.stderr.strip() == "ParameterTypeError: Parameter 'n' expects int, got 'many'"
    assert run_dagy("runs", "list", "--json").stdout.strip() == "[]"


def test_module_that_cannot_load_is_an_import_error(run_dagy, write_flow):
    broken = write_flow("import nonexistent_module_xyz\n", "unloadable")
    result = run_dagy("run", f"{broken}:f")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"ImportError: Unable to load module from {broken}: "
        "ModuleNotFoundError: No module named 'nonexistent_module_xyz'"
    )
    debug = run_dagy("--debug", "run", f"{broken}:f")
    assert "Traceback" in debug.stderr and "nonexistent_module_xyz" in debug.stderr


def test_an_unknown_task_run_is_not_found(run_dagy, dagy_home):
    run_id = _run_id(run_dagy("run", EXAMPLE).stdout)
    result = run_dagy("logs", run_id, "--task", "nope-1")
    assert result.returncode == 3
    assert result.stderr.strip() == "Error: Task run not found: nope-1"


def test_a_task_run_id_that_would_leave_the_run_folder_is_refused(run_dagy, dagy_home):
    run_id = _run_id(run_dagy("run", EXAMPLE).stdout)
    (dagy_home.parent / "outside").write_text("SECRET\n")
    for bad in ("../../../../outside", "..", "a/b", "a\x00b"):
        result = run_dagy("logs", run_id, "--task", bad.replace("\x00", "\x01"))
        assert result.returncode == 2, result.stderr
        assert result.stdout == "" and "SECRET" not in result.stderr
        assert result.stderr.startswith("Error: Invalid task run id: ")
        assert len(result.stderr.strip().splitlines()) == 1


def test_verbose_echoes_the_run_log(run_dagy):
    result = run_dagy("run", EXAMPLE, env={"DAGY_LOCAL_VERBOSE": "yes"})
    assert "task extract-1 running attempt=1" in result.stderr


def _wait_for_line(
    proc: subprocess.Popen[str], run_dagy, status: str = "RUNNING", timeout: float = 60
) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        listed = run_dagy("runs", "list", "--status", status).stdout.split()
        if listed and listed[0] != "No":  # "No runs found."
            return listed[0]
        time.sleep(0.1)
    proc.kill()
    raise AssertionError("the run never showed up as " + status)


def test_ctrl_c_cancels_the_run_cleanly(run_dagy, write_flow):
    flows = write_flow(FLOWS)
    proc = popen_dagy("run", f"{flows}:long_flow")
    run_id = _wait_for_line(proc, run_dagy)
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 130
    assert out.strip() == f"Run completed: {run_id} status=CANCELLED"
    assert "Traceback" not in err
    shown = run_dagy("runs", "show", run_id).stdout
    assert "status=CANCELLED" in shown.splitlines()[0]
    assert "- sleeper-1 sleeper status=CANCELLED attempt=1" in shown


def test_ctrl_c_with_the_process_executor_kills_the_task_process(run_dagy, write_flow, tmp_path):
    flows = write_flow(FLOWS)
    proc = popen_dagy("run", f"{flows}:long_flow", "--executor", "process")
    run_id = _wait_for_line(proc, run_dagy)
    log = (
        Path(os.environ["DAGY_LOCAL_DIR"])
        / "runs"
        / run_id
        / "task_runs"
        / "sleeper-1"
        / "task.log"
    )
    deadline = time.monotonic() + 20
    while (
        "sleeping" not in (log.read_text() if log.exists() else "") and time.monotonic() < deadline
    ):
        time.sleep(0.05)
    child_pid = int(log.read_text().split("(process ")[1].split(")")[0])
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 130 and "status=CANCELLED" in out
    deadline = time.monotonic() + 5
    while pid_alive(child_pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not pid_alive(child_pid)


def test_task_states_reach_the_store_while_the_run_is_still_running(run_dagy, write_flow):
    flows = write_flow(FLOWS)
    proc = popen_dagy("run", f"{flows}:quick_then_long", "--param", "seconds=20")
    try:
        run_id = _wait_for_line(proc, run_dagy)
        deadline = time.monotonic() + 10
        shown = ""
        while time.monotonic() < deadline:
            shown = run_dagy("runs", "show", run_id).stdout
            if "- sleeper-1 sleeper status=RUNNING attempt=1" in shown:
                break
            time.sleep(0.2)
        assert "status=RUNNING" in shown.splitlines()[0]
        assert "- after-1 after status=SUCCEEDED attempt=1" in shown
        assert "- sleeper-1 sleeper status=RUNNING attempt=1" in shown
    finally:
        proc.kill()
        proc.wait()


def test_killed_run_is_marked_crashed_by_the_next_command(run_dagy, write_flow):
    flows = write_flow(FLOWS)
    proc = popen_dagy("run", f"{flows}:long_flow")
    run_id = _wait_for_line(proc, run_dagy)
    proc.kill()
    proc.wait()
    listed = run_dagy("runs", "list").stdout
    assert listed.startswith(f"{run_id} FAILED ")
    assert "Error: crashed: process" in run_dagy("runs", "show", run_id).stdout


BARRIER_FLOW = """
import time
from pathlib import Path
from dagy import flow, task

@task
def meet(folder: str, me: str) -> str:
    here = Path(folder)
    (here / f"arrived-{me}").write_text("here")
    deadline = time.monotonic() + 120
    while not (here / "release").exists():  # the test opens it once both runs are here
        if time.monotonic() > deadline:
            raise TimeoutError("never released")
        time.sleep(0.02)
    return me

@flow
def long_flow(folder: str, me: str):
    return meet(folder, me)
"""


def test_two_long_runs_and_a_list_at_once_all_succeed(run_dagy, write_flow, tmp_path):
    flows = write_flow(BARRIER_FLOW)
    folder = tmp_path / "barrier"
    folder.mkdir()
    procs = [
        popen_dagy("run", f"{flows}:long_flow", "--param", f"folder={folder}", "--param", f"me={i}")
        for i in range(2)
    ]
    deadline = time.monotonic() + 90
    while len(list(folder.glob("arrived-*"))) < 2:  # both runs are inside their task: overlap
        assert all(p.poll() is None for p in procs), [p.communicate() for p in procs]
        assert time.monotonic() < deadline, "the two runs never both reached their task"
        listed = run_dagy("runs", "list")  # listing while they run never hits the store's lock
        assert listed.returncode == 0 and "lock" not in listed.stderr.lower(), listed.stderr
        time.sleep(0.05)
    deadline = time.monotonic() + 90
    while (listed := run_dagy("runs", "list")).stdout.count(" RUNNING ") != 2:
        assert listed.returncode == 0, listed.stderr
        assert time.monotonic() < deadline, listed.stdout  # both are held at the barrier
        time.sleep(0.05)
    (folder / "release").write_text("go")
    for p in procs:
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
        assert "status=SUCCEEDED" in out
    assert run_dagy("runs", "list", "--status", "SUCCEEDED").stdout.count(" long_flow:") == 2


def test_help_and_version_do_not_import_heavy_modules():
    code = (
        "import sys\n"
        "from dagy.cli.main import cli\n"
        "try:\n    cli(['--help'], prog_name='dagy')\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('duckdb', 'litestar', 'textual', 'boto3', 'yaml', 'stripe') if m in sys.modules]\n"
        "print('HEAVY=' + ','.join(heavy))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert "Usage: dagy" in out and "HEAVY=\n" in out
    sdk = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from dagy import flow, task; print('duckdb' in sys.modules)",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert sdk.strip() == "False"


def test_version(run_dagy):
    assert run_dagy("--version").stdout.strip() == "dagy 0.1.0"


def test_every_flow_in_examples_runs(run_dagy):
    from dagy.sdk.flow import Flow
    from dagy.sdk.loader import load_module

    found = 0
    for path in sorted((REPO / "examples").glob("*.py")):
        module = load_module(path)
        for name, obj in vars(module).items():
            if isinstance(obj, Flow):
                found += 1
                result = run_dagy("run", f"{path}:{name}", "--max-workers", "2")
                assert result.returncode == 0, (path, name, result.stderr)
    assert found >= 1


def test_a_deployment_target_goes_to_the_api_and_says_when_it_is_unreachable(run_dagy):
    result = run_dagy("run", "my-etl", env={"DAGY_API_URL": "http://127.0.0.1:9"})
    assert result.returncode == 6
    assert result.stderr == (
        "APIError 0: Unable to reach Dagy API at http://127.0.0.1:9. "
        "Check DAGY_API_URL/profile and network connectivity.\n"
    )

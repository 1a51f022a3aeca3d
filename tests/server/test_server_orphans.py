"""kill -9 of `dagy serve` during a run on the process executor: its task process dies too."""

from __future__ import annotations

import signal

from tests.conftest import pid_alive
from tests.server.runs_support import start, tally, trigger, wait_status, wait_until


def test_a_killed_server_leaves_no_task_process_of_its_runs(tmp_path):
    home = tmp_path / "home"
    server = start(home, tmp_path, workers=1)
    gate, counts = tmp_path / "gate", tmp_path / "tally"
    run_id = trigger(
        server,
        flow_name="gated",
        flow_version="1.0.0",
        executor="process",
        parameters={"gate": str(gate), "tally": str(counts), "tag": "a"},
    )["run_id"]
    task_pid = int(wait_until(lambda: tally(counts), what="the task process")[0].split()[1])
    assert task_pid != server.proc.pid

    server.stop(signal.SIGKILL)  # the task waits at its gate: only a kill ends it now
    wait_until(lambda: not pid_alive(task_pid), 10, "the task process to die with its server")
    gate.touch()

    server = start(home, tmp_path, workers=1)
    try:
        failed = wait_status(server, run_id, "failed", timeout=20)
        assert failed["error"].startswith("crashed: process ")
        assert len(tally(counts)) == 1  # it ran once, and is not run again
    finally:
        server.stop()

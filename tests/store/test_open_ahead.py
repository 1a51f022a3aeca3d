"""`dagy run` opens the store file on a thread while it imports the engine and loads the flow
(dagy.store.shared.open_ahead): the run takes that connection, and a run that never gets to the
store releases the file at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from dagy.backend.execute import Settings, run_target
from dagy.config.paths import DagyPaths

FLOW = """
from dagy import flow, task

@task
def one() -> int:
    return 1

@flow
def f():
    return one()
"""


def test_a_run_uses_the_file_opened_ahead_and_records_its_run(
    paths: DagyPaths, write_flow, run_dagy
) -> None:
    target = f"{write_flow(FLOW)}:f"
    assert run_dagy("run", target, "-q").returncode == 0  # the store file exists from here on
    run = run_target(target, {}, Settings(), paths)
    assert run.status == "SUCCEEDED"
    listed = run_dagy("runs", "list", env={"DAGY_STORE_LOCK_TIMEOUT": "2"})
    assert listed.returncode == 0, listed.stderr
    assert run.run_id in listed.stdout and len(listed.stdout.splitlines()) == 2


def test_a_flow_that_fails_to_load_leaves_the_store_file_free(
    paths: DagyPaths, write_flow, run_dagy, tmp_path: Path
) -> None:
    assert run_dagy("run", f"{write_flow(FLOW)}:f", "-q").returncode == 0
    with pytest.raises(Exception, match="no_such_flow"):
        run_target(f"{write_flow(FLOW)}:no_such_flow", {}, Settings(), paths)
    # Another process opens the file at once: this one holds no connection to it any more.
    listed = run_dagy("runs", "list", env={"DAGY_STORE_LOCK_TIMEOUT": "2"})
    assert listed.returncode == 0, listed.stderr
    assert len(listed.stdout.splitlines()) == 1

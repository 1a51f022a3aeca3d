"""Lines a task prints carry the time they were written, in the file and in the TUI's log view."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from dagy.config.paths import DagyPaths
from dagy.tui.app import DagyApp
from dagy.tui.log_screen import LogScreen
from dagy.tui.source import open_source
from tests.conftest import popen_dagy
from tests.tui.conftest import SIZE, settle

pytestmark = pytest.mark.anyio


def _stamp(line: str) -> dt.datetime:
    return dt.datetime.fromisoformat(line.split(" ", 1)[0].rstrip("Z"))


async def _printed_lines_in_the_tui(paths: DagyPaths, run_id: str) -> None:
    task_log = paths.task_log(run_id, "chatty-1").read_text(encoding="utf-8").splitlines()
    # Every line of the file starts with its own time, the printed ones included.
    assert all(_stamp(line) for line in task_log), task_log
    app = DagyApp(open_source(paths))
    async with app.run_test(size=SIZE) as pilot:
        app.push_screen(LogScreen(app.source, run_id, "chatty-1"))
        await settle(pilot)
        lines = app.screen.lines
        first = next(x for x in lines if x.endswith(" first line"))
        second = next(x for x in lines if x.endswith(" second line"))
        # The task slept 0.3s between its prints: the second line has its own, later time
        # (not the time of the line before it).
        assert _stamp(second) - _stamp(first) >= dt.timedelta(seconds=0.3)


async def test_printed_lines_get_their_own_time_in_a_thread(
    paths: DagyPaths, run_local: Any
) -> None:
    run = run_local("chatty_flow")
    assert run.status == "SUCCEEDED"
    await _printed_lines_in_the_tui(paths, run.run_id)


async def test_printed_lines_get_their_own_time_in_a_child_process(
    paths: DagyPaths, flows_file: Path
) -> None:
    proc = popen_dagy("run", f"{flows_file}:chatty_flow", "--executor", "process")
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    run_id = out.split()[2]  # Run completed: <run_id> status=SUCCEEDED
    await _printed_lines_in_the_tui(paths, run_id)

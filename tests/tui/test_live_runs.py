"""Follow mode on a flow that is running in another process, and cancel and retry from the TUI."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.css.query import NoMatches

from dagy.config.paths import DagyPaths
from dagy.store.duckdb_store import DuckDBStore
from dagy.tui.app import DagyApp
from dagy.tui.log_screen import LogScreen
from dagy.tui.run_screen import RunScreen
from dagy.tui.source import open_source
from tests.conftest import popen_dagy
from tests.tui.conftest import SIZE, eventually, notices, settle, stored, table_rows

pytestmark = pytest.mark.anyio
TICK = re.compile(r"(?:^| )tick (\d+)$")


@pytest.fixture
def slow_run(
    paths: DagyPaths, flows_file: Path, tmp_path: Path
) -> Iterator[tuple[subprocess.Popen[str], Path]]:
    """`dagy run` of the slow flow in its own process: it prints a tick every 0.1s until the gate
    file exists."""
    gate = tmp_path / "gate"
    proc = popen_dagy("run", f"{flows_file}:slow", "--param", f"gate={gate}")
    yield proc, gate
    gate.touch()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _running_run_id(paths: DagyPaths) -> str | None:
    if not paths.db.exists():
        return None
    try:
        runs = DuckDBStore(paths, lock_timeout=1).list_runs(status="RUNNING")
    except Exception:  # the run's process holds the file for a moment: look again
        return None
    return runs[0].run_id if runs else None


async def test_follow_mode_shows_lines_the_running_flow_appends(
    paths: DagyPaths, slow_run: Any
) -> None:
    proc, gate = slow_run
    app = DagyApp(open_source(paths))
    async with app.run_test(size=SIZE) as pilot:
        run_id = await eventually(pilot, lambda: _running_run_id(paths), what="a running run")
        await eventually(pilot, lambda: table_rows(app.screen, "#runs"), what="the run listed")
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, RunScreen)
        await eventually(
            pilot,
            lambda: [r[0] for r in table_rows(app.screen, "#tasks")] == ["ticker-1"],
            what="the task run",
        )
        await pilot.press("enter")
        screen = app.screen
        assert isinstance(screen, LogScreen) and screen.task_run_id == "ticker-1"

        def ticks() -> list[int]:
            found = (TICK.search(line) for line in screen.query_one("#log").lines)
            return [int(m.group(1)) for m in found if m]

        first = await eventually(pilot, ticks, what="the first ticks")
        # Lines the flow writes after the log was opened appear without a key press.
        later = await eventually(pilot, lambda: max(ticks()) > max(first) + 5 and ticks())
        assert later[: len(first)] == first
        assert not screen.complete
        assert "following" in str(screen.query_one("#log-title").render())

        gate.touch()
        assert proc.wait(timeout=30) == 0
        await eventually(pilot, lambda: screen.complete, what="the log to complete")
        assert stored(paths, run_id).status == "SUCCEEDED"


async def test_a_running_task_shows_its_elapsed_time_and_it_advances(
    paths: DagyPaths, slow_run: Any
) -> None:
    app = DagyApp(open_source(paths))
    async with app.run_test(size=SIZE) as pilot:
        run_id = await eventually(pilot, lambda: _running_run_id(paths), what="a running run")
        app.push_screen(RunScreen(app.source, run_id))

        def elapsed() -> float | None:
            # Not settle(): the runs view's refresh workers, cancelled by newer ones, would
            # make waiting for every worker fail; the screen is read once it shows the row.
            try:
                rows = table_rows(app.screen, "#tasks")
            except NoMatches:  # the run screen is not composed yet
                return None
            if not rows or rows[0][2] != "RUNNING" or not rows[0][4].endswith("s"):
                return None
            return float(rows[0][4].rstrip("s"))  # "1.3s": under a minute in this test

        first = await eventually(pilot, elapsed, what="the running task's elapsed time")
        # The screen refreshes a running run every second: the time so far grows on its own.
        later = await eventually(
            pilot, lambda: (elapsed() or 0) >= first + 1 and elapsed(), what="it to advance"
        )
        assert later >= first + 1
        summary = str(app.screen.query_one("#run-summary").render())
        assert "RUNNING" in summary and "duration -" not in summary


async def test_cancel_stops_the_running_run_and_the_store_says_cancelled(
    paths: DagyPaths, slow_run: Any
) -> None:
    proc, _ = slow_run
    app = DagyApp(open_source(paths))
    async with app.run_test(size=SIZE) as pilot:
        run_id = await eventually(pilot, lambda: _running_run_id(paths), what="a running run")
        app.push_screen(RunScreen(app.source, run_id))
        await settle(pilot)
        await pilot.press("c")
        await eventually(
            pilot,
            lambda: any(f"Run cancelled: {run_id} status=CANCELLED" in n for n in notices(app)),
            what="the cancel notice",
        )
        assert stored(paths, run_id).status == "CANCELLED"
        assert proc.wait(timeout=30) != 0
        await eventually(
            pilot, lambda: "CANCELLED" in str(app.screen.query_one("#run-summary").render())
        )


async def test_retry_starts_a_new_run_that_reruns_the_failed_task(
    paths: DagyPaths, run_local: Any, tmp_path: Path
) -> None:
    marker = tmp_path / "marker"
    failed = run_local("flaky", marker=str(marker))
    assert failed.status == "FAILED"
    marker.touch()
    app = DagyApp(open_source(paths))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert "FAILED" in str(app.screen.query_one("#run-summary").render())
        await pilot.press("r")
        await eventually(
            pilot, lambda: any(f"Retry started for {failed.run_id}" in n for n in notices(app))
        )

        def retried() -> Any:
            runs = DuckDBStore(paths, lock_timeout=1).list_runs()
            return next((r for r in runs if r.retry_of == failed.run_id and r.ended_at), None)

        new = await eventually(pilot, retried, timeout=30, what="the retry to finish")
        assert new.status == "SUCCEEDED" and new.trigger == "retry"
        await pilot.press("escape")
        await eventually(
            pilot,
            lambda: [r[0] for r in table_rows(app.screen, "#runs")][:1] == [new.run_id],
            what="the retry listed on top",
        )
        await pilot.press("up", "enter", "r")  # the retry itself succeeded: nothing to retry
        await eventually(
            pilot, lambda: any("succeeded; there is nothing to retry" in n for n in notices(app))
        )


async def test_retry_of_a_run_whose_flow_file_is_gone_says_so(
    paths: DagyPaths, run_local: Any, tmp_path: Path, flows_file: Path
) -> None:
    failed = run_local("flaky", marker=str(tmp_path / "absent"))
    flows_file.unlink()
    app = DagyApp(open_source(paths))
    async with app.run_test(size=SIZE) as pilot:
        app.push_screen(RunScreen(app.source, failed.run_id))
        await settle(pilot)
        await pilot.press("r")
        await settle(pilot)
        assert f"Cannot retry {failed.run_id}: its flow file {flows_file} is gone" in notices(app)
        assert [r.run_id for r in DuckDBStore(paths).list_runs()] == [failed.run_id]

"""Runs → run → task log, the header, help and quit, on this home's store file."""

from __future__ import annotations

from typing import Any

import pytest

from dagy.config.paths import DagyPaths
from dagy.tui.app import DagyApp
from dagy.tui.log_screen import LogScreen
from dagy.tui.run_screen import RunScreen
from dagy.tui.runs_screen import RunsScreen
from dagy.tui.source import open_source
from tests.tui.conftest import SIZE, notices, settle, table_rows

pytestmark = pytest.mark.anyio


async def test_runs_open_a_run_then_a_task_log(paths: DagyPaths, run_local: Any) -> None:
    older = run_local("etl", x=1)
    newer = run_local("etl", x=5)
    app = DagyApp(open_source(paths))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, RunsScreen)
        rows = table_rows(app.screen, "#runs")
        assert [r[0] for r in rows] == [newer.run_id, older.run_id]
        assert rows[0][1:3] == ["etl:1.0.0", "SUCCEEDED"]
        assert rows[0][5] == "cli"
        assert f"store {paths.db}" in app.sub_title

        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, RunScreen) and app.screen.run_id == newer.run_id
        tasks = table_rows(app.screen, "#tasks")
        assert [(t[0], t[2], t[3]) for t in tasks] == [
            ("extract-1", "SUCCEEDED", "1/1"),
            ("load-1", "SUCCEEDED", "1/1"),
        ]
        dag = [str(node.label) for node in app.screen.query_one("#dag").root.children]
        assert dag == ["layer 1 (1 task run)", "layer 2 (1 task run)"]
        second = app.screen.query_one("#dag").root.children[1].children[0]
        assert str(second.label) == "load-1 SUCCEEDED  ← extract-1"

        await pilot.press("down", "enter")
        await settle(pilot)
        assert isinstance(app.screen, LogScreen) and app.screen.task_run_id == "load-1"
        assert any(line.endswith("loading 6") for line in app.screen.lines)
        assert app.screen.complete

        await pilot.press("escape", "l")
        await settle(pilot)
        assert isinstance(app.screen, LogScreen) and app.screen.task_run_id is None
        assert any(f"run {newer.run_id} finished status=SUCCEEDED" in x for x in app.screen.lines)

        await pilot.press("escape", "escape")
        assert isinstance(app.screen, RunsScreen)
        await pilot.press("question_mark")
        assert "Dagy TUI" in str(app.screen.query_one("#help-text").render())
        await pilot.press("escape", "q")
    assert app.return_code == 0


async def test_log_search_shows_only_matching_lines(paths: DagyPaths, run_local: Any) -> None:
    run = run_local("etl", x=2)
    app = DagyApp(open_source(paths))
    async with app.run_test(size=SIZE) as pilot:
        app.push_screen(LogScreen(app.source, run.run_id))
        await settle(pilot)
        screen = app.screen
        assert len(screen.lines) > 3
        await pilot.press("slash", *"LOAD-1", "enter")
        shown = screen.query_one("#log").lines
        assert shown and all("load-1" in line.lower() for line in shown)
        assert len(shown) < len(screen.lines)
        assert f"{len(shown)} matching 'LOAD-1'" in str(screen.query_one("#log-title").render())


async def test_an_unreadable_home_is_a_notice_not_a_crash(paths: DagyPaths, run_local: Any) -> None:
    run_local("etl", x=1)
    paths.db.write_bytes(b"not a duckdb file")
    app = DagyApp(open_source(paths))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, RunsScreen)
        assert table_rows(app.screen, "#runs") == []
        assert any("Internal error" in n and "duckdb" in n.lower() for n in notices(app))


async def test_escape_in_a_search_box_closes_the_box_not_the_screen(
    paths: DagyPaths, run_local: Any
) -> None:
    run = run_local("etl", x=2)
    app = DagyApp(open_source(paths))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("enter", "l")
        await settle(pilot)
        log = app.screen
        assert isinstance(log, LogScreen) and log.run_id == run.run_id
        box = log.query_one("#log-search")
        await pilot.press("slash", *"load")
        assert box.display and app.focused is box
        await pilot.press("escape")  # typing, then escape: the box closes, the log stays
        assert app.screen is log and not box.display and app.focused is log.query_one("#log")
        await pilot.press("slash", *"load", "enter")  # a search applied: the box stays open
        assert box.display and app.focused is log.query_one("#log")
        shown = len(log.query_one("#log").lines)
        assert 0 < shown < len(log.lines)
        assert "matching 'load'" in str(log.query_one("#log-title").render())
        await pilot.press("escape")  # closes the box and its search: every line again
        assert app.screen is log and not box.display
        assert len(log.query_one("#log").lines) == len(log.lines)
        assert "matching" not in str(log.query_one("#log-title").render())
        await pilot.press("escape")  # the box is closed: escape is back to the run
        assert isinstance(app.screen, RunScreen)

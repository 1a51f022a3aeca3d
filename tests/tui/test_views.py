"""Filters, search and paging of the runs view; flows, deployments and schedules tables and the
schedule actions, on this home's store file."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from dagy.config.paths import DagyPaths
from dagy.store.duckdb_store import DuckDBStore
from dagy.store.records import RunRecord
from dagy.tui.app import DagyApp
from dagy.tui.run_screen import RunScreen
from dagy.tui.runs_screen import RunsScreen
from dagy.tui.source import open_source
from tests.tui.conftest import SIZE, eventually, notices, settle, table_rows

pytestmark = pytest.mark.anyio


async def test_status_and_flow_filters_and_search_by_id(
    paths: DagyPaths, run_local: Any, tmp_path: Path
) -> None:
    etl = run_local("etl", x=1)
    flaky = run_local("flaky", marker=str(tmp_path / "absent"))
    app = DagyApp(open_source(paths))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert {r[0] for r in table_rows(app.screen, "#runs")} == {etl.run_id, flaky.run_id}
        await pilot.press("t", "t", "t", "t")  # all → PENDING → RUNNING → SUCCEEDED → FAILED
        await settle(pilot)
        assert [(r[0], r[2]) for r in table_rows(app.screen, "#runs")] == [(flaky.run_id, "FAILED")]
        assert "status: FAILED" in str(app.screen.query_one("#runs-status").render())
        await pilot.press("t")  # CANCELLED: none
        await settle(pilot)
        assert table_rows(app.screen, "#runs") == []
        await pilot.press("t", "w", *"etl", "enter")  # back to all statuses, flow etl
        await settle(pilot)
        assert [r[0] for r in table_rows(app.screen, "#runs")] == [etl.run_id]

        await pilot.press("slash", *"no-such-run", "enter")
        await eventually(pilot, lambda: "No run with id no-such-run" in notices(app))
        assert isinstance(app.screen, RunsScreen)
        # The id box gives the keys back to the table after enter, found or not.
        assert app.focused is app.screen.query_one("#runs")
        assert app.screen.query_one("#search").value == ""
        await pilot.press("slash", *flaky.run_id, "enter")
        await settle(pilot)
        assert isinstance(app.screen, RunScreen) and app.screen.run_id == flaky.run_id
        assert "no marker yet" in str(app.screen.query_one("#run-summary").render())


def _seed(paths: DagyPaths, count: int) -> list[str]:
    """``count`` finished runs, one a minute; their ids newest first."""
    store = DuckDBStore(paths)
    start = dt.datetime(2026, 1, 1)
    ids = []
    with store.connection():
        for i in range(count):
            at = start + dt.timedelta(minutes=i)
            run = RunRecord(f"seeded-{i:05d}", "seeded", "1.0.0", "SUCCEEDED", at)
            run.started_at, run.ended_at = at, at + dt.timedelta(seconds=2)
            store.create_run(run)
            ids.append(run.run_id)
    return ids[::-1]


async def test_runs_load_a_page_at_a_time(paths: DagyPaths) -> None:
    ids = _seed(paths, 250)
    app = DagyApp(open_source(paths))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert [r[0] for r in table_rows(app.screen, "#runs")] == ids[:100]
        assert table_rows(app.screen, "#runs")[0][3:5] == ["2026-01-01 04:09:00", "2.0s"]
        await pilot.press("n")
        await settle(pilot)
        assert [r[0] for r in table_rows(app.screen, "#runs")] == ids[:200]
        app.screen.query_one("#runs").move_cursor(row=199)  # past the last loaded row: the next
        await settle(pilot)
        assert [r[0] for r in table_rows(app.screen, "#runs")] == ids
        assert app.screen.next_token is None
        assert "250 runs loaded" in str(app.screen.query_one("#runs-status").render())


async def test_flows_deployments_and_schedules_with_pause_resume_and_trigger(
    paths: DagyPaths, flows_file: Path
) -> None:
    from dagy.sdk.loader import load_flow
    from dagy.services.catalog import deployments, flows
    from dagy.services.triggers import schedules

    store = DuckDBStore(paths)
    flows.register_version(store, "personal", load_flow(f"{flows_file}:etl").build())
    deployments.upsert(
        store, "personal", None, name="etl-prod", flow_name="etl", flow_version="1.0.0"
    )
    schedules.create(
        store,
        "personal",
        {"schedule_id": "hourly", "flow_name": "etl", "mode": "interval", "interval_seconds": 3600},
    )
    app = DagyApp(open_source(paths))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("f")
        await settle(pilot)
        assert [r[:3] for r in table_rows(app.screen, "#items")] == [["etl", "1.0.0", "active"]]
        await pilot.press("escape", "d")
        await settle(pilot)
        assert [r[:3] for r in table_rows(app.screen, "#items")] == [["etl-prod", "etl", "1.0.0"]]
        await pilot.press("escape", "s")
        await settle(pilot)
        assert [r[:5] for r in table_rows(app.screen, "#items")] == [
            ["hourly", "etl", "interval", "every 3600s", "yes"]
        ]
        await pilot.press("p")
        await settle(pilot)
        assert "Schedule hourly paused" in notices(app)
        assert schedules.get(store, "personal", "hourly").enabled is False
        assert table_rows(app.screen, "#items")[0][4] == "no"
        await pilot.press("p")
        await settle(pilot)
        assert schedules.get(store, "personal", "hourly").enabled is True
        await pilot.press("t")
        await settle(pilot)
        queued = store.list_runs(status="PENDING")
        assert [r.trigger for r in queued] == ["manual"]
        assert any(f"run {queued[0].run_id} is queued" in n for n in notices(app))


async def test_runs_refresh_live_while_the_file_stays_free(
    paths: DagyPaths, run_local: Any
) -> None:
    import asyncio

    first = run_local("etl", x=1)
    app = DagyApp(open_source(paths))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert [r[0] for r in table_rows(app.screen, "#runs")] == [first.run_id]
        # A run recorded by someone else while the TUI is open: the TUI only opens the file per
        # refresh, so the run can write, and it shows up on top without a key press.
        second = await asyncio.to_thread(run_local, "etl", x=2)
        # A refresh may have caught it RUNNING; a later one shows how it ended, in place.
        expected = [(second.run_id, "SUCCEEDED"), (first.run_id, "SUCCEEDED")]
        await eventually(
            pilot,
            lambda: [(r[0], r[2]) for r in table_rows(app.screen, "#runs")] == expected,
            what="the new run listed, finished",
        )


async def test_the_flow_filter_matches_a_prefix_and_escape_leaves_the_box(
    paths: DagyPaths, run_local: Any, tmp_path: Path
) -> None:
    etl = run_local("etl", x=1)
    flaky = run_local("flaky", marker=str(tmp_path / "absent"))
    app = DagyApp(open_source(paths))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen, box = app.screen, app.screen.query_one("#flow-filter")
        await pilot.press("w", *"fla", "enter")
        await settle(pilot)
        assert [r[0] for r in table_rows(screen, "#runs")] == [flaky.run_id]
        assert "flow: fla*" in str(screen.query_one("#runs-status").render())
        assert app.focused is screen.query_one("#runs")
        await pilot.press("w", "backspace", "backspace", "backspace", *"ET", "enter")
        await settle(pilot)  # case does not matter
        assert [r[0] for r in table_rows(screen, "#runs")] == [etl.run_id]
        await pilot.press("w", *"xyz", "escape")  # typed, not applied: the filter stays "ET"
        await settle(pilot)
        assert app.screen is screen and app.focused is screen.query_one("#runs")
        assert box.value == "ET" and [r[0] for r in table_rows(screen, "#runs")] == [etl.run_id]
        await pilot.press("w", "backspace", "backspace", "enter")  # empty: every flow
        await settle(pilot)
        assert {r[0] for r in table_rows(screen, "#runs")} == {etl.run_id, flaky.run_id}


async def test_empty_flows_deployments_and_schedules_say_how_to_make_one(paths: DagyPaths) -> None:
    app = DagyApp(open_source(paths))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        for key, text in (
            ("f", "No flows yet — `dagy deploy` registers one."),
            ("d", "No deployments yet — `dagy deploy` creates one."),
            ("s", "No schedules — `dagy schedules create` adds one."),
        ):
            await pilot.press(key)
            await settle(pilot)
            empty = app.screen.query_one("#empty")
            assert table_rows(app.screen, "#items") == []
            assert empty.display and str(empty.render()) == text
            await pilot.press("escape")

"""The TUI against a real `dagy serve`: a remote profile's API, this home's live server, and a
server that does not answer."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from dagy.config import credentials
from dagy.config.paths import DagyPaths
from dagy.config.profiles import Config, Profile, save_config
from dagy.tui.app import DagyApp
from dagy.tui.log_screen import LogScreen
from dagy.tui.run_screen import RunScreen
from dagy.tui.source import open_source
from tests.conftest import ServerProcess, popen_dagy
from tests.tui.conftest import SIZE, eventually, notices, settle, table_rows

pytestmark = pytest.mark.anyio


def _dagy_run(home: Path, flows_file: Path, name: str, *params: str) -> subprocess.Popen[str]:
    args = [x for p in params for x in ("--param", p)]
    return popen_dagy("run", f"{flows_file}:{name}", *args, env={"DAGY_LOCAL_DIR": str(home)})


def _api_status(server: ServerProcess, run_id: str) -> str:
    status, _, body = server.request("GET", f"/runs/{run_id}", token=server.local_token)
    assert status == 200, body
    return str(body["status"])  # type: ignore[index]


def _running(server: ServerProcess) -> str | None:
    _, _, body = server.request("GET", "/runs?status=running", token=server.local_token)
    items = body.get("items") if isinstance(body, dict) else None
    return items[0]["run_id"] if items else None


async def test_a_remote_profile_browses_and_cancels_through_the_api(
    paths: DagyPaths, server_factory: Any, flows_file: Path, tmp_path: Path, monkeypatch: Any
) -> None:
    server = server_factory(home=tmp_path / "server-home")
    done = _dagy_run(server.home, flows_file, "etl", "x=3")
    assert done.wait(timeout=60) == 0, done.stderr.read() if done.stderr else ""
    gate = tmp_path / "gate"
    slow = _dagy_run(server.home, flows_file, "slow", f"gate={gate}")
    # This home knows the server only as a profile, with a stored login for its API.
    monkeypatch.setenv("DAGY_KEYRING", "0")
    save_config(paths, Config(profiles={"team": Profile("team", api_url=server.api_url)}))
    credentials.save(paths, credentials.Credentials(server.local_token, server.api_url))
    source = open_source(paths, "team")
    assert source.mode == "api"
    app = DagyApp(source)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            assert app.sub_title == f"profile team · API {server.api_url}"
            running = await eventually(pilot, lambda: _running(server), what="the slow run")
            rows = await eventually(
                pilot,
                lambda: (
                    len(table_rows(app.screen, "#runs")) == 2 and table_rows(app.screen, "#runs")
                ),
            )
            assert [(r[0], r[1], r[2]) for r in rows][0] == (running, "slow:1.0.0", "RUNNING")
            assert rows[1][1:3] == ["etl:1.0.0", "SUCCEEDED"]

            await pilot.press("down", "enter")
            await settle(pilot)
            assert isinstance(app.screen, RunScreen)
            summary = str(app.screen.query_one("#run-summary").render())
            assert "SUCCEEDED" in summary and "not available" not in summary
            # Task runs come from GET /runs/{run_id}/task-runs.
            assert [r[0] for r in table_rows(app.screen, "#tasks")] == ["extract-1", "load-1"]
            await pilot.press("l")
            await settle(pilot)
            assert isinstance(app.screen, LogScreen)
            assert any("finished status=SUCCEEDED" in line for line in app.screen.lines)

            await pilot.press("escape", "escape", "up", "enter")
            await settle(pilot)
            assert app.screen.run_id == running
            await pilot.press("c")
            await eventually(
                pilot,
                lambda: any(
                    f"Run cancelled: {running} status=CANCELLED" in n for n in notices(app)
                ),
                timeout=30,
            )
            assert _api_status(server, running) == "cancelled"
    finally:
        gate.touch()
        slow.wait(timeout=30)


async def test_this_homes_live_server_shows_task_runs_through_it(
    paths: DagyPaths, server_factory: Any, flows_file: Path
) -> None:
    server = server_factory()  # on this test's home: it owns the store file
    done = _dagy_run(server.home, flows_file, "etl", "x=3")
    assert done.wait(timeout=60) == 0
    app = DagyApp(open_source(paths))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert f"server {server.api_url}" in app.sub_title
        rows = table_rows(app.screen, "#runs")
        assert [r[1:3] + r[5:] for r in rows] == [["etl:1.0.0", "SUCCEEDED", "-"]]
        await pilot.press("enter")
        await settle(pilot)
        assert [r[0] for r in table_rows(app.screen, "#tasks")] == ["extract-1", "load-1"]
        await pilot.press("enter")
        await settle(pilot)
        assert any(line.endswith("extracting 3") for line in app.screen.lines)


async def test_a_server_that_does_not_answer_is_a_notice(
    paths: DagyPaths, monkeypatch: Any
) -> None:
    monkeypatch.setenv("DAGY_API_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("DAGY_TOKEN", "x")
    app = DagyApp(open_source(paths))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert table_rows(app.screen, "#runs") == []
        assert any("Unable to reach Dagy API at http://127.0.0.1:9/v1" in n for n in notices(app))
        await pilot.press("s")
        await settle(pilot)
        assert table_rows(app.screen, "#items") == []


async def test_a_server_started_while_the_tui_is_open_is_used_from_then_on(
    paths: DagyPaths, server_factory: Any, run_local: Any
) -> None:
    run = run_local("etl", x=1)
    app = DagyApp(open_source(paths))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert f"store {paths.db}" in app.sub_title
        server = server_factory()  # this home's server: from now on it holds the store file
        await eventually(
            pilot, lambda: f"server {server.api_url}" in app.sub_title, what="the server named"
        )
        rows = table_rows(app.screen, "#runs")
        assert [r[:3] for r in rows] == [[run.run_id, "etl:1.0.0", "SUCCEEDED"]]


async def test_dagy_token_and_api_url_are_enough_without_a_stored_login(
    paths: DagyPaths, server_factory: Any, flows_file: Path, tmp_path: Path, monkeypatch: Any
) -> None:
    server = server_factory(home=tmp_path / "server-home")
    done = _dagy_run(server.home, flows_file, "etl", "x=3")
    assert done.wait(timeout=60) == 0
    monkeypatch.setenv("DAGY_API_URL", server.api_url)
    monkeypatch.setenv("DAGY_TOKEN", server.local_token)  # as CI would: no `dagy login`
    app = DagyApp(open_source(paths))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.sub_title == f"profile - · API {server.api_url}"
        rows = table_rows(app.screen, "#runs")
        assert [r[1:3] for r in rows] == [["etl:1.0.0", "SUCCEEDED"]]

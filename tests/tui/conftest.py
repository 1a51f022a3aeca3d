"""Fixtures for the TUI's pilot tests: flows to run, runs in the store, and waiting on the app."""

from __future__ import annotations

import asyncio
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dagy.config.paths import DagyPaths
from dagy.store.duckdb_store import DuckDBStore
from dagy.store.records import RunRecord

FLOWS = """
    import time
    from pathlib import Path

    from dagy import flow, task


    @task
    def extract(x: int) -> int:
        print(f"extracting {x}")
        return x + 1


    @task
    def load(x: int) -> int:
        print(f"loading {x}")
        return x * 2


    @flow(name="etl", version="1.0.0")
    def etl(x: int = 1):
        return load(extract(x))


    @task
    def picky(marker: str) -> str:
        if not Path(marker).exists():
            raise RuntimeError("no marker yet")
        return "ok"


    @flow(name="flaky", version="1.0.0")
    def flaky(marker: str):
        return picky(marker)


    @task
    def ticker(gate: str) -> int:
        n = 0
        while not Path(gate).exists():
            n += 1
            print(f"tick {n}", flush=True)
            time.sleep(0.1)
        return n


    @flow(name="slow", version="1.0.0")
    def slow(gate: str):
        return ticker(gate)


    @task
    def chatty() -> int:
        print("first line", flush=True)
        time.sleep(0.3)
        print("second line", flush=True)
        return 2


    @flow(name="chatty", version="1.0.0")
    def chatty_flow():
        return chatty()
"""

SIZE = (150, 40)


@pytest.fixture
def flows_file(tmp_path: Path) -> Path:
    path = tmp_path / "tui_flows.py"
    path.write_text(textwrap.dedent(FLOWS), encoding="utf-8")
    return path


@pytest.fixture
def run_local(paths: DagyPaths, flows_file: Path) -> Callable[..., RunRecord]:
    """Run a flow of ``flows_file`` in this process, as `dagy run` would; the finished run."""
    from dagy.sdk.loader import load_flow
    from dagy.services.runs import execute as runs

    def run(name: str, **params: Any) -> RunRecord:
        return runs.run_flow(load_flow(f"{flows_file}:{name}"), params, paths=paths)

    return run


def stored(paths: DagyPaths, run_id: str) -> RunRecord | None:
    return DuckDBStore(paths).get_run(run_id)


async def settle(pilot: Any, rounds: int = 2) -> None:
    """Let the source calls started so far finish and their results land on screen."""
    from textual.worker import WorkerCancelled

    for _ in range(rounds):
        await pilot.pause()
        try:
            await pilot.app.workers.wait_for_complete()
        except WorkerCancelled:  # a refresh replaced by a newer one of its group: wait again
            await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def eventually(
    pilot: Any, check: Callable[[], Any], timeout: float = 60, what: str = "condition"
) -> Any:
    """Wait (letting the app run) until ``check()`` is truthy; its value."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.1)
        await asyncio.sleep(0)


def table_rows(screen: Any, selector: str) -> list[list[str]]:
    """The rows of a DataTable as the user reads them (plain text per cell)."""
    from textual.widgets import DataTable

    table = screen.query_one(selector, DataTable)
    return [[str(cell) for cell in table.get_row_at(i)] for i in range(table.row_count)]


def notices(app: Any) -> list[str]:
    return [str(n.message) for n in app._notifications]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"

"""GET /runs' newest page is looked for first where it began last time (DuckDBStore.runs_page):
whatever happened since — newer runs, deleted runs, a run imported with an old time, a filter —
the page is the newest ``limit`` runs, the same as sorting them all. Reads while the store is
held go through per-thread cursors and see what other threads committed."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator

import pytest

from dagy.config.paths import DagyPaths
from dagy.store.duckdb_store import DuckDBStore
from dagy.store.records import RunRecord

T0 = dt.datetime(2026, 1, 1)


def _run(i: int, *, minutes: int | None = None, status: str = "SUCCEEDED") -> RunRecord:
    at = T0 + dt.timedelta(minutes=i if minutes is None else minutes)
    return RunRecord(
        run_id=f"r{i:04d}", flow_name="f", flow_version="1", status=status, created_at=at
    )


@pytest.fixture
def store(paths: DagyPaths) -> Iterator[DuckDBStore]:
    store = DuckDBStore(paths)
    store.hold()
    for i in range(60):
        store.create_run(_run(i, status="FAILED" if i % 7 == 0 else "SUCCEEDED"))
    yield store
    store.release()


def page(store: DuckDBStore, limit: int = 10, status: str | None = None) -> list[str]:
    rows = store.runs_page("personal", status=status, flow_name=None, before=None, limit=limit)
    return [r.run_id for r in rows]


def truth(store: DuckDBStore, limit: int = 10, status: str | None = None) -> list[str]:
    where = "WHERE status = ?" if status else ""
    with store.connection() as con:
        rows = con.execute(
            f"SELECT run_id FROM runs {where} ORDER BY created_at DESC, run_id DESC LIMIT ?",
            [status, limit] if status else [limit],
        ).fetchall()
    return [r[0] for r in rows]


def test_the_newest_page_stays_right_as_runs_come_and_go(store):
    assert page(store) == truth(store) == [f"r{i:04d}" for i in range(59, 49, -1)]
    for i in range(60, 63):  # newer runs
        store.create_run(_run(i))
    assert page(store) == truth(store)
    with store.connection() as con:  # the newest runs deleted: the last window is too small
        con.execute("DELETE FROM runs WHERE run_id >= 'r0055'")
    assert page(store) == truth(store) == [f"r{i:04d}" for i in range(54, 44, -1)]
    store.create_run(_run(900, minutes=-5))  # imported, older than everything
    store.create_run(_run(901, minutes=54))  # same time as r0054: the run id breaks the tie
    assert page(store) == truth(store)
    assert page(store)[:2] == ["r0901", "r0054"]


def test_a_filtered_page_and_a_bigger_one_are_right_too(store):
    assert page(store, status="FAILED") == truth(store, status="FAILED")
    assert page(store, 5) == truth(store, 5)
    assert page(store, 40) == truth(store, 40)
    assert page(store, 100) == truth(store, 100)  # fewer runs than the limit
    store.create_run(_run(63, status="FAILED"))
    assert page(store, status="FAILED")[0] == "r0063"
    assert page(store, 5) == truth(store, 5)


def test_reads_on_other_threads_see_what_was_committed(store):
    seen: list[list[str]] = []

    def read() -> None:
        seen.append(page(store, 1))

    for i in (70, 71):
        store.create_run(_run(i))
        reader = threading.Thread(target=read)
        reader.start()
        reader.join()
    assert seen == [["r0070"], ["r0071"]]
    with store.transaction():  # inside a write, a read on the writing thread sees the write
        store.create_run(_run(72))
        assert page(store, 1) == ["r0072"]


def test_walking_every_page_twice_gives_every_run_once_in_order(store):
    for i in range(60, 75):  # a few runs at the same minute: ties broken by run id
        store.create_run(_run(i, minutes=40))
    with store.connection() as con:
        everything = [
            r[0]
            for r in con.execute(
                "SELECT run_id FROM runs ORDER BY created_at DESC, run_id DESC"
            ).fetchall()
        ]
    for _ in range(2):  # the second walk starts from the windows the first one left
        walked: list[str] = []
        before = None
        while True:
            rows = store.runs_page("personal", status=None, flow_name=None, before=before, limit=7)
            walked += [r.run_id for r in rows]
            if len(rows) < 7:
                break
            before = (rows[-1].created_at.isoformat(), rows[-1].run_id)
        assert walked == everything


def test_the_cli_listing_is_the_newest_runs_whatever_the_row_order(paths: DagyPaths):
    store = DuckDBStore(paths)  # not held: each call opens the file, as `dagy runs list` does
    for i in range(30):
        store.create_run(_run(i))
    for i in range(30, 40):  # written last, but older than all: not the newest row ids
        store.create_run(_run(i, minutes=-100 + i))
    newest = [r.run_id for r in store.list_runs(limit=10)]
    assert newest == [f"r{i:04d}" for i in range(29, 19, -1)]
    assert len(store.list_runs(limit=None)) == 40


def test_a_brief_page_is_the_same_runs_with_what_a_list_shows(store):
    full = store.runs_page("personal", status=None, flow_name=None, before=None, limit=10)
    brief = store.runs_page(
        "personal", status=None, flow_name=None, before=None, limit=10, brief=True
    )
    shown = ("run_id", "flow_name", "flow_version", "status", "created_at", "ended_at", "org_id")
    assert [[getattr(r, f) for f in shown] for r in brief] == [
        [getattr(r, f) for f in shown] for r in full
    ]

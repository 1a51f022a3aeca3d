"""One scheduler tick fires every due schedule in one transaction: one run queued per due time,
each schedule advanced, a bad schedule recorded without stopping the others, and a kill -9 in the
middle of the tick's writes leaves nothing half done (the next tick fires each time once)."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from dagy.config.paths import DagyPaths
from dagy.services.triggers import schedule_tick, schedules
from dagy.store import schedules as schedule_sql
from dagy.store.duckdb_store import DuckDBStore
from dagy.store.records import utcnow
from tests.server.runs_support import register, write_flows

DUE = 12  # schedules made due; a few more stay not due


@pytest.fixture
def store(tmp_path: Path) -> DuckDBStore:
    home = tmp_path / "home"
    register(home, write_flows(tmp_path / "code"))
    store = DuckDBStore(DagyPaths(home))
    for i in range(DUE + 3):
        schedules.create(
            store,
            "personal",
            {
                "schedule_id": f"s{i:02d}",
                "flow_name": "quick",
                "flow_version": "1.0.0",
                "mode": "interval",
                "interval_seconds": 3600,
                "parameters": {"n": i},
            },
        )
    return store


def make_due(store: DuckDBStore, count: int, at: dt.datetime) -> None:
    for i in range(count):
        schedule_sql.update(store, "personal", f"s{i:02d}", next_run_at=at)


def scheduled_runs(store: DuckDBStore) -> list[tuple[str, str, dict, str]]:
    """(schedule id, scheduled_at, parameters, run_id) of every run the scheduler queued."""
    with store.connection() as con:
        rows = con.execute(
            "SELECT run_id, tags, parameters FROM runs WHERE trigger = 'schedule'"
        ).fetchall()
    out = []
    for run_id, tags, parameters in rows:
        named = dict(t.split(":", 1) for t in json.loads(tags) if ":" in t)
        out.append((named["schedule"], named["scheduled_at"], json.loads(parameters), run_id))
    return sorted(out)


def pending_events(store: DuckDBStore) -> list[str]:
    with store.connection() as con:
        rows = con.execute(
            "SELECT run_id FROM events WHERE type = 'flow_trigger' AND status = 'pending'"
        ).fetchall()
    return sorted(r[0] for r in rows)


def test_a_tick_queues_one_run_per_due_schedule_and_advances_each(store):
    now = utcnow()
    due_at = now - dt.timedelta(seconds=1)
    make_due(store, DUE, due_at)

    report = schedule_tick.tick(store, now)

    assert (report.due, report.fired, report.failed) == (DUE, DUE, 0)
    runs = scheduled_runs(store)
    assert [r[0] for r in runs] == [f"s{i:02d}" for i in range(DUE)]
    assert {r[1] for r in runs} == {due_at.isoformat() + "Z"}
    assert [r[2]["n"] for r in runs] == list(range(DUE))
    assert pending_events(store) == sorted(r[3] for r in runs)
    for schedule_id, _, _, run_id in runs:
        advanced = schedule_sql.get(store, "personal", schedule_id)
        assert advanced is not None
        assert advanced.next_run_at is not None and advanced.next_run_at > now
        assert advanced.last_run_id == run_id and advanced.last_run_at == due_at
        assert advanced.last_error is None
    not_due = schedule_sql.get(store, "personal", f"s{DUE:02d}")
    assert not_due is not None and not_due.last_run_id is None

    again = schedule_tick.tick(store, now + dt.timedelta(seconds=1))
    assert again.due == 0 and len(scheduled_runs(store)) == DUE


def test_a_schedule_whose_run_is_refused_records_why_and_the_others_fire(store):
    now = utcnow()
    make_due(store, 3, now - dt.timedelta(seconds=1))
    schedule_sql.update(store, "personal", "s01", parameters='{"n": "not a number"}')

    report = schedule_tick.tick(store, now)

    assert (report.fired, report.failed) == (2, 1)
    assert [r[0] for r in scheduled_runs(store)] == ["s00", "s02"]
    refused = schedule_sql.get(store, "personal", "s01")
    assert refused is not None
    assert refused.next_run_at is not None and refused.next_run_at > now
    assert refused.last_run_id is None and "n" in (refused.last_error or "")


KILL_BEFORE_ADVANCE = """
import os, signal, sys
from pathlib import Path
from dagy.config.paths import DagyPaths
from dagy.services.triggers import schedule_tick
from dagy.store import schedules
from dagy.store.duckdb_store import DuckDBStore
from dagy.store.records import utcnow

def killed(store, advances):  # the runs are written; the schedules not yet advanced
    sys.stdout.write("queued\\n")
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)

schedules.advance_many = killed
store = DuckDBStore(DagyPaths(Path(sys.argv[1])))
store.hold()
schedule_tick.tick(store, utcnow())
"""


def test_a_kill_between_queueing_the_runs_and_advancing_the_schedules_loses_nothing(store):
    now = utcnow()
    due_at = now - dt.timedelta(seconds=1)
    make_due(store, DUE, due_at)

    child = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(KILL_BEFORE_ADVANCE), str(store.paths.home)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert child.returncode == -9, child.stderr
    assert child.stdout == "queued\n"  # it died inside the tick's transaction

    assert scheduled_runs(store) == [] and pending_events(store) == []
    for i in range(DUE):
        untouched = schedule_sql.get(store, "personal", f"s{i:02d}")
        assert untouched is not None and untouched.next_run_at == due_at

    report = schedule_tick.tick(store, utcnow())
    assert report.fired == DUE
    runs = scheduled_runs(store)
    assert [r[0] for r in runs] == [f"s{i:02d}" for i in range(DUE)]
    assert {r[1] for r in runs} == {due_at.isoformat() + "Z"}
    assert pending_events(store) == sorted(r[3] for r in runs)


def test_a_schedule_row_that_cannot_be_read_does_not_hold_up_the_others(store):
    now = utcnow()
    make_due(store, 3, now - dt.timedelta(seconds=1))
    schedule_sql.update(store, "personal", "s00", parameters="{not json")

    report = schedule_tick.tick(store, now)

    assert (report.fired, report.failed) == (2, 1)
    assert [r[0] for r in scheduled_runs(store)] == ["s01", "s02"]
    broken = schedule_sql.get(store, "personal", "s00")
    assert broken is not None and broken.next_run_at is not None and broken.next_run_at > now
    assert (broken.last_error or "").startswith("internal error: JSONDecodeError")

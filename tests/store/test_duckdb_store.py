"""The DuckDB store: migrations, batches, crash recovery, and waiting out another process's lock."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from dagy.config.paths import DagyPaths
from dagy.config.processes import process_start_time
from dagy.errors import StoreBusyError
from dagy.store import migrations
from dagy.store.duckdb_store import DuckDBStore
from dagy.store.events import EventLog
from dagy.store.records import RunRecord, TaskRunRecord, utcnow


def _run(run_id: str, **kw) -> RunRecord:
    defaults = dict(flow_name="f", flow_version="1", status="RUNNING", created_at=utcnow())
    return RunRecord(run_id=run_id, **{**defaults, **kw})


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_migrations_are_recorded_and_applied_once(paths: DagyPaths):
    store = DuckDBStore(paths)
    with store.connection() as con:
        assert (
            con.execute("SELECT max(version) FROM schema_version").fetchone()[0]
            == migrations.LATEST
        )
        assert migrations.apply(con) == migrations.LATEST
        # One row per migration file (numbers may skip one another branch has taken).
        applied = con.execute("SELECT count(*) FROM schema_version").fetchone()[0]
        assert applied == len(migrations.available())


def test_a_migration_numbered_below_the_latest_applied_is_still_applied(tmp_path, monkeypatch):
    """Branches add migrations side by side: a store at 0003 still gets a 0002 merged later."""
    import duckdb

    folder = tmp_path / "migrations"
    folder.mkdir()
    (folder / "0001_a.sql").write_text("CREATE TABLE a (x INTEGER);")
    (folder / "0003_c.sql").write_text("CREATE TABLE c (x INTEGER);")
    monkeypatch.setattr(migrations, "_DIR", folder)
    con = duckdb.connect(str(tmp_path / "db.duckdb"))
    assert migrations.apply(con) == 3
    (folder / "0002_b.sql").write_text("CREATE TABLE b (x INTEGER);")
    assert migrations.apply(con) == 3
    assert con.execute("SELECT count(*) FROM b").fetchone()[0] == 0
    assert migrations.apply(con) == 3  # and once only
    assert [
        r[0] for r in con.execute("SELECT version FROM schema_version ORDER BY 1").fetchall()
    ] == [1, 2, 3]
    con.close()


def test_batches_upsert_task_runs_and_update_run_fields(paths: DagyPaths):
    store = DuckDBStore(paths)
    store.create_run(
        _run("r1"), [TaskRunRecord("r1", f"t-{i}", "t", i, "PENDING") for i in range(3)]
    )
    store.apply(
        "r1",
        {"status": "SUCCEEDED", "output": "7"},
        [TaskRunRecord("r1", f"t-{i}", "t", i, "SUCCEEDED", attempt=1) for i in range(3)],
    )
    assert store.get_run("r1").status == "SUCCEEDED" and store.get_run("r1").output == "7"
    assert [(t.status, t.attempt) for t in store.task_runs("r1")] == [("SUCCEEDED", 1)] * 3
    assert store.get_run("r1", org_id="another-org") is None


def test_list_runs_filters_and_pages_in_sql(paths: DagyPaths):
    store = DuckDBStore(paths)
    for i in range(5):
        store.create_run(
            _run(
                f"r{i}", flow_name="a" if i % 2 else "b", status="FAILED" if i == 3 else "SUCCEEDED"
            )
        )
    assert [r.run_id for r in store.list_runs(limit=2)] == ["r4", "r3"]
    assert [r.run_id for r in store.list_runs(status="failed")] == ["r3"]
    assert [r.run_id for r in store.list_runs(flow_name="a")] == ["r3", "r1"]
    assert store.count_runs(flow_name="b") == 3


def test_a_dead_processs_run_is_replayed_from_its_events(paths: DagyPaths):
    import socket

    store = DuckDBStore(paths)
    pid = _dead_pid()
    store.create_run(
        _run("done", pid=pid, host=socket.gethostname()),
        [TaskRunRecord("done", "t-1", "t", 0, "PENDING")],
    )
    log = EventLog(paths.run_dir("done") / "events.jsonl")
    log.task(TaskRunRecord("done", "t-1", "t", 0, "SUCCEEDED", attempt=1))
    log.run(status="SUCCEEDED", ended_at=utcnow(), output="1")
    log.flush()
    log.close()
    fresh = DuckDBStore(paths)  # a new process's first open recovers
    run = fresh.get_run("done")
    assert run.status == "SUCCEEDED" and run.output == "1"
    assert fresh.task_runs("done")[0].status == "SUCCEEDED"


def test_a_dead_processs_unfinished_run_is_failed_as_crashed(paths: DagyPaths):
    import socket

    store = DuckDBStore(paths)
    pid = _dead_pid()
    store.create_run(
        _run("dead", pid=pid, host=socket.gethostname()),
        [
            TaskRunRecord("dead", "t-1", "t", 0, "RUNNING"),
            TaskRunRecord("dead", "t-2", "t", 1, "PENDING"),
        ],
    )
    fresh = DuckDBStore(paths)
    run = fresh.get_run("dead")
    assert run.status == "FAILED" and run.error.startswith(f"crashed: process {pid}")
    assert [t.status for t in fresh.task_runs("dead")] == ["FAILED", "CANCELLED"]


def test_a_live_processs_run_is_left_alone(paths: DagyPaths):
    import os
    import socket

    store = DuckDBStore(paths)
    store.create_run(
        _run(
            "live",
            pid=os.getpid(),
            pid_started=process_start_time(os.getpid()),
            host=socket.gethostname(),
        )
    )
    assert DuckDBStore(paths).get_run("live").status == "RUNNING"


def _hold_lock(paths: DagyPaths, seconds: float) -> subprocess.Popen[str]:
    DuckDBStore(paths).list_runs()  # create the file first
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('held', flush=True); "
            "time.sleep(float(sys.argv[2])); c.close()",
            str(paths.db),
            str(seconds),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "held"
    return holder


def test_operations_wait_for_another_processs_brief_hold(paths: DagyPaths):
    holder = _hold_lock(paths, 0.7)
    started = time.monotonic()
    assert DuckDBStore(paths, lock_timeout=10).list_runs() == []
    assert time.monotonic() - started >= 0.3
    holder.wait()


def test_a_long_hold_gives_a_clear_store_busy_error(paths: DagyPaths):
    holder = _hold_lock(paths, 5)
    try:
        with pytest.raises(
            StoreBusyError, match=r"is in use by another process \(PID \d+\); gave up after 0.3s"
        ):
            DuckDBStore(paths, lock_timeout=0.3).list_runs()
    finally:
        holder.kill()
        holder.wait()


def test_a_new_home_is_private_to_its_owner(paths: DagyPaths):
    DuckDBStore(paths).list_runs()
    assert paths.home.stat().st_mode & 0o777 == 0o700


def test_a_query_interrupted_by_ctrl_c_surfaces_as_keyboard_interrupt(tmp_path):
    """DuckDB answers an interrupt with its own error; the store hands callers the Ctrl+C it was,
    so a `dagy run` interrupted during a store write is cancelled (exit 130), not an internal
    error (exit 70)."""
    import threading

    store = DuckDBStore(DagyPaths(tmp_path / "home"))
    stop = threading.Event()
    with pytest.raises(KeyboardInterrupt), store.connection() as con:

        def interrupt() -> None:  # until the query has been stopped, however long it takes
            while not stop.wait(0.01):
                con.interrupt()

        thread = threading.Thread(target=interrupt)
        thread.start()
        try:
            con.execute("SELECT count(*) FROM range(1000000000000) a").fetchall()
        finally:
            stop.set()
            thread.join()

"""What a run writes to the store, and when: a short run closes the file without a checkpoint (its
small write-ahead log stays for the next open to replay), and a kill -9 before the run's first batch
reached the store still loses no task that had finished."""

from __future__ import annotations

import json
import time
from pathlib import Path

import _duckdb
import pytest

from dagy.config.paths import DagyPaths
from dagy.store import duckdb_store
from dagy.store.duckdb_store import DuckDBStore
from tests.conftest import popen_dagy
from tests.engine.test_task_files import FLOWS

SINGLE = """
from dagy import flow, task

@task
def source() -> int:
    return 7

@flow
def single():
    return source()
"""


def _succeeded_events(events: Path) -> set[str]:
    if not events.exists():
        return set()
    done = set()
    for line in events.read_bytes().splitlines():
        event = json.loads(line)
        if event["k"] == "task" and event["v"]["status"] == "SUCCEEDED":
            done.add(event["v"]["task_run_id"])
    return done


def test_kill_9_before_the_first_batch_keeps_every_finished_task(
    run_dagy, write_flow, paths: DagyPaths, tmp_path
):
    flows = write_flow(FLOWS)
    folder = tmp_path / "signal"
    folder.mkdir()
    proc = popen_dagy("run", f"{flows}:quick_then_hold", "--param", f"folder={folder}")
    silent = {f"silent-{i + 1}" for i in range(4)}
    try:
        deadline = time.monotonic() + 60
        while not (folder / "holding").exists():
            assert time.monotonic() < deadline, "the flow never reached its holding task"
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.01)
        # Killed as soon as the finished tasks are in the run's events.jsonl: the run holds the
        # store file and has most likely not written a batch to it yet.
        (run_dir,) = paths.runs.iterdir()
        while not silent <= _succeeded_events(run_dir / "events.jsonl"):
            assert time.monotonic() < deadline, "the finished tasks never reached events.jsonl"
            time.sleep(0.005)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == -9
    run_id = run_dir.name
    listed = run_dagy("runs", "list").stdout
    assert listed.startswith(f"{run_id} FAILED ")
    records = {t.task_run_id: t for t in DuckDBStore(paths).task_runs(run_id)}
    assert records["hold-1"].status == "FAILED"
    for i in range(4):
        record = records[f"silent-{i + 1}"]
        assert record.status == "SUCCEEDED"
        assert json.loads(Path(record.artifact_path or "").read_text()) == i * 2


def test_short_runs_leave_a_log_every_reader_replays(
    run_dagy, write_flow, paths: DagyPaths, monkeypatch: pytest.MonkeyPatch
):
    flows = write_flow(SINGLE)
    wal = paths.db.with_name(paths.db.name + ".wal")
    ids = []
    for _ in range(2):
        done = run_dagy("run", f"{flows}:single")
        assert done.returncode == 0, done.stderr
        ids.append(done.stdout.split()[2])
        # The run that created the file checkpoints it (the schema is not replayed by every
        # open); the next one leaves its small log for the next open to replay.
        assert wal.exists() == (len(ids) == 2)
    listed = run_dagy("runs", "list").stdout.splitlines()
    assert [line.split()[:2] for line in listed[:2]] == [
        [ids[1], "SUCCEEDED"],
        [ids[0], "SUCCEEDED"],
    ]
    # A read-only open (what `dagy sql` does) sees the same rows.
    con = _duckdb.connect(str(paths.db), read_only=True)
    try:
        rows = con.execute("SELECT run_id, status, output FROM runs ORDER BY created_at").fetchall()
    finally:
        con.close()
    assert rows == [(ids[0], "SUCCEEDED", "7"), (ids[1], "SUCCEEDED", "7")]
    # Past the threshold, closing the file folds the log back into it.
    monkeypatch.setattr(duckdb_store, "CHECKPOINT_WAL_BYTES", 0)
    store = DuckDBStore(paths)
    with store.connection():
        pass
    assert not wal.exists()
    assert [r.run_id for r in store.list_runs()] == [ids[1], ids[0]]
    assert [t.status for t in store.task_runs(ids[0])] == ["SUCCEEDED"]

"""SharedStore picks the server or the file per operation; RemoteStore speaks the loopback routes."""

from __future__ import annotations

import datetime as _dt
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dagy.config import server_file
from dagy.config.paths import DagyPaths
from dagy.config.processes import process_start_time
from dagy.errors import APIError, RunNotFoundError, StoreBusyError
from dagy.store import wire
from dagy.store.records import RunRecord, TaskRunRecord, utcnow
from dagy.store.remote import RemoteStore
from dagy.store.shared import SharedStore


def _run(run_id: str, **kw) -> RunRecord:
    defaults = dict(flow_name="f", flow_version="1", status="RUNNING", created_at=utcnow())
    return RunRecord(run_id=run_id, **{**defaults, **kw})


def _tasks(run_id: str, n: int, status: str = "PENDING") -> list[TaskRunRecord]:
    return [TaskRunRecord(run_id, f"t-{i}", "t", i, status) for i in range(n)]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_records_survive_the_wire_with_their_timestamps():
    moment = _dt.datetime(2026, 3, 4, 12, 0, 0, 123456)
    run = _run("r1", created_at=moment, started_at=moment, parameters='{"a": 1}', max_workers=4)
    assert wire.decode_run(wire.encode_run(run)) == run
    task = TaskRunRecord("r1", "t-1", "t", 0, "SUCCEEDED", started_at=moment, ended_at=None)
    assert wire.decode_task_runs(wire.encode_task_runs([task])) == [task]
    changes = {"status": "SUCCEEDED", "ended_at": moment, "events_offset": 120}
    assert wire.decode_changes(wire.encode_changes(changes)) == changes


@pytest.mark.parametrize(
    "decode, data",
    [
        (wire.decode_changes, {"no_such_field": 1}),
        (wire.decode_changes, {"ended_at": "yesterday"}),
        (wire.decode_run, {"run_id": "r1"}),
        (wire.decode_task_runs, {"columns": ["run_id", "bogus"], "rows": []}),
        (wire.decode_task_runs, {"columns": ["run_id"], "rows": [["a", "b"]]}),
    ],
)
def test_a_body_that_is_no_record_is_refused(decode, data):
    with pytest.raises(wire.WireError):
        decode(data)


def test_without_a_server_the_file_is_used(paths: DagyPaths):
    store = SharedStore(paths)
    store.create_run(_run("r1"), _tasks("r1", 2))
    store.apply("r1", {"status": "SUCCEEDED"}, _tasks("r1", 2, "SUCCEEDED"))
    with store.connection():
        assert store.get_run("r1").status == "SUCCEEDED"
        assert [t.status for t in store.task_runs("r1")] == ["SUCCEEDED"] * 2
    assert paths.db.exists()


def test_a_stale_server_file_is_ignored(paths: DagyPaths):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    info = server_file.ServerInfo(
        dead.pid, None, "http://127.0.0.1:9", "http://127.0.0.1:9/v1", "x", ""
    )
    server_file.write(paths, info)
    store = SharedStore(paths, lock_timeout=1)
    store.create_run(_run("r1"))
    assert store.get_run("r1") is not None


def test_with_a_live_server_every_call_goes_through_it(server_factory, paths: DagyPaths):
    server = server_factory("--local")
    store = SharedStore(paths)
    store.create_run(_run("r1", org_id="someone-else"), _tasks("r1", 3))
    with store.connection():
        store.apply(
            "r1", {"status": "SUCCEEDED", "ended_at": utcnow()}, _tasks("r1", 3, "SUCCEEDED")
        )
        run = store.get_run("r1")
        assert run is not None and run.org_id == "personal"  # rows land in the token's org
        assert [t.org_id for t in store.task_runs("r1")] == ["personal"] * 3
    assert store.get_run("r1", org_id="someone-else") is None
    assert [r.run_id for r in store.list_runs(status="succeeded")] == ["r1"]
    assert store.count_runs(flow_name="f") == 1 and store.count_runs(status="FAILED") == 0
    store.create_run(_run("r2", status="FAILED"))
    assert store.runs_to_prune(1) == ["r1"]
    store.mark_pruned(["r1"])
    assert store.get_run("r1").files_pruned and store.runs_to_prune(1) == []
    with pytest.raises(RunNotFoundError):
        store.apply("nope", {"status": "FAILED"}, [])
    assert store._local is None  # never opened (nor imported) the file
    with pytest.raises(APIError) as conflict:  # a create is never applied twice
        RemoteStore(server_file.read(paths)).create_run(_run("r1"))
    assert conflict.value.status_code == 409
    assert server.proc.poll() is None


def test_the_store_moves_to_the_file_when_the_server_stops(server_factory, paths: DagyPaths):
    server = server_factory("--local")
    store = SharedStore(paths)
    store.create_run(_run("r1"), _tasks("r1", 2))
    assert server.stop() == 0
    store.apply("r1", {"status": "SUCCEEDED"}, _tasks("r1", 2, "SUCCEEDED"))
    assert store.get_run("r1").status == "SUCCEEDED"
    assert store._local is not None


def test_a_locked_file_gives_a_plain_store_busy_error(paths: DagyPaths):
    paths.ensure_home()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; con = duckdb.connect(sys.argv[1]); print('held', flush=True); "
            "time.sleep(120)",
            str(paths.db),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        started = time.monotonic()
        with pytest.raises(StoreBusyError) as busy:
            SharedStore(paths, lock_timeout=0.6).list_runs()
        assert 0.5 < time.monotonic() - started < 60  # gave up: the holder keeps it 120 s
        started = time.monotonic()
        with pytest.raises(StoreBusyError, match=r"gave up after 0\.05s"):  # a mid-run flush
            SharedStore(paths).apply("r1", {"status": "RUNNING"}, [], timeout=0.05)
        assert time.monotonic() - started < 60
    finally:
        holder.kill()
        holder.wait()
    message = str(busy.value)
    assert "in use by another process" in message and "gave up after 0.6s" in message
    assert "Could not set lock" not in message and "Conflicting" not in message


def test_a_live_server_that_does_not_answer_is_a_store_busy_error(paths: DagyPaths):
    url = f"http://127.0.0.1:{_free_port()}"
    info = server_file.ServerInfo(
        os.getpid(), process_start_time(os.getpid()), url, url + "/v1", "tok", ""
    )
    server_file.write(paths, info)
    with pytest.raises(StoreBusyError, match="does not answer"):
        SharedStore(paths, lock_timeout=0.3).get_run("r1")
    assert not paths.db.exists()


def test_the_cli_store_helpers_do_not_import_duckdb(tmp_path: Path):
    code = (
        "import sys\n"
        "from dagy.services import runs\n"
        "from dagy.store.shared import open_store\n"
        "open_store()\n"
        "print('duckdb' in sys.modules)\n"
    )
    env = {**os.environ, "DAGY_LOCAL_DIR": str(tmp_path / "home")}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert out.stdout.strip() == "False"

"""Restart safety of the run queue: a killed or stopped server, and what the next one does.

Runs append a line per task execution to a tally file (with the executing process's pid), so
"nothing ran twice" is counted rather than assumed.
"""

from __future__ import annotations

import signal
from pathlib import Path

import duckdb

from tests.conftest import pid_alive
from tests.server.runs_support import (
    get,
    register,
    start,
    tally,
    trigger,
    wait_status,
    wait_until,
    write_flows,
)


def gated(server, gate: Path, counts: Path, tag: str) -> str:
    body = trigger(
        server,
        flow_name="gated",
        flow_version="1.0.0",
        parameters={"gate": str(gate), "tally": str(counts), "tag": tag},
    )
    return str(body["run_id"])


def trigger_event(server, run_id: str) -> dict:
    items = get(server, f"/events?run_id={run_id}&type=flow_trigger")["items"]
    assert len(items) == 1, items
    return items[0]


def test_a_killed_server_fails_its_running_run_and_runs_the_queued_one_after_restart(tmp_path):
    home = tmp_path / "home"
    server = start(home, tmp_path, workers=1)
    gate_a, gate_b = tmp_path / "gate-a", tmp_path / "gate-b"
    counts_a, counts_b = tmp_path / "tally-a", tmp_path / "tally-b"
    gate_b.touch()
    run_a = gated(server, gate_a, counts_a, "a")
    child = int(wait_until(lambda: tally(counts_a), what="run a's task")[0].split()[1])
    run_b = gated(server, gate_b, counts_b, "b")
    assert get(server, f"/runs/{run_b}")["status"] == "queued"

    server.stop(signal.SIGKILL)
    wait_until(lambda: not pid_alive(child), 30, "the run's child to die with its server")

    server = start(home, tmp_path, workers=1)
    try:
        failed = wait_status(server, run_a, "failed")
        assert failed["error"].startswith(f"crashed: process {child} on ")
        assert failed["error"].endswith("exited before the run finished")
        assert wait_status(server, run_b, "completed")["output"] == "b"
        assert len(tally(counts_a)) == 1 and len(tally(counts_b)) == 1  # nothing ran twice
        event_a = trigger_event(server, run_a)
        assert event_a["status"] == "failed" and event_a["error"] == failed["error"]
        event_b = wait_until(lambda: (e := trigger_event(server, run_b))["status"] == "done" and e)
        assert event_b["attempts"] == 1
        assert server.request("GET", "/health")[0] == 200
    finally:
        server.stop()


def test_a_graceful_stop_cancels_running_runs_and_keeps_queued_ones(tmp_path):
    home = tmp_path / "home"
    server = start(home, tmp_path, workers=1)
    gate, counts = tmp_path / "gate", tmp_path / "tally"
    running = gated(server, gate, counts, "r")
    child = int(wait_until(lambda: tally(counts), what="the task")[0].split()[1])
    queued = trigger(server, flow_name="quick", flow_version="1.0.0")["run_id"]

    # A stop that waited for the run would wait for the gate (never opened; its task gives up
    # after 60 s): within 45 s and with exit code 0 only when the run was cancelled.
    assert server.stop(signal.SIGTERM, timeout=45) == 0
    assert not pid_alive(child)

    server = start(home, tmp_path, workers=1)
    try:
        run = get(server, f"/runs/{running}")
        assert run["status"] == "cancelled"
        assert run["error"] == "RunCancelledError: Run cancelled: the server shut down"
        assert trigger_event(server, running)["status"] == "done"
        assert wait_status(server, queued, "completed")["output"]["total"] == 6
        assert len(tally(counts)) == 1
    finally:
        server.stop()


def test_events_left_processing_are_put_in_order_at_start(tmp_path):
    """A server killed between claiming an event and its child starting the run: the run never
    reached RUNNING, no task of it ran, so it is queued again (until the third such start); a
    finished run's event is done."""
    from dagy.config.paths import DagyPaths
    from dagy.services.runs import trigger as execution
    from dagy.store.duckdb_store import DuckDBStore

    home = tmp_path / "home"
    flows_file = write_flows(tmp_path / "code")
    register(home, flows_file)
    store = DuckDBStore(DagyPaths(home))
    never_started = execution.trigger_run(
        store, "personal", "test", flow_name="quick", flow_version="1.0.0"
    )
    finished = execution.trigger_run(
        store, "personal", "test", flow_name="quick", flow_version="1.0.0"
    )
    given_up = execution.trigger_run(
        store, "personal", "test", flow_name="quick", flow_version="1.0.0"
    )
    con = duckdb.connect(str(home / "dagy.duckdb"))
    con.execute("UPDATE events SET status = 'processing', attempts = 1")
    con.execute("UPDATE events SET attempts = 3 WHERE run_id = ?", [given_up.run_id])
    con.execute("UPDATE runs SET status = 'CANCELLED' WHERE run_id = ?", [finished.run_id])
    con.close()

    server = start(home, tmp_path)
    try:
        assert wait_status(server, never_started.run_id, "completed")["output"]["total"] == 6
        event = wait_until(
            lambda: (e := trigger_event(server, never_started.run_id))["status"] == "done" and e
        )
        assert event["attempts"] == 2
        assert trigger_event(server, finished.run_id)["status"] == "done"
        assert get(server, f"/runs/{finished.run_id}")["status"] == "cancelled"
        failed = get(server, f"/runs/{given_up.run_id}")
        assert failed["status"] == "failed" and failed["started_at"] is None
        assert failed["error"] == "crashed: the server stopped 3 times before the run started"
    finally:
        server.stop()

"""The scheduler across server downtime: every due time fires exactly once through a kill -9 and
a restart, and after downtime each catchup policy fires what it promises.

Each scheduled run carries ``scheduled_at:<due time>`` in its tags, so "once each" is counted in
the store rather than assumed.
"""

from __future__ import annotations

import datetime as dt
import json
import signal
import time
from pathlib import Path

import duckdb

from dagy.config.paths import DagyPaths
from dagy.services.triggers import schedules
from dagy.store import schedules as schedule_sql
from dagy.store.duckdb_store import DuckDBStore
from dagy.store.records import utcnow
from tests.server.runs_support import get, register, start, wait_until, write_flows


def scheduled_times(home: Path, schedule_id: str) -> list[dt.datetime]:
    """The due time of every run of the schedule, read from the store file (no server running)."""
    con = duckdb.connect(str(home / "dagy.duckdb"), read_only=True)
    try:
        rows = con.execute(
            "SELECT tags FROM runs WHERE tags LIKE ?", [f'%schedule:{schedule_id}"%']
        )
        tags = [json.loads(row[0]) for row in rows.fetchall()]
    finally:
        con.close()
    return sorted(
        dt.datetime.fromisoformat(t.split(":", 1)[1].rstrip("Z"))
        for run_tags in tags
        for t in run_tags
        if t.startswith("scheduled_at:")
    )


def count_runs(server, schedule_id: str) -> int:
    return sum(
        f"schedule:{schedule_id}" in get(server, f"/runs/{item['run_id']}")["tags"]
        for item in get(server, "/runs?limit=100")["items"]
    )


def test_each_due_time_fires_exactly_once_across_a_kill_and_a_restart(tmp_path):
    home = tmp_path / "home"
    env = {"DAGY_SCHEDULER_TICK": "0.05", "DAGY_SCHEDULER_GRACE": "0.5"}
    server = start(home, tmp_path, env=env)
    status, _, body = server.request(
        "POST",
        "/schedules",
        token=server.local_token,
        body={
            "schedule_id": "tick",
            "flow_name": "quick",
            "mode": "interval",
            "interval_seconds": 1,
            "catchup_policy": "all",
        },
    )
    assert status == 201, body
    wait_until(lambda: count_runs(server, "tick") >= 3, 20, "three scheduled runs")
    server.stop(signal.SIGKILL)
    time.sleep(2.5)  # due times pass while no server runs

    server = start(home, tmp_path, env=env)
    before = count_runs(server, "tick")
    wait_until(lambda: count_runs(server, "tick") >= before + 2, 20, "runs after the restart")
    server.stop()

    times = scheduled_times(home, "tick")
    assert len(times) >= 6
    assert len(times) == len(set(times)), "a due time fired twice"
    gaps = {(b - a).total_seconds() for a, b in zip(times, times[1:], strict=False)}
    assert gaps == {1.0}, f"a due time was skipped or off the grid: {times}"


def test_after_downtime_all_fires_every_missed_time_skip_the_latest_and_none_nothing(tmp_path):
    home = tmp_path / "home"
    flows_file = write_flows(tmp_path / "code")
    register(home, flows_file)
    store = DuckDBStore(DagyPaths(home))
    now = utcnow().replace(microsecond=0)
    start_at = now - dt.timedelta(seconds=3300)  # due every 10 minutes: 6 times in the past hour
    for policy in ("all", "skip", "none"):
        schedules.create(
            store,
            "personal",
            {
                "schedule_id": f"catchup-{policy}",
                "flow_name": "quick",
                "mode": "interval",
                "interval_seconds": 600,
                "start_at": start_at.isoformat() + "Z",
                "catchup_policy": policy,
            },
        )
        # As if the server had been down since the first due time.
        schedule_sql.update(store, "personal", f"catchup-{policy}", next_run_at=start_at)
    missed = [start_at + dt.timedelta(seconds=600 * k) for k in range(6)]

    server = start(home, tmp_path, env={"DAGY_SCHEDULER_TICK": "0.05"})
    try:
        wait_until(
            lambda: (
                get(server, "/schedules/catchup-none")["next_run_at"] != missed[0].isoformat() + "Z"
            ),
            10,
            "the scheduler to pass the missed times",
        )
        wait_until(lambda: count_runs(server, "catchup-all") == 6, 10, "six catch-up runs")
        for policy in ("all", "skip", "none"):
            detail = get(server, f"/schedules/catchup-{policy}")
            assert detail["next_run_at"] == (now + dt.timedelta(seconds=300)).isoformat() + "Z"
    finally:
        server.stop()

    assert scheduled_times(home, "catchup-all") == missed
    assert scheduled_times(home, "catchup-skip") == missed[-1:]
    assert scheduled_times(home, "catchup-none") == []

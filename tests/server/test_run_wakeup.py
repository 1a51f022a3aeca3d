"""Queued runs start without waiting for a poll: with the workers' poll and the scheduler's tick
both set to an hour, a triggered run and a schedule's run still run to completion (the queueing
wakes the workers; adding a schedule wakes the scheduler, which then sleeps until it is due)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ServerProcess
from tests.server.runs_support import get, start, trigger, wait_status, wait_until

AN_HOUR = {"DAGY_SERVER_POLL": "3600", "DAGY_SCHEDULER_TICK": "3600"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    tmp: Path = tmp_path_factory.mktemp("wakeup")
    srv = start(tmp / "home", tmp, env=AN_HOUR)
    yield srv
    srv.stop()


def test_a_triggered_run_starts_although_the_workers_poll_hourly(server):
    run = trigger(server, flow_name="quick", flow_version="1.0.0", parameters={"n": 3})
    done = wait_status(server, run["run_id"], "completed", "failed", timeout=90)
    assert done["status"] == "completed" and done["output"]["total"] == 6


def test_a_schedule_fires_and_its_run_starts_although_both_loops_wait_an_hour(server):
    status, _, made = server.request(
        "POST",
        "/schedules",
        token=server.local_token,
        body={
            "schedule_id": "soon",
            "flow_name": "quick",
            "flow_version": "1.0.0",
            "mode": "interval",
            "interval_seconds": 2,
            "parameters": {"n": 2},
        },
    )
    assert status == 201, made

    def scheduled() -> str | None:
        for item in get(server, "/runs?limit=100")["items"]:
            if "schedule:soon" in get(server, f"/runs/{item['run_id']}")["tags"]:
                return str(item["run_id"])
        return None

    run_id = wait_until(scheduled, 90, "the schedule's first run")
    done = wait_status(server, run_id, "completed", "failed", timeout=90)
    assert done["status"] == "completed" and done["output"]["total"] == 2

"""Runs executed by a real `dagy serve`: POST /runs → the queue → a worker's child → completed.

One server per module for the runs that do not need a server of their own (they share its store,
so assertions look at their own run ids); the concurrency tests start servers with their limits.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ServerProcess, pid_alive
from tests.server.runs_support import get, start, tally, trigger, wait_status, wait_until


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, Path]]:
    tmp = tmp_path_factory.mktemp("exec")
    server = start(tmp / "home", tmp, deployments={"quick-prod": ("quick", None)})
    yield server, tmp
    server.stop()


def post(server: ServerProcess, path: str, body: Any = None) -> tuple[int, Any]:
    status, _, answer = server.request("POST", path, token=server.local_token, body=body or {})
    return status, answer


# -- triggering -------------------------------------------------------------------------------------


def test_a_run_triggered_by_flow_version_is_queued_then_executed(shared):
    server, _ = shared
    body = trigger(
        server, flow_name="quick", flow_version="1.0.0", parameters={"n": "4", "label": "api"}
    )
    assert set(body) == {
        "run_id",
        "run_slug",
        "flow_name",
        "flow_version",
        "status",
        "created_at",
        "parameters",
    }
    assert body["status"] == "queued" and body["flow_name"] == "quick"
    assert body["flow_version"] == "1.0.0" and body["run_slug"].startswith("quick-")
    assert body["parameters"] == {"n": 4, "label": "api"}  # coerced before queueing

    done = wait_status(server, body["run_id"], "completed", "failed")
    assert done["status"] == "completed", done["error"]
    assert done["output"] == {"total": 12, "label": "api"}
    assert done["parameters"] == {"n": 4, "label": "api"}
    assert done["tags"] == ["api"] and done["deployment_name"] is None
    assert done["executor"] == "local" and done["retry_count"] == 0
    assert done["started_at"] and done["completed_at"]


def test_a_run_of_a_deployment_carries_its_name_tags_and_mode(shared):
    server, _ = shared
    first = trigger(
        server,
        deployment="quick-prod",
        parameters={"n": 2},
        tags=["nightly"],
        execution_mode="micro",
    )
    second = trigger(server, deployment_name="quick-prod")  # the alias some clients send
    third = trigger(server, flow_name="quick", flow_version=1)  # the registration number
    done = wait_status(server, first["run_id"], "completed")
    assert done["deployment_name"] == "quick-prod" and done["output"]["total"] == 2
    assert done["tags"] == ["nightly"] and done["execution_mode"] == "micro"
    for other in (second, third):
        assert wait_status(server, other["run_id"], "completed")["output"]["total"] == 6
    listed = get(server, "/runs?deployment_name=quick-prod&limit=100")
    ids = {item["run_id"] for item in listed["items"]}
    assert {first["run_id"], second["run_id"]} <= ids and third["run_id"] not in ids


@pytest.mark.parametrize(
    ("body", "status", "field", "message"),
    [
        (
            {"deployment": "quick-prod", "parameters": {"n": "abc"}},
            400,
            "parameters.n",
            "ParameterTypeError: Parameter 'n' expects int, got 'abc'",
        ),
        (
            {"deployment": "quick-prod", "parameters": {"m": 1}},
            400,
            "parameters.m",
            "ParameterTypeError: Unknown parameter 'm' for flow 'quick' (parameters: n, label)",
        ),
        (
            {"flow_name": "gated", "flow_version": "1.0.0", "parameters": {"tally": "t"}},
            400,
            "parameters.gate",
            "ParameterTypeError: Missing required parameter 'gate' for flow 'gated'",
        ),
        ({"deployment": "quick-prod", "parameters": [1]}, 400, "parameters", "Invalid parameters"),
        ({"deployment": "quick-prod", "executor": "kubernetes"}, 400, "executor", None),
        ({"deployment": "quick-prod", "execution_mode": "huge"}, 400, "execution_mode", None),
        ({"deployment": "quick-prod", "tags": "x"}, 400, "tags", "Invalid tags"),
        ({"deployment": "quick-prod", "parameter": {}}, 400, "parameter", None),
        ({"flow_name": "quick"}, 400, "flow_version", None),
        ({}, 400, "flow_name", None),
        ({"deployment": "nope"}, 404, None, "Deployment not found: nope"),
        ({"flow_name": "quick", "flow_version": "9.9"}, 404, None, None),
    ],
)
def test_bad_triggers_are_refused_before_anything_is_queued(shared, body, status, field, message):
    server, _ = shared
    before = counts(server)
    code, answer = post(server, "/runs", body)
    assert code == status, answer
    if field:
        assert field in answer["details"], answer
    if message:
        assert answer["message"] == message
    assert counts(server) == before  # no run, no event


def counts(server: ServerProcess) -> list[str]:
    """The metrics lines that count runs and queued events."""
    text = get(server, "/metrics")
    return [line for line in text.splitlines() if line.startswith(("dagy_runs_t", "dagy_queue"))]


def test_execute_false_records_a_run_that_no_worker_takes(shared):
    server, _ = shared
    body = trigger(server, deployment="quick-prod", execute=False)
    run = get(server, f"/runs/{body['run_id']}")
    assert run["status"] == "queued" and run["started_at"] is None
    assert get(server, f"/events?run_id={body['run_id']}")["items"] == []
    code, cancelled = post(server, f"/runs/{body['run_id']}/cancel")
    assert code == 200 and cancelled["status"] == "cancelled" and cancelled["cancelled_at"]


# -- logs, events, metrics --------------------------------------------------------------------------


def test_logs_page_by_byte_offset_and_read_a_task_run(shared):
    server, _ = shared
    run_id = trigger(server, deployment="quick-prod", parameters={"n": 3})["run_id"]
    wait_status(server, run_id, "completed")
    seen: list[dict[str, Any]] = []
    token = None
    while True:
        query = f"/runs/{run_id}/logs?limit=2" + (f"&next_token={token}" if token else "")
        page = get(server, query)
        assert len(page["events"]) <= 2
        seen += page["events"]
        token = page["next_token"]
        if token is None:
            break
    everything = get(server, f"/runs/{run_id}/logs")
    assert everything["events"] == seen and everything["next_token"] is None
    assert seen[0]["message"].startswith(f"[INFO] run {run_id} started flow=quick:1.0.0")
    assert seen[-1]["message"] == f"[INFO] run {run_id} finished status=SUCCEEDED"
    assert all(e["timestamp"].endswith("Z") and e["ingestion_time"].endswith("Z") for e in seen)
    task = get(server, f"/runs/{run_id}/logs?task_run_id=double-1")["events"]
    assert task[0]["message"].startswith("[INFO] attempt 1 of double-1 started")
    for path, code in [
        (f"/runs/{run_id}/logs?task_run_id=nope-1", 404),
        ("/runs/no-such-run/logs", 404),
        (f"/runs/{run_id}/logs?next_token=%%%", 400),
        (f"/runs/{run_id}/logs?limit=0", 400),
    ]:
        assert server.request("GET", path, token=server.local_token)[0] == code, path
    status, _, body = server.request(
        "GET",
        f"/runs/{run_id}/logs?task_run_id=..%2F..%2F..%2F..%2Foutside",
        token=server.local_token,
    )
    assert status == 400 and body["error"] == "validation_error"
    assert body["details"] == {"field": "task_run_id"}


def test_events_log_the_trigger_and_the_end_of_a_run(shared):
    server, _ = shared
    run_id = trigger(server, deployment="quick-prod")["run_id"]
    wait_status(server, run_id, "completed")
    items = wait_until(  # the worker closes the trigger once the child has exited
        lambda: (
            (found := get(server, f"/events?run_id={run_id}")["items"])
            and len(found) == 2
            and found
        )
    )
    assert [(e["type"], e["status"]) for e in items] == [
        ("run_status_update", "done"),
        ("flow_trigger", "done"),
    ]
    trigger_event = items[1]
    assert trigger_event["deployment_name"] == "quick-prod" and trigger_event["attempts"] == 1
    assert trigger_event["claimed_at"] and trigger_event["finished_at"]
    assert items[0]["payload"] == {"status": "completed", "error": None}
    first = get(server, "/events?type=flow_trigger&status=done&limit=1")
    assert len(first["items"]) == 1 and first["next_token"]
    rest = get(server, f"/events?type=flow_trigger&limit=100&next_token={first['next_token']}")
    assert all(e["event_id"] < first["items"][0]["event_id"] for e in rest["items"])
    future = get(server, "/events?start_time=2999-01-01T00:00:00Z")
    assert future["items"] == []
    for query in ("status=nope", "start_time=yesterday", "next_token=WyJ4Il0"):
        status, _, body = server.request("GET", f"/events?{query}", token=server.local_token)
        assert status == 400, (query, body)


def test_metrics_are_prometheus_text(shared):
    server, _ = shared
    run_id = trigger(server, deployment="quick-prod")["run_id"]
    wait_status(server, run_id, "completed")
    status, headers, text = server.request(
        "GET", "/metrics", token=server.local_token, headers={"Accept": "text/plain"}
    )
    assert status == 200 and headers["content-type"].startswith("text/plain; version=0.0.4")
    assert isinstance(text, str)
    values = {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line and not line.startswith("#")
    }
    assert values['dagy_runs_total{status="completed"}'] >= 1
    assert values["dagy_queue_depth"] == 0 and values["dagy_runs_running"] == 0
    assert values["dagy_workers"] == 4
    count = values["dagy_run_duration_seconds_count"]
    assert values['dagy_run_duration_seconds_bucket{le="+Inf"}'] == count >= 1
    buckets = [v for k, v in values.items() if k.startswith("dagy_task_run_duration_seconds_b")]
    assert (
        buckets == sorted(buckets) and buckets[-1] == values["dagy_task_run_duration_seconds_count"]
    )
    assert "# TYPE dagy_run_duration_seconds histogram" in text


# -- retry and a task run's status ------------------------------------------------------------------


def test_retry_reuses_what_succeeded_and_task_status_can_be_set_by_hand(shared):
    server, tmp = shared
    marker, counts = tmp / "marker", tmp / "flaky-tally"
    params = {"marker": str(marker), "tally": str(counts)}
    failed = trigger(server, flow_name="flaky", flow_version="1.0.0", parameters=params)["run_id"]
    body = wait_status(server, failed, "failed")
    assert body["error"] == "TaskFailedError: Task picky failed: RuntimeError: no marker yet"
    code, answer = post(server, f"/runs/{failed}/retry")
    assert code == 202 and answer["retry_of"] == failed and answer["status"] == "queued"
    assert wait_status(server, answer["run_id"], "failed")["retry_count"] == 1

    marker.touch()
    code, again = post(server, f"/runs/{answer['run_id']}/retry")
    assert code == 202
    retried = wait_status(server, again["run_id"], "completed")
    assert retried["output"] == "ok 1" and retried["retry_count"] == 2
    assert retried["tags"] == ["retry"] and retried["parameters"] == params
    assert len(tally(counts)) == 1  # `first` ran once: every retry reused its result

    assert post(server, f"/runs/{again['run_id']}/retry")[0] == 400  # succeeded
    assert post(server, "/runs/no-such-run/retry")[0] == 404

    # The first run failed; mark its failed task run succeeded: the run is completed.
    path = f"/runs/{failed}/task-runs/picky-1/status"
    status, _, changed = server.request(
        "PATCH", path, token=server.local_token, body={"status": "succeeded"}
    )
    assert status == 200, changed
    assert changed == {
        "run_id": failed,
        "task_run_id": "picky-1",
        "status": "succeeded",
        "run_status": "completed",
    }
    run = get(server, f"/runs/{failed}")
    assert run["status"] == "completed" and run["error"] is None
    status, _, changed = server.request(
        "PATCH", path, token=server.local_token, body={"status": "failed"}
    )
    assert status == 200 and changed["run_status"] == "failed"
    assert get(server, f"/runs/{failed}")["error"].startswith("TaskFailedError: Task picky")
    for body, code in [({"status": "done"}, 400), ({}, 400)]:
        assert server.request("PATCH", path, token=server.local_token, body=body)[0] == code
    missing = f"/runs/{failed}/task-runs/nope-1/status"
    assert (
        server.request("PATCH", missing, token=server.local_token, body={"status": "failed"})[0]
        == 404
    )
    audit = get(server, "/audit-logs?resource_type=task_run&limit=100")["items"]
    assert any(e["resource_id"] == "picky-1" for e in audit)


# -- misbehaving tasks and cancel -------------------------------------------------------------------


def test_a_task_that_kills_its_process_fails_the_run_and_nothing_else(shared):
    server, _ = shared
    run_id = trigger(server, flow_name="dies", flow_version="1.0.0")["run_id"]
    body = wait_status(server, run_id, "failed")
    assert body["error"].startswith("crashed: process ")
    assert body["error"].endswith(" exited with code 1 before the run finished")
    items = get(server, f"/events?run_id={run_id}&type=flow_trigger")["items"]
    assert items[0]["status"] == "failed" and items[0]["error"] == body["error"]
    last = get(server, f"/runs/{run_id}/logs")["events"][-1]["message"]
    assert last == f"[ERROR] run {run_id} finished status=FAILED error={body['error']}"
    assert server.request("GET", "/health")[0] == 200
    after = trigger(server, deployment="quick-prod")["run_id"]
    assert wait_status(server, after, "completed")["output"]["total"] == 6


def test_a_flow_that_fails_to_build_fails_its_run_with_the_reason(shared):
    server, _ = shared
    run_id = trigger(
        server, flow_name="fragile", flow_version="1.0.0", parameters={"explode": "yes"}
    )["run_id"]
    body = wait_status(server, run_id, "failed")
    assert (
        body["error"] == "FlowBuildError: Flow 'fragile' failed to build: ValueError: boom at build"
    )
    messages = [e["message"] for e in get(server, f"/runs/{run_id}/logs")["events"]]
    assert "about to explode" in messages  # what the child printed is in the run log
    assert messages[-1].startswith(f"[ERROR] run {run_id} finished status=FAILED")
    event = wait_until(
        lambda: (
            (e := get(server, f"/events?run_id={run_id}&type=flow_trigger")["items"][0])["status"]
            == "done"
            and e
        )
    )
    assert event["error"] is None  # the event was processed; the run says why it failed


def test_a_looping_task_is_stopped_by_its_timeout(shared):
    server, tmp = shared
    pidfile = tmp / "times-out.pid"
    run_id = trigger(
        server, flow_name="times_out", flow_version="1.0.0", parameters={"pidfile": str(pidfile)}
    )["run_id"]
    body = wait_status(server, run_id, "failed")
    assert body["error"] == "TaskTimeoutError: Task exceeded timeout of 0.3s"
    child = int(pidfile.read_text())
    wait_until(lambda: not pid_alive(child), 10, "the run's child to exit")


def test_cancel_a_queued_and_a_running_run(tmp_path: Path):
    server = start(tmp_path / "home", tmp_path, workers=1)
    try:
        pidfile = tmp_path / "spin.pid"
        running = trigger(
            server, flow_name="spins", flow_version="1.0.0", parameters={"pidfile": str(pidfile)}
        )["run_id"]
        wait_until(pidfile.exists, what="the spinning task")
        child = int(pidfile.read_text())
        queued = trigger(server, flow_name="quick", flow_version="1.0.0")["run_id"]
        assert get(server, f"/runs/{queued}")["status"] == "queued"  # one worker, and it is busy

        code, body = post(server, f"/runs/{queued}/cancel")
        assert code == 200 and body["status"] == "cancelled" and body["cancelled_at"]
        assert get(server, f"/runs/{queued}")["status"] == "cancelled"
        event = get(server, f"/events?run_id={queued}&type=flow_trigger")["items"][0]
        assert event["status"] == "done"

        code, body = post(server, f"/runs/{running}/cancel")
        assert code == 200 and body == {
            "run_id": running,
            "status": "cancelled",
            "cancelled_at": body["cancelled_at"],
        }
        assert not pid_alive(child)
        run = get(server, f"/runs/{running}")
        assert run["status"] == "cancelled" and run["error"].startswith("RunCancelledError")

        code, body = post(server, f"/runs/{running}/cancel")
        assert code == 400 and body["message"] == "Run cannot be cancelled (already cancelled)"
        assert post(server, "/runs/no-such-run/cancel")[0] == 404
        after = trigger(server, flow_name="quick", flow_version="1.0.0")["run_id"]
        assert wait_status(server, after, "completed")["status"] == "completed"
        assert server.request("GET", "/health")[0] == 200
    finally:
        server.stop()


def test_a_child_that_ignores_sigterm_is_killed_after_the_grace_period(tmp_path: Path):
    server = start(tmp_path / "home", tmp_path, workers=1, env={"DAGY_SERVER_CANCEL_GRACE": "0.5"})
    try:
        pidfile = tmp_path / "spin.pid"
        run_id = trigger(
            server, flow_name="spins", flow_version="1.0.0", parameters={"pidfile": str(pidfile)}
        )["run_id"]
        wait_until(pidfile.exists, what="the spinning task")
        child = int(pidfile.read_text())
        os.kill(child, signal.SIGSTOP)  # a stopped process does not run its SIGTERM handler
        code, body = post(server, f"/runs/{run_id}/cancel")
        assert code == 200 and body["status"] == "cancelled"
        wait_until(lambda: not pid_alive(child), 30, "SIGKILL")  # a stopped process never exits
        assert get(server, f"/runs/{run_id}")["error"] == "RunCancelledError: Run cancelled by user"
    finally:
        server.stop()


# -- concurrency ------------------------------------------------------------------------------------


def test_the_server_runs_at_most_its_workers_at_once_and_singleton_refuses_a_second(tmp_path):
    server = start(
        tmp_path / "home", tmp_path, workers=1, deployments={"gated-prod": ("gated", None)}
    )
    try:
        gate, counts = tmp_path / "gate", tmp_path / "tally"
        params = {"gate": str(gate), "tally": str(counts)}
        first = trigger(server, deployment="gated-prod", parameters=params, singleton=True)
        wait_until(lambda: tally(counts), what="the first run's task")
        second = trigger(server, flow_name="quick", flow_version="1.0.0")
        code, refused = post(
            server, "/runs", {"deployment": "gated-prod", "parameters": params, "singleton": True}
        )
        assert code == 409 and refused["details"] == {"singleton": "max_run_reached"}
        assert get(server, f"/runs/{second['run_id']}")["status"] == "queued"
        metrics = get(server, "/metrics")
        assert "dagy_queue_depth 1" in metrics and "dagy_runs_running 1" in metrics
        gate.touch()
        assert wait_status(server, first["run_id"], "completed")["output"] == "g"
        assert wait_status(server, second["run_id"], "completed")["output"]["total"] == 6
        # Nothing of the deployment is active any more: singleton lets the next one in.
        again = trigger(server, deployment="gated-prod", parameters=params, singleton=True)
        wait_status(server, again["run_id"], "completed")
    finally:
        server.stop()


def test_a_deployments_max_concurrent_runs_holds_its_runs_in_order(tmp_path):
    server = start(
        tmp_path / "home",
        tmp_path,
        workers=3,
        deployments={"one-at-a-time": ("gated", 1), "quick-prod": ("quick", None)},
    )
    try:
        gates = [tmp_path / f"gate-{i}" for i in range(3)]
        counts = tmp_path / "tally"
        ids = [
            trigger(
                server,
                deployment="one-at-a-time",
                parameters={"gate": str(g), "tally": str(counts), "tag": f"r{i}"},
            )["run_id"]
            for i, g in enumerate(gates)
        ]
        wait_until(lambda: tally(counts), what="the first run's task")
        # Another deployment's run is not held behind them.
        other = trigger(server, deployment="quick-prod")["run_id"]
        wait_status(server, other, "completed")
        assert [get(server, f"/runs/{i}")["status"] for i in ids] == ["running", "queued", "queued"]
        for i, gate in enumerate(gates):
            gate.touch()
            wait_status(server, ids[i], "completed")
        assert [line.split()[0] for line in tally(counts)] == ["r0", "r1", "r2"]
    finally:
        server.stop()


# -- orgs -------------------------------------------------------------------------------------------


def test_a_run_triggered_in_another_org_executes_and_stays_there(tmp_path: Path):
    """The child writes its run through the server whatever the run's org (the local token's own
    store routes see only the personal org)."""
    from tests.server.runs_support import register

    home = tmp_path / "home"
    server = start(home, tmp_path)
    status, _, login = server.request("POST", "/auth/login", body={"email": "local@localhost"})
    assert status == 200, login
    status, _, org = server.request(
        "POST", "/orgs", token=login["access_token"], body={"org_name": "Acme"}
    )
    assert status == 201, org
    server.stop()
    register(home, tmp_path / "code" / "exec_flows.py", org_id=org["org_id"])
    server = start(home, tmp_path)
    try:
        status, _, login = server.request(
            "POST", "/auth/login", body={"email": "local@localhost", "org_id": org["org_id"]}
        )
        token = login["access_token"]
        status, _, body = server.request(
            "POST",
            "/runs",
            token=token,
            body={"flow_name": "quick", "flow_version": "1.0.0", "parameters": {"n": 2}},
        )
        assert status == 202, body

        def finished() -> Any:
            answer = server.request("GET", f"/runs/{body['run_id']}", token=token)[2]
            return answer["status"] == "completed" and answer

        run = wait_until(finished, what="the run in the other org")
        assert run["output"] == {"total": 2, "label": "x"}
        # The personal org (the local token's) does not see it.
        assert server.request("GET", f"/runs/{body['run_id']}", token=server.local_token)[0] == 404
        status, _, tasks = server.request(
            "GET", f"/runs/{body['run_id']}/logs?task_run_id=double-1", token=token
        )
        assert status == 200 and tasks["events"]
    finally:
        server.stop()


def test_task_runs_of_a_run_and_its_edges(shared):
    server, _ = shared
    run_id = trigger(server, flow_name="quick", flow_version="1.0.0", parameters={"n": 2})["run_id"]
    wait_status(server, run_id, "completed")
    body = get(server, f"/runs/{run_id}/task-runs")
    assert body["run_id"] == run_id
    assert [(t["task_run_id"], t["status"]) for t in body["items"]] == [
        ("double-1", "SUCCEEDED"),
        ("double-2", "SUCCEEDED"),
        ("total-1", "SUCCEEDED"),
    ]
    assert sorted(map(tuple, body["edges"])) == [("double-1", "total-1"), ("double-2", "total-1")]
    status, _, missing = server.request("GET", "/runs/nope/task-runs", token=server.local_token)
    assert status == 404, missing

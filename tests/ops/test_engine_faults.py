"""Engine and executor faults through a real `dagy serve --local`: a task whose process dies
without reporting an error (the process executor) and a run whose process dies under it each leave
an exception trace naming the run and task run; a task's own exception leaves none."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ServerProcess
from tests.server.runs_support import get, start, trigger, wait_status


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    tmp = tmp_path_factory.mktemp("faults")
    srv = start(tmp / "home", tmp, workers=2, env={"DAGY_RATE_LIMIT_PER_MINUTE": "0"})
    try:
        yield srv
    finally:
        srv.stop()


def traces_of(server: ServerProcess, run_id: str) -> list[dict]:
    items = get(server, "/admin/exceptions?limit=100")["items"]
    return [i for i in items if (i.get("run") or {}).get("run_id") == run_id]


def test_a_task_process_that_dies_silently_is_an_executor_trace(server):
    run_id = trigger(server, flow_name="dies", flow_version="1.0.0", executor="process")["run_id"]
    body = wait_status(server, run_id, "failed")
    assert "ChildProcessError" in body["error"]
    [item] = traces_of(server, run_id)
    assert item["kind"] == "executor"
    assert item["exception_type"] == "ChildProcessError"
    assert item["message"] == "task process ended with exit code 1"
    assert item["org_id"] == "personal"
    assert item["run"] == {
        "run_id": run_id,
        "task_run_id": "die-1",
        "flow_name": "dies",
        "executor": "process",
    }
    trace = get(server, f"/admin/exceptions/content?key={item['key']}")
    assert "without reporting an error" in trace["stack"]
    assert "Last lines of the task log" in trace["stack"]


def test_a_run_process_that_dies_is_an_engine_trace(server):
    run_id = trigger(server, flow_name="dies", flow_version="1.0.0")["run_id"]
    body = wait_status(server, run_id, "failed")
    assert body["error"].startswith("crashed: process ")
    [item] = traces_of(server, run_id)
    assert item["kind"] == "engine"
    assert item["exception_type"] == "RunCrashedError"
    assert item["message"] == body["error"]
    assert item["run"]["flow_name"] == "dies" and item["run"]["task_run_id"] is None


def test_a_task_that_raises_leaves_no_trace(server, tmp_path: Path):
    run_id = trigger(
        server,
        flow_name="flaky",
        flow_version="1.0.0",
        parameters={"marker": str(tmp_path / "absent"), "tally": str(tmp_path / "tally")},
    )["run_id"]
    body = wait_status(server, run_id, "failed")
    assert "no marker yet" in body["error"]
    assert traces_of(server, run_id) == []


class BrokenExecutor:
    """An executor plugin that cannot start anything (its submit raises)."""

    name = "broken"

    def __init__(self, completions: object, max_workers: int) -> None:
        pass

    def submit(self, attempt: object) -> None:
        raise ConnectionError("cluster unreachable with token=abcd1234efgh")

    def cancel(self, attempt: object) -> None:
        pass

    def shutdown(self) -> None:
        pass


def test_an_executor_that_raises_fails_its_task_and_leaves_a_trace(paths, write_flow, monkeypatch):
    from dagy.engine import executors
    from dagy.sdk.loader import load_flow
    from dagy.services import traces
    from dagy.services.runs.execute import RunSettings, run_flow

    monkeypatch.setitem(executors.BUILTIN, "broken", BrokenExecutor)
    file = write_flow(
        """
        from dagy import flow, task

        @task
        def one() -> int:
            return 1

        @flow(name="unlucky", version="1.0.0")
        def unlucky():
            return one()
        """,
        "unlucky_flows",
    )
    run = run_flow(
        load_flow(f"{file}:unlucky"), {}, settings=RunSettings(executor="broken"), paths=paths
    )
    assert run.status == "FAILED"
    assert "ExecutorError: executor broken could not start the task" in (run.error or "")
    [item] = traces.list_traces(paths)["items"]
    assert item["kind"] == "executor" and item["exception_type"] == "ExecutorError"
    assert item["run"]["run_id"] == run.run_id and item["run"]["task_run_id"] == "one-1"
    trace = traces.content(paths, item["key"])
    assert "ConnectionError" in trace["stack"] and "abcd1234efgh" not in json.dumps(trace)

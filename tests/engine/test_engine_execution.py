"""The engine through run_flow: parallelism, hydration, artifacts, logs, fail-fast, retries."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from dagy import flow, get_run_logger, task
from dagy.config.paths import DagyPaths
from dagy.services.runs.execute import RunSettings, run_flow
from dagy.store.duckdb_store import DuckDBStore

barrier = threading.Barrier(3, timeout=60)
calls: dict[str, int] = {}
gate = threading.Event()


@task
def meet(i: int) -> int:
    barrier.wait()  # only passes when three tasks run at the same time
    print(f"printed by {i}")
    get_run_logger().info("logged by %s", i)
    return i * 10


@task
def add(values: list[int]) -> int:
    return sum(values)


@flow(name="parallel", version="2.0.0")
def parallel_flow():
    return add([meet(i) for i in range(3)])


@task
def boom(x: int) -> int:
    raise ValueError(f"boom {x}")


@task
def wait_for_gate(x: int) -> int:
    gate.wait(10)
    return x


@task
def ident(x: int) -> int:
    calls["ident"] = calls.get("ident", 0) + 1
    return x


@flow
def fail_fast_flow():
    return add([ident(boom(1)), wait_for_gate(2)])


@flow
def branches():
    return [ident(boom(1)), ident(2)]


@task(retries=2, retry_delay_seconds=0.2)
def flaky(x: int) -> int:
    calls["flaky"] = calls.get("flaky", 0) + 1
    if calls["flaky"] < 2:
        raise RuntimeError("first try fails")
    return x


@flow
def retry_flow():
    return flaky(7)


@task(timeout_seconds=0.3)
def hang(x: int) -> int:
    time.sleep(20)
    return x


@flow
def timeout_flow():
    return hang(1)


@flow
def two_timeouts_flow():
    return [hang(1), hang(2)]


@task
def unstorable(x: int) -> object:
    return object()


@flow
def unstorable_flow():
    return unstorable(1)


@task
def big(n: int) -> str:
    return "x" * n


@flow
def big_flow(n: int = 500):
    return big(n)


def _store(paths: DagyPaths) -> DuckDBStore:
    return DuckDBStore(paths)


def test_independent_tasks_run_in_parallel_and_results_flow_downstream(paths: DagyPaths):
    record = run_flow(parallel_flow, {}, settings=RunSettings(max_workers=3), paths=paths)
    assert record.status == "SUCCEEDED"
    assert json.loads(record.output) == 30
    tasks = {t.task_run_id: t for t in _store(paths).task_runs(record.run_id)}
    assert [t.status for t in tasks.values()] == ["SUCCEEDED"] * 4
    result = paths.artifact_dir(record.run_id, "add-1") / "result.json"
    assert json.loads(result.read_text()) == 30
    assert tasks["add-1"].artifact_path == str(result)


def test_each_task_log_holds_only_its_own_output_when_tasks_run_concurrently(paths: DagyPaths):
    record = run_flow(parallel_flow, {}, settings=RunSettings(max_workers=3), paths=paths)
    for i in range(3):
        log = paths.task_log(record.run_id, f"meet-{i + 1}").read_text()
        assert f"printed by {i}" in log and f"logged by {i}" in log
        others = {0, 1, 2} - {i}
        assert not any(f"printed by {o}" in log or f"logged by {o}" in log for o in others)


def test_run_and_task_metadata_files_follow_the_layout(paths: DagyPaths):
    record = run_flow(parallel_flow, {}, settings=RunSettings(max_workers=3), paths=paths)
    run_meta = json.loads((paths.run_dir(record.run_id) / "metadata.json").read_text())
    assert run_meta["status"] == "SUCCEEDED" and run_meta["flow_version"] == "2.0.0"
    assert len(run_meta["task_runs"]) == 4
    # A task that wrote to its log has metadata.json beside it; one that wrote nothing (add) has
    # no folder at all, and the run's metadata.json lists it like every task run.
    task_meta = json.loads(
        (paths.task_run_dir(record.run_id, "meet-1") / "metadata.json").read_text()
    )
    assert task_meta["status"] == "SUCCEEDED" and task_meta["attempt"] == 1
    assert not paths.task_run_dir(record.run_id, "add-1").exists()
    (add_meta,) = (t for t in run_meta["task_runs"] if t["task_run_id"] == "add-1")
    assert add_meta["status"] == "SUCCEEDED" and add_meta["attempt"] == 1
    assert "task add-1 succeeded" in paths.run_log(record.run_id).read_text()


def test_fail_fast_cancels_in_flight_and_never_starts_pending(paths: DagyPaths):
    gate.clear()
    calls.clear()
    try:
        record = run_flow(fail_fast_flow, {}, settings=RunSettings(max_workers=2), paths=paths)
    finally:
        gate.set()
    assert record.status == "FAILED"
    assert record.error == "TaskFailedError: Task boom failed: ValueError: boom 1"
    tasks = {t.task_run_id: t for t in _store(paths).task_runs(record.run_id)}
    assert tasks["boom-1"].status == "FAILED"
    assert tasks["wait_for_gate-1"].status == "CANCELLED"
    assert tasks["ident-1"].status == "CANCELLED" and tasks["ident-1"].attempt == 0
    assert tasks["add-1"].status == "CANCELLED"
    assert "ident" not in calls


def test_no_fail_fast_finishes_independent_branches(paths: DagyPaths):
    record = run_flow(
        branches, {}, settings=RunSettings(max_workers=1, fail_fast=False), paths=paths
    )
    assert record.status == "FAILED"
    tasks = {t.task_run_id: t for t in _store(paths).task_runs(record.run_id)}
    assert tasks["boom-1"].status == "FAILED"
    assert tasks["ident-1"].status == "UPSTREAM_FAILED"
    assert tasks["ident-2"].status == "SUCCEEDED"


def test_retries_record_the_attempt_and_wait_the_delay(paths: DagyPaths):
    calls.clear()
    started = time.monotonic()
    record = run_flow(retry_flow, {}, paths=paths)
    assert time.monotonic() - started >= 0.2
    assert record.status == "SUCCEEDED"
    (flaky_run,) = _store(paths).task_runs(record.run_id)
    assert flaky_run.attempt == 2 and flaky_run.max_attempts == 3
    log = paths.task_log(record.run_id, "flaky-1").read_text()
    assert "attempt 1 failed: RuntimeError: first try fails" in log
    assert "attempt 2 succeeded" in log


def test_timeout_fails_the_task_with_the_spec_message(paths: DagyPaths):
    started = time.monotonic()
    record = run_flow(timeout_flow, {}, paths=paths)
    assert time.monotonic() - started < 15  # the task alone takes 20 s: the timeout cut it
    assert record.status == "FAILED"
    assert record.error == "TaskTimeoutError: Task exceeded timeout of 0.3s"


def test_two_timeouts_due_in_the_same_tick_fail_the_run_once(
    paths: DagyPaths, monkeypatch: pytest.MonkeyPatch
):
    """The first timeout fails its task and fail-fast stops the run, which drops the second
    task's deadline: the same tick must not then look the second one up (it raised KeyError)."""
    from dagy.engine import runner

    check = runner._Scheduler._check_timeouts

    def late_check(self: runner._Scheduler) -> None:
        if self.deadlines:
            time.sleep(0.6)  # both 0.3 s deadlines are past when the check runs
        check(self)

    monkeypatch.setattr(runner._Scheduler, "_check_timeouts", late_check)
    record = run_flow(two_timeouts_flow, {}, max_workers=2, paths=paths)
    assert record.status == "FAILED"
    assert record.error == "TaskTimeoutError: Task exceeded timeout of 0.3s"
    statuses = sorted(tr.status for tr in _store(paths).task_runs(record.run_id))
    assert statuses == ["CANCELLED", "FAILED"]


def test_unserialisable_result_names_the_task(paths: DagyPaths):
    record = run_flow(unstorable_flow, {}, paths=paths)
    assert record.status == "FAILED"
    assert record.error.startswith("ArtifactSerializationError: Task 'unstorable' returned a value")


def test_artifact_size_limit_comes_from_the_environment(
    paths: DagyPaths, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("DAGY_LOCAL_ARTIFACT_MAX_BYTES", "100")
    assert run_flow(big_flow, {"n": 50}, paths=paths).status == "SUCCEEDED"
    record = run_flow(big_flow, {"n": 500}, paths=paths)
    assert record.status == "FAILED"
    assert (
        "Task 'big' returned 502 bytes, more than the artifact limit of 100 bytes" in record.error
    )


def test_flow_call_runs_it_and_returns_the_output(dagy_home: Path):
    assert big_flow(n=3) == "xxx"


def test_flow_call_raises_when_the_run_fails(dagy_home: Path):
    from dagy import LocalExecutionError

    with pytest.raises(LocalExecutionError, match="Task boom failed"):
        branches()

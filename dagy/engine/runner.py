"""The scheduler: runs a FlowSpec's task runs in dependency order on executors.

All state changes happen on the calling thread; executors only run attempts and report Outcomes on
one queue. Retries, timeouts and fail-fast are decided here, so every executor gets them for free.
"""

from __future__ import annotations

import heapq
import queue
import random
import time
import traceback
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dagy.config.paths import DagyPaths
from dagy.engine import artifacts, control
from dagy.engine.control import ControlFlow, MapState
from dagy.engine.executors import Attempt, Executor, Outcome, executor_class, write_task_metadata
from dagy.engine.recorder import SYNC_INTERVAL, Recorder
from dagy.errors import DependencyCycleError, InvalidInputError
from dagy.sdk import _codec
from dagy.sdk.spec import FlowSpec, TaskDef
from dagy.store.records import (
    CANCELLED,
    FAILED,
    PENDING,
    RETRYING,
    RUNNING,
    SKIPPED,
    SUCCEEDED,
    UPSTREAM_FAILED,
    TaskRunRecord,
    utcnow,
)

_TICK = 0.5  # longest wait between checks of timeouts, retries and periodic store flushes


# Told of each executor fault (task_run_id, executor, error, what is known of it): a task run
# that failed through no exception of its own. The caller records it (an exception trace).
FaultReporter = Callable[[str, str, str, str], None]


@dataclass(frozen=True)
class EngineOptions:
    max_workers: int = 1
    fail_fast: bool = True
    executor: str = "local"
    max_bytes: int = 5 * 1024 * 1024
    on_fault: FaultReporter | None = None


@dataclass
class EngineResult:
    status: str
    output: str | None  # JSON
    error: str | None  # "TaskFailedError: Task x failed: ..."


def validate(spec: FlowSpec) -> list[str]:
    """A topological order of the task runs; DependencyCycleError for a cycle or a dangling $ref
    (``when`` and ``for_each`` references count), InvalidInputError for an id that a map's child
    (``<map>.<i>``) would take."""
    ids = {tr.task_run_id for tr in spec.task_runs}
    if len(ids) != len(spec.task_runs):
        raise DependencyCycleError()
    waiting: dict[str, int] = {}
    downstream: dict[str, list[str]] = {tid: [] for tid in ids}
    for tr in spec.task_runs:
        deps = control.dependencies(tr)  # without repeats
        if tr.task_name not in spec.tasks or not ids.issuperset(deps):
            raise DependencyCycleError()
        waiting[tr.task_run_id] = len(deps)
        for up in deps:
            downstream[up].append(tr.task_run_id)
    refs: set[str] = set()
    control.collect_refs(spec.outputs, refs)
    if refs - ids:
        raise DependencyCycleError()
    maps = {tr.task_run_id for tr in spec.task_runs if tr.for_each is not None}
    for tid in ids if maps else ():
        parent, _, index = tid.rpartition(".")
        if index.isdigit() and parent in maps:
            raise InvalidInputError(
                f"Task run id {tid!r} is taken by a child of map task run {parent!r}",
                {"task_run_id": tid},
            )
    # Kahn's algorithm on plain dicts: graphlib took ~10 us a task run on every run of a flow.
    order = [tid for tid, count in waiting.items() if count == 0]
    for tid in order:  # grows while it is walked
        for child in downstream[tid]:
            waiting[child] -= 1
            if waiting[child] == 0:
                order.append(child)
    if len(order) != len(ids):
        raise DependencyCycleError()
    return order


class _Scheduler(ControlFlow):
    def __init__(
        self,
        spec: FlowSpec,
        records: dict[str, TaskRunRecord],
        recorder: Recorder,
        paths: DagyPaths,
        callables: Callable[[TaskDef], Callable[..., Any]],
        options: EngineOptions,
        reused_artifacts: dict[str, str],
        reused_children: dict[str, TaskRunRecord],
    ) -> None:
        self.spec = spec
        self.records = records
        self.recorder = recorder
        self.paths = paths
        self.options = options
        self.run_id = recorder.run_id
        self.callables = callables
        self.completions: queue.SimpleQueue[Outcome] = queue.SimpleQueue()
        self.executors: dict[str, Executor] = {}
        self.task_runs = {tr.task_run_id: tr for tr in spec.task_runs}
        self.deps = {tr.task_run_id: control.dependencies(tr) for tr in spec.task_runs}
        self.downstream: dict[str, list[str]] = {tid: [] for tid in self.task_runs}
        self.waiting_on: dict[str, int] = {}
        self.consumers: dict[str, int] = dict.fromkeys(self.task_runs, 0)
        for tid, deps in self.deps.items():
            self.waiting_on[tid] = len(deps)
            for up in deps:
                self.downstream[up].append(tid)
                self.consumers[up] += 1
        self.output_refs: set[str] = set()
        control.collect_refs(spec.outputs, self.output_refs)
        self.values: dict[str, Any] = {}
        self.branches: dict[str, bool] = {}  # condition task run -> the branch it took
        self.artifact_paths: dict[str, str] = dict(reused_artifacts)
        self.inputs: dict[str, tuple[list[Any], dict[str, Any]]] = {}
        self.maps: dict[str, MapState] = {}  # map task runs whose children are running
        self.child_of: dict[str, tuple[MapState, int]] = {}
        self.reused_children = reused_children
        self.next_seq = max((r.seq for r in records.values()), default=-1) + 1
        self.in_flight: dict[str, Attempt] = {}
        self.deadlines: dict[str, float] = {}
        self.retry_heap: list[tuple[float, str]] = []
        self.ready: deque[str] = deque()
        self.error: str | None = None
        self.cancelled = False
        self.stopped = False
        self._task_root = paths.task_run_dir(self.run_id, "x").parent
        self._artifact_root = paths.artifact_dir(self.run_id, "x").parent
        # task_runs/ comes with the first task that writes a log (artifacts.make_dir makes it).
        self._artifact_root.mkdir(parents=True, exist_ok=True)

    # -- helpers ----------------------------------------------------------------------------------

    def _executor(self, name: str) -> Executor:
        found = self.executors.get(name)
        if found is None:
            found = executor_class(name)(self.completions, self.options.max_workers)
            self.executors[name] = found
        return found

    # -- lifecycle --------------------------------------------------------------------------------

    def _start(self, task_run_id: str) -> None:
        record = self.records[task_run_id]
        td = self.spec.tasks[record.task_name]
        try:
            args, kwargs = self._inputs(task_run_id)
        except control.ItemError as exc:
            self._child_failed(record, f"KeyError: {exc}")
            return
        executor_name = td.executor or self.options.executor
        attempt = Attempt(
            run_id=self.run_id,
            task_run_id=task_run_id,
            task_name=record.task_name,
            number=record.attempt + 1,
            # The task function as this process has it, for in-process executors (threads and
            # plugins alike); the process executor's child loads its own from the entrypoint.
            fn=None if executor_name == "process" else self.callables(td),
            args=args,
            kwargs=kwargs,
            task_dir=self._task_root / task_run_id,
            artifact_dir=self._artifact_root / task_run_id,
            max_bytes=self.options.max_bytes,
            timeout_seconds=td.timeout_seconds,
            entrypoint=self.spec.entrypoint,
            module=td.module,
            qualname=td.qualname,
        )
        self.in_flight[task_run_id] = attempt
        if td.timeout_seconds:
            self.deadlines[task_run_id] = time.monotonic() + td.timeout_seconds
        now = utcnow()
        self._set(
            record,
            RUNNING,
            attempt=attempt.number,
            executor=executor_name,
            started_at=record.started_at or now,
            ended_at=None,
        )
        self.recorder.log("INFO", f"task {task_run_id} running attempt={attempt.number}")
        try:
            self._executor(executor_name).submit(attempt)
        except Exception as exc:  # noqa: BLE001 - an executor's fault fails the task, not the run
            error = f"ExecutorError: executor {executor_name} could not start the task: {exc}"
            fault = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
            self.completions.put(Outcome.failed(attempt, now, error, retryable=False, fault=fault))

    def _finish(self, outcome: Outcome) -> None:
        task_run_id = outcome.task_run_id
        attempt = self.in_flight.get(task_run_id)
        if attempt is None or attempt.number != outcome.number:
            return  # the late result of an abandoned attempt
        del self.in_flight[task_run_id]
        self.deadlines.pop(task_run_id, None)
        record = self.records[task_run_id]
        duration = (outcome.ended_at - (record.started_at or outcome.started_at)).total_seconds()
        child = self.child_of.get(task_run_id)
        if outcome.ok:
            if child is None:
                self.values[task_run_id] = self._unwrap(task_run_id, outcome.value)
                if outcome.artifact_path:
                    self.artifact_paths[task_run_id] = outcome.artifact_path
            self.inputs.pop(task_run_id, None)
            self._set(
                record,
                SUCCEEDED,
                ended_at=outcome.ended_at,
                duration_seconds=duration,
                error=None,
                artifact_path=outcome.artifact_path,
            )
            self.recorder.log("INFO", f"task {task_run_id} succeeded attempt={outcome.number}")
            if child is not None:
                self._child_done(*child, value=outcome.value)
            else:
                self._completed(task_run_id)
            return
        if outcome.fault is not None:
            self._report_fault(record, outcome)
        td = self.spec.tasks[record.task_name]
        if outcome.retryable and outcome.number <= td.retries:
            delay = td.retry_delay_seconds
            delay += random.uniform(0, delay * td.retry_jitter_factor)
            heapq.heappush(self.retry_heap, (time.monotonic() + delay, task_run_id))
            self._set(record, RETRYING, error=outcome.error)
            self.recorder.log(
                "WARNING",
                f"task {task_run_id} attempt={outcome.number} failed: {outcome.error}; "
                f"retrying in {delay:.2f}s",
            )
            return
        self.inputs.pop(task_run_id, None)
        if child is not None:
            self._child_failed(record, outcome.error or "failed", outcome.ended_at)
            return
        self._fail(
            record, outcome.error or "failed", ended_at=outcome.ended_at, attempt=outcome.number
        )

    def _report_fault(self, record: TaskRunRecord, outcome: Outcome) -> None:
        report = self.options.on_fault
        if report is None:
            return
        try:
            executor = record.executor or self.options.executor
            report(record.task_run_id, executor, outcome.error or "failed", outcome.fault or "")
        except Exception as exc:  # noqa: BLE001 - recording a fault must not add one
            self.recorder.log(
                "WARNING", f"could not record the fault of {record.task_run_id}: {exc}"
            )

    def _fail(
        self,
        record: TaskRunRecord,
        error: str,
        *,
        ended_at: Any = None,
        attempt: int | None = None,
        run_error: str | None = None,
        timed: bool = True,
    ) -> None:
        """A task run FAILED for good: the run's error, then fail-fast or its downstream."""
        task_run_id = record.task_run_id
        ended_at = ended_at or utcnow()
        started = record.started_at or ended_at
        duration = (ended_at - started).total_seconds() if timed else None
        self._set(record, FAILED, ended_at=ended_at, duration_seconds=duration, error=error)
        where = f" attempt={attempt}" if attempt is not None else ""
        self.recorder.log("ERROR", f"task {task_run_id} failed{where}: {error}")
        if self.error is None:
            self.error = self._run_error(record.task_name, run_error or error)
        if self.options.fail_fast:
            self._stop(f"fail-fast after {task_run_id} failed")
        else:
            self._mark_upstream_failed(task_run_id)

    @staticmethod
    def _run_error(task_name: str, error: str) -> str:
        if error.startswith(("TaskTimeoutError: ", "ArtifactSerializationError: ")):
            return error
        return f"TaskFailedError: Task {task_name} failed: {error}"

    def _mark_upstream_failed(self, failed_id: str) -> None:
        stack = list(self.downstream[failed_id])
        while stack:
            child = stack.pop()
            record = self.records[child]
            if record.status != PENDING:
                continue
            self._set(record, UPSTREAM_FAILED, error=f"upstream task run {failed_id} failed")
            stack.extend(self.downstream[child])

    def _stop(self, reason: str) -> None:
        """Cancel what is in flight and what has not started; nothing new is submitted."""
        self.stopped = True
        now = utcnow()
        for task_run_id, attempt in list(self.in_flight.items()):
            self._executor_for(attempt).cancel(attempt)
            self._set(self.records[task_run_id], CANCELLED, ended_at=now, error=reason)
        self.in_flight.clear()
        self.deadlines.clear()
        self.retry_heap.clear()
        self.ready.clear()
        for record in self.records.values():
            if record.status in (PENDING, RETRYING):
                self._set(
                    record, CANCELLED, ended_at=now if record.started_at else None, error=reason
                )
            elif record.status == RUNNING:  # a map whose children were just cancelled
                self._set(record, CANCELLED, ended_at=now, error=reason)
        self.maps.clear()
        self.recorder.log("WARNING", f"run stopping: {reason}")

    def _executor_for(self, attempt: Attempt) -> Executor:
        return self._executor(self.records[attempt.task_run_id].executor or self.options.executor)

    def _check_timeouts(self) -> None:
        now = time.monotonic()
        for task_run_id, deadline in list(self.deadlines.items()):
            attempt = self.in_flight.get(task_run_id)
            if deadline > now or attempt is None or task_run_id not in self.deadlines:
                # Not yet due, or gone since the snapshot: an earlier timeout of this same tick
                # failed its task and fail-fast stopped the run (in_flight and deadlines cleared).
                continue
            self._executor_for(attempt).cancel(attempt)
            timeout = self.spec.tasks[attempt.task_name].timeout_seconds or 0
            outcome = Outcome.failed(
                attempt,
                self.records[task_run_id].started_at or utcnow(),
                f"TaskTimeoutError: Task exceeded timeout of {timeout:g}s",
            )
            ended = outcome.ended_at
            try:
                artifacts.make_dir(attempt.task_dir)  # a silent task has no folder yet
                write_task_metadata(attempt, outcome, "FAILED")
                with open(attempt.task_dir / "task.log", "a", encoding="utf-8") as log:
                    log.write(
                        f"{ended.isoformat(timespec='milliseconds')}Z ERROR attempt "
                        f"{attempt.number} stopped: {outcome.error}\n"
                    )
            except OSError:
                pass
            self._finish(outcome)

    def _due_retries(self) -> None:
        now = time.monotonic()
        while self.retry_heap and self.retry_heap[0][0] <= now:
            _, task_run_id = heapq.heappop(self.retry_heap)
            self.ready.append(task_run_id)

    def _wait_time(self) -> float:
        wake = time.monotonic() + _TICK
        if self.deadlines:
            wake = min(wake, min(self.deadlines.values()))
        if self.retry_heap:
            wake = min(wake, self.retry_heap[0][0])
        return max(0.0, wake - time.monotonic())

    # -- the loop ---------------------------------------------------------------------------------

    def run(self) -> EngineResult:
        for task_run_id, record in self.records.items():
            if record.status == SUCCEEDED:  # reused from an earlier run (runs retry)
                for child in self.downstream[task_run_id]:
                    self.waiting_on[child] -= 1
        try:
            for tr in self.spec.task_runs:
                if (
                    self.records[tr.task_run_id].status == PENDING
                    and self.waiting_on[tr.task_run_id] == 0
                ):
                    self._became_ready(tr.task_run_id)
            self._loop()
        except KeyboardInterrupt:
            self.cancelled = True
            self._stop("cancelled by user")
        finally:
            for executor in self.executors.values():
                executor.shutdown()
        return self._result()

    def _loop(self) -> None:
        workers = self.options.max_workers
        while True:
            while self.ready and len(self.in_flight) < workers:
                self._start(self.ready.popleft())
            if not self.in_flight and not self.retry_heap:
                return
            self.recorder.sync_files()
            self.recorder.maybe_flush()
            wait = self._wait_time()
            try:
                outcome: Outcome | None = self.completions.get(timeout=min(wait, SYNC_INTERVAL))
            except queue.Empty:
                # Waiting longer: what happened so far reaches the OS first, so a kill -9 while
                # the run waits on a long task loses none of it (a busy run syncs every
                # SYNC_INTERVAL in sync_files above, without a write per task).
                self.recorder.sync_files(force=True)
                try:
                    outcome = self.completions.get(timeout=max(0.0, wait - SYNC_INTERVAL))
                except queue.Empty:
                    outcome = None
            while outcome is not None:
                self._finish(outcome)
                try:
                    outcome = self.completions.get_nowait()
                except queue.Empty:
                    outcome = None
            if self.deadlines:
                self._check_timeouts()
            if self.retry_heap:
                self._due_retries()

    def _result(self) -> EngineResult:
        if self.cancelled:
            return EngineResult(CANCELLED, None, "RunCancelledError: Run cancelled by user")
        if self.error is not None or any(
            r.status not in (SUCCEEDED, SKIPPED) for r in self.records.values()
        ):
            return EngineResult(
                FAILED, None, self.error or "LocalExecutionError: run did not finish"
            )
        output = _codec.decode(self.spec.outputs, self._value)
        return EngineResult(SUCCEEDED, _codec.dumps(output), None)


def execute(
    spec: FlowSpec,
    records: dict[str, TaskRunRecord],
    recorder: Recorder,
    paths: DagyPaths,
    callables: Callable[[TaskDef], Callable[..., Any]],
    options: EngineOptions,
    reused_artifacts: dict[str, str] | None = None,
    reused_children: dict[str, TaskRunRecord] | None = None,
) -> EngineResult:
    """Run every task run of ``spec`` whose record is PENDING; SUCCEEDED records count as done.

    ``reused_children``: an earlier run's succeeded map children (``<map>.<i>``), reused when
    their map's inputs were reused too.
    """
    from dagy.engine import _capture

    _capture.install()
    try:
        return _Scheduler(
            spec,
            records,
            recorder,
            paths,
            callables,
            options,
            reused_artifacts or {},
            reused_children or {},
        ).run()
    finally:
        _capture.uninstall()

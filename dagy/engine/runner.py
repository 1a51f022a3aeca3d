"""The scheduler: runs a FlowSpec's task runs in dependency order on executors.

All state changes happen on the calling thread; executors only run attempts and report Outcomes on
one queue. Retries, timeouts and fail-fast are decided here, so every executor gets them for free.
"""

from __future__ import annotations

import graphlib
import heapq
import queue
import random
import shutil
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dagy.config.paths import DagyPaths
from dagy.engine import artifacts, control
from dagy.engine.control import MapState
from dagy.engine.executors import Attempt, Executor, Outcome, executor_class, write_task_metadata
from dagy.engine.recorder import Recorder
from dagy.errors import ArtifactSerializationError, DependencyCycleError
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


@dataclass(frozen=True)
class EngineOptions:
    max_workers: int = 1
    fail_fast: bool = True
    executor: str = "local"
    max_bytes: int = 5 * 1024 * 1024


@dataclass
class EngineResult:
    status: str
    output: str | None  # JSON
    error: str | None  # "TaskFailedError: Task x failed: ..."


def validate(spec: FlowSpec) -> list[str]:
    """A topological order of the task runs; DependencyCycleError for a cycle or a dangling $ref."""
    ids = {tr.task_run_id for tr in spec.task_runs}
    if len(ids) != len(spec.task_runs):
        raise DependencyCycleError()
    sorter: graphlib.TopologicalSorter[str] = graphlib.TopologicalSorter()
    for tr in spec.task_runs:
        deps = control.dependencies(tr)
        if tr.task_name not in spec.tasks or any(u not in ids for u in deps):
            raise DependencyCycleError()
        sorter.add(tr.task_run_id, *deps)
    refs: set[str] = set()
    control.collect_refs(spec.outputs, refs)
    if refs - ids:
        raise DependencyCycleError()
    try:
        return list(sorter.static_order())
    except graphlib.CycleError:
        raise DependencyCycleError() from None


class _Scheduler:
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
        self._task_root.mkdir(parents=True, exist_ok=True)
        self._artifact_root.mkdir(parents=True, exist_ok=True)

    # -- helpers ----------------------------------------------------------------------------------

    def _executor(self, name: str) -> Executor:
        found = self.executors.get(name)
        if found is None:
            found = executor_class(name)(self.completions, self.options.max_workers)
            self.executors[name] = found
        return found

    def _value(self, task_run_id: str) -> Any:
        """A task run's result as consumers see it: a condition's ``value``, None when SKIPPED."""
        if task_run_id in self.values:
            return self.values[task_run_id]
        if self.records[task_run_id].status == SKIPPED:
            return None
        value = self._unwrap(task_run_id, artifacts.read(self.artifact_paths[task_run_id]))
        self.values[task_run_id] = value
        return value

    def _unwrap(self, task_run_id: str, value: Any) -> Any:
        branch, value = control.split_branch(value)
        if branch is not None:
            self.branches[task_run_id] = branch
        return value

    def _branch(self, task_run_id: str) -> bool | None:
        if task_run_id not in self.branches and self.records[task_run_id].status == SUCCEEDED:
            self._value(task_run_id)  # a reused condition: its artifact holds the branch
        return self.branches.get(task_run_id)

    def _release(self, task_run_id: str) -> None:
        """Inputs of this task run are hydrated: forget upstream values nobody else needs."""
        for up in self.deps[task_run_id]:
            self.consumers[up] -= 1
            if self.consumers[up] == 0 and up not in self.output_refs:
                self.values.pop(up, None)

    def _set(self, record: TaskRunRecord, status: str, **changes: Any) -> None:
        record.status = status
        for key, value in changes.items():
            setattr(record, key, value)
        self.recorder.task(record)

    # -- readiness: skips and maps ----------------------------------------------------------------

    def _completed(self, task_run_id: str) -> None:
        """A task run is done (SUCCEEDED or SKIPPED): its consumers may now be ready."""
        for consumer in self.downstream[task_run_id]:
            self.waiting_on[consumer] -= 1
            if self.waiting_on[consumer] == 0:
                self._became_ready(consumer)

    def _became_ready(self, first: str) -> None:
        """Decide a ready task run: skip it (and what only it feeds), expand a map, or queue it."""
        stack = [first]
        while stack and not self.stopped:
            task_run_id = stack.pop()
            tr = self.task_runs[task_run_id]
            record = self.records[task_run_id]
            why = self._skip_reason(task_run_id)
            if why is None and tr.when is not None and self._branch(tr.when["ref"]) is None:
                self._release(task_run_id)
                self._fail(
                    record,
                    f"ValueError: 'when' names task run {tr.when['ref']}, whose result is not a "
                    'condition\'s {"$branch": true|false, "value": ...}',
                )
                continue
            if why is not None:
                self._release(task_run_id)
                self._set(record, SKIPPED, ended_at=utcnow(), error=None)
                self.recorder.log("INFO", f"task {task_run_id} skipped: {why}")
                for consumer in self.downstream[task_run_id]:
                    self.waiting_on[consumer] -= 1
                    if self.waiting_on[consumer] == 0:
                        stack.append(consumer)
            elif tr.for_each is not None:
                self._expand(task_run_id)
            else:
                self.ready.append(task_run_id)

    def _skip_reason(self, task_run_id: str) -> str | None:
        deps = self.deps[task_run_id]
        if deps and all(self.records[d].status == SKIPPED for d in deps):
            return "every upstream task run was skipped"
        when = self.task_runs[task_run_id].when
        if when is None:
            return None
        ref = when["ref"]
        if self.records[ref].status == SKIPPED:
            return f"its condition {ref} was skipped"
        branch = self._branch(ref)
        if branch is not None and branch != bool(when.get("branch", True)):
            return f"condition {ref} took the {str(branch).lower()} branch"
        return None

    def _expand(self, task_run_id: str) -> None:
        """Start a map: one child task run per element, or a result at once for an empty list."""
        tr = self.task_runs[task_run_id]
        record = self.records[task_run_id]
        items = control.hydrate(tr.for_each, self._value)
        refs: set[str] = set()
        control.collect_refs([tr.args, tr.kwargs], refs)
        values = {ref: self._value(ref) for ref in refs}
        self._release(task_run_id)
        if not isinstance(items, list):
            self._fail(
                record,
                f"TypeError: for_each of task run {task_run_id} must be a list, "
                f"got {type(items).__name__}",
            )
            return
        now = utcnow()
        td = self.spec.tasks[tr.task_name]
        state = MapState(task_run_id, tr.task_name, items, values, [None] * len(items), len(items))
        self.maps[task_run_id] = state
        self._set(record, RUNNING, started_at=record.started_at or now, ended_at=None)
        self.recorder.log("INFO", f"task {task_run_id} mapping over {len(items)} items")
        # Children of an earlier run's map are reused only if this map's inputs were reused too.
        reuse = (
            self.reused_children
            if all(self.records[d].reused_from for d in self.deps[task_run_id])
            else {}
        )
        for index in range(len(items)):
            cid = state.child_id(index)
            child = TaskRunRecord(
                run_id=self.run_id,
                task_run_id=cid,
                task_name=tr.task_name,
                seq=self.next_seq,
                status=PENDING,
                org_id=record.org_id,
                max_attempts=td.retries + 1,
            )
            self.next_seq += 1
            self.records[cid] = child
            self.child_of[cid] = (state, index)
            old = reuse.get(cid)
            if old is not None and old.artifact_path:
                self._reuse_child(child, old, state, index)
            else:
                self.recorder.task(child)
                self.ready.append(cid)
        if state.remaining == 0:
            self._map_done(state)

    def _reuse_child(
        self, child: TaskRunRecord, old: TaskRunRecord, state: MapState, index: int
    ) -> None:
        target = self._artifact_root / child.task_run_id
        artifacts.make_dir(target)
        copied = target / Path(old.artifact_path or "").name
        shutil.copyfile(old.artifact_path or "", copied)
        state.results[index] = control.split_branch(artifacts.read(copied))[1]
        state.remaining -= 1
        child.attempt, child.executor = old.attempt, old.executor
        child.started_at, child.ended_at = old.started_at, old.ended_at
        child.duration_seconds = old.duration_seconds
        self._set(child, SUCCEEDED, artifact_path=str(copied), reused_from=old.run_id)

    def _child_failed(self, record: TaskRunRecord, error: str, ended_at: Any = None) -> None:
        ended_at = ended_at or utcnow()
        started = record.started_at or ended_at
        self._set(
            record,
            FAILED,
            ended_at=ended_at,
            duration_seconds=(ended_at - started).total_seconds(),
            error=error,
        )
        self.recorder.log("ERROR", f"task {record.task_run_id} failed: {error}")
        state, index = self.child_of[record.task_run_id]
        self._child_done(state, index, error=error)

    def _child_done(
        self, state: MapState, index: int, *, value: Any = None, error: str | None = None
    ) -> None:
        if error is None:
            state.results[index] = control.split_branch(value)[1]
        else:
            state.failures.append((state.child_id(index), error))
        state.remaining -= 1
        if state.remaining == 0 or (state.failures and self.options.fail_fast):
            self._map_done(state)

    def _map_done(self, state: MapState) -> None:
        """All children finished (or one failed under fail-fast): the map's own outcome.

        A map has no duration of its own (its children have theirs): what bills compute by task
        run duration must not count the children's time twice.
        """
        del self.maps[state.parent]
        record = self.records[state.parent]
        now = utcnow()
        if state.failures:
            child, error = state.failures[0]
            many = (
                f"{len(state.failures)} children failed, first " if len(state.failures) > 1 else ""
            )
            self._fail(record, f"{many}{child}: {error}", run_error=error, timed=False)
            return
        try:
            data = artifacts.serialize(state.task_name, state.results, self.options.max_bytes)
        except ArtifactSerializationError as exc:
            self._fail(record, f"ArtifactSerializationError: {exc}", timed=False)
            return
        path = str(artifacts.write(self._artifact_root / state.parent, data))
        self.artifact_paths[state.parent] = path
        self.values[state.parent] = state.results
        self._set(
            record,
            SUCCEEDED,
            ended_at=now,
            error=None,
            artifact_path=path,
        )
        self.recorder.log("INFO", f"task {state.parent} succeeded ({len(state.results)} items)")
        self._completed(state.parent)

    # -- lifecycle --------------------------------------------------------------------------------

    def _inputs(self, task_run_id: str) -> tuple[list[Any], dict[str, Any]]:
        found = self.inputs.get(task_run_id)
        if found is not None:
            return found
        child = self.child_of.get(task_run_id)
        if child is not None:
            state, index = child
            tr = self.task_runs[state.parent]
            item = state.items[index]
            args = control.hydrate(tr.args, state.refs.__getitem__, item, index)
            kwargs = control.hydrate(tr.kwargs, state.refs.__getitem__, item, index)
        else:
            tr = self.task_runs[task_run_id]
            args = control.hydrate(tr.args, self._value)
            kwargs = control.hydrate(tr.kwargs, self._value)
            self._release(task_run_id)
        self.inputs[task_run_id] = (args, kwargs)
        return args, kwargs

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
        self._executor(executor_name).submit(attempt)

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
            if deadline > now:
                continue
            attempt = self.in_flight[task_run_id]
            self._executor_for(attempt).cancel(attempt)
            timeout = self.spec.tasks[attempt.task_name].timeout_seconds or 0
            outcome = Outcome.failed(
                attempt,
                self.records[task_run_id].started_at or utcnow(),
                f"TaskTimeoutError: Task exceeded timeout of {timeout:g}s",
            )
            ended = outcome.ended_at
            try:
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
            try:
                outcome: Outcome | None = self.completions.get(timeout=self._wait_time())
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

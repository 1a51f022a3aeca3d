"""Control flow a compiled pipeline puts in its FlowSpec: condition results, ``when`` and ``for_each``.

A condition task run returns ``{"$branch": bool, "value": v}``: the engine remembers the branch and
its consumers get ``v``. A task run with ``when`` runs only if its condition took that branch. A
task run with ``for_each`` is a map: one child task run ``<id>.<i>`` per element of a list, with
``{"$item": [path...]}`` markers in its inputs replaced by the element (or a field of it).

The pure helpers come first; ``ControlFlow`` is the part of the engine's scheduler that applies them.
"""

from __future__ import annotations

import shutil
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dagy.engine import artifacts
from dagy.errors import ArtifactSerializationError
from dagy.sdk import _codec
from dagy.sdk.spec import FlowSpec, TaskRunSpec
from dagy.store.records import (
    FAILED,
    PENDING,
    RUNNING,
    SKIPPED,
    SUCCEEDED,
    TaskRunRecord,
    utcnow,
)

if TYPE_CHECKING:
    from dagy.engine.recorder import Recorder
    from dagy.engine.runner import EngineOptions

BRANCH = "$branch"
ITEM = "$item"


def split_branch(value: Any) -> tuple[bool | None, Any]:
    """(branch, value) of a condition's result; (None, value) for any other result."""
    if (
        type(value) is dict
        and len(value) == 2
        and isinstance(value.get(BRANCH), bool)
        and "value" in value
    ):
        return value[BRANCH], value["value"]
    return None, value


def collect_refs(value: Any, out: set[str]) -> None:
    """Add the task run ids of every ``{"$ref": id}`` inside an encoded value to ``out``."""
    if isinstance(value, list):
        for v in value:
            collect_refs(v, out)
    elif isinstance(value, dict):
        if len(value) == 1 and _codec.REF in value:
            out.add(value[_codec.REF])
        else:
            for v in value.values():
                collect_refs(v, out)


def dependencies(tr: TaskRunSpec) -> list[str]:
    """What a task run waits for: its upstream, its ``when`` condition, its ``for_each`` source."""
    deps = dict.fromkeys(tr.upstream)
    if tr.when is not None and isinstance(tr.when.get("ref"), str):
        deps[tr.when["ref"]] = None
    if tr.for_each is not None:
        refs: set[str] = set()
        collect_refs(tr.for_each, refs)
        deps.update(dict.fromkeys(sorted(refs)))
    return list(deps)


class ItemError(LookupError):
    """An ``$item`` path that the element does not have."""


def pick(element: Any, path: Any, index: int) -> Any:
    """The element, or the field of it that ``path`` names (["a", "b"] is element["a"]["b"])."""
    steps = [path] if isinstance(path, (str, int)) else list(path or [])
    value = element
    for n, step in enumerate(steps):
        if isinstance(value, list) and isinstance(step, str) and step.lstrip("-").isdigit():
            step = int(step)  # ${item.0}: a list index written in a path of names
        found = (isinstance(value, dict) and step in value) or (
            isinstance(value, list) and isinstance(step, int) and -len(value) <= step < len(value)
        )
        if found:
            value = value[step]
        else:
            where = "".join(f"[{s!r}]" for s in steps[:n])
            raise ItemError(
                f"item {index} has no {step!r} (path {steps!r}): "
                f"item{where} is {type(value).__name__}"
                + (f" with keys {sorted(map(str, value))[:10]}" if isinstance(value, dict) else "")
            )
    return value


_NO_ITEM: Any = object()


def hydrate(value: Any, resolve: Any, item: Any = _NO_ITEM, index: int = 0) -> Any:
    """A task input from its encoded form: ``$ref`` through ``resolve``, ``$item`` from ``item``.

    One pass, so an element's own data is never read as markers.
    """
    if isinstance(value, list):
        return [hydrate(v, resolve, item, index) for v in value]
    if isinstance(value, dict):
        if len(value) == 1:
            if _codec.REF in value:
                return resolve(value[_codec.REF])
            if ITEM in value and item is not _NO_ITEM:
                return pick(item, value[ITEM], index)
            if "$date" in value or "$datetime" in value:
                return _codec.decode(value, resolve)
        return {k: hydrate(v, resolve, item, index) for k, v in value.items()}
    return value


@dataclass
class MapState:
    """A map task run while its children run: their elements, inputs and results."""

    parent: str
    task_name: str
    items: list[Any]
    refs: dict[str, Any]  # the upstream values the children's inputs name, hydrated once
    results: list[Any]
    remaining: int
    failures: list[tuple[str, str]] = field(default_factory=list)  # (child id, error)

    def child_id(self, index: int) -> str:
        return child_id(self.parent, index)


def child_id(parent: str, index: int) -> str:
    """``<parent>.<index>``: the id of a map's child task run, index from 0."""
    return f"{parent}.{index}"


class ControlFlow:
    """The scheduler's part that decides ready task runs (skip, map, queue) and hydrates inputs;
    ``dagy.engine.runner._Scheduler`` is the rest (attempts, retries, failures, the loop)."""

    spec: FlowSpec
    records: dict[str, TaskRunRecord]
    recorder: Recorder
    options: EngineOptions
    run_id: str
    task_runs: dict[str, TaskRunSpec]
    deps: dict[str, list[str]]
    downstream: dict[str, list[str]]
    waiting_on: dict[str, int]
    consumers: dict[str, int]
    output_refs: set[str]
    values: dict[str, Any]
    branches: dict[str, bool]
    artifact_paths: dict[str, str]
    inputs: dict[str, tuple[list[Any], dict[str, Any]]]
    maps: dict[str, MapState]
    child_of: dict[str, tuple[MapState, int]]
    reused_children: dict[str, TaskRunRecord]
    next_seq: int
    ready: deque[str]
    stopped: bool
    _artifact_root: Path

    if TYPE_CHECKING:  # the scheduler's own (dagy/engine/runner.py), which this part calls

        def _fail(
            self,
            record: TaskRunRecord,
            error: str,
            *,
            ended_at: Any = None,
            attempt: int | None = None,
            run_error: str | None = None,
            timed: bool = True,
        ) -> None: ...

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
        branch, value = split_branch(value)
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
        items = hydrate(tr.for_each, self._value)
        refs: set[str] = set()
        collect_refs([tr.args, tr.kwargs], refs)
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
                source_hash=record.source_hash,  # a map's children run the map's code
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
        state.results[index] = split_branch(artifacts.read(copied))[1]
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
            state.results[index] = split_branch(value)[1]
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

    def _inputs(self, task_run_id: str) -> tuple[list[Any], dict[str, Any]]:
        found = self.inputs.get(task_run_id)
        if found is not None:
            return found
        child = self.child_of.get(task_run_id)
        if child is not None:
            state, index = child
            tr = self.task_runs[state.parent]
            item = state.items[index]
            args = hydrate(tr.args, state.refs.__getitem__, item, index)
            kwargs = hydrate(tr.kwargs, state.refs.__getitem__, item, index)
        else:
            tr = self.task_runs[task_run_id]
            args = hydrate(tr.args, self._value)
            kwargs = hydrate(tr.kwargs, self._value)
            self._release(task_run_id)
        self.inputs[task_run_id] = (args, kwargs)
        return args, kwargs

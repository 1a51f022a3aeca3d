"""Executing runs in this process: a flow (``dagy run <path>:<fn>``, a flow called from Python), a
retry of a failed run, or a run a server or the CLI queued; and the retention of run files.

The run is recorded in this home's store: through `dagy serve` while one owns the file, else in the
file itself (dagy/store/shared.py), so a run that outlives a server, or sees one start, keeps
recording.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import secrets
import shutil
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from dagy.config import settings as config
from dagy.config.paths import DagyPaths
from dagy.errors import InvalidInputError, NotFoundError
from dagy.sdk import hooks
from dagy.sdk.flow import Flow
from dagy.sdk.spec import FlowSpec, TaskDef
from dagy.store.records import (
    FINAL_STATUSES,
    PENDING,
    RUNNING,
    SUCCEEDED,
    RunRecord,
    TaskRunRecord,
    utcnow,
)

if TYPE_CHECKING:
    from dagy.services.accounts.audit import Actor


def _store(paths: DagyPaths) -> Any:
    # Through `dagy serve` while one owns the file, else the file itself (dagy/store/shared.py).
    from dagy.store.shared import open_store

    return open_store(paths)


def new_run_id(flow_name: str, now: _dt.datetime | None = None) -> str:
    """``daily_etl-20260304T120000Z-a1b2c3``, as the spec shows."""
    stamp = (now or utcnow()).strftime("%Y%m%dT%H%M%SZ")
    return f"{flow_name}-{stamp}-{secrets.token_hex(3)}"


@dataclass(frozen=True)
class RunSettings:
    max_workers: int = 1
    fail_fast: bool = True
    executor: str = "local"
    trigger: str = "cli"
    progress: Progress | None = None  # a live view of the run's task runs (dagy run on a terminal)


class Progress(Protocol):
    """What a live view of a run is told: how many task runs (and how many a retry reused),
    then each task run's state as it changes. Called from the engine's threads."""

    def begin(self, total: int, reused: int) -> None: ...

    def task(self, task_run_id: str, status: str) -> None: ...


def _check_settings(settings: RunSettings) -> None:
    from dagy.engine.executors import executor_class

    if settings.max_workers < 1:
        raise ValueError(f"--max-workers must be at least 1, got {settings.max_workers}")
    executor_class(settings.executor)


def run_target(
    target: str, raw_params: dict[str, Any], settings: RunSettings, paths: DagyPaths
) -> RunRecord:
    """Load ``<path>:<flow_fn>``, build it with the parameters, and run it locally."""
    from dagy.sdk.loader import load_flow

    _check_settings(settings)
    return run_flow(load_flow(target), raw_params, settings=settings, paths=paths)


def run_flow(
    flow: Flow,
    params: dict[str, Any],
    *,
    settings: RunSettings | None = None,
    paths: DagyPaths | None = None,
    max_workers: int = 1,
    fail_fast: bool = True,
) -> RunRecord:
    """Build the FlowSpec, create the run, execute it, finalize it; returns the finished record."""
    from dagy.engine.runner import validate

    settings = settings or RunSettings(max_workers=max_workers, fail_fast=fail_fast)
    paths = paths or DagyPaths.from_env()
    spec = flow.build(**params)
    validate(spec)
    return _execute(spec, settings, paths, resolve=_resolver())


def run_spec(
    spec: FlowSpec, *, settings: RunSettings | None = None, paths: DagyPaths | None = None
) -> RunRecord:
    """Run a FlowSpec built elsewhere (a compiled pipeline, a test) locally. Its tasks are found
    by module and qualname, after loading the spec's entrypoint file when it names one (as a
    retry does)."""
    from dagy.engine.runner import validate
    from dagy.sdk.loader import load_module, split_target

    settings = settings or RunSettings()
    _check_settings(settings)
    validate(spec)
    if spec.entrypoint:
        load_module(split_target(spec.entrypoint)[0])
    return _execute(spec, settings, paths or DagyPaths.from_env(), resolve=_resolver())


hooks.register("run_flow", run_flow)  # calling a flow from Python runs it here (dagy/sdk/hooks.py)


def _resolver() -> Callable[[TaskDef], Callable[..., Any]]:
    from dagy.sdk.task import resolve_task

    cache: dict[str, Callable[..., Any]] = {}

    def resolve(td: TaskDef) -> Callable[..., Any]:
        fn = cache.get(td.name)
        if fn is None:
            fn = cache[td.name] = resolve_task(td).fn
        return fn

    return resolve


def _execute(
    spec: FlowSpec,
    settings: RunSettings,
    paths: DagyPaths,
    *,
    resolve: Callable[[TaskDef], Callable[..., Any]],
    retry_of: RunRecord | None = None,
    reused: dict[str, TaskRunRecord] | None = None,
    run: RunRecord | None = None,
    store: Any = None,
    run_id: str | None = None,
) -> RunRecord:
    """Create the run (or, given ``run``, take over one queued by the server) and execute it."""
    # One open of the store file for the run row, the batches of the run's first second and, for
    # a run shorter than that, the last batch too: the recorder lets go of it at its first
    # mid-run flush (other processes wait at most that long). A store given by a server is its
    # own (held) and is shared as it is.
    early = contextlib.ExitStack()
    if store is None:
        store = _store(paths)
        early.enter_context(store.connection())
    try:
        return _execute_in(
            spec, settings, paths, store, early, resolve, retry_of, reused, run, run_id
        )
    finally:
        early.close()


def _execute_in(
    spec: FlowSpec,
    settings: RunSettings,
    paths: DagyPaths,
    store: Any,
    early: contextlib.ExitStack,
    resolve: Callable[[TaskDef], Callable[..., Any]],
    retry_of: RunRecord | None,
    reused: dict[str, TaskRunRecord] | None,
    run: RunRecord | None,
    run_id: str | None,
) -> RunRecord:
    from dagy.config.processes import process_start_time
    from dagy.engine import artifacts
    from dagy.engine.recorder import Recorder
    from dagy.engine.runner import EngineOptions, execute

    now = utcnow()
    started: dict[str, Any] = {
        "status": RUNNING,
        "started_at": now,
        "entrypoint": spec.entrypoint,
        "parameters": json.dumps(spec.parameters),
        "flow_spec": spec.to_json(),
        "executor": settings.executor,
        "max_workers": settings.max_workers,
        "fail_fast": settings.fail_fast,
        "pid": os.getpid(),
        "pid_started": process_start_time(os.getpid()),
        "host": socket.gethostname(),
    }
    if run is None:
        run = RunRecord(
            run_id=run_id or new_run_id(spec.flow_name, now),
            flow_name=spec.flow_name,
            flow_version=spec.flow_version,
            created_at=now,
            trigger=settings.trigger,
            retry_of=retry_of.run_id if retry_of else None,
            **started,
        )
        records = _initial_records(run, spec, paths, reused or {})
        store.create_run(run, list(records.values()))
    else:
        for key, value in started.items():
            setattr(run, key, value)
        records = _initial_records(run, spec, paths, reused or {})
        store.apply(run.run_id, started, list(records.values()))
    if settings.progress is not None:
        settings.progress.begin(len(records), sum(1 for r in records.values() if r.reused_from))
    recorder = Recorder(
        store,
        run.run_id,
        paths.run_dir(run.run_id),
        verbose=config.LOCAL_VERBOSE.get(),
        observer=settings.progress.task if settings.progress is not None else None,
        after_first_flush=early.close,
    )
    _write_metadata(paths, run)
    recorder.log(
        "INFO",
        f"run {run.run_id} started flow={run.flow_id} max_workers={settings.max_workers} "
        f"executor={settings.executor} fail_fast={settings.fail_fast}",
    )
    if retry_of:
        recorder.log(
            "INFO", f"retry of {retry_of.run_id}: reusing {len(reused or {})} succeeded task runs"
        )
    try:
        result = execute(
            spec,
            records,
            recorder,
            paths,
            resolve,
            EngineOptions(
                settings.max_workers,
                settings.fail_fast,
                settings.executor,
                artifacts.max_bytes(),
                on_fault=_fault_reporter(paths, run),
            ),
            {
                tid: r.artifact_path
                for tid, r in records.items()
                if r.reused_from and r.artifact_path
            },
            # Map children (``<map>.<i>``) are not in the spec: the engine reuses them itself.
            {tid: r for tid, r in (reused or {}).items() if tid not in records},
        )
        run.status, run.output, run.error = result.status, result.output, result.error
        run.ended_at = utcnow()
        recorder.run(status=run.status, output=run.output, error=run.error, ended_at=run.ended_at)
        recorder.log(
            "INFO" if run.status == SUCCEEDED else "ERROR",
            f"run {run.run_id} finished status={run.status}"
            + (f" error={run.error}" if run.error else ""),
        )
        with store.connection():  # one open for the last batch and retention
            recorder.flush()
            prune(paths, store)
    except Exception as exc:
        # Task failures end as a result; an exception here is the engine's or the store's own.
        _engine_fault(paths, run, exc)
        raise
    finally:
        recorder.close()
    _write_metadata(paths, run, list(records.values()))
    return run


def _where(run: RunRecord, task_run_id: str | None = None, executor: str | None = None) -> Any:
    from dagy.services import traces

    return traces.Where(
        org_id=run.org_id,
        run_id=run.run_id,
        task_run_id=task_run_id,
        flow_name=run.flow_name,
        executor=executor or run.executor,
    )


def _fault_reporter(paths: DagyPaths, run: RunRecord) -> Callable[[str, str, str, str], None]:
    """What the engine calls for an executor fault: an exception trace (dagy/services/traces.py)."""

    def report(task_run_id: str, executor: str, error: str, fault: str) -> None:
        from dagy.services import traces

        kind, _, message = error.partition(": ")
        traces.capture(
            paths,
            "executor",
            _where(run, task_run_id, executor),
            error_type=kind,
            message=message,
            stack=fault,
        )

    return report


def _engine_fault(paths: DagyPaths, run: RunRecord, exc: BaseException) -> None:
    from dagy.services import traces

    traces.capture(paths, "engine", _where(run), exc=exc)


def _initial_records(
    run: RunRecord, spec: FlowSpec, paths: DagyPaths, reused: dict[str, TaskRunRecord]
) -> dict[str, TaskRunRecord]:
    records: dict[str, TaskRunRecord] = {}
    for seq, tr in enumerate(spec.task_runs):
        td = spec.tasks[tr.task_name]
        record = TaskRunRecord(
            run_id=run.run_id,
            task_run_id=tr.task_run_id,
            task_name=tr.task_name,
            seq=seq,
            status=PENDING,
            org_id=run.org_id,
            max_attempts=td.retries + 1,
            source_hash=tr.source_hash,
        )
        old = reused.get(tr.task_run_id)
        if old is not None and old.artifact_path:
            target = paths.artifact_dir(run.run_id, tr.task_run_id)
            target.mkdir(parents=True, exist_ok=True)
            copied = target / Path(old.artifact_path).name
            shutil.copyfile(old.artifact_path, copied)
            record.status = SUCCEEDED
            record.attempt = old.attempt
            record.executor = old.executor
            record.started_at, record.ended_at = old.started_at, old.ended_at
            record.duration_seconds = old.duration_seconds
            record.artifact_path = str(copied)
            record.reused_from = old.run_id
        records[tr.task_run_id] = record
    return records


def _write_metadata(
    paths: DagyPaths, run: RunRecord, task_runs: list[TaskRunRecord] | None = None
) -> None:
    """The run's ``metadata.json``; at the end, with every task run (a task that wrote nothing has
    no folder, so no metadata.json of its own: this is where its times and result path are)."""
    import msgspec

    data = run.to_json()
    if task_runs is not None:
        data["task_runs"] = [
            {
                "task_run_id": t.task_run_id,
                "task_name": t.task_name,
                "status": t.status,
                "attempt": t.attempt,
                "started_at": _iso(t.started_at),
                "ended_at": _iso(t.ended_at),
                "duration_seconds": t.duration_seconds,
                "error": t.error,
                "artifact_path": t.artifact_path,
            }
            for t in task_runs
        ]
    run_dir = paths.run_dir(run.run_id)
    run_dir.mkdir(parents=True, exist_ok=True)
    # msgspec's encoder and formatter: json.dumps(indent=2) is the pure-Python encoder.
    text = msgspec.json.format(msgspec.json.encode(data), indent=2)
    (run_dir / "metadata.json").write_bytes(text)


def _iso(value: _dt.datetime | None) -> str | None:
    return value.isoformat() + "Z" if value is not None else None


def keep_runs() -> int:
    return config.LOCAL_KEEP_RUNS.get()


def prune(paths: DagyPaths, store: Any, keep: int | None = None) -> list[str]:
    """Delete log and artifact files of finished runs beyond the newest ``keep``; rows stay.

    ``keep`` 0 keeps every run's files.
    """
    keep = keep_runs() if keep is None else keep
    if keep == 0:  # DAGY_LOCAL_KEEP_RUNS=0 turns retention off
        return []
    victims = store.runs_to_prune(keep)
    for run_id in victims:
        shutil.rmtree(paths.run_dir(run_id), ignore_errors=True)
        shutil.rmtree(paths.artifacts / run_id, ignore_errors=True)
    store.mark_pruned(victims)
    return victims


def retry_run(
    run_id: str,
    settings: RunSettings | None,
    paths: DagyPaths,
    *,
    new_id: str | None = None,
    actor: Actor | None = None,
) -> RunRecord:
    """A new run (``new_id``, or a fresh id) of the same FlowSpec that re-executes only what did
    not succeed. ``actor``: the audit row's, written in the store file before the run starts (the
    store mode; a server writes its own when it queues a retry)."""
    from dagy.sdk.loader import load_module, split_target

    store = _store(paths)
    with store.connection():
        found = store.get_run(run_id)
        old_tasks = store.task_runs(run_id) if found is not None else []
    old = check_retryable(run_id, found)
    load_module(split_target(old.entrypoint or "")[0])  # both set: check_retryable says so
    spec = FlowSpec.from_json(old.flow_spec or "")
    reused = reusable(old_tasks)
    settings = settings or RunSettings(
        max_workers=old.max_workers, fail_fast=old.fail_fast, executor=old.executor
    )
    settings = RunSettings(
        settings.max_workers,
        settings.fail_fast,
        settings.executor,
        trigger="retry",
        progress=settings.progress,
    )
    _check_settings(settings)
    new_id = new_id or new_run_id(old.flow_name)
    if actor is not None:
        from dagy.services.accounts import audit
        from dagy.store.duckdb_store import DuckDBStore

        local = DuckDBStore(paths)
        with local.transaction():
            audit.write(
                local,
                actor,
                "execute",
                "run",
                new_id,
                resource_name=old.flow_name,
                changes={"retry_of": run_id},
            )
    return _execute(
        spec, settings, paths, resolve=_resolver(), retry_of=old, reused=reused, run_id=new_id
    )


def check_retryable(run_id: str, old: RunRecord | None) -> RunRecord:
    """The run, if a retry of it can start; else the error that says why not (the same rule for
    a retry executed here and one queued on a server)."""
    if old is None:
        raise NotFoundError(f"Run not found: {run_id}", {"run_id": run_id})
    why = None
    if old.status not in FINAL_STATUSES:
        why = f"Run {run_id} is still {old.status}; wait for it to finish before retrying"
    elif old.status == SUCCEEDED:
        why = f"Run {run_id} succeeded; there is nothing to retry"
    elif not old.flow_spec or not old.entrypoint:
        why = f"Run {run_id} has no stored FlowSpec or entrypoint to retry from"
    if why is not None:
        raise InvalidInputError(why, {"run_id": why})
    return old


def reusable(task_runs: list[TaskRunRecord]) -> dict[str, TaskRunRecord]:
    """Task runs a retry can reuse: succeeded, with their artifact still on disk."""
    return {
        t.task_run_id: t
        for t in task_runs
        if t.status == SUCCEEDED and t.artifact_path and Path(t.artifact_path).is_file()
    }


def execute_queued(
    run: RunRecord,
    spec: FlowSpec,
    settings: RunSettings,
    paths: DagyPaths,
    store: Any,
    *,
    retry_of: RunRecord | None = None,
    reused: dict[str, TaskRunRecord] | None = None,
) -> RunRecord:
    """Execute, in this process, a run the server queued (``run`` is its PENDING row)."""
    from dagy.engine.runner import validate

    validate(spec)
    return _execute(
        spec,
        settings,
        paths,
        resolve=_resolver(),
        retry_of=retry_of,
        reused=reused,
        run=run,
        store=store,
    )

"""Replay: run a flow or YAML pipeline as it is now with the parameters of a past run, reusing the
recorded results of the steps that need not run again (docs/replay.md).

Which task runs are reused (``plan``):
- without ``from_step``: a task run whose source hash (dagy/sdk/source_hash.py) and inputs (its
  encoded args and kwargs, ``when``, ``for_each``) are those of the source run, whose every upstream
  task run is reused too, and which succeeded there with its result still on disk;
- with ``from_step``: the step's task runs and everything downstream of them run; every task run
  upstream of them is reused whatever its source (its recorded result must exist, else the replay
  is refused: it would call what it should not); other task runs follow the rule above.

A reused task run is not executed: its result is copied from the source run, as `dagy runs retry`
does. The replay is a normal run (trigger ``replay``) with ``replay_of`` naming the source run.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from dagy.errors import InvalidInputError, NotFoundError
from dagy.sdk.spec import FlowSpec, TaskRunSpec
from dagy.store.records import FINAL_STATUSES, PENDING, RunRecord, TaskRunRecord, utcnow

if TYPE_CHECKING:
    from dagy.config.paths import DagyPaths
    from dagy.services.accounts.audit import Actor
    from dagy.store.flows import FlowVersion

TRIGGER = "replay"
FROM_KEY = (
    "replay_from"  # the queued run's payload key for ``from_step`` (dagy/services/runs/child.py)
)


def check_replayable(run_id: str, old: RunRecord | None) -> RunRecord:
    """The run, if it can be replayed; else the error that says why not."""
    if old is None:
        raise NotFoundError(f"Run not found: {run_id}", {"run_id": run_id})
    if old.status not in FINAL_STATUSES:
        why = f"Run {run_id} is still {old.status}; wait for it to finish before replaying"
        raise InvalidInputError(why, {"run_id": why})
    if not old.entrypoint and not old.deployment_name:
        why = f"Run {run_id} has no flow file or deployment to replay"
        raise InvalidInputError(why, {"run_id": why})
    return old


def from_task_runs(from_step: str | None, old_tasks: list[TaskRunRecord]) -> set[str]:
    """The source run's task run ids ``from_step`` names (a task run id, or a task or step name
    naming all of its task runs); 400 listing the known steps when it names none."""
    if from_step is None:
        return set()
    if not isinstance(from_step, str) or not from_step:
        raise InvalidInputError("Invalid from_step", {"from_step": "a step name"})
    found = {t.task_run_id for t in old_tasks if from_step in (t.task_run_id, t.task_name)}
    if not found:
        known = sorted({t.task_run_id for t in old_tasks if "." not in t.task_run_id})
        message = f"Unknown step: {from_step} (steps of this run: {', '.join(known) or 'none'})"
        raise InvalidInputError(message, {"from_step": message})
    return {tid for tid in found if "." not in tid or tid.rpartition(".")[0] not in found}


def _deps(tr: TaskRunSpec) -> set[str]:
    deps = set(tr.upstream)
    if tr.when is not None:
        deps.add(str(tr.when.get("ref")))
    if isinstance(tr.for_each, dict) and "$ref" in tr.for_each:
        deps.add(str(tr.for_each["$ref"]))
    return deps


def _inputs(tr: TaskRunSpec) -> tuple[Any, ...]:
    return (tr.args, tr.kwargs, tr.when, tr.for_each)


def plan(
    old_spec: FlowSpec | None,
    old_tasks: list[TaskRunRecord],
    new_spec: FlowSpec,
    from_ids: set[str],
) -> dict[str, TaskRunRecord]:
    """The source run's task runs the replay reuses, by task run id (map children included when
    their map's code is unchanged: the engine reuses them if the map's inputs were reused)."""
    from dagy.services.runs.execute import reusable

    available = reusable(old_tasks)
    old_trs = {tr.task_run_id: tr for tr in old_spec.task_runs} if old_spec else {}
    new_trs = {tr.task_run_id: tr for tr in new_spec.task_runs}
    deps = {tid: _deps(tr) & new_trs.keys() for tid, tr in new_trs.items()}
    downstream: dict[str, set[str]] = {}
    for tid, ups in deps.items():
        for up in ups:
            downstream.setdefault(up, set()).add(tid)
    if from_ids and not from_ids & new_trs.keys():
        message = f"Step {', '.join(sorted(from_ids))} is not in the flow as it is now"
        raise InvalidInputError(message, {"from_step": message})
    forced = _closure(from_ids & new_trs.keys(), downstream)
    pinned = _closure(from_ids & new_trs.keys(), deps) - forced
    decided: dict[str, bool] = {}

    def reuse(tid: str) -> bool:
        if tid in decided:
            return decided[tid]
        decided[tid] = False  # a cycle (validate() refuses them) reuses nothing
        old = available.get(tid)
        if tid in forced:
            result = False
        elif tid in pinned:
            if old is None:
                why = (
                    f"Cannot replay from here: upstream task run {tid} has no recorded result "
                    "in the source run"
                )
                raise InvalidInputError(why, {"from_step": why})
            result = True
        else:
            before, now = old_trs.get(tid), new_trs[tid]
            result = (
                old is not None
                and before is not None
                and old.source_hash is not None
                and old.source_hash == now.source_hash
                and _inputs(before) == _inputs(now)
                and all([reuse(d) for d in sorted(deps[tid])])
            )
        decided[tid] = result
        return result

    reused = {tid: available[tid] for tid in new_trs if reuse(tid)}
    by_id = {t.task_run_id: t for t in old_tasks}
    for tid, old in available.items():
        parent = tid.rpartition(".")[0]
        if parent in new_trs and parent not in forced and tid not in new_trs:
            map_before = by_id.get(parent)
            if map_before is not None and map_before.source_hash == new_trs[parent].source_hash:
                reused[tid] = old
    return reused


def _closure(start: set[str], edges: dict[str, set[str]]) -> set[str]:
    seen = set(start)
    todo = list(start)
    while todo:
        for nxt in edges.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def _old_spec(old: RunRecord) -> FlowSpec | None:
    return FlowSpec.from_json(old.flow_spec) if old.flow_spec else None


def build_spec(target: str, old: RunRecord) -> FlowSpec:
    """The flow at ``target`` as it is now, built with the source run's parameters."""
    from dagy.engine.runner import validate
    from dagy.sdk import _codec
    from dagy.sdk.loader import load_flow

    flow = load_flow(target)
    params = _codec.decode(json.loads(old.parameters or "{}"), lambda ref: None)
    spec = flow.build(**params)
    validate(spec)
    return spec


def log_line(reused: dict[str, TaskRunRecord], source: str) -> str:
    names = ", ".join(sorted(t for t in reused if "." not in t)) or "none"
    return f"replay of {source}: reusing {len(reused)} recorded task runs ({names})"


def _deployed_version(store: Any, old: RunRecord) -> FlowVersion:
    """The flow version the source run's deployment points at now; 404 when it is gone."""
    from dagy.services.catalog import deployments, flows

    try:
        found = deployments.get(store, old.org_id, old.deployment_name or "")
    except NotFoundError:
        raise NotFoundError(
            f"Cannot replay {old.run_id}: its deployment {old.deployment_name} no longer exists",
            {"deployment_name": old.deployment_name},
        ) from None
    return flows.get_version(store, old.org_id, found.flow_name, found.flow_version)


# -- here: the store file, this process executes -------------------------------------------------


def _local_target(paths: DagyPaths, store: Any, old: RunRecord) -> str:
    """Where the source run's flow is now: its deployment's current version, else its file."""
    from pathlib import Path

    from dagy.sdk.loader import split_target
    from dagy.services.runs import code as run_code
    from dagy.services.runs import trigger

    if old.deployment_name:
        version = _deployed_version(store, old)
        code = trigger.runnable_code(version, FlowSpec.from_json(version.flow_spec))
        return run_code.target_for(paths, old.org_id, version.flow_name, version.flow_version, code)
    target = old.entrypoint or ""
    file = Path(split_target(target)[0])
    if not file.is_file():
        raise NotFoundError(
            f"Cannot replay {old.run_id}: its flow file {file} no longer exists",
            {"entrypoint": target},
        )
    return target


def replay_here(
    paths: DagyPaths,
    store: Any,
    actor: Actor,
    run_id: str,
    *,
    from_step: str | None = None,
    progress: Any = None,
    new_id: str | None = None,
) -> RunRecord:
    """Replay a run of the store file in this process; the finished replay. ``store``: the
    store file (DuckDBStore) for the checks and the audit row."""
    from dagy.services.accounts import audit
    from dagy.services.runs import execute
    from dagy.store.shared import open_store

    with store.connection():
        old = check_replayable(run_id, store.get_run(run_id, org_id=actor.org_id))
        old_tasks = store.task_runs(run_id)
        from_ids = from_task_runs(from_step, old_tasks)
        target = _local_target(paths, store, old)
    spec = build_spec(target, old)
    reused = plan(_old_spec(old), old_tasks, spec, from_ids)
    now = utcnow()
    run = RunRecord(
        run_id=new_id or execute.new_run_id(spec.flow_name, now),
        flow_name=spec.flow_name,
        flow_version=spec.flow_version,
        status=PENDING,
        created_at=now,
        org_id=old.org_id,
        deployment_name=old.deployment_name,
        entrypoint=spec.entrypoint or target,
        trigger=TRIGGER,
        parameters=old.parameters,
        executor=old.executor,
        max_workers=old.max_workers,
        fail_fast=old.fail_fast,
        tags=old.tags,
        replay_of=old.run_id,
    )
    with store.transaction():
        audit.write(
            store,
            actor,
            "execute",
            "run",
            run.run_id,
            resource_name=run.flow_name,
            changes={"replay_of": run_id, "from_step": from_step},
        )
    shared = open_store(paths)
    shared.create_run(run, [])
    _note(paths, run.run_id, log_line(reused, run_id))
    settings = execute.RunSettings(
        old.max_workers, old.fail_fast, old.executor, TRIGGER, progress=progress
    )
    return execute.execute_queued(run, spec, settings, paths, shared, reused=reused)


def _note(paths: DagyPaths, run_id: str, message: str) -> None:
    run_dir = paths.run_dir(run_id)
    run_dir.mkdir(parents=True, exist_ok=True)
    with open(run_dir / "run.log", "a", encoding="utf-8") as fh:
        fh.write(f"{utcnow().isoformat(timespec='milliseconds')}Z INFO {message}\n")


# -- on a server: queued for its workers --------------------------------------------------------


def _server_code(store: Any, old: RunRecord) -> tuple[dict[str, Any], str | None, str]:
    """(the child's code payload, the flow_spec to record until the child builds the new one,
    the flow version): the deployment's current version, else the run's own version (its
    artifact, or the entrypoint's file on this machine as it is now)."""
    from dagy.services.runs import trigger
    from dagy.store import flows as flow_sql

    if old.deployment_name:
        version = _deployed_version(store, old)
        spec = FlowSpec.from_json(version.flow_spec)
        return trigger.runnable_code(version, spec), version.flow_spec, version.flow_version
    registered = flow_sql.get_flow_version(store, old.org_id, old.flow_name, old.flow_version)
    if registered is not None and registered.artifact_uri:
        spec = FlowSpec.from_json(registered.flow_spec)
        code = trigger.runnable_code(registered, spec)
        return code, registered.flow_spec, old.flow_version
    file = (old.entrypoint or "").rpartition(":")[0]
    from pathlib import Path

    if not file or not Path(file).is_file():
        raise NotFoundError(
            f"Cannot replay {old.run_id}: its flow file {file or '?'} no longer exists",
            {"entrypoint": old.entrypoint},
        )
    return {"entrypoint": old.entrypoint}, old.flow_spec, old.flow_version


def queue_replay(
    store: Any,
    actor: Actor,
    run_id: str,
    *,
    from_step: str | None = None,
    wake: Any = None,
) -> RunRecord:
    """Queue a replay of a finished run of the actor's org for the server's workers; the worker's
    child builds the flow as it is now and reuses what ``plan`` allows (``reused_for``)."""
    from dagy.services.runs import trigger
    from dagy.services.runs.execute import new_run_id

    with store.connection():
        old = check_replayable(run_id, store.get_run(run_id, org_id=actor.org_id))
        from_task_runs(from_step, store.task_runs(run_id))
        code, flow_spec, flow_version = _server_code(store, old)
    now = utcnow()
    run = RunRecord(
        run_id=new_run_id(old.flow_name, now),
        flow_name=old.flow_name,
        flow_version=flow_version,
        status=PENDING,
        created_at=now,
        org_id=old.org_id,
        deployment_name=old.deployment_name,
        entrypoint=old.entrypoint,
        trigger=TRIGGER,
        parameters=old.parameters,
        flow_spec=flow_spec,
        executor=old.executor,
        max_workers=old.max_workers,
        fail_fast=old.fail_fast,
        execution_mode=old.execution_mode,
        tags=old.tags,
        replay_of=old.run_id,
    )
    trigger._enqueue(
        store,
        run,
        {**code, "actor": actor.email, FROM_KEY: from_step},
        execute=True,
        singleton=False,
        by=actor,
        changes={"replay_of": run_id, "from_step": from_step},
    )
    if wake is not None:
        wake()
    return run


def reused_for(
    store: Any, run: RunRecord, spec: FlowSpec, code: dict[str, Any]
) -> dict[str, TaskRunRecord]:
    """In the worker's child (dagy/services/runs/child.py): what a queued replay reuses."""
    old = store.get_run(run.replay_of or "", org_id=run.org_id)
    if old is None:
        raise ValueError(f"Run {run.replay_of} to replay is gone")
    old_tasks = store.task_runs(old.run_id)
    from_ids = from_task_runs(code.get(FROM_KEY), old_tasks)
    return plan(_old_spec(old), old_tasks, spec, from_ids)

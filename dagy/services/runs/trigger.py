"""Triggering runs: resolve what to run, check its parameters, queue it for the server's workers.

``trigger_run`` is the one way a run gets queued (POST /runs today; schedules and webhooks later):
the run row (PENDING, the API's ``queued``) and its ``flow_trigger`` event are written in one
transaction, then the workers are woken. Nothing here imports the flow's code: parameters are
checked against the ``parameter_schema`` its FlowSpec recorded.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from dagy.errors import ConflictError, InvalidInputError, ParameterTypeError
from dagy.sdk import _codec
from dagy.sdk.params import coerce_with_schema
from dagy.sdk.spec import FlowSpec
from dagy.services.accounts import audit
from dagy.services.accounts.audit import Actor
from dagy.services.admin import suspension
from dagy.services.catalog import deployments, flows
from dagy.services.usage import quotas
from dagy.store import flows as flow_sql
from dagy.store import queue
from dagy.store.duckdb_store import DuckDBStore
from dagy.store.flows import Deployment, FlowVersion
from dagy.store.records import PENDING, RunRecord, utcnow

DEFAULT_MAX_WORKERS = 4
_PARAM_NAME = re.compile(r"[Pp]arameter '([^']+)'")


def _fail(message: str, field: str, why: str | None = None) -> InvalidInputError:
    return InvalidInputError(message, {field: why or message})


def resolve(
    store: DuckDBStore,
    org_id: str,
    *,
    deployment: str | None,
    flow_name: str | None,
    flow_version: Any,
) -> tuple[FlowVersion, Deployment | None]:
    """The flow version to run: a deployment's, or ``flow_name`` + ``flow_version`` (a version
    string, or the registration number ``deployment_version``). 404 when either is unknown."""
    if deployment is not None:
        if flow_name is not None or flow_version is not None:
            raise _fail(
                "Give either deployment or flow_name and flow_version, not both", "deployment"
            )
        if not isinstance(deployment, str) or not deployment:
            raise _fail("Invalid deployment", "deployment", "a deployment name")
        found = deployments.get(store, org_id, deployment)
        return flows.get_version(store, org_id, found.flow_name, found.flow_version), found
    if not isinstance(flow_name, str) or not flow_name:
        raise _fail("Either deployment or flow_name is required", "flow_name", "required")
    if flow_version is None or isinstance(flow_version, bool) or flow_version == "":
        raise _fail("flow_version is required with flow_name", "flow_version", "required")
    if not isinstance(flow_version, (str, int)):
        raise _fail("Invalid flow_version", "flow_version", "a version string or number")
    version = None
    if isinstance(flow_version, int):  # "flow_version": 5 in the spec is the registration number
        version = queue.flow_version_by_number(store, org_id, flow_name, flow_version)
    if version is None:
        version = flows.get_version(store, org_id, flow_name, str(flow_version))
    return version, None


def check_parameters(spec: FlowSpec, raw: Any) -> dict[str, Any]:
    """The run's parameters, coerced and completed with defaults, as they are stored (JSON)."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise _fail("Invalid parameters", "parameters", "an object")
    if spec.parameter_schema is None:  # registered before specs recorded it: the build checks
        values = raw
    else:
        try:
            values = coerce_with_schema(spec.parameter_schema, spec.flow_name, raw)
        except ParameterTypeError as exc:
            named = _PARAM_NAME.search(str(exc))
            field = f"parameters.{named.group(1)}" if named else "parameters"
            raise _fail(f"ParameterTypeError: {exc}", field, str(exc)) from None
    try:
        encoded: dict[str, Any] = _codec.encode(values, set())
    except TypeError as exc:
        raise _fail("Invalid parameters", "parameters", str(exc)) from None
    return encoded


def check_executor(name: Any) -> str:
    from dagy.engine.executors import executor_class

    if not isinstance(name, str) or not name:
        raise _fail("Invalid executor", "executor", "an executor name")
    try:
        executor_class(name)
    except ValueError as exc:
        raise _fail(f"Invalid executor: {exc}", "executor", str(exc)) from None
    return name


def _installed(name: str | None) -> str | None:
    if not name:
        return None
    try:
        return check_executor(name)
    except InvalidInputError:
        return None


def runnable_code(version: FlowVersion, spec: FlowSpec) -> dict[str, Any]:
    """Where the child finds the flow's code (the event's payload); 400 when there is none.

    An artifact (``artifact_uri``) is fetched by ``dagy.artifacts.fetch``; otherwise the spec's
    entrypoint must be a file on this machine (a flow registered from here).
    """
    code: dict[str, Any] = {"entrypoint": spec.entrypoint}
    if version.artifact_uri:
        try:
            from dagy.artifacts import fetch  # noqa: F401 - the artifact store arrives separately
        except ImportError:
            raise _fail(
                "Flow version has no runnable code: artifacts cannot be fetched by this server",
                "artifact_uri",
            ) from None
        code.update(artifact_uri=version.artifact_uri, code_hash=version.code_hash)
        return code
    file = (spec.entrypoint or "").rpartition(":")[0]
    if not file or not Path(file).is_absolute() or not Path(file).is_file():
        raise _fail(
            "Flow version has no runnable code",
            "flow_version",
            f"no artifact, and its entrypoint {spec.entrypoint!r} is not a file on this server",
        )
    return code


def _tags(tags: Any) -> list[str] | None:
    if tags is None:
        return None
    if not isinstance(tags, list) or not all(isinstance(t, str) and t for t in tags):
        raise _fail("Invalid tags", "tags", "a list of strings")
    return tags


def _flag(value: Any, field: str, default: bool) -> bool:
    if value is None:
        return default
    if not isinstance(value, bool):
        raise _fail(f"Invalid {field}", field, "true or false")
    return value


def new_run(
    version: FlowVersion,
    spec: FlowSpec,
    org_id: str,
    *,
    parameters: dict[str, Any],
    trigger: str,
    deployment_name: str | None,
    executor: str,
    execution_mode: str | None,
    tags: list[str] | None,
    max_workers: int = DEFAULT_MAX_WORKERS,
) -> RunRecord:
    """A queued run: no pid, host or start yet (the child that executes it records those)."""
    from dagy.services.runs.execute import new_run_id

    now = utcnow()
    return RunRecord(
        run_id=new_run_id(spec.flow_name, now),
        flow_name=spec.flow_name,
        flow_version=version.flow_version,
        status=PENDING,
        created_at=now,
        org_id=org_id,
        deployment_name=deployment_name,
        entrypoint=spec.entrypoint,
        trigger=trigger,
        parameters=json.dumps(parameters),
        flow_spec=version.flow_spec,
        executor=executor,
        max_workers=max_workers,
        execution_mode=execution_mode,
        tags=json.dumps(tags) if tags is not None else None,
    )


def trigger_run(
    store: DuckDBStore,
    org_id: str,
    actor: str | None,
    *,
    deployment: str | None = None,
    flow_name: str | None = None,
    flow_version: Any = None,
    parameters: Any = None,
    trigger: str = "api",
    execute: Any = True,
    executor: Any = None,
    execution_mode: Any = None,
    tags: Any = None,
    singleton: Any = False,
    wake: Callable[[], None] | None = None,
    also: Callable[[RunRecord], Sequence[tuple[str, list[Any]]]] | None = None,
    by: Actor | None = None,
) -> RunRecord:
    """Queue a run of a deployment or of a flow version; returns the queued run.

    400 for bad parameters (naming the field), an unknown executor or a version without code;
    404 for an unknown flow version or deployment; 409 when ``singleton`` and a run of the same
    deployment (or, without one, the same flow) is queued or running; 429 when the org's plan
    allows no more runs (``quotas.check_trigger``). ``execute`` False records the run without
    queueing it for the workers. ``also`` gives statements written in the run's own transaction
    (a schedule's advance past the time it fired for). ``by``: who asked, for the audit row
    written with the run (a schedule's or a sensor's run has none).
    """
    execute = _flag(execute, "execute", True)
    singleton = _flag(singleton, "singleton", False)
    run_tags = _tags(tags)
    version, found = resolve(
        store, org_id, deployment=deployment, flow_name=flow_name, flow_version=flow_version
    )
    spec = FlowSpec.from_json(version.flow_spec)
    values = check_parameters(spec, parameters)
    if executor is not None:
        chosen = check_executor(executor)
    else:
        chosen = (
            _installed(found.default_executor if found else None)
            or _installed(version.default_executor)
            or "local"
        )
    mode = deployments.check_execution_mode(execution_mode) or (
        found.execution_mode if found else None
    )
    code = runnable_code(version, spec) if execute else {}
    run = new_run(
        version,
        spec,
        org_id,
        parameters=values,
        trigger=trigger,
        deployment_name=found.name if found else None,
        executor=chosen,
        execution_mode=mode,
        tags=run_tags,
    )
    payload = {**code, "actor": actor}
    _enqueue(
        store,
        run,
        payload,
        execute=execute,
        singleton=singleton,
        also=also(run) if also else (),
        by=by,
        changes={"deployment_name": run.deployment_name, "flow_version": run.flow_version},
    )
    if execute and wake is not None:
        wake()
    return run


def _enqueue(
    store: DuckDBStore,
    run: RunRecord,
    payload: dict[str, Any],
    *,
    execute: bool,
    singleton: bool,
    also: Sequence[tuple[str, list[Any]]] = (),
    by: Actor | None = None,
    changes: dict[str, Any] | None = None,
) -> None:
    with store.transaction():  # the checks, the insert and its audit row: one unit of work
        # A suspended org queues nothing, whoever asks (a schedule's tick records the refusal in
        # its last_error, a sensor's in its own, a webhook answers 403 org_suspended).
        suspension.ensure_active(store, run.org_id)
        quotas.check_trigger(store, run.org_id, execute=execute)
        if singleton:
            busy = queue.active_runs(
                store,
                run.org_id,
                deployment_name=run.deployment_name,
                flow_name=None if run.deployment_name else run.flow_name,
            )
            if busy:
                what = (
                    f"deployment {run.deployment_name}"
                    if run.deployment_name
                    else f"flow {run.flow_name}"
                )
                raise ConflictError(
                    f"A run of {what} is already queued or running (singleton)",
                    {"singleton": "max_run_reached"},
                )
        queue.enqueue_run(store, run, payload, execute=execute, also=also)
        if by is not None:
            audit.write(
                store,
                by,
                "execute",
                "run",
                run.run_id,
                resource_name=run.flow_name,
                changes=changes,
            )


def retry_run(
    store: DuckDBStore,
    actor: Actor,
    run_id: str,
    *,
    wake: Callable[[], None] | None = None,
) -> RunRecord:
    """Queue a new run of a finished, unsuccessful run's FlowSpec; the worker's child reuses the
    task runs that succeeded (their artifacts) and runs the rest (execute.retry_run's rules).
    """
    from dagy.services.runs.execute import check_retryable, new_run_id

    org_id = actor.org_id
    old = check_retryable(run_id, store.get_run(run_id, org_id=org_id))
    # A run the server executed from an artifact has its materialized path as entrypoint; the
    # artifact goes along in case that folder is gone.
    version = flow_sql.get_flow_version(store, org_id, old.flow_name, old.flow_version)
    code: dict[str, Any] = {"entrypoint": old.entrypoint}
    if version is not None and version.artifact_uri:
        code.update(artifact_uri=version.artifact_uri, code_hash=version.code_hash)
    now = utcnow()
    run = RunRecord(
        run_id=new_run_id(old.flow_name, now),
        flow_name=old.flow_name,
        flow_version=old.flow_version,
        status=PENDING,
        created_at=now,
        org_id=org_id,
        deployment_name=old.deployment_name,
        entrypoint=old.entrypoint,
        trigger="retry",
        parameters=old.parameters,
        flow_spec=old.flow_spec,
        retry_of=old.run_id,
        executor=old.executor,
        max_workers=old.max_workers,
        fail_fast=old.fail_fast,
        execution_mode=old.execution_mode,
        tags=old.tags,
    )
    _enqueue(
        store,
        run,
        {**code, "actor": actor.email},
        execute=True,
        singleton=False,
        by=actor,
        changes={"retry_of": run_id},
    )
    if wake is not None:
        wake()
    return run

"""Executing flows in this process, for the CLI: ``dagy run <path>:<fn>``, a deployment's run from
the store file, and a retry without a server.

The run always executes here and is recorded in this home's store: through the live server while
one holds the file, else in the file (dagy/store/shared.py). The front ends call these instead of
the services, which stay behind the backend.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dagy.backend.records import Run, run_from_store
from dagy.config.paths import DagyPaths

if TYPE_CHECKING:
    from dagy.backend.context import LocalContext
    from dagy.backend.environments import RunEnvironment


@dataclass(frozen=True)
class Settings:
    """How a run executes here (``dagy run``'s options)."""

    max_workers: int = 1
    fail_fast: bool = True
    executor: str = "local"
    progress: Any = None  # told each task run's state (dagy/cli/_progress.py on a terminal)


def run_target(
    target: str,
    parameters: dict[str, Any],
    settings: Settings,
    paths: DagyPaths | None = None,
    *,
    environment: RunEnvironment | None = None,
) -> Run:
    """Load ``<path>:<flow_fn>``, build it with the parameters and run it here; the finished run.

    ``environment``: run in it (``backend.environments.resolve_for_run(name)``: its variables
    and ``DAGY_ENVIRONMENT`` are set in this process first).
    """
    paths = paths or DagyPaths.from_env()
    from dagy.store.shared import open_ahead

    open_ahead(paths)  # no live server: the file opens while the engine is imported
    try:
        from dagy.services.runs import execute

        if environment is not None:
            environment.apply()
        record = execute.run_target(
            target,
            parameters,
            execute.RunSettings(
                settings.max_workers,
                settings.fail_fast,
                settings.executor,
                progress=settings.progress,
            ),
            paths,
        )
    finally:  # a flow that failed to load never opened the store: release the file now
        from dagy.store.duckdb_store import discard_prefetch

        discard_prefetch(paths.db)
    return run_from_store(record)


def retry_here(
    ctx: LocalContext,
    run_id: str,
    *,
    max_workers: int | None = None,
    new_id: str | None = None,
) -> Run:
    """Retry a run of the store file in this process (re-executing what did not succeed), with the
    same audit row a server writes for a retry."""
    from dagy.backend.runs import cli_errors
    from dagy.services.runs import execute

    settings = None
    with cli_errors():
        if max_workers is not None:
            old = execute.check_retryable(run_id, ctx.store().get_run(run_id, org_id=ctx.org_id))
            settings = execute.RunSettings(max_workers, old.fail_fast, old.executor)
        record = execute.retry_run(run_id, settings, ctx.paths, new_id=new_id, actor=ctx.actor())
    return run_from_store(record)


def run_deployment_here(
    ctx: LocalContext, deployment: str, parameters: dict[str, Any], *, progress: Any = None
) -> Run:
    """A deployment of the store file, run here from its artifact (or its entrypoint's file):
    recorded as a run of the deployment (trigger ``cli``) with the audit row of a triggered run."""
    from dagy.backend.runs import cli_errors
    from dagy.sdk import _codec
    from dagy.sdk.loader import load_flow
    from dagy.sdk.spec import FlowSpec
    from dagy.services.runs import code as run_code
    from dagy.services.runs import execute, trigger
    from dagy.store.records import CANCELLED, FAILED, utcnow
    from dagy.store.shared import open_store

    store, actor = ctx.store(), ctx.actor()
    with cli_errors(), store.connection():
        version, _ = trigger.resolve(
            store, ctx.org_id, deployment=deployment, flow_name=None, flow_version=None
        )
        code = trigger.runnable_code(version, FlowSpec.from_json(version.flow_spec))
        run = trigger.trigger_run(
            store,
            ctx.org_id,
            actor.email,
            deployment=deployment,
            parameters=parameters,
            trigger="cli",
            execute=False,
            by=actor,
        )
    shared = open_store(ctx.paths)
    try:
        target = run_code.target_for(ctx.paths, ctx.org_id, run.flow_name, run.flow_version, code)
        flow = load_flow(target)
        values = _codec.decode(json.loads(run.parameters or "{}"), lambda ref: None)
        spec = flow.build(**values)
    except BaseException as exc:  # the run ends before it started; the error is the user's
        status = CANCELLED if isinstance(exc, KeyboardInterrupt) else FAILED
        now = utcnow()
        error = f"{type(exc).__name__}: {exc}"
        shared.apply(
            run.run_id, {"status": status, "started_at": now, "ended_at": now, "error": error}, []
        )
        raise
    settings = execute.RunSettings(
        run.max_workers, run.fail_fast, run.executor, "cli", progress=progress
    )
    return run_from_store(execute.execute_queued(run, spec, settings, ctx.paths, shared))

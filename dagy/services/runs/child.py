"""Execute one run queued by `dagy serve`, in a child process of it: ``python -m
dagy.services.runs.child``, started by a worker thread (dagy/server/workers.py).

The worker writes a JSON payload on stdin: the run id, the server's API URL and local token, the
home, and where the code is. The child loads the code, rebuilds the FlowSpec with the run's
(already coerced) parameters, and executes it into the queued run's row. The server holds
``dagy.duckdb``, so every store read and write goes to it over loopback (``ChildStore``), in the
run's own org. SIGTERM cancels the run the way Ctrl+C cancels a CLI run.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

from dagy.store.records import RunRecord, utcnow
from dagy.store.remote import ChildStore


def _cancel_on_sigterm(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _log(paths: Any, run_id: str, level: str, message: str) -> None:
    run_dir = paths.run_dir(run_id)
    run_dir.mkdir(parents=True, exist_ok=True)
    with open(run_dir / "run.log", "a", encoding="utf-8") as fh:
        fh.write(f"{utcnow().isoformat(timespec='milliseconds')}Z {level} {message}\n")


def _end_early(store: ChildStore, paths: Any, run: RunRecord, status: str, error: str) -> None:
    """The run ends before the engine started it (its code would not load or build)."""
    now = utcnow()
    _log(paths, run.run_id, "ERROR", f"run {run.run_id} finished status={status} error={error}")
    store.apply(
        run.run_id,
        {"status": status, "started_at": now, "ended_at": now, "error": error, "pid": os.getpid()},
        [],
    )


def prepare(store: ChildStore, paths: Any, run: RunRecord, code: dict[str, Any]) -> tuple:
    """Load the run's code and its FlowSpec: rebuilt with the run's parameters, or for a retry the
    stored one, with the task runs it can reuse. Returns (spec, retry_of, reused)."""
    from dagy.engine.executors import executor_class
    from dagy.engine.runner import validate
    from dagy.sdk import _codec
    from dagy.sdk.loader import load_flow, load_module, split_target
    from dagy.sdk.spec import FlowSpec
    from dagy.services.runs import code as run_code
    from dagy.services.runs import execute as runs

    executor_class(run.executor)  # a plugin uninstalled since the trigger fails the run here
    if code.get("artifact_uri"):  # remote executors (plugins) send the same code to their workers
        os.environ.update(
            DAGY_ARTIFACT_URI=str(code["artifact_uri"]),
            DAGY_ARTIFACT_CODE_HASH=str(code.get("code_hash") or ""),
            DAGY_FLOW_NAME=run.flow_name,
            DAGY_FLOW_VERSION=run.flow_version,
        )
    target = run_code.target_for(paths, run.org_id, run.flow_name, run.flow_version, code)
    file = split_target(target)[0]
    os.chdir(Path(file).parent)
    if run.retry_of:
        old = store.get_run(run.retry_of)
        if old is None or not run.flow_spec:
            raise ValueError(f"Run {run.retry_of} to retry is gone")
        load_module(file)
        spec = dataclasses.replace(FlowSpec.from_json(run.flow_spec), entrypoint=target)
        return spec, old, runs.reusable(store.task_runs(old.run_id))
    flow = load_flow(target)
    if (flow.name, flow.version) != (run.flow_name, run.flow_version):
        raise ValueError(
            f"Flow code mismatch. Expected {run.flow_name}:{run.flow_version}, "
            f"got {flow.name}:{flow.version}"
        )
    params = _codec.decode(json.loads(run.parameters or "{}"), lambda ref: None)
    spec = flow.build(**params)
    validate(spec)
    if run.replay_of:  # `dagy runs replay`: reuse what the source run recorded (replay.plan)
        from dagy.services.runs import replay

        return spec, None, replay.reused_for(store, run, spec, code)
    return spec, None, None


def _whole_flow_runner(run: RunRecord) -> Any:
    """An executor's ``run_flow`` when the run's execution mode hands it the whole flow
    (``in-process`` on a remote executor such as ``lambda``); None to run the engine here."""
    if run.execution_mode != "in-process":
        return None
    from dagy.engine.executors import executor_class

    return getattr(executor_class(run.executor), "run_flow", None)


def _run_elsewhere(
    store: ChildStore, paths: Any, run: RunRecord, run_flow: Any, code: dict[str, Any]
) -> int:
    """The whole run in one call of the executor (one Lambda invocation): its answer is the
    run's status, output and error. Its task runs are the executor's own, not recorded here."""
    import socket

    from dagy.store.records import CANCELLED, FAILED, RUNNING, SUCCEEDED

    store.apply(
        run.run_id,
        {"status": RUNNING, "started_at": utcnow(), "pid": os.getpid(),
         "host": socket.gethostname()},
        [],
    )  # fmt: skip
    _log(paths, run.run_id, "INFO", f"run {run.run_id} handed whole to executor {run.executor}")
    try:
        answer = dict(run_flow(run=run, code=code, parameters=json.loads(run.parameters or "{}")))
    except KeyboardInterrupt:
        answer = {
            "ok": False,
            "cancelled": True,
            "error": "RunCancelledError: Run cancelled by user",
        }
    except Exception as exc:  # noqa: BLE001 - the executor's failure is the run's
        answer = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        from dagy.services import traces  # and a fault of the executor's: a trace

        where = traces.Where(
            org_id=run.org_id, run_id=run.run_id, flow_name=run.flow_name, executor=run.executor
        )
        traces.capture(paths, "executor", where, exc=exc)
    status = SUCCEEDED if answer.get("ok") else CANCELLED if answer.get("cancelled") else FAILED
    changes: dict[str, Any] = {"status": status, "ended_at": utcnow(), "error": answer.get("error")}
    if status == SUCCEEDED:
        changes["output"] = json.dumps(answer.get("output"))
    store.apply(run.run_id, changes, [])
    level = "INFO" if status == SUCCEEDED else "ERROR"
    _log(paths, run.run_id, level, f"run {run.run_id} finished status={status}")
    return 0 if status == SUCCEEDED else 130 if status == CANCELLED else 1


def main() -> int:
    from dagy.config.files import private_umask

    private_umask()  # what this child writes (logs, artifacts, results) is private, whoever started it
    for stream in (sys.stdout, sys.stderr):  # the run log: lines in the order they happen
        stream.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    signal.signal(signal.SIGTERM, _cancel_on_sigterm)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    payload = json.loads(sys.stdin.buffer.read())
    from dagy.config.paths import DagyPaths
    from dagy.services.runs import execute as runs
    from dagy.store.records import CANCELLED, FAILED, PENDING, SUCCEEDED

    paths = DagyPaths(Path(payload["home"]))
    store = ChildStore(payload["api_url"], payload["token"])
    run = store.get_run(payload["run_id"])
    if run is None or run.status != PENDING:
        return 0  # cancelled or taken meanwhile: nothing to do
    try:
        spec, retry_of, reused = prepare(store, paths, run, payload.get("code") or {})
    except KeyboardInterrupt:
        _end_early(store, paths, run, CANCELLED, "RunCancelledError: Run cancelled by user")
        return 130
    except Exception as exc:  # noqa: BLE001 - the run records why it could not start
        _end_early(store, paths, run, FAILED, f"{type(exc).__name__}: {exc}")
        return 1
    elsewhere = _whole_flow_runner(run)
    if elsewhere is not None:
        return _run_elsewhere(store, paths, run, elsewhere, payload.get("code") or {})
    settings = runs.RunSettings(run.max_workers, run.fail_fast, run.executor, run.trigger)
    record = runs.execute_queued(
        run, spec, settings, paths, store, retry_of=retry_of, reused=reused
    )
    return 0 if record.status == SUCCEEDED else 130 if record.status == CANCELLED else 1


if __name__ == "__main__":
    sys.exit(main())

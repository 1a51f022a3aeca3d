"""The Lambda function's handler: ``dagy_lambda.handler.handler(event, context)``.

Deployed as a function whose runtime has ``dagy``, ``dagy-s3`` and this package (a layer), it runs
code from a `dagy build` artifact in S3, fetched and checked against its manifest once per warm
container (under ``/tmp``, the only writable place in Lambda):

- ``{"mode": "flow", ...}`` (execution mode ``in-process``): the whole flow, on the local engine
  inside the invocation; returns the run's status, output and error.
- ``{"mode": "task", ...}`` (``task-isolated``): one task; its inputs are read from and its result
  written to S3 (``inputs_uri``, ``output_uri``) so large values never travel in the payload.

Event fields: ``artifact_uri``, ``code_hash``, ``entrypoint`` (``<file>:<fn>`` as the FlowSpec
recorded it), ``flow_name``, ``flow_version``; for flows ``parameters`` and ``max_workers``; for
tasks ``task_name``, ``module``, ``qualname``, ``inputs_uri``, ``output_uri``, ``max_bytes``.
"""

from __future__ import annotations

import contextlib
import io
import traceback
from pathlib import Path
from typing import Any

HOME = "/tmp/dagy"


def _home() -> Any:
    from dagy.config import settings
    from dagy.config.paths import DagyPaths

    return DagyPaths(Path(settings.LOCAL_DIR.raw() or HOME))


def _target(event: dict[str, Any], paths: Any) -> str:
    from dagy.services.runs.code import target_for

    code = {k: event.get(k) for k in ("entrypoint", "artifact_uri", "code_hash")}
    return target_for(paths, "lambda", event["flow_name"], event["flow_version"], code)


def run_flow(event: dict[str, Any]) -> dict[str, Any]:
    import json

    from dagy.services.runs import execute as runs

    paths = _home()
    record = runs.run_target(
        _target(event, paths),
        event.get("parameters") or {},
        runs.RunSettings(max_workers=int(event.get("max_workers") or 4), trigger="lambda"),
        paths,
    )
    return {
        "ok": record.status == "SUCCEEDED",
        "run_id": record.run_id,
        "status": record.status,
        "output": json.loads(record.output) if record.output else None,
        "error": record.error,
    }


def run_task(event: dict[str, Any]) -> dict[str, Any]:
    from dagy_s3.store import S3ArtifactStore

    from dagy.artifacts import get_store
    from dagy.engine import artifacts
    from dagy.errors import ArtifactSerializationError
    from dagy.sdk import _codec
    from dagy.sdk.loader import load_module, split_target
    from dagy.sdk.spec import TaskDef
    from dagy.sdk.task import resolve_task

    paths = _home()
    load_module(split_target(_target(event, paths))[0])
    task = resolve_task(
        TaskDef(name=event["task_name"], module=event["module"], qualname=event["qualname"])
    )
    store = get_store("s3", paths=paths)
    assert isinstance(store, S3ArtifactStore)
    inputs = _codec.loads(store.read(event["inputs_uri"]))
    log = io.StringIO()
    with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
        try:
            value = task.fn(
                *_codec.decode(inputs["args"], _no_ref), **_codec.decode(inputs["kwargs"], _no_ref)
            )
        except Exception as exc:  # noqa: BLE001 - user code: the attempt's error
            traceback.print_exc()
            message = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            return {"ok": False, "error": message, "log": log.getvalue()}
    try:
        data = artifacts.serialize(event["task_name"], value, int(event.get("max_bytes") or 10**8))
    except ArtifactSerializationError as exc:
        return {"ok": False, "error": f"ArtifactSerializationError: {exc}", "log": log.getvalue()}
    store.write(event["output_uri"], data)
    return {"ok": True, "output_uri": event["output_uri"], "log": log.getvalue()}


def _no_ref(ref: str) -> None:
    raise ValueError(f"unresolved input reference {ref}")


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    mode = event.get("mode")
    if mode == "flow":
        return run_flow(event)
    if mode == "task":
        return run_task(event)
    return {"ok": False, "error": f"ValueError: unknown mode {mode!r} (flow or task)"}

"""The child side of the ``process`` executor: run one task attempt read from stdin, then exit.

stdout/stderr are the task's log file (set up by the parent). The result goes to the artifact file;
a failure is described in ``error.json`` beside the task log. ``run_payload`` is the part that other
executors running an attempt away from the engine (``dagy-dask``'s workers) share.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class ChildResult:
    """What one attempt produced: the artifact's JSON bytes, or an error ("ValueError: boom")."""

    data: bytes | None = None
    error: str | None = None
    retryable: bool = True

    @property
    def ok(self) -> bool:
        return self.error is None


def started_line(payload: dict[str, Any], where: str) -> str:
    """The first line an attempt writes to its task log, saying where it runs."""
    from dagy.store.records import utcnow

    stamp = utcnow().isoformat(timespec="milliseconds")
    return (
        f"{stamp}Z INFO attempt {payload['number']} of {payload['task_run_id']} started ({where})"
    )


def run_payload(payload: dict[str, Any]) -> ChildResult:
    """Load the task a payload names (importing its flow file), call it, serialize its value.

    Tracebacks of failures go to ``sys.stderr``, which the caller has pointed at the task log.
    """
    from dagy.engine import artifacts
    from dagy.engine.context import TaskContext, bound
    from dagy.errors import ArtifactSerializationError
    from dagy.sdk import _codec
    from dagy.sdk.loader import load_module, split_target
    from dagy.sdk.spec import TaskDef
    from dagy.sdk.task import resolve_task

    try:
        if payload.get("entrypoint"):
            load_module(split_target(payload["entrypoint"])[0])
        task = resolve_task(
            TaskDef(
                name=payload["task_name"], module=payload["module"], qualname=payload["qualname"]
            )
        )
        args = _codec.decode(payload["args"], lambda ref: None)
        kwargs = _codec.decode(payload["kwargs"], lambda ref: None)
    except Exception as exc:  # noqa: BLE001 - reported to the engine as the attempt's error
        traceback.print_exc()
        error = f"ImportError: cannot load task {payload['task_name']}: {exc}"
        return ChildResult(error=error, retryable=False)
    context = TaskContext(
        run_id=payload["run_id"],
        task_run_id=payload["task_run_id"],
        attempt=payload["number"],
        artifact_dir=Path(payload["artifact_dir"]),
        task_dir=Path(payload["task_dir"]),
        entrypoint=payload.get("entrypoint"),
    )
    try:
        with bound(context):
            value = task.fn(*args, **kwargs)
    except BaseException as exc:  # noqa: BLE001 - user code
        traceback.print_exc()
        return ChildResult(error=f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
    try:
        data = artifacts.serialize(payload["task_name"], value, payload["max_bytes"])
    except ArtifactSerializationError as exc:
        return ChildResult(error=f"ArtifactSerializationError: {exc}", retryable=False)
    return ChildResult(data=data)


def main() -> int:
    from dagy.config.files import private_umask

    private_umask()  # what this child writes (logs, artifacts, results) is private, whoever started it
    payload = json.loads(sys.stdin.buffer.read())
    from dagy.engine import artifacts
    from dagy.engine._capture import LOG_FORMATTER, Redacting, Stamping, redact

    task_dir = Path(payload["task_dir"])
    # A secret the task got from dagy.secret() prints as **** (the streams are the task log); each
    # line the task prints is stamped with its time; log records and our lines carry their own.
    out, err = Redacting(sys.stdout), Redacting(sys.stderr)
    sys.stdout = Stamping(out)  # type: ignore[assignment]
    sys.stderr = Stamping(err)  # type: ignore[assignment]
    handler = logging.StreamHandler(err)
    handler.setFormatter(LOG_FORMATTER)
    logging.basicConfig(level=logging.INFO, handlers=[handler])

    print(started_line(payload, f"process {os.getpid()}"), file=out, flush=True)
    result = run_payload(payload)
    if result.data is None:
        error = {"error": redact(result.error or "failed"), "retryable": result.retryable}
        (task_dir / "error.json").write_text(json.dumps(error))
        return 1
    artifacts.write(Path(payload["artifact_dir"]), result.data)
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The child side of the ``process`` executor: run one task attempt read from stdin, then exit.

stdout/stderr are the task's log file (set up by the parent). The result goes to the artifact file;
a failure is described in ``error.json`` beside the task log.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import traceback
from pathlib import Path


def main() -> int:
    payload = json.loads(sys.stdin.buffer.read())
    from dagy.engine import artifacts
    from dagy.errors import ArtifactSerializationError
    from dagy.sdk import _codec
    from dagy.sdk.loader import load_module, split_target
    from dagy.sdk.spec import TaskDef
    from dagy.sdk.task import resolve_task
    from dagy.store.records import utcnow

    task_dir = Path(payload["task_dir"])
    from dagy.engine._capture import LOG_FORMATTER, Redacting, redact

    # A secret the task got from dagy.secret() prints as **** (the streams are the task log).
    sys.stdout = Redacting(sys.stdout)  # type: ignore[assignment]
    sys.stderr = Redacting(sys.stderr)  # type: ignore[assignment]
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(LOG_FORMATTER)
    logging.basicConfig(level=logging.INFO, handlers=[handler])

    def fail(message: str, retryable: bool = True) -> int:
        error = {"error": redact(message), "retryable": retryable}
        (task_dir / "error.json").write_text(json.dumps(error))
        return 1

    stamp = utcnow().isoformat(timespec="milliseconds")
    print(
        f"{stamp}Z INFO attempt {payload['number']} of {payload['task_run_id']} started "
        f"(process {os.getpid()})",
        flush=True,
    )
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
    except Exception as exc:  # noqa: BLE001 - reported to the parent as the attempt's error
        traceback.print_exc()
        return fail(f"ImportError: cannot load task {payload['task_name']}: {exc}", retryable=False)
    try:
        value = task.fn(*args, **kwargs)
    except BaseException as exc:  # noqa: BLE001 - user code
        traceback.print_exc()
        return fail(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
    try:
        data = artifacts.serialize(payload["task_name"], value, payload["max_bytes"])
    except ArtifactSerializationError as exc:
        return fail(f"ArtifactSerializationError: {exc}", retryable=False)
    artifacts.write(Path(payload["artifact_dir"]), data)
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())

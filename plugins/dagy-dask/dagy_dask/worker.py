"""The worker side: run one attempt inside a dask worker and send back its log and result.

Only this module's ``run`` crosses the wire (pickled by reference, so every worker needs
``dagy-dask`` installed). Its input is the same JSON payload the ``process`` executor's child reads;
the task is loaded from the flow file named in the payload, so the file must be at the same path on
the worker (a shared file system, or one machine).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dagy.engine._child import ChildResult

_load_lock = threading.Lock()
_capturing = False


def _capture_once() -> None:
    """Route this worker process's prints and log records to the log bound to each thread."""
    global _capturing
    from dagy.engine import _capture

    with _load_lock:
        if not _capturing:
            _capture.install()  # never uninstalled: the worker process outlives any one run
            _capturing = True


def _where() -> str:
    from distributed import get_worker

    try:
        address = get_worker().address
    except ValueError:  # called outside a worker (a test calling run() directly)
        return f"process {os.getpid()}"
    return f"dask worker {address}, process {os.getpid()}"


def _preload(payload: dict[str, Any]) -> None:
    """Import the flow file under a lock: two threads importing it at once would see half a module."""
    from dagy.sdk.loader import load_module, split_target

    if not payload.get("entrypoint"):
        return
    # A file that fails to load is loaded again by run_payload, which reports the error in the
    # task log exactly as the process executor's child does.
    with _load_lock, contextlib.suppress(ImportError, FileNotFoundError, ValueError):
        load_module(split_target(payload["entrypoint"])[0])


def _attempt(payload: dict[str, Any], log: io.StringIO) -> ChildResult:
    """Run the attempt in this thread with its prints and log records going to ``log``."""
    from dagy.engine import _capture
    from dagy.engine._child import run_payload

    _capture.bind(log)
    try:
        _preload(payload)
        return run_payload(payload)
    finally:
        _capture.bind(None)


def _attempt_with_deadline(
    payload: dict[str, Any], log: io.StringIO, timeout: float
) -> ChildResult:
    """Run the attempt on a thread of its own and give up waiting after ``timeout`` seconds.

    By then the engine has failed the attempt and cancelled its future, but dask cannot stop the
    thread running it: returning frees this worker thread for the next task (as the ``local``
    executor replaces a busy thread) while the abandoned call runs on, its output discarded.
    """
    from dagy.engine._child import ChildResult

    done: list[ChildResult] = []
    thread = threading.Thread(
        target=lambda: done.append(_attempt(payload, log)), name="dagy-task", daemon=True
    )
    thread.start()
    thread.join(timeout)
    if done:
        return done[0]
    return ChildResult(error=f"TaskTimeoutError: Task exceeded timeout of {timeout:g}s")


def run(body: str) -> dict[str, Any]:
    """Run the attempt described by ``body``; returns its log text, artifact bytes or error."""
    from dagy.engine import _capture
    from dagy.engine._child import started_line

    payload = json.loads(body)
    _capture_once()
    log = io.StringIO()
    log.write(started_line(payload, _where()) + "\n")
    timeout = payload.get("timeout_seconds")
    if timeout:
        result = _attempt_with_deadline(payload, log, float(timeout))
    else:
        result = _attempt(payload, log)
    return {
        "data": result.data,
        "error": _capture.redact(result.error) if result.error else None,
        "retryable": result.retryable,
        "log": log.getvalue(),
    }

"""What an operator does to an existing run: cancel it, or set one of its task runs' status.

Cancel, by where the run is:
- queued (no worker has taken it): CANCELLED at once, its ``flow_trigger`` event done;
- executing in a child of this server: SIGTERM to the child's process group — the engine cancels
  its in-flight tasks and records CANCELLED — and SIGKILL after the grace period (the worker then
  records CANCELLED); the call returns once the run is closed;
- executing in a `dagy run` process on this host: SIGTERM to it (it records CANCELLED, as on
  Ctrl+C), SIGKILL and CANCELLED after the grace period;
- RUNNING with no live process: CANCELLED at once.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from typing import Any, Protocol

from dagy.config.paths import DagyPaths
from dagy.config.processes import process_alive
from dagy.errors import InvalidInputError, NotFoundError
from dagy.services.accounts import audit
from dagy.services.accounts.audit import Actor
from dagy.services.runs import queue
from dagy.states import to_api
from dagy.store import queue as sql
from dagy.store.duckdb_store import DuckDBStore
from dagy.store.records import (
    CANCELLED,
    FAILED,
    FINAL_STATUSES,
    PENDING,
    SKIPPED,
    SUCCEEDED,
    UPSTREAM_FAILED,
    RunRecord,
    TaskRunRecord,
    utcnow,
)

DEFAULT_GRACE = 10.0
TASK_STATUSES = {"succeeded": SUCCEEDED, "failed": FAILED}


class Canceller(Protocol):
    """The server's workers, as cancel needs them (dagy/server/workers.py)."""

    grace: float

    def cancel(self, run_id: str) -> threading.Event | None: ...


def _not_cancellable(run: RunRecord) -> InvalidInputError:
    word = to_api(run.status)
    return InvalidInputError(
        f"Run cannot be cancelled (already {word})", {"status": word, "run_id": run.run_id}
    )


def cancel(
    store: DuckDBStore,
    paths: DagyPaths,
    actor: Actor,
    run_id: str,
    *,
    workers: Canceller | None = None,
) -> RunRecord:
    """Cancel a queued or running run of the actor's org; the run as it ended (CANCELLED).

    ``workers``: the server's, when it runs this; None from the store file (no server is live).
    The store is not held while waiting: the process executing the run must record its end.
    """
    grace = workers.grace if workers is not None else DEFAULT_GRACE
    with store.connection():  # a worker claims under the same hold: queued or known, not both
        run = store.get_run_summary(run_id, actor.org_id)
        if run is None:
            raise NotFoundError(f"Run not found: {run_id}", {"run_id": run_id})
        if run.status in FINAL_STATUSES:
            raise _not_cancellable(run)
        closed = workers.cancel(run_id) if workers is not None else None
        if closed is None and run.status == PENDING:
            queue.cancel_queued(store, run)
    if closed is not None:
        closed.wait(grace + 10)
    elif run.status != PENDING:
        _cancel_process(store, paths, run, grace)
    with store.transaction():
        ended = store.get_run_summary(run_id, actor.org_id)
        assert ended is not None
        if ended.status != CANCELLED:
            raise _not_cancellable(ended)
        audit.write(
            store,
            actor,
            "update",
            "run",
            run_id,
            resource_name=ended.flow_name,
            changes={"status": "cancelled"},
        )
    return ended


def _cancel_process(store: DuckDBStore, paths: DagyPaths, run: RunRecord, grace: float) -> None:
    """A run executing in a process no server worker started (`dagy run` on this host)."""
    here = run.host == socket.gethostname()
    if here and run.pid and process_alive(run.pid, run.pid_started):
        os.kill(run.pid, signal.SIGTERM)
        if _finished(store, run, grace):
            return
        if process_alive(run.pid, run.pid_started):
            os.kill(run.pid, signal.SIGKILL)
    elif not here:
        raise InvalidInputError(
            f"Run {run.run_id} runs on {run.host}; it can only be cancelled there",
            {"host": run.host},
        )
    queue.close(
        store,
        paths,
        run.run_id,
        event_id=None,
        pid=run.pid,
        exit_code=None,
        cancelled=queue.CANCELLED_BY_USER,
    )


def _finished(store: Any, run: RunRecord, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        now = store.get_run_summary(run.run_id, run.org_id)
        if now is None or now.status in FINAL_STATUSES:
            return True
        time.sleep(0.05)
    return False


# -- a task run's status, set by hand ---------------------------------------------------------------


def set_task_status(
    store: DuckDBStore, actor: Actor, run_id: str, task_run_id: str, status: Any
) -> tuple[RunRecord, TaskRunRecord]:
    """Mark a task run of a finished run succeeded or failed and recompute the run's status, with
    its audit row. Returns (run, task run). A task run marked succeeded has no stored result: a
    retry runs it again."""
    wanted = TASK_STATUSES.get(str(status).lower()) if isinstance(status, str) else None
    if wanted is None:
        raise InvalidInputError(
            f"Invalid status: {status!r}", {"status": "one of succeeded, failed"}
        )
    now = utcnow()
    org_id = actor.org_id
    with store.transaction():
        run = store.get_run_summary(run_id, org_id)
        if run is None:
            raise NotFoundError(f"Run not found: {run_id}", {"run_id": run_id})
        if run.status not in FINAL_STATUSES:
            word = to_api(run.status)
            raise InvalidInputError(
                f"Task run status can only be set on a finished run (this one is {word})",
                {"status": word},
            )
        rows = store.task_runs(run_id)
        task = next((t for t in rows if t.task_run_id == task_run_id), None)
        if task is None:
            raise NotFoundError(f"Task run not found: {task_run_id}", {"task_run_id": task_run_id})
        previous = task.status
        task.status = wanted
        task.ended_at = task.ended_at or now
        task.error = (
            None if wanted == SUCCEEDED else f"marked failed by {actor.email or 'an operator'}"
        )
        changes = _run_outcome(run, rows)
        store.apply(run_id, changes, [task])
        for key, value in changes.items():
            setattr(run, key, value)
        sql.record_status(store, run, now)
        audit.write(
            store,
            actor,
            "update",
            "task_run",
            task_run_id,
            resource_name=task.task_name,
            changes={"status": [previous.lower(), task.status.lower()], "run_id": run_id},
        )
    return run, task


def _run_outcome(run: RunRecord, rows: list[TaskRunRecord]) -> dict[str, Any]:
    if all(t.status in (SUCCEEDED, SKIPPED) for t in rows):
        return {"status": SUCCEEDED, "error": None}
    failed = next((t for t in rows if t.status == FAILED), None)
    if failed is not None:
        return {
            "status": FAILED,
            "error": f"TaskFailedError: Task {failed.task_name} failed: {failed.error}",
        }
    if any(t.status == UPSTREAM_FAILED for t in rows):
        return {"status": FAILED}
    return {}

"""The run queue as the server's workers see it: claim the next run, close it when its child exits,
and put the queue back in order when the server starts.

A run's child finalizes the run itself (status, output, error). When it could not — it exited,
crashed or was killed first — ``complete`` does: what the child appended to ``events.jsonl`` but
never sent is applied, and a run still unfinished becomes FAILED (``crashed: process <pid> exited
with code <n> before the run finished``) or, when it was being cancelled, CANCELLED.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import os
import signal
import socket
from typing import Any

from dagy.config.paths import DagyPaths
from dagy.config.processes import kill_survivors, process_alive
from dagy.store import events as event_log
from dagy.store import queue as sql
from dagy.store.duckdb_store import DuckDBStore
from dagy.store.flows import Event
from dagy.store.records import (
    CANCELLED,
    FAILED,
    FINAL_STATUSES,
    PENDING,
    RETRYING,
    RUNNING,
    RunRecord,
    TaskRunRecord,
    utcnow,
)

MAX_ATTEMPTS = 3  # starts of one event cut short by a server crash before it is given up
CANCELLED_BY_USER = "RunCancelledError: Run cancelled by user"
CANCELLED_BY_SHUTDOWN = "RunCancelledError: Run cancelled: the server shut down"
CANCELLED_QUEUED = "RunCancelledError: Run cancelled before it started"


def claim(store: DuckDBStore) -> Event | None:
    """The next runnable event, now ``processing``; None when none may start."""
    return sql.claim_next(store, utcnow())


def skip(store: DuckDBStore, event: Event, why: str) -> None:
    """A claimed event whose run is not waiting any more (cancelled meanwhile): nothing to run."""
    sql.finish_event(store, event.event_id, "done", utcnow(), why)


def release(store: DuckDBStore, event: Event) -> None:
    """A claimed event whose run was not started (the server is stopping): queued again."""
    sql.requeue_event(store, event.event_id, undo_attempt=True)


def _exit_text(pid: int | None, code: int | None) -> str:
    if code is None:  # the store's crash recovery says it the same way
        return f"crashed: process {pid} on {socket.gethostname()} exited before the run finished"
    how = f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"
    return f"crashed: process {pid} {how} before the run finished"


def complete(
    store: DuckDBStore,
    paths: DagyPaths,
    event: Event,
    *,
    pid: int | None,
    exit_code: int | None,
    cancelled: str | None = None,
) -> RunRecord | None:
    """Close ``event`` after its child exited; finalize the run if the child did not.

    ``cancelled`` is the error a cancelled run gets (a user's cancel or the server's shutdown).
    """
    return close(
        store,
        paths,
        event.run_id or "",
        event_id=event.event_id,
        pid=pid,
        exit_code=exit_code,
        cancelled=cancelled,
    )


def close(
    store: DuckDBStore,
    paths: DagyPaths,
    run_id: str,
    *,
    event_id: int | None,
    pid: int | None,
    exit_code: int | None,
    cancelled: str | None = None,
    error: str | None = None,
) -> RunRecord | None:
    """Finalize a run whose process is gone, unless it finalized itself, and close its event.

    The run becomes CANCELLED with ``cancelled`` when given, else FAILED with ``error`` or the
    process's end (``crashed: process <pid> exited with code <n> before the run finished``).
    """
    now = utcnow()
    with store.connection():
        run = sql.run_by_id(store, run_id)
        if run is None:
            if event_id is not None:
                sql.finish_event(store, event_id, "failed", now, "the run is gone")
            return None
        if run.status in FINAL_STATUSES:
            changes: dict[str, Any] = {}
            if cancelled and run.status == CANCELLED and run.error == CANCELLED_BY_USER:
                changes["error"] = cancelled  # the engine's words are for Ctrl+C
            sql.finish_run(
                store,
                run,
                changes,
                [],
                event_id=event_id,
                event_status="done",
                event_error=None,
                at=now,
            )
        else:
            changes, tasks, offset = event_log.replay(
                paths.run_dir(run.run_id) / "events.jsonl", run.events_offset
            )
            changes["events_offset"] = offset
            event_status, reason = "done", None
            if changes.get("status") not in FINAL_STATUSES:
                kill_survivors(paths.run_dir(run.run_id))  # before its task runs are closed
                status = CANCELLED if cancelled else FAILED
                reason = cancelled or error or _exit_text(pid, exit_code)
                changes.update(status=status, ended_at=now, error=reason)
                if pid is not None:  # a process was started
                    changes.setdefault("started_at", run.started_at or now)
                tasks = _stop_tasks(store, run.run_id, tasks, status, now)
                event_status = "done" if cancelled else "failed"
                _log(paths, run.run_id, f"run {run.run_id} finished status={status} error={reason}")
                if not cancelled:  # the run's process died under it: a fault, not the flow's
                    _crash_trace(paths, run, reason)
            sql.finish_run(
                store,
                run,
                changes,
                list(tasks.values()),
                event_id=event_id,
                event_status=event_status,
                event_error=reason,
                at=now,
            )
        return sql.run_by_id(store, run.run_id)


def _crash_trace(paths: DagyPaths, run: RunRecord, reason: str) -> None:
    """An exception trace for a run whose process ended before it finished (never raises)."""
    from dagy.services import traces

    log_tail = ""
    try:
        with open(paths.run_log(run.run_id), "rb") as fh:
            fh.seek(max(0, os.fstat(fh.fileno()).st_size - 16_384))
            lines = fh.read().decode("utf-8", "replace").splitlines()[-40:]
        log_tail = "Last lines of the run log:\n" + "\n".join(lines)
    except OSError:
        pass
    where = traces.Where(
        org_id=run.org_id, run_id=run.run_id, flow_name=run.flow_name, executor=run.executor
    )
    traces.capture(
        paths, "engine", where, error_type="RunCrashedError", message=reason, stack=log_tail
    )


def _log(paths: DagyPaths, run_id: str, message: str) -> None:
    """The run log's last line, as the engine would have written it."""
    if paths.run_dir(run_id).is_dir():
        with open(paths.run_log(run_id), "a", encoding="utf-8") as fh:
            fh.write(f"{utcnow().isoformat(timespec='milliseconds')}Z ERROR {message}\n")


def _stop_tasks(
    store: DuckDBStore,
    run_id: str,
    replayed: dict[str, TaskRunRecord],
    status: str,
    now: _dt.datetime,
) -> dict[str, TaskRunRecord]:
    """Task runs of an unfinished run, closed: running ones FAILED (crashed) or CANCELLED,
    pending ones CANCELLED."""
    rows = {t.task_run_id: t for t in store.task_runs(run_id)}
    rows.update(replayed)
    for t in rows.values():
        if t.status in (RUNNING, RETRYING):
            t.status, t.ended_at = status, now
            t.error = "crashed" if status == FAILED else "cancelled"
        elif t.status == PENDING:
            t.status = CANCELLED
    return rows


def cancel_queued(store: DuckDBStore, run: RunRecord) -> None:
    """A run no worker has taken: CANCELLED at once, its event done."""
    now = utcnow()
    sql.finish_run(
        store,
        run,
        {"status": CANCELLED, "ended_at": now, "error": CANCELLED_QUEUED},
        [],
        event_id=None,
        event_status="done",
        event_error="cancelled before it started",
        at=now,
    )


def recover(store: DuckDBStore, paths: DagyPaths) -> None:
    """Put the queue in order at server start, after the store's own crash recovery.

    Children die with the server, so an event left ``processing`` has no live child: its run is
    finished (the event is done), was failed by the crash recovery (failed), or never reached
    RUNNING — no task of it ran, so it is queued again (at most MAX_ATTEMPTS starts).
    """
    for event, status in sql.events_in_status(store, "processing"):
        run = sql.run_by_id(store, event.run_id or "")
        if run is not None and run.status == RUNNING:
            _kill_orphan(run)
            complete(store, paths, event, pid=run.pid, exit_code=None)
        elif run is None or status in FINAL_STATUSES:
            failed = run is not None and (run.error or "").startswith("crashed:")
            sql.finish_event(
                store,
                event.event_id,
                "failed" if failed or run is None else "done",
                utcnow(),
                (run.error if run else "the run is gone") if failed or run is None else None,
            )
        elif event.attempts >= MAX_ATTEMPTS:
            close(
                store,
                paths,
                run.run_id,
                event_id=event.event_id,
                pid=None,
                exit_code=None,
                error=f"crashed: the server stopped {event.attempts} times before the run started",
            )
        else:
            sql.requeue_event(store, event.event_id)


def _kill_orphan(run: RunRecord) -> None:
    """A child that outlived its server (no PR_SET_PDEATHSIG on this platform): stop it."""
    if run.pid and run.host == socket.gethostname() and process_alive(run.pid, run.pid_started):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(run.pid, signal.SIGKILL)

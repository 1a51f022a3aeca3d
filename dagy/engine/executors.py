"""Executors: where a task attempt runs. ``local`` (threads) and ``process`` (a child per attempt)
are built in; plugins register more under the ``dagy.executors`` entry-point group."""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from dagy.config.processes import die_with_parent, record_process
from dagy.engine import _capture, artifacts
from dagy.engine.context import TaskContext, bound
from dagy.errors import ArtifactSerializationError
from dagy.sdk import _codec
from dagy.store.records import utcnow


@dataclass(eq=False)
class Attempt:
    """One try of one task run, as handed to an executor."""

    run_id: str
    task_run_id: str
    task_name: str
    number: int
    fn: Callable[..., Any] | None
    args: list[Any]
    kwargs: dict[str, Any]
    task_dir: Path
    artifact_dir: Path
    max_bytes: int
    timeout_seconds: float | None = None
    # Where a child process finds the task: the flow file and the task's module and qualname.
    entrypoint: str | None = None
    module: str | None = None
    qualname: str | None = None
    abandoned: bool = False
    started: bool = False
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class Outcome:
    task_run_id: str
    number: int
    ok: bool
    started_at: _dt.datetime
    ended_at: _dt.datetime
    value: Any = None
    artifact_path: str | None = None
    error: str | None = None  # "ValueError: boom"
    retryable: bool = True
    # Set when the attempt failed through no exception of the task's own (an executor that raised,
    # a child process gone without a word): what is known of the fault, for an exception trace.
    fault: str | None = None

    @classmethod
    def succeeded(
        cls, attempt: Attempt, started: _dt.datetime, value: Any, artifact_path: str | None = None
    ) -> Outcome:
        return cls(
            attempt.task_run_id, attempt.number, True, started, utcnow(), value, artifact_path
        )

    @classmethod
    def failed(
        cls,
        attempt: Attempt,
        started: _dt.datetime,
        error: str,
        *,
        retryable: bool = True,
        fault: str | None = None,
    ) -> Outcome:
        ended = utcnow()
        return cls(
            attempt.task_run_id,
            attempt.number,
            False,
            started,
            ended,
            error=error,
            retryable=retryable,
            fault=fault,
        )


class Executor(Protocol):
    """Runs attempts and puts an Outcome for each on the completions queue it was given."""

    name: str

    def submit(self, attempt: Attempt) -> None: ...

    def cancel(self, attempt: Attempt) -> None:
        """Stop an attempt; its Outcome, if it ever comes, is ignored by the engine."""

    def shutdown(self) -> None: ...


def _log_line(log: Any, text: str) -> None:
    log.write(f"{utcnow().isoformat(timespec='milliseconds')}Z {text}\n")


def write_task_metadata(attempt: Attempt, outcome: Outcome, status: str) -> None:
    data = {
        "run_id": attempt.run_id,
        "task_run_id": attempt.task_run_id,
        "task_name": attempt.task_name,
        "status": status,
        "attempt": attempt.number,
        "started_at": outcome.started_at.isoformat() + "Z",
        "ended_at": outcome.ended_at.isoformat() + "Z",
        "duration_seconds": (outcome.ended_at - outcome.started_at).total_seconds(),
        "error": outcome.error,
        "artifact_path": outcome.artifact_path,
    }
    with open(attempt.task_dir / "metadata.json", "w", encoding="utf-8") as fh:
        fh.write(json.dumps(data))  # json.dumps uses the C encoder; json.dump does not


def _tail(path: Path, lines: int = 40) -> str:
    """The last lines of a log, for a fault's trace ("" when it cannot be read)."""
    try:
        with open(path, "rb") as fh:
            fh.seek(max(0, os.fstat(fh.fileno()).st_size - 16_384))
            text = fh.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return "Last lines of the task log:\n" + "\n".join(text.splitlines()[-lines:])


def task_context(attempt: Attempt) -> TaskContext:
    return TaskContext(
        run_id=attempt.run_id,
        task_run_id=attempt.task_run_id,
        attempt=attempt.number,
        artifact_dir=attempt.artifact_dir,
        task_dir=attempt.task_dir,
        entrypoint=attempt.entrypoint,
    )


class TaskLog:
    """A task's ``task.log``, created (with its folder) at the first write: a task that prints and
    logs nothing and succeeds leaves no folder behind. The engine's own lines before that first
    write are kept and written first, with the times they happened.

    On a retry whose earlier attempt left a log, every line goes to it at once, as before.
    """

    def __init__(self, path: Path, *, eager: bool = False) -> None:
        self.path = path
        self.closed = False
        self._fh: Any = None
        self._pending: list[str] = []
        if eager:
            self._open()

    @property
    def opened(self) -> bool:
        return self._fh is not None

    def _open(self) -> Any:
        artifacts.make_dir(self.path.parent)
        self._fh = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - closed in close()
        if self._pending:
            self._fh.write("".join(self._pending))
            self._pending.clear()
        return self._fh

    def note(self, text: str) -> None:
        """An engine line: held until the task writes something (or fails), written at once after."""
        if self._fh is not None:
            self._fh.write(text)
        else:
            self._pending.append(text)

    def write(self, text: str) -> int:
        fh = self._fh if self._fh is not None else self._open()
        return int(fh.write(text))

    def flush(self) -> None:
        if self._fh is not None:
            self._fh.flush()

    def close(self) -> None:
        self.closed = True
        if self._fh is not None:
            self._fh.close()


def _stamp_line(text: str) -> str:
    return f"{utcnow().isoformat(timespec='milliseconds')}Z {text}\n"


def run_attempt(attempt: Attempt) -> Outcome:
    """Call the task function in this thread with its output captured; store the result.

    ``task.log`` (and the task's folder) appear only when the task writes something or fails; so
    does the task's ``metadata.json`` beside it (the run's own metadata.json lists every task run).
    """
    assert attempt.fn is not None
    started = utcnow()
    log_path = attempt.task_dir / "task.log"
    log = TaskLog(log_path, eager=attempt.number > 1 and log_path.exists())
    log.note(_stamp_line(f"INFO attempt {attempt.number} of {attempt.task_run_id} started"))
    try:
        _capture.bind(log)
        try:
            with bound(task_context(attempt)):
                value = attempt.fn(*attempt.args, **attempt.kwargs)
        except BaseException as exc:  # noqa: BLE001 - any failure of user code is a task failure
            _capture.bind(None)
            # A secret the task got from dagy.secret() stays **** in the log and the error.
            log.write(_capture.redact(traceback.format_exc()))
            message = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            message = _capture.redact(message)
            _log_line(log, f"ERROR attempt {attempt.number} failed: {message}")
            outcome = Outcome.failed(attempt, started, message)
        else:
            _capture.bind(None)
            outcome = _store_result(attempt, value, started, log)
    finally:
        log.close()
    if log.opened and not attempt.abandoned:
        write_task_metadata(attempt, outcome, "SUCCEEDED" if outcome.ok else "FAILED")
    return outcome


def _store_result(attempt: Attempt, value: Any, started: _dt.datetime, log: TaskLog) -> Outcome:
    try:
        data = artifacts.serialize(attempt.task_name, value, attempt.max_bytes)
    except ArtifactSerializationError as exc:
        _log_line(log, f"ERROR {exc}")
        return Outcome.failed(
            attempt, started, f"ArtifactSerializationError: {exc}", retryable=False
        )
    if attempt.abandoned:
        return Outcome.succeeded(attempt, started, value)
    outcome = Outcome.succeeded(
        attempt, started, value, str(artifacts.write(attempt.artifact_dir, data))
    )
    if log.opened:
        took = (outcome.ended_at - started).total_seconds()
        _log_line(log, f"INFO attempt {attempt.number} succeeded in {took:.3f}s")
    return outcome


def child_payload(attempt: Attempt) -> str:
    """An attempt as the JSON that ``dagy.engine._child.run_payload`` runs in another process.

    TypeError/ValueError when an input is not JSON-serialisable.
    """
    return _codec.dumps(
        {
            "run_id": attempt.run_id,
            "task_run_id": attempt.task_run_id,
            "task_name": attempt.task_name,
            "number": attempt.number,
            "entrypoint": attempt.entrypoint,
            "module": attempt.module,
            "qualname": attempt.qualname,
            "args": attempt.args,
            "kwargs": attempt.kwargs,
            "task_dir": str(attempt.task_dir),
            "artifact_dir": str(attempt.artifact_dir),
            "max_bytes": attempt.max_bytes,
            "timeout_seconds": attempt.timeout_seconds,
        }
    )


class ThreadExecutor:
    """Runs attempts on daemon worker threads in this process.

    A thread cannot be killed: a timed-out or cancelled attempt is abandoned (its result ignored) and
    a fresh worker replaces the busy one, so capacity stays at ``max_workers`` and the process can
    still exit. Use the ``process`` executor when a timeout must really stop the work.
    """

    name = "local"
    # What GET /backends reports; None: no limit of the executor's own.
    capabilities: tuple[str, ...] = ("cpu", "threads", "memory_shared", "short_running")
    max_concurrent_runs: int | None = None
    max_timeout_seconds: int | None = None

    def __init__(self, completions: queue.SimpleQueue[Outcome], max_workers: int) -> None:
        self._completions = completions
        self._queue: queue.SimpleQueue[Attempt | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._workers = max_workers
        for _ in range(max_workers):
            self._spawn()

    def _spawn(self) -> None:
        threading.Thread(target=self._work, name="dagy-worker", daemon=True).start()

    def _work(self) -> None:
        while True:
            attempt = self._queue.get()
            if attempt is None:
                return
            with self._lock:
                if attempt.abandoned:
                    continue
                attempt.started = True
            outcome = run_attempt(attempt)
            if attempt.abandoned:
                return  # a replacement worker took this one's place
            self._completions.put(outcome)

    def submit(self, attempt: Attempt) -> None:
        self._queue.put(attempt)

    def cancel(self, attempt: Attempt) -> None:
        with self._lock:
            attempt.abandoned = True
            busy = attempt.started
        if busy:
            self._spawn()

    def shutdown(self) -> None:
        for _ in range(self._workers):
            self._queue.put(None)


class ProcessExecutor:
    """Runs each attempt in a child Python process; timeouts and cancels kill its process group."""

    name = "process"
    capabilities: tuple[str, ...] = ("cpu", "process_isolation", "memory_isolated", "long_running")
    max_concurrent_runs: int | None = None
    max_timeout_seconds: int | None = None

    def __init__(self, completions: queue.SimpleQueue[Outcome], max_workers: int) -> None:
        self._completions = completions
        self._procs: dict[int, subprocess.Popen[bytes]] = {}
        self._lock = threading.Lock()

    def submit(self, attempt: Attempt) -> None:
        artifacts.make_dir(attempt.task_dir)
        try:
            body = child_payload(attempt).encode()
        except (TypeError, ValueError) as exc:
            error = f"TypeError: inputs cannot be sent to a child process: {exc}"
            self._completions.put(Outcome.failed(attempt, utcnow(), error, retryable=False))
            return
        threading.Thread(target=self._watch, args=(attempt, body), daemon=True).start()

    def _watch(self, attempt: Attempt, body: bytes) -> None:
        started = utcnow()
        log = open(attempt.task_dir / "task.log", "ab")  # noqa: SIM115 - handed to the child
        try:
            proc = subprocess.Popen(
                [sys.executable, "-m", "dagy.engine._child"],
                stdin=subprocess.PIPE,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own group: a kill reaches what it started too
                preexec_fn=die_with_parent(),  # noqa: PLW1509 - only prctl: dies with this thread
            )
        finally:
            log.close()
        record_process(attempt.task_dir, proc.pid)
        with self._lock:
            self._procs[id(attempt)] = proc
            if attempt.abandoned:
                self._kill(proc)
        assert proc.stdin is not None
        try:
            proc.stdin.write(body)
            proc.stdin.close()
        except BrokenPipeError:
            pass
        code = proc.wait()
        with self._lock:
            self._procs.pop(id(attempt), None)
        if attempt.abandoned:
            return
        outcome = self._outcome(attempt, code, started)
        write_task_metadata(attempt, outcome, "SUCCEEDED" if outcome.ok else "FAILED")
        self._completions.put(outcome)

    @staticmethod
    def _outcome(attempt: Attempt, code: int, started: _dt.datetime) -> Outcome:
        result = attempt.artifact_dir / artifacts.RESULT_FILE
        if code == 0 and result.exists():
            return Outcome.succeeded(attempt, started, artifacts.read(result), str(result))
        error_file = attempt.task_dir / "error.json"
        try:
            info = json.loads(error_file.read_text(encoding="utf-8"))
            error_file.unlink()
            return Outcome.failed(
                attempt, started, info["error"], retryable=info.get("retryable", True)
            )
        except (OSError, ValueError, KeyError):
            how = f"signal {-code}" if code < 0 else f"exit code {code}"
            return Outcome.failed(
                attempt,
                started,
                f"ChildProcessError: task process ended with {how}",
                fault=f"The task's process ended with {how} without reporting an error.\n"
                + _tail(attempt.task_dir / "task.log"),
            )

    @staticmethod
    def _kill(proc: subprocess.Popen[bytes]) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)

    def cancel(self, attempt: Attempt) -> None:
        with self._lock:
            attempt.abandoned = True
            proc = self._procs.get(id(attempt))
            if proc is not None:
                self._kill(proc)

    def shutdown(self) -> None:
        with self._lock:
            procs = list(self._procs.values())
        for proc in procs:
            self._kill(proc)
        deadline = time.monotonic() + 5
        for proc in procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))


BUILTIN: dict[str, type] = {
    "local": ThreadExecutor,
    "thread": ThreadExecutor,
    "process": ProcessExecutor,
}


def executor_class(name: str) -> type:
    """The executor class for a name: built in, or from a ``dagy.executors`` entry point."""
    if name in BUILTIN:
        return BUILTIN[name]
    from importlib.metadata import entry_points

    for ep in entry_points(group="dagy.executors"):
        if ep.name == name:
            try:
                return ep.load()  # type: ignore[no-any-return]
            except Exception as exc:  # a broken plugin is named, never a traceback
                from dagy.plugins import load_error

                raise ValueError(
                    f"Executor plugin '{name}' ({ep.value}) failed to load: {load_error(exc)}"
                ) from None
    known = sorted(set(BUILTIN) | {ep.name for ep in entry_points(group="dagy.executors")})
    raise ValueError(f"Unknown executor '{name}' (installed: {', '.join(known)})")

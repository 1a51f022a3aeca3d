"""The ``dask`` executor: each task attempt becomes one future on a dask.distributed scheduler.

The engine keeps retries, timeouts and fail-fast; this class only submits attempts, turns finished
futures into Outcomes (writing the task log and the artifact on the engine's side, as the local
engine does) and cancels futures when the engine asks.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import os
import queue
import threading
from typing import Any

from dagy.engine import artifacts
from dagy.engine.executors import Attempt, Outcome, child_payload, write_task_metadata
from dagy.errors import ConfigError
from dagy.sdk import _codec
from dagy.store.records import utcnow
from dagy_dask import SCHEDULER_ENV

CONNECT_TIMEOUT = "30s"  # dask's own default for distributed.comm.timeouts.connect


DEPLOYMENT_ENV = "DASK_SCHEDULER_ADDRESS"


def scheduler_address() -> str:
    """The scheduler to use: ``DASK_SCHEDULER_ADDRESS`` (dask's own name; a variable of a
    deployment's environment reaches its runs so), else ``DAGY_DASK_SCHEDULER`` (the machine's or
    server's); ConfigError when neither is set."""
    from dagy.config import settings

    deployment = (os.environ.get(DEPLOYMENT_ENV) or "").strip()  # dask's variable, not Dagy's
    address = deployment or settings.DASK_SCHEDULER.get() or ""
    if not address:
        raise ConfigError(
            f"No dask scheduler: set {SCHEDULER_ENV} to its address (e.g. tcp://127.0.0.1:8786)"
        )
    return address


def connect(address: str) -> Any:
    """A dask Client on ``address``; ConfigError (one line) when the scheduler cannot be reached."""
    from distributed import Client

    try:
        return Client(address, timeout=CONNECT_TIMEOUT, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise ConfigError(f"Cannot reach the dask scheduler at {address}: {exc}") from None


class DaskExecutor:
    """Runs attempts on dask workers; a timeout or cancel cancels the future (see README)."""

    name = "dask"
    capabilities: tuple[str, ...] = (
        "cpu",
        "distributed",
        "process_isolation",
        "memory_isolated",
        "long_running",
    )
    max_concurrent_runs: int | None = None
    max_timeout_seconds: int | None = None

    def __init__(self, completions: queue.SimpleQueue[Outcome], max_workers: int) -> None:
        self._completions = completions
        self._futures: dict[int, Any] = {}
        self._lock = threading.Lock()
        self._client: Any = None
        # A missing or unreachable scheduler fails every attempt with this error (not retried), so
        # the run ends FAILED with one clear line instead of raising out of the engine.
        self._error: str | None = None
        try:
            self._client = connect(scheduler_address())
        except ConfigError as exc:
            self._error = f"ConfigError: {exc}"

    def submit(self, attempt: Attempt) -> None:
        if self._error is not None:
            self._completions.put(Outcome.failed(attempt, utcnow(), self._error, retryable=False))
            return
        artifacts.make_dir(attempt.task_dir)
        try:
            body = child_payload(attempt)
        except (TypeError, ValueError) as exc:
            error = f"TypeError: inputs cannot be sent to a dask worker: {exc}"
            self._completions.put(Outcome.failed(attempt, utcnow(), error, retryable=False))
            return
        from dagy_dask import worker

        started = utcnow()
        key = f"dagy-{attempt.run_id}-{attempt.task_run_id}-{attempt.number}"
        future = self._client.submit(worker.run, body, key=key, pure=False)
        with self._lock:
            self._futures[id(attempt)] = future
        # Called on dask's callback thread, one future at a time.
        future.add_done_callback(lambda done: self._finished(attempt, started, done))

    def _finished(self, attempt: Attempt, started: _dt.datetime, future: Any) -> None:
        with self._lock:
            self._futures.pop(id(attempt), None)
        if attempt.abandoned or future.status == "cancelled":
            return
        outcome = self._outcome(attempt, started, future)
        if attempt.abandoned:
            return
        write_task_metadata(attempt, outcome, "SUCCEEDED" if outcome.ok else "FAILED")
        self._completions.put(outcome)

    @staticmethod
    def _outcome(attempt: Attempt, started: _dt.datetime, future: Any) -> Outcome:
        log_path = attempt.task_dir / "task.log"
        try:
            result = future.result()
        except Exception as exc:  # noqa: BLE001 - whatever dask raises is this attempt's error
            # The attempt never reported back: its worker died more often than the scheduler's
            # allowed-failures (KilledWorker), its result was lost, or dask itself failed.
            # Retried like any failure.
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            with open(log_path, "a", encoding="utf-8") as log:
                log.write(f"{utcnow().isoformat(timespec='milliseconds')}Z ERROR {error}\n")
            return Outcome.failed(attempt, started, error)
        with open(log_path, "a", encoding="utf-8") as log:
            log.write(result["log"])
        if result["data"] is None:
            return Outcome.failed(attempt, started, result["error"], retryable=result["retryable"])
        path = artifacts.write(attempt.artifact_dir, result["data"])
        return Outcome.succeeded(attempt, started, _codec.loads(result["data"]), str(path))

    def cancel(self, attempt: Attempt) -> None:
        with self._lock:
            attempt.abandoned = True
            future = self._futures.pop(id(attempt), None)
        if future is not None:
            future.cancel()

    def shutdown(self) -> None:
        with self._lock:
            futures = list(self._futures.values())
            self._futures.clear()
        if self._client is None:
            return
        if futures:
            self._client.cancel(futures)
        with contextlib.suppress(OSError, TimeoutError):
            self._client.close()

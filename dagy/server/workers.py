"""The server's workers: threads that take queued runs off the event queue and execute each in a
child process (``python -m dagy.services.runs.child``), so user code cannot take the server down.

- ``count`` threads (``DAGY_SERVER_WORKERS``, default 4) is the server-wide limit of runs at once;
  a deployment's ``max_concurrent_runs`` is applied when an event is claimed (dagy/store/queue.py).
- Queueing a run wakes the threads (a Condition notified through the store's ``runs.queued``
  notice, whoever queued it: POST /runs, a schedule's tick, a sensor, a retry); they also look
  every ``poll`` seconds (``DAGY_SERVER_POLL``), for what no notice announces (a deployment's
  concurrency slot freed by another server's run, a clock step).
- Children run in their own session (their task processes with them), and on Linux get SIGKILL
  when the worker thread that started them dies (``PR_SET_PDEATHSIG``): a killed server leaves no
  run executing that it does not know about.
- Cancel: SIGTERM to the child's process group (the engine cancels in-flight tasks and records
  CANCELLED), SIGKILL after ``grace`` seconds.
- Stop (graceful shutdown): no new claims; in-flight runs are cancelled as above, and their
  threads are waited for. Queued runs stay queued for the next start.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field

from dagy.config.paths import DagyPaths
from dagy.config.processes import die_with_parent
from dagy.services.runs import env as run_env
from dagy.services.runs import queue
from dagy.store import queue as sql_queue
from dagy.store.duckdb_store import DuckDBStore
from dagy.store.flows import Event
from dagy.store.records import PENDING

log = logging.getLogger("dagy.server")
DEFAULT_WORKERS = 4
DEFAULT_GRACE = 10.0
POLL = 0.5


@dataclass(eq=False)
class _Child:
    event: Event
    proc: subprocess.Popen[bytes] | None = None
    cancel_at: float | None = None
    reason: str | None = None  # the error a cancelled run records
    exited: bool = False
    done: threading.Event = field(default_factory=threading.Event)


class Workers:
    def __init__(
        self,
        store: DuckDBStore,
        paths: DagyPaths,
        *,
        count: int = DEFAULT_WORKERS,
        grace: float = DEFAULT_GRACE,
        poll: float = POLL,
    ) -> None:
        self.store = store
        self.paths = paths
        self.count = max(1, count)
        self.grace = grace
        self.poll = poll
        self._api_url = ""
        self._token = ""
        self._lock = threading.Lock()
        self._wakeup = threading.Condition()
        self._generation = 0
        self._stopping = False
        self._threads: list[threading.Thread] = []
        self._children: dict[str, _Child] = {}
        store.listen(sql_queue.QUEUED, self.wake)

    # -- life cycle -------------------------------------------------------------------------------

    def start(self, api_url: str, token: str) -> None:
        """Put the queue in order (restart safety), then start the threads."""
        self._api_url, self._token = api_url, token
        queue.recover(self.store, self.paths)
        for i in range(self.count):
            thread = threading.Thread(target=self._loop, name=f"dagy-run-worker-{i}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        """No new runs; cancel the in-flight ones and wait for their threads to close them."""
        with self._wakeup:
            self._stopping = True
            self._wakeup.notify_all()
        with self._lock:
            children = list(self._children.values())
        for child in children:
            self._signal(child, queue.CANCELLED_BY_SHUTDOWN)
        deadline = time.monotonic() + self.grace + 5
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def wake(self) -> None:
        """A run was queued: a waiting thread looks now rather than at its next poll."""
        with self._wakeup:
            self._generation += 1
            self._wakeup.notify_all()

    @property
    def busy(self) -> int:
        with self._lock:
            return len(self._children)

    # -- cancel -----------------------------------------------------------------------------------

    def cancel(self, run_id: str) -> threading.Event | None:
        """Cancel the run if a worker of this server has it; the Event is set once it is closed.

        Call with the store held (``store.connection()``), like a claim: then a run is either
        still queued (None here) or known to its worker.
        """
        with self._lock:
            child = self._children.get(run_id)
        if child is None:
            return None
        self._signal(child, queue.CANCELLED_BY_USER)
        return child.done

    def _signal(self, child: _Child, reason: str) -> None:
        """SIGTERM now (if the child is started) and SIGKILL after the grace period."""
        with self._lock:
            if child.cancel_at is not None:
                return  # already on its way out
            child.cancel_at, child.reason = time.monotonic(), reason
            proc = child.proc
            if proc is None or child.exited:
                return  # not started (it will not be), or already gone
            self._kill(proc, signal.SIGTERM)
        timer = threading.Timer(self.grace, self._kill_unless_exited, (child, proc))
        timer.daemon = True
        timer.start()

    def _kill_unless_exited(self, child: _Child, proc: subprocess.Popen[bytes]) -> None:
        with self._lock:
            if not child.exited:
                self._kill(proc, signal.SIGKILL)

    @staticmethod
    def _kill(proc: subprocess.Popen[bytes], sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)

    # -- the loop ---------------------------------------------------------------------------------

    def _loop(self) -> None:
        while not self._stopping:
            with self._wakeup:
                seen = self._generation
            try:
                child = self._claim()
                if child is not None:
                    self._run(child)
                    continue
            except Exception:  # a store error must not end the thread; the event stays queued
                log.exception("run worker failed")
            with self._wakeup:
                if not self._stopping and self._generation == seen:
                    self._wakeup.wait(self.poll)

    def _claim(self) -> _Child | None:
        with self.store.connection():  # the claim and its registration, as one step for cancel
            if self._stopping:
                return None
            event = queue.claim(self.store)
            if event is None:
                return None
            child = _Child(event)
            with self._lock:
                self._children[event.run_id or ""] = child
            return child

    def _run(self, child: _Child) -> None:
        event = child.event
        run_id = event.run_id or ""
        try:
            run = self.store.get_run(run_id, org_id=event.org_id)
            if run is None or run.status != PENDING:
                queue.skip(self.store, event, f"run was {run.status if run else 'deleted'}")
                return
            with run_env.for_run(self.store, run, os.environ) as env:
                proc = self._spawn(child, run_id, env)
                if proc is None and child.cancel_at is None:  # stopping: keep it queued
                    queue.release(self.store, event)
                    return
                code = self._wait(child, proc) if proc is not None else None
            queue.complete(
                self.store,
                self.paths,
                event,
                pid=proc.pid if proc else None,
                exit_code=code,
                cancelled=child.reason,
            )
        finally:
            with self._lock:
                self._children.pop(run_id, None)
            child.done.set()

    def _spawn(
        self, child: _Child, run_id: str, env: dict[str, str]
    ) -> subprocess.Popen[bytes] | None:
        payload = json.dumps(
            {
                "run_id": run_id,
                "home": str(self.paths.home),
                "api_url": self._api_url,
                "token": self._token,
                "code": json.loads(child.event.payload or "{}"),
            }
        ).encode()
        run_dir = self.paths.run_dir(run_id)
        run_dir.mkdir(parents=True, exist_ok=True)
        with self._lock:
            if child.cancel_at is not None or self._stopping:  # cancelled, or stop() began
                return None
            # What the child prints outside tasks (the flow body while it builds, a traceback)
            # lands in the run log, between the engine's lines.
            with open(run_dir / "run.log", "ab") as out:
                proc = subprocess.Popen(
                    [sys.executable, "-m", "dagy.services.runs.child"],
                    stdin=subprocess.PIPE,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    preexec_fn=die_with_parent(),  # noqa: PLW1509 - only prctl
                    env={**env, "DAGY_LOCAL_DIR": str(self.paths.home)},
                )
            child.proc = proc
        assert proc.stdin is not None
        with contextlib.suppress(BrokenPipeError):
            proc.stdin.write(payload)
            proc.stdin.close()
        return proc

    def _wait(self, child: _Child, proc: subprocess.Popen[bytes]) -> int:
        code = proc.wait()
        with self._lock:
            child.exited = True  # the pid may be reused from now on: no more signals to it
        return code


def from_env(store: DuckDBStore, paths: DagyPaths) -> Workers:
    """Workers sized by DAGY_SERVER_WORKERS (default 4) with DAGY_SERVER_CANCEL_GRACE seconds
    (default 10) between SIGTERM and SIGKILL."""
    from dagy.config import settings

    count = settings.SERVER_WORKERS.get()
    return Workers(
        store,
        paths,
        count=count,
        grace=settings.SERVER_CANCEL_GRACE.get(),
        poll=settings.SERVER_POLL.get(),
    )

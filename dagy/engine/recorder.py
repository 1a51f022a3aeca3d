"""Records a run's state: each change goes to events.jsonl at once and to DuckDB in batches."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from dagy.errors import StoreBusyError
from dagy.store.base import Store
from dagy.store.events import EventLog
from dagy.store.records import TaskRunRecord, utcnow

FLUSH_INTERVAL = 1.0
# Log and event lines reach the OS at least this often (a crash loses at most this much of them).
SYNC_INTERVAL = 0.02
# Mid-run flushes give up quickly when another process holds the store; events.jsonl keeps the
# changes and the next flush (or the final one, which waits) applies them.
OPPORTUNISTIC_TIMEOUT = 0.05


class Recorder:
    def __init__(
        self,
        store: Store,
        run_id: str,
        run_dir: Path,
        *,
        verbose: bool = False,
        flush_interval: float = FLUSH_INTERVAL,
        observer: Callable[[str, str], None] | None = None,
        after_first_flush: Callable[[], None] | None = None,
    ) -> None:
        self.store = store
        self.observer = observer  # told (task_run_id, status) of each change, e.g. a progress line
        # Called once, after the first mid-run flush: the run lets go of a store it held open since
        # it started (dagy/services/runs/execute.py), so a short run opens the store file once.
        self._after_first_flush = after_first_flush
        self.run_id = run_id
        run_dir.mkdir(parents=True, exist_ok=True)
        self.events = EventLog(run_dir / "events.jsonl")
        self._log: IO[str] = open(run_dir / "run.log", "a", encoding="utf-8")  # noqa: SIM115
        self.verbose = verbose
        self.flush_interval = flush_interval
        self._dirty: dict[str, TaskRunRecord] = {}
        self._run_changes: dict[str, Any] = {}
        self._last_flush = time.monotonic()
        self._last_sync = self._last_flush

    def log(self, level: str, message: str) -> None:
        line = f"{utcnow().isoformat(timespec='milliseconds')}Z {level} {message}\n"
        self._log.write(line)
        if self.verbose:
            sys.__stderr__.write(line) if sys.__stderr__ else None

    def task(self, record: TaskRunRecord) -> None:
        self.events.task(record)
        self._dirty[record.task_run_id] = record
        if self.observer is not None:
            self.observer(record.task_run_id, record.status)

    def run(self, **changes: Any) -> None:
        self.events.run(**changes)
        self._run_changes.update(changes)

    def sync_files(self, *, force: bool = False) -> None:
        """Push buffered log and event lines to the OS, at most every SYNC_INTERVAL seconds
        (``force``: now, when the scheduler is about to wait)."""
        now = time.monotonic()
        if force or now - self._last_sync >= SYNC_INTERVAL:
            self._last_sync = now
            self._log.flush()
            self.events.flush()

    def maybe_flush(self) -> None:
        if time.monotonic() - self._last_flush >= self.flush_interval:
            try:
                self.flush(timeout=OPPORTUNISTIC_TIMEOUT)
            except StoreBusyError:
                self._last_flush = time.monotonic()
            release, self._after_first_flush = self._after_first_flush, None
            if release is not None:
                release()

    def flush(self, *, timeout: float | None = None) -> None:
        """Apply the pending batch to the store in one transaction."""
        self._log.flush()
        offset = self.events.flush()
        changes = dict(self._run_changes, events_offset=offset)
        self.store.apply(self.run_id, changes, list(self._dirty.values()), timeout=timeout)
        self._dirty.clear()
        self._run_changes.clear()
        self._last_flush = time.monotonic()

    def close(self) -> None:
        self.events.close()
        self._log.close()

"""A minimal Dagy executor: attempts run one at a time, in order, on one thread of their own.

The engine owns retries, timeouts and fail-fast; an executor only runs attempts and puts one
``Outcome`` for each on the ``completions`` queue (docs/plugins.md).
"""

from __future__ import annotations

import queue
import threading

from dagy.engine.executors import Attempt, Outcome, run_attempt


class SequentialExecutor:
    name = "sequential"
    capabilities = ("cpu", "threads", "sequential")  # what GET /backends reports
    max_concurrent_runs = None
    max_timeout_seconds = None

    def __init__(self, completions: queue.SimpleQueue[Outcome], max_workers: int) -> None:
        self._completions = completions
        self._todo: queue.SimpleQueue[Attempt | None] = queue.SimpleQueue()
        threading.Thread(target=self._work, name="sequential", daemon=True).start()

    def _work(self) -> None:
        while (attempt := self._todo.get()) is not None:
            if not attempt.abandoned:
                outcome = run_attempt(attempt)  # runs the task, captures its log, stores its result
                if not attempt.abandoned:
                    self._completions.put(outcome)

    def submit(self, attempt: Attempt) -> None:
        self._todo.put(attempt)

    def cancel(self, attempt: Attempt) -> None:
        attempt.abandoned = True  # a running attempt finishes; the engine ignores its outcome

    def shutdown(self) -> None:
        self._todo.put(None)

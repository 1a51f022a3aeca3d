"""The server's notification threads: a matcher that turns run events (and SLA breaches) into
delivery jobs, and a deliverer that sends due jobs. What each step does is given (callables from
dagy/services/notifications/alerts.py), so this module knows threads and timing, not the store.

Both only read and write the store's job table: a run never waits for them, and a receiver that
is down costs its own attempts, nothing else. Pending jobs live in the store, so a restart resumes
them; a job being sent when the server died is sent again (at least once).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger("dagy.notify")


@dataclass(frozen=True)
class Settings:
    """Delivery policy. Attempt n (1-based) that fails is retried after
    ``min(backoff_seconds * 2**(n-1), backoff_max_seconds)``, up to ``max_attempts`` in all."""

    max_attempts: int = 5
    backoff_seconds: float = 2.0
    backoff_max_seconds: float = 300.0
    poll_seconds: float = 1.0
    timeout_seconds: float = 10.0

    def delay_after(self, attempt: int) -> float:
        return float(min(self.backoff_seconds * 2 ** max(attempt - 1, 0), self.backoff_max_seconds))

    @classmethod
    def from_env(cls) -> Settings:
        """DAGY_NOTIFY_MAX_ATTEMPTS, DAGY_NOTIFY_BACKOFF_SECONDS, DAGY_NOTIFY_BACKOFF_MAX_SECONDS,
        DAGY_NOTIFY_POLL_SECONDS, DAGY_NOTIFY_TIMEOUT_SECONDS; unset ones keep the defaults."""
        from dagy.config import settings as env

        return cls(
            env.NOTIFY_MAX_ATTEMPTS.get(),
            env.NOTIFY_BACKOFF_SECONDS.get(),
            env.NOTIFY_BACKOFF_MAX_SECONDS.get(),
            env.NOTIFY_POLL_SECONDS.get(),
            env.NOTIFY_TIMEOUT_SECONDS.get(),
        )


class Notifier:
    """Two daemon threads, started and stopped with the server like its run workers."""

    def __init__(
        self, match: Callable[[], int], deliver: Callable[[], int], *, poll: float
    ) -> None:
        self._match, self._deliver, self._poll = match, deliver, poll
        self._stopping = threading.Event()
        self._due = threading.Event()  # the matcher queued jobs: deliver now, not at the next poll
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for name, target in (("match", self._matching), ("deliver", self._delivering)):
            thread = threading.Thread(target=target, name=f"dagy-notify-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 15.0) -> None:
        """No new steps; a send in flight finishes (or times out) first."""
        self._stopping.set()
        self._due.set()
        for thread in self._threads:
            thread.join(timeout)

    def _step(self, what: str, fn: Callable[[], int]) -> int:
        try:
            return fn()
        except Exception:  # a store or sender error must not end the thread; jobs stay pending
            log.exception("notification %s failed", what)
            return 0

    def _matching(self) -> None:
        while not self._stopping.is_set():
            if self._step("matching", self._match):
                self._due.set()
            self._stopping.wait(self._poll)

    def _delivering(self) -> None:
        while not self._stopping.is_set():
            if self._step("delivery", self._deliver):
                continue  # more may be due
            self._due.wait(self._poll)
            self._due.clear()

"""The scheduler loop of `dagy serve`: a thread that fires the schedules that are due
(dagy.services.triggers.schedule_tick.tick). It sleeps until the next schedule is due, at most
``DAGY_SCHEDULER_TICK`` seconds (default 1), and wakes early when a schedule is added or changed
(the store's ``schedules.changed`` notice), so a run is queued at its due time, not a tick late."""

from __future__ import annotations

import datetime as _dt
import logging
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger("dagy.scheduler")
DEFAULT_TICK = 1.0


class Scheduler:
    def __init__(
        self,
        store: Any,
        *,
        tick_seconds: float = DEFAULT_TICK,
        settings: Any = None,
        wake: Callable[[], None] | None = None,
    ) -> None:
        from dagy.services.triggers.schedule_tick import TickSettings

        self.store = store
        self.tick_seconds = tick_seconds
        self.settings = settings or TickSettings()
        self.wake = wake
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        listen = getattr(store, "listen", None)
        if listen is not None:
            from dagy.store.schedules import CHANGED

            listen(CHANGED, self._wake.set)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="dagy-scheduler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(30)

    def tick(self) -> Any:
        from dagy.services.triggers import schedule_tick
        from dagy.store.records import utcnow

        return schedule_tick.tick(self.store, utcnow(), self.settings, wake=self.wake)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()  # a change from now on wakes the wait below
            try:
                report = self.tick()
                if report.fired or report.failed:
                    log.info(
                        "scheduler tick: %d due, %d run(s) queued, %d failed, %d dropped",
                        report.due,
                        report.fired,
                        report.failed,
                        report.dropped,
                    )
                wait = self._until_next_due(report)
            except Exception:  # a store error must not end the loop; the next tick tries again
                log.exception("scheduler tick failed")
                wait = self.tick_seconds
            self._wake.wait(wait)

    def _until_next_due(self, report: Any) -> float:
        """Seconds to sleep: until the next schedule is due, at most one tick."""
        from dagy.store.records import utcnow
        from dagy.store.schedules import next_due_at

        due = next_due_at(self.store)
        if due is None:
            return self.tick_seconds
        wait = (due - utcnow()).total_seconds()
        if wait <= 0 and not report.due:  # due but not fired (a clock step): no busy loop
            return min(self.tick_seconds, 0.05)
        return max(0.0, min(self.tick_seconds, wait))


def from_env(store: Any, wake: Callable[[], None] | None) -> Scheduler:
    """A scheduler set by DAGY_SCHEDULER_TICK (seconds between ticks, default 1),
    DAGY_SCHEDULER_GRACE (seconds after which a due time counts as missed, default 60) and
    DAGY_SCHEDULER_MAX_CATCHUP (runs one schedule queues for missed times, default 100)."""
    from dagy.config import settings as env
    from dagy.services.triggers.schedule_tick import TickSettings

    settings = TickSettings(
        grace=_dt.timedelta(seconds=env.SCHEDULER_GRACE.get()),
        catchup_limit=env.SCHEDULER_MAX_CATCHUP.get(),
    )
    return Scheduler(
        store,
        tick_seconds=env.SCHEDULER_TICK.get(),
        settings=settings,
        wake=wake,
    )

"""The scheduler loop of `dagy serve`: a thread that ticks every ``DAGY_SCHEDULER_TICK`` seconds
(default 1) and fires the schedules that are due (dagy.services.triggers.schedule_tick.tick)."""

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
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="dagy-scheduler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)

    def tick(self) -> Any:
        from dagy.services.triggers import schedule_tick
        from dagy.store.records import utcnow

        return schedule_tick.tick(self.store, utcnow(), self.settings, wake=self.wake)

    def _loop(self) -> None:
        while not self._stop.is_set():
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
            except Exception:  # a store error must not end the loop; the next tick tries again
                log.exception("scheduler tick failed")
            self._stop.wait(self.tick_seconds)


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

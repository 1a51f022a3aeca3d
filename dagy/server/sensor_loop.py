"""The sensor loop of `dagy serve`: one thread that looks at every due polling and s3 sensor.

Every ``tick`` seconds (``DAGY_SENSOR_TICK_SECONDS``, default 1) it takes up to ``batch`` due
sensors (the longest waiting first) and evaluates them one after another; each look is bounded
by its own timeout. A look that fails is logged and recorded on its sensor, and the loop goes on:
no sensor's check can stop the others. Started and stopped with the run workers.
"""

from __future__ import annotations

import logging
import sys
import threading
import time

from dagy.config.paths import DagyPaths
from dagy.services import retention
from dagy.services.admin import suspension
from dagy.services.triggers import sensor_runs as sensors
from dagy.services.triggers.sensors import Wake, seal_plaintext_secrets
from dagy.store.duckdb_store import DuckDBStore

log = logging.getLogger("dagy.sensors")
DEFAULT_TICK = 1.0
BATCH = 50


class SensorLoop:
    def __init__(
        self,
        store: DuckDBStore,
        paths: DagyPaths,
        *,
        wake: Wake = None,
        tick: float = DEFAULT_TICK,
        batch: int = BATCH,
    ) -> None:
        self.store = store
        self.paths = paths
        self.wake = wake
        self.tick = tick
        self.batch = batch
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self.seal_secrets()
        self._thread = threading.Thread(target=self._loop, name="dagy-sensors", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 15.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        pruned_at: float | None = None
        while not self._stop.is_set():
            if pruned_at is None or time.monotonic() - pruned_at >= retention.PRUNE_INTERVAL:
                pruned_at = time.monotonic()
                self.prune()
            self.run_once()
            self._stop.wait(self.tick)

    def seal_secrets(self) -> int:
        """Webhook secrets stored in plaintext before migration 0019, sealed before the server
        answers; when the master key is unusable they stay as they are (and still verify)."""
        try:
            sealed = seal_plaintext_secrets(self.store)
        except Exception:
            log.exception("sealing plaintext webhook secrets failed")
            return 0
        if sealed:
            print(f"Sealed {sealed} webhook secret(s) stored in plaintext", file=sys.stderr)
        return sealed

    def prune(self) -> dict[str, int]:
        """Retention (DAGY_RETENTION_DAYS): old seen keys, webhook deliveries, notification jobs
        and deliveries; at start-up, then every hour."""
        try:
            counts = retention.prune(self.store)
        except Exception:  # the store is busy or closing: the next prune tries again
            log.exception("retention: pruning failed")
            return {}
        if any(counts.values()):  # one line for the operator, like the server's other notices
            listed = ", ".join(f"{n} {table}" for table, n in counts.items() if n)
            print(f"Retention: pruned {listed} (older than DAGY_RETENTION_DAYS)", file=sys.stderr)
        return counts

    def run_once(self) -> int:
        """Evaluate the sensors due now; how many were looked at."""
        try:
            due = sensors.due(self.store, self.batch)
        except Exception:  # the store is busy or closing: try again next tick
            log.exception("sensor loop: listing due sensors failed")
            return 0
        try:
            suspended = suspension.suspended_orgs(self.store) if due else set()
        except Exception:
            log.exception("sensor loop: reading suspended orgs failed")
            return 0
        for sensor in due:
            if self._stop.is_set():
                break
            if sensor.org_id in suspended:  # looked at again one interval later, reason recorded
                sensors.skip(self.store, sensor, suspension.SKIP_REASON)
                continue
            try:
                queued = sensors.evaluate(self.store, self.paths, sensor, self.wake)
            except Exception as exc:  # one sensor's failure is its own (recorded on it)
                log.warning(
                    "sensor %s (%s) check failed: %s", sensor.sensor_id, sensor.sensor_type, exc
                )
                continue
            for run_id in queued:
                log.info("sensor %s queued run %s", sensor.sensor_id, run_id)
        return len(due)


def from_env(store: DuckDBStore, paths: DagyPaths, wake: Wake) -> SensorLoop:
    """A loop ticking every DAGY_SENSOR_TICK_SECONDS (default 1, at least 0.05)."""
    from dagy.config import settings

    return SensorLoop(store, paths, wake=wake, tick=settings.SENSOR_TICK_SECONDS.get())

"""API calls per org per day, counted in memory and written to the store in batches.

A write per request would put a store transaction on every request's path; instead each request
adds one to a dict under a lock, and a thread adds the counts to ``api_calls`` every
``DAGY_API_CALLS_FLUSH_SECONDS`` (10), when a usage figure is read, and at shutdown; GET
/usage/summary, the one a dashboard polls, writes nothing: it adds the counts not yet written to
the store's. Requests made with the server's own local token (the CLI's store traffic, the
workers' children) are not counted.
"""

from __future__ import annotations

import datetime as _dt
import logging
import threading
from typing import Any

import anyio.to_thread

from dagy.server.state import ServerState
from dagy.store import usage as sql
from dagy.store.duckdb_store import DuckDBStore
from dagy.store.records import utcnow

log = logging.getLogger("dagy.server")
DEFAULT_FLUSH_SECONDS = 10.0


class ApiCallMeter:
    def __init__(self, store: DuckDBStore, interval: float = DEFAULT_FLUSH_SECONDS) -> None:
        self.store = store
        self.interval = interval
        self._counts: dict[tuple[str, _dt.date], int] = {}
        self._lock = threading.Lock()
        # Held while counts taken from _counts are on their way to the store, so a reader under
        # settled() finds every count either in the store or still in _counts, never in between.
        self._flushing = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def count(self, org_id: str) -> None:
        key = (org_id, utcnow().date())
        with self._lock:
            self._counts[key] = self._counts.get(key, 0) + 1
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, daemon=True, name="api-calls")
                self._thread.start()

    def flush(self) -> None:
        """Add the counts so far to the store (they are kept for the next flush if it fails)."""
        with self._flushing:
            with self._lock:
                counts, self._counts = self._counts, {}
            if not counts:
                return
            try:
                sql.add_api_calls(self.store, [(org, day, n) for (org, day), n in counts.items()])
            except BaseException:
                with self._lock:
                    for key, n in counts.items():
                        self._counts[key] = self._counts.get(key, 0) + n
                raise

    def settled(self) -> threading.Lock:
        """``with meter.settled():`` no flush runs inside the block, so the store's counts plus
        pending() are every call counted, each once."""
        return self._flushing

    def pending(self, org_id: str, first: _dt.date, end: _dt.date) -> int:
        """Calls of ``org_id`` counted on days ``first`` <= day < ``end`` not yet in the store."""
        with self._lock:
            return sum(
                n for (org, day), n in self._counts.items() if org == org_id and first <= day < end
            )

    def close(self) -> None:
        """The last flush, at shutdown: a failure is logged, never in the way of stopping."""
        self._stop.set()
        try:
            self.flush()
        except Exception:
            log.exception("writing the last API call counts failed")

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.flush()
            except Exception:  # counted again at the next flush; never stop metering
                log.exception("writing API call counts failed")


def flush_interval() -> float:
    from dagy.config import settings

    return max(0.1, settings.API_CALLS_FLUSH_SECONDS.get())


class ApiCallMiddleware:
    """Counts each answered request of an identity (resolved by the guard) for its org."""

    def __init__(self, app: Any, state: ServerState) -> None:
        self.app = app
        if state.api_calls is None:
            state.api_calls = ApiCallMeter(state.store, flush_interval())
        self.meter: ApiCallMeter = state.api_calls

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":

            async def send_after_flush(message: dict[str, Any]) -> None:
                if message["type"] == "lifespan.shutdown.complete":
                    await anyio.to_thread.run_sync(self.meter.close)
                await send(message)

            await self.app(scope, receive, send_after_flush)
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})

        async def send_counted(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                identity = state.get("identity")
                if identity is not None and identity.kind != "local":
                    self.meter.count(identity.org_id)
            await send(message)

        await self.app(scope, receive, send_counted)

"""The CLI's store: through `dagy serve` while one is live for this home, else the DuckDB file.

The choice is made per operation (or once per ``with store.connection():`` block), so a run that
outlives the server, or sees one start, keeps recording: a server that stops answering sends the
next write to the file, and a file that turns out to be locked is retried after looking for a
server again. The user sees a StoreBusyError with a plain sentence, never DuckDB's lock error.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from dagy.config import server_file
from dagy.config.paths import DagyPaths
from dagy.errors import StoreBusyError
from dagy.store.base import Store
from dagy.store.records import RunRecord, TaskRunRecord
from dagy.store.remote import RemoteStore, ServerUnavailable

if TYPE_CHECKING:
    from dagy.store.duckdb_store import DuckDBStore

T = TypeVar("T")
# How long one attempt at the file waits before looking for a server again.
_LOCK_SLICE = 0.2


def lock_timeout_from_env() -> float:
    from dagy.config import settings

    return settings.STORE_LOCK_TIMEOUT.get()


class SharedStore:
    """Implements the Store protocol by routing each call to a RemoteStore or a DuckDBStore."""

    def __init__(self, paths: DagyPaths, *, lock_timeout: float | None = None) -> None:
        self.paths = paths
        self.lock_timeout = lock_timeout_from_env() if lock_timeout is None else lock_timeout
        self._local: DuckDBStore | None = None
        self._remote: RemoteStore | None = None
        self._mutex = threading.RLock()
        self._pinned: Store | None = None
        self._block: contextlib.ExitStack | None = None

    # -- choosing a backend -----------------------------------------------------------------------

    def _duckdb(self) -> DuckDBStore:
        if self._local is None:
            from dagy.store.duckdb_store import DuckDBStore

            self._local = DuckDBStore(self.paths, lock_timeout=self.lock_timeout)
        return self._local

    def live_server(self) -> RemoteStore | None:
        """A RemoteStore for the live server of this home, or None."""
        info = server_file.read(self.paths)
        if info is None:
            return None
        if self._remote is None or self._remote.info != info:
            self._remote = RemoteStore(info)
        return self._remote

    def _acquire(self, timeout: float, deadline: float, stack: contextlib.ExitStack) -> Store:
        """The live server's store, or the file opened into ``stack``; waits until ``deadline``."""
        while True:
            remote = self.live_server()
            if remote is not None:
                if self._local is None:  # never opened here: a connection opened ahead is unused
                    from dagy.store.duckdb_store import discard_prefetch

                    discard_prefetch(self.paths.db)
                return remote
            left = deadline - time.monotonic()
            local = self._duckdb()
            try:
                stack.enter_context(local.connection(timeout=max(0.0, min(_LOCK_SLICE, left))))
                return local
            except StoreBusyError as exc:  # a server starting up, or another CLI's brief hold
                if time.monotonic() >= deadline:
                    # DuckDBStore's sentence names the holder; the wait was ours, not its slice.
                    who = str(exc).split(";", 1)[0]
                    raise StoreBusyError(
                        f"{who}; gave up after {timeout:g}s "
                        "(set DAGY_STORE_LOCK_TIMEOUT to wait longer)"
                    ) from None

    def _run(self, op: Callable[[Store, bool], T], *, timeout: float | None = None) -> T:
        """Run ``op(store, retried)`` on the current backend, moving on when a server goes away.

        ``retried`` is True when an earlier attempt may have been applied before the connection
        broke, so a non-idempotent operation can check first.
        """
        timeout = self.lock_timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        retried = False
        delay = 0.01
        with self._mutex:
            while True:
                try:
                    if self._pinned is not None and self._block is not None:
                        return op(self._pinned, retried)
                    with contextlib.ExitStack() as stack:
                        return op(self._acquire(timeout, deadline, stack), retried)
                except ServerUnavailable as exc:
                    retried = retried or exc.maybe_applied
                    if time.monotonic() >= deadline:
                        raise StoreBusyError(
                            f"The Dagy server of {self.paths.home} (pid {self._server_pid()}) "
                            f"does not answer and still holds the store; gave up after {timeout:g}s"
                        ) from None
                    time.sleep(delay)
                    delay = min(delay * 2, 0.2)
                    if self._block is not None:  # re-pin the block to what is there now
                        self._pinned = self._acquire(timeout, deadline, self._block)

    def _server_pid(self) -> str:
        return str(self._remote.info.pid) if self._remote is not None else "?"

    @contextlib.contextmanager
    def connection(self, *, timeout: float | None = None) -> Iterator[None]:
        """Pin one backend for the block: one open of the file, or the server, for several calls."""
        with self._mutex:
            if self._block is not None:  # re-entrant
                yield None
                return
            timeout = self.lock_timeout if timeout is None else timeout
            with contextlib.ExitStack() as stack:
                self._pinned = self._acquire(timeout, time.monotonic() + timeout, stack)
                self._block = stack
                try:
                    yield None
                finally:
                    self._pinned = self._block = None

    # -- the Store protocol -----------------------------------------------------------------------

    def create_run(self, run: RunRecord, task_runs: Sequence[TaskRunRecord] = ()) -> None:
        rows = list(task_runs)

        def create(store: Store, retried: bool) -> None:
            # A broken connection may have left the run created (in one transaction with its
            # task runs): then there is nothing left to do.
            if retried and store.get_run(run.run_id, org_id=run.org_id) is not None:
                return
            store.create_run(run, rows)

        self._run(create)

    def apply(
        self,
        run_id: str,
        run_changes: dict[str, Any],
        task_runs: Iterable[TaskRunRecord],
        *,
        timeout: float | None = None,
    ) -> None:
        rows = list(task_runs)
        self._run(lambda s, _: s.apply(run_id, run_changes, rows, timeout=timeout), timeout=timeout)

    def get_run(self, run_id: str, *, org_id: str = "personal") -> RunRecord | None:
        return self._run(lambda s, _: s.get_run(run_id, org_id=org_id))

    def list_runs(
        self,
        *,
        org_id: str = "personal",
        status: str | None = None,
        flow_name: str | None = None,
        limit: int | None = 100,
    ) -> list[RunRecord]:
        return self._run(
            lambda s, _: s.list_runs(org_id=org_id, status=status, flow_name=flow_name, limit=limit)
        )

    def count_runs(
        self, *, org_id: str = "personal", status: str | None = None, flow_name: str | None = None
    ) -> int:
        return self._run(
            lambda s, _: s.count_runs(org_id=org_id, status=status, flow_name=flow_name)
        )

    def task_runs(self, run_id: str) -> list[TaskRunRecord]:
        return self._run(lambda s, _: s.task_runs(run_id))

    def runs_to_prune(self, keep: int) -> list[str]:
        return self._run(lambda s, _: s.runs_to_prune(keep))

    def mark_pruned(self, run_ids: Sequence[str]) -> None:
        self._run(lambda s, _: s.mark_pruned(run_ids))


def open_store(paths: DagyPaths | None = None) -> SharedStore:
    """The store of ``paths``' home as the CLI should reach it (see the module docstring)."""
    return SharedStore(paths or DagyPaths.from_env())


def open_ahead(paths: DagyPaths) -> None:
    """When no server of this home is live, start opening its store file on a thread now
    (dagy.store.duckdb_store.prefetch): a command that will open it (``dagy run``) overlaps
    DuckDB's start with its own imports. With a live server there is nothing to open."""
    if server_file.read(paths) is None:
        from dagy.store.duckdb_store import prefetch

        prefetch(paths.db)

"""The DuckDB store: ``dagy.duckdb``, opened only for as long as one read or one batch takes.

DuckDB lets one process hold the file at a time, so every operation opens, works and closes, and
opening retries while another process holds the lock; a user never sees DuckDB's lock error.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import os
import random
import re
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

try:
    # DuckDB's native module, what the store uses: the ``duckdb`` package around it adds ~70 ms of
    # pure-Python import (its relation API) to every process that opens the store (a `dagy run`).
    # ``import duckdb`` anywhere else still works and patches the same connection class.
    import _duckdb as duckdb
except ImportError:  # pragma: no cover - an older duckdb without a top-level native module
    import duckdb  # type: ignore[no-redef]

from dagy.config import settings
from dagy.config.paths import DagyPaths
from dagy.config.processes import kill_survivors, process_alive
from dagy.errors import StoreBusyError
from dagy.store import events, migrations
from dagy.store.records import (
    ACTIVE_STATUSES,
    CANCELLED,
    FAILED,
    FINAL_STATUSES,
    PENDING,
    RETRYING,
    RUN_COLUMNS,
    RUNNING,
    TASK_RUN_COLUMNS,
    RunRecord,
    TaskRunRecord,
    row_of,
    utcnow,
)

_LOCK_PID = re.compile(r"PID (\d+)")
_TASK_TYPES = {
    "run_id": "VARCHAR",
    "task_run_id": "VARCHAR",
    "org_id": "VARCHAR",
    "task_name": "VARCHAR",
    "seq": "INTEGER",
    "status": "VARCHAR",
    "attempt": "INTEGER",
    "max_attempts": "INTEGER",
    "executor": "VARCHAR",
    "started_at": "TIMESTAMP",
    "ended_at": "TIMESTAMP",
    "duration_seconds": "DOUBLE",
    "error": "VARCHAR",
    "artifact_path": "VARCHAR",
    "reused_from": "VARCHAR",
    "source_hash": "VARCHAR",
}
_RUN_COLS_NO_SPEC = ", ".join(c if c != "flow_spec" else "NULL" for c in RUN_COLUMNS)
# What a list of runs shows (GET /runs items): a third of the columns, a third of the cost to
# fetch and convert a page.
_RUN_BRIEF = (
    "run_id",
    "flow_name",
    "flow_version",
    "status",
    "created_at",
    "started_at",
    "ended_at",
)
# One multi-row upsert: each column travels as one list parameter and is unnested in SQL, which is
# two orders of magnitude faster than executemany.
_UPSERT_TASK_RUNS = "INSERT OR REPLACE INTO task_runs ({cols}) SELECT {unnests}".format(
    cols=", ".join(TASK_RUN_COLUMNS),
    unnests=", ".join(f"unnest(?::{_TASK_TYPES[c]}[])" for c in TASK_RUN_COLUMNS),
)
_INSERT_TASK_RUNS = _UPSERT_TASK_RUNS.replace("INSERT OR REPLACE INTO", "INSERT INTO", 1)
# The same rows as an UPDATE of the ones already there (a run's task rows are inserted with the
# run): half the cost of INSERT OR REPLACE, which checks and rewrites the primary key's index
# (5.5 -> 2.5 ms for the last batch of a 1-task run, 11 -> 6 ms for 500 rows, cold).
_UPDATE_TASK_RUNS = "UPDATE task_runs SET {sets} FROM (SELECT {unnests}) AS u WHERE {keys}".format(
    sets=", ".join(f"{c} = u.{c}" for c in TASK_RUN_COLUMNS if c not in ("run_id", "task_run_id")),
    unnests=", ".join(f"unnest(?::{_TASK_TYPES[c]}[]) AS {c}" for c in TASK_RUN_COLUMNS),
    keys="task_runs.run_id = u.run_id AND task_runs.task_run_id = u.task_run_id",
)

# Every open of the file asks this: the statuses as literals (our own constants), which DuckDB
# answers in ~0.5 ms where ``IN (SELECT unnest(?::VARCHAR[]))`` took 3-30 ms.
_ACTIVE_HERE = (
    "SELECT run_id, pid, pid_started, events_offset FROM runs WHERE status IN ({}) AND host = ?"
).format(", ".join(f"'{status}'" for status in ACTIVE_STATUSES))

# Every `dagy run` asks this at its end (retention): the newest ``keep`` as a top-N (a heap of
# ``keep`` rows) rather than a row_number() over every run sorted, and the statuses as literals.
_TO_PRUNE = (
    "SELECT run_id FROM runs WHERE NOT files_pruned AND status IN ({}) AND run_id NOT IN "
    "(SELECT run_id FROM runs ORDER BY created_at DESC, run_id DESC LIMIT ?)"
).format(", ".join(f"'{status}'" for status in FINAL_STATUSES))


@contextlib.contextmanager
def _interrupts_as_keyboard_interrupt() -> Iterator[None]:
    """Ctrl+C (or SIGTERM made one) during a query: DuckDB stops the query and raises its own
    error (``RuntimeError: Query interrupted`` or InterruptException); callers see the
    KeyboardInterrupt the signal was, so a run is cancelled, not reported as an internal error."""
    try:
        yield
    except duckdb.InterruptException as exc:
        raise KeyboardInterrupt from exc
    except RuntimeError as exc:
        if str(exc) == "Query interrupted":
            raise KeyboardInterrupt from exc
        raise


# Connections being opened ahead of need (prefetch): path -> (the opening thread, its result).
_prefetched: dict[str, tuple[threading.Thread, list[duckdb.DuckDBPyConnection]]] = {}


def prefetch(path: Path) -> None:
    """Start opening the existing store file ``path`` on a thread now; the first plain
    ``connect_waiting(path)`` of this process takes that connection instead of opening its own.

    DuckDB's instance start is ~15-20 ms and releases the GIL, so a command that will open the
    store (``dagy run``) overlaps it with its own imports and the flow's loading. Best effort: a
    file that is missing or locked leaves nothing, and the usual open (with its lock waiting) runs.
    ``discard_prefetch`` closes an unused one (the command found a live server instead).
    """
    key = str(path)
    if key in _prefetched or not path.exists():
        return
    slot: list[duckdb.DuckDBPyConnection] = []

    def open_file() -> None:
        with contextlib.suppress(duckdb.Error):
            slot.append(duckdb.connect(key))

    thread = threading.Thread(target=open_file, name="dagy-store-prefetch", daemon=True)
    _prefetched[key] = (thread, slot)
    thread.start()


def _take_prefetched(path: Path) -> duckdb.DuckDBPyConnection | None:
    found = _prefetched.pop(str(path), None)
    if found is None:
        return None
    thread, slot = found
    thread.join()
    return slot[0] if slot else None


def discard_prefetch(path: Path) -> None:
    """Close a prefetched connection nobody took (the file's lock is released at once)."""
    con = _take_prefetched(path)
    if con is not None:
        con.close()


def connect_waiting(path: Path, timeout: float, **options: Any) -> duckdb.DuckDBPyConnection:
    """``duckdb.connect(path, **options)``, retried with a jittered backoff while another process
    holds the file's lock; after ``timeout`` seconds a StoreBusyError naming the holder's PID.
    Without options, a connection ``prefetch(path)`` opened is taken first."""
    if not options:
        prefetched = _take_prefetched(path)
        if prefetched is not None:
            return prefetched
    deadline = time.monotonic() + timeout
    delay = 0.005
    while True:
        try:
            return duckdb.connect(str(path), **options)
        except duckdb.IOException as exc:
            text = str(exc)
            if "lock" not in text.lower():
                raise
            if time.monotonic() >= deadline:
                holder = _LOCK_PID.search(text)
                who = f" (PID {holder.group(1)})" if holder else ""
                raise StoreBusyError(
                    f"The Dagy store {path} is in use by another process{who}; "
                    f"gave up after {timeout:g}s (set DAGY_STORE_LOCK_TIMEOUT to wait longer)"
                ) from None
            time.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 0.1)


# Below this many bytes of write-ahead log, closing the file leaves the log for the next open to
# replay instead of checkpointing it into the file. The checkpoint at close cost every `dagy run`
# ~10 ms of CPU and 5-40 ms of fsyncs; replaying costs the next open ~2 ms plus ~0.4 ms per short
# run in the log (the cost is per transaction more than per byte: 32 short runs, 120 KB, took
# +15 ms; one chain of 200 tasks, 130 KB, +2.5 ms). 32 KB is ~8 one-task runs between checkpoints.
CHECKPOINT_WAL_BYTES = 32 * 1024


def _close(con: duckdb.DuckDBPyConnection, db: Path, *, checkpoint: bool = False) -> None:
    """Close the file, skipping the checkpoint on shutdown while its write-ahead log is small
    (the log is as durable as the file: every commit reached it). ``checkpoint``: always (a file
    created by this connection: replaying the schema's DDL costs every open ~4 ms)."""
    try:
        small = not checkpoint and os.path.getsize(f"{db}.wal") < CHECKPOINT_WAL_BYTES
    except OSError:  # no log: nothing to checkpoint anyway
        small = False
    if small:
        with contextlib.suppress(duckdb.Error):
            con.execute("PRAGMA disable_checkpoint_on_shutdown")
    con.close()


class DuckDBStore:
    """Runs and task runs in ``<home>/dagy.duckdb``."""

    def __init__(self, paths: DagyPaths, *, lock_timeout: float | None = None) -> None:
        self.paths = paths
        self.lock_timeout = (
            settings.STORE_LOCK_TIMEOUT.get() if lock_timeout is None else lock_timeout
        )
        self._con: duckdb.DuckDBPyConnection | None = None
        self._migrated = False
        self._recovered = False
        self._held: duckdb.DuckDBPyConnection | None = None
        # While held: how many times committed data changed (see generation) and the files'
        # signature when it was last looked at.
        self._generation = 0
        self._files: tuple[Any, ...] = ()
        self.enforce_quotas = (
            False  # set by a multi-user `dagy serve` (dagy/services/usage/quotas.py)
        )
        self._lock = threading.RLock()
        self._tx = threading.local()  # depth of this thread's transaction() blocks
        # While held: each reading thread's own cursor of the held connection (see reading()).
        self._cursors: dict[int, duckdb.DuckDBPyConnection] = {}
        self._reader = threading.local()
        # Where the newest page of runs began last time, per filter (see runs_page()).
        self._page_floors: dict[tuple[Any, ...], _dt.datetime] = {}
        self._page_spans: dict[tuple[Any, ...], _dt.timedelta] = {}  # and how long it spanned
        # Who wants to know when a kind of row was written (the server's workers: "runs.queued";
        # its scheduler: "schedules.changed"); see listen() and notify().
        self._listeners: dict[str, list[Callable[[], None]]] = {}

    # -- connection -------------------------------------------------------------------------------

    def _open(self, timeout: float) -> duckdb.DuckDBPyConnection:
        self.paths.ensure_home()
        return connect_waiting(self.paths.db, timeout)

    @contextlib.contextmanager
    def connection(self, *, timeout: float | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
        """The open connection, opening the file for the duration of the block (re-entrant).

        While the store is held (the server owns the file), every block shares the one connection
        and blocks run one at a time: DuckDB refuses concurrent use of one connection.
        """
        with _interrupts_as_keyboard_interrupt():
            if self._held is not None:
                with self._lock:
                    depth = getattr(self._reader, "inside", 0)
                    self._reader.inside = depth + 1
                    try:
                        yield self._held
                    finally:
                        self._reader.inside = depth
                        if not depth:
                            self._note_writes()
                return
            if self._con is not None:
                yield self._con
                return
            created = not self.paths.db.exists()
            con = self._open(self.lock_timeout if timeout is None else timeout)
            self._con = con
            try:
                if not self._migrated:  # schemas only move forward: once per store object
                    migrations.apply(con)
                    self._migrated = True
                if not self._recovered:
                    self._recovered = True
                    self._recover(con)
                yield con
            finally:
                self._con = None
                _close(con, self.paths.db, checkpoint=created)

    @contextlib.contextmanager
    def transaction(self, *, timeout: float | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
        """A unit of work: the block's writes commit together, or none do when it raises.

        Re-entrant: a block inside another joins it, so a service can write its rows and their
        audit row in one transaction while the store functions it calls keep their own blocks.
        """
        with self.connection(timeout=timeout) as con:
            depth = getattr(self._tx, "depth", 0)
            if depth:
                self._tx.depth = depth + 1
                try:
                    yield con
                finally:
                    self._tx.depth = depth
                return
            con.execute("BEGIN")
            self._tx.depth = 1
            try:
                yield con
            except BaseException:
                self._tx.depth = 0
                con.execute("ROLLBACK")
                raise
            self._tx.depth = 0
            con.execute("COMMIT")

    @contextlib.contextmanager
    def reading(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection for a read that needs no lock: while the store is held, this thread's own
        cursor of the held connection, so reads on the server's worker threads run side by side
        (DuckDB releases the GIL while a query runs) and never queue behind the store lock or a
        write. A cursor sees what is committed; inside this thread's connection() or
        transaction() block the read joins that block instead, to see its own writes.
        Without a held store, the same as connection()."""
        held = self._held
        if held is None or getattr(self._reader, "inside", 0) > 0:
            with self.connection() as con:
                yield con
            return
        cursor = self._cursors.get(threading.get_ident())
        if cursor is None or getattr(self._reader, "of", None) is not held:
            with self._lock:
                if self._held is not held:  # released meanwhile: the locked path says so
                    cursor = None
                else:
                    self._drop_dead_cursors()
                    cursor = held.cursor()
                    # A top-N of a few rows is otherwise planned as a second full scan that
                    # joins the rest of the columns back (late materialization): with the
                    # narrow windows the reads here ask for, that second scan is the cost.
                    with contextlib.suppress(duckdb.Error):  # a DuckDB without the setting
                        cursor.execute("SET late_materialization_max_rows = 0")
                    self._cursors[threading.get_ident()] = cursor
                    self._reader.of = held
            if cursor is None:
                with self.connection() as con:
                    yield con
                return
        with _interrupts_as_keyboard_interrupt():
            yield cursor

    @property
    def generation(self) -> int | None:
        """While the store is held: a number that changes whenever committed data may have
        changed since it was last read (after the write's block, before anyone is told it is
        done), so a reader can keep what it computed from the store until it changes (the
        server's read cache, dagy/server/readcache.py). None when not held: other processes may
        write the file then.

        Writes run in connection()/transaction() blocks on the held connection; at the end of
        each outermost block the database file and its write-ahead log are stat'ed, and the
        number moves when either changed. DuckDB appends every committed write to the log before
        COMMIT returns, and a checkpoint rewrites the file and empties the log, so a block that
        wrote changes one of them; a block that only read (a worker's look at an empty queue,
        every half second) changes neither and keeps the cached reads."""
        return self._generation if self._held is not None else None

    def _note_writes(self) -> None:
        """Move ``generation`` if the block that just ended changed the files. Under the lock."""
        files = self._file_signature()
        if files != self._files or not files:
            self._files = files
            self._generation += 1

    def _file_signature(self) -> tuple[Any, ...]:
        signature: list[Any] = []
        for path in (self.paths.db, self.paths.db.with_name(self.paths.db.name + ".wal")):
            try:
                st = os.stat(path)
            except FileNotFoundError:
                signature.append(None)
            except OSError:
                return ()  # unknown: counts as changed
            else:
                signature.append((st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns))
        return tuple(signature)

    def _drop_dead_cursors(self) -> None:
        """Close the cursors of threads that ended (a thread pool that retires idle threads
        would otherwise leave one open cursor behind per thread it ever had). Under the lock."""
        alive = {t.ident for t in threading.enumerate()}
        for ident in [i for i in self._cursors if i not in alive]:
            self._cursors.pop(ident).close()

    def listen(self, topic: str, callback: Callable[[], None]) -> None:
        """Call ``callback`` (no arguments, quick, never raising) whenever ``topic`` is notified."""
        self._listeners.setdefault(topic, []).append(callback)

    def notify(self, topic: str) -> None:
        """Tell the listeners of ``topic`` that its rows changed. Called inside the writing
        block: a listener that reads through this store while it is held waits for the block's
        commit on the store lock, so it finds the rows."""
        for callback in self._listeners.get(topic, ()):
            callback()

    def hold(self, *, timeout: float | None = None) -> None:
        """Open the file and keep it open until release(): the server owns the store."""
        if self._held is not None:
            return
        con = self._open(self.lock_timeout if timeout is None else timeout)
        try:
            migrations.apply(con)
            self._migrated = True
            self._recovered = True
            self._recover(con)
        except BaseException:
            con.close()
            raise
        self._held = con
        self._files = self._file_signature()
        self._generation += 1

    def release(self) -> None:
        with self._lock:
            con, self._held = self._held, None
            cursors, self._cursors = list(self._cursors.values()), {}
            for cursor in cursors:  # each keeps the database (and its file lock) open
                cursor.close()
            if con is not None:
                con.close()

    @property
    def held(self) -> bool:
        return self._held is not None

    def recover(self) -> None:
        """Finish runs whose process died (the server sweeps for them while it owns the file)."""
        with self.connection() as con:
            self._recover(con)

    # -- writes -----------------------------------------------------------------------------------

    def create_run(self, run: RunRecord, task_runs: Sequence[TaskRunRecord] = ()) -> None:
        cols = ", ".join(RUN_COLUMNS)
        marks = ", ".join("?" for _ in RUN_COLUMNS)
        with self.transaction() as con:
            con.execute(f"INSERT INTO runs ({cols}) VALUES ({marks})", row_of(run, RUN_COLUMNS))
            # A new run's task rows cannot exist yet: a plain INSERT (1.5 ms for one row where
            # INSERT OR REPLACE took 5.5; every `dagy run` makes one).
            self._upsert_task_runs(con, task_runs, replace=False)

    def apply(
        self,
        run_id: str,
        run_changes: dict[str, Any],
        task_runs: Iterable[TaskRunRecord],
        *,
        timeout: float | None = None,
    ) -> None:
        with self.transaction(timeout=timeout) as con:
            self._write_task_runs(con, task_runs)
            self._update_run(con, run_id, run_changes)

    @staticmethod
    def _update_run(con: duckdb.DuckDBPyConnection, run_id: str, changes: dict[str, Any]) -> None:
        changes = {k: v for k, v in changes.items() if k in RUN_COLUMNS and k != "run_id"}
        if not changes:
            return
        sets = ", ".join(f"{k} = ?" for k in changes)
        con.execute(f"UPDATE runs SET {sets} WHERE run_id = ?", [*changes.values(), run_id])

    @staticmethod
    def _task_columns(rows: Iterable[TaskRunRecord]) -> list[list[Any]]:
        columns: list[list[Any]] = [[] for _ in TASK_RUN_COLUMNS]
        for row in rows:
            for column, value in zip(columns, row_of(row, TASK_RUN_COLUMNS), strict=True):
                column.append(value)
        return columns

    @classmethod
    def _upsert_task_runs(
        cls, con: duckdb.DuckDBPyConnection, rows: Iterable[TaskRunRecord], *, replace: bool = True
    ) -> None:
        columns = cls._task_columns(rows)
        if columns[0]:
            con.execute(_UPSERT_TASK_RUNS if replace else _INSERT_TASK_RUNS, columns)

    @classmethod
    def _write_task_runs(
        cls, con: duckdb.DuckDBPyConnection, rows: Iterable[TaskRunRecord]
    ) -> None:
        """Upsert a batch of a run's task rows: an UPDATE when they all exist (the usual batch),
        else the upsert of them all (a map's children, a queued run's first rows)."""
        columns = cls._task_columns(rows)
        if not columns[0]:
            return
        changed = con.execute(_UPDATE_TASK_RUNS, columns).fetchone()
        if changed is None or changed[0] != len(columns[0]):
            con.execute(_UPSERT_TASK_RUNS, columns)

    def mark_pruned(self, run_ids: Sequence[str]) -> None:
        if not run_ids:
            return
        with self.connection() as con:
            con.execute(
                "UPDATE runs SET files_pruned = true WHERE run_id IN (SELECT unnest(?::VARCHAR[]))",
                [list(run_ids)],
            )

    # -- reads ------------------------------------------------------------------------------------

    def get_run(self, run_id: str, *, org_id: str = "personal") -> RunRecord | None:
        with self.reading() as con:
            row = con.execute(
                f"SELECT {', '.join(RUN_COLUMNS)} FROM runs WHERE run_id = ? AND org_id = ?",
                [run_id, org_id],
            ).fetchone()
        return RunRecord(*row) if row else None

    @staticmethod
    def _run_filters(
        org_id: str, status: str | None, flow_name: str | None
    ) -> tuple[str, list[Any]]:
        where, params = ["org_id = ?"], [org_id]
        if status:
            where.append("status = ?")
            params.append(status.upper())
        if flow_name:
            where.append("flow_name = ?")
            params.append(flow_name)
        return " AND ".join(where), params

    def list_runs(
        self,
        *,
        org_id: str = "personal",
        status: str | None = None,
        flow_name: str | None = None,
        limit: int | None = 100,
    ) -> list[RunRecord]:
        where, params = self._run_filters(org_id, status, flow_name)
        sql = f"SELECT {_RUN_COLS_NO_SPEC} FROM runs WHERE {where}"
        with self.reading() as con:
            if limit:
                rows = self._newest(con, sql, params, limit, (org_id, status, flow_name), None)
            else:
                rows = con.execute(
                    sql + " ORDER BY created_at DESC, run_id DESC", params
                ).fetchall()
        return [RunRecord(*row) for row in rows]

    def count_runs(
        self, *, org_id: str = "personal", status: str | None = None, flow_name: str | None = None
    ) -> int:
        where, params = self._run_filters(org_id, status, flow_name)
        with self.reading() as con:
            row = con.execute(f"SELECT count(*) FROM runs WHERE {where}", params).fetchone()
        return int(row[0]) if row else 0

    def task_runs(self, run_id: str) -> list[TaskRunRecord]:
        with self.reading() as con:
            rows = con.execute(
                f"SELECT {', '.join(TASK_RUN_COLUMNS)} FROM task_runs WHERE run_id = ? ORDER BY seq",
                [run_id],
            ).fetchall()
        return [TaskRunRecord(*row) for row in rows]

    def runs_to_prune(self, keep: int) -> list[str]:
        """Finished runs beyond the newest ``keep`` whose files are still on disk."""
        with self.connection() as con:
            rows = con.execute(_TO_PRUNE, [keep]).fetchall()
        return [r[0] for r in rows]

    # -- reads for the API (dagy/services/runs/api.py) and the loopback store routes --------------

    def run_exists(self, run_id: str, org_id: str | None = None) -> bool:
        """Whether the run is here (in ``org_id``, when given)."""
        sql, params = "SELECT 1 FROM runs WHERE run_id = ?", [run_id]
        if org_id is not None:
            sql += " AND org_id = ?"
            params.append(org_id)
        with self.reading() as con:
            return con.execute(sql, params).fetchone() is not None

    def get_run_summary(self, run_id: str, org_id: str) -> RunRecord | None:
        """A run without its FlowSpec (which can be megabytes for a large fan-out)."""
        with self.reading() as con:
            row = con.execute(
                f"SELECT {_RUN_COLS_NO_SPEC} FROM runs WHERE run_id = ? AND org_id = ?",
                [run_id, org_id],
            ).fetchone()
        return RunRecord(*row) if row else None

    def runs_page(
        self,
        org_id: str,
        *,
        status: str | None,
        flow_name: str | None,
        before: tuple[str, str] | None,
        limit: int,
        deployment_name: str | None = None,
        created_after: _dt.datetime | None = None,
        created_before: _dt.datetime | None = None,
        id_prefix: str | None = None,
        brief: bool = False,
    ) -> list[RunRecord]:
        """Newest first, keyset-paged by (created_at, run_id) going backwards; no FlowSpec.
        ``brief``: only the fields of ``_RUN_BRIEF`` are read (the others keep their defaults)."""
        where, params = self._run_filters(org_id, status, flow_name)
        if deployment_name:
            where += " AND deployment_name = ?"
            params.append(deployment_name)
        if created_after is not None:
            where += " AND created_at >= ?"
            params.append(created_after)
        if created_before is not None:
            where += " AND created_at < ?"
            params.append(created_before)
        if id_prefix:
            where += " AND starts_with(run_id, ?)"
            params.append(id_prefix)
        if before is not None:
            where += " AND (created_at, run_id) < (?::TIMESTAMP, ?)"
            params += list(before)
        columns = ", ".join(_RUN_BRIEF) if brief else _RUN_COLS_NO_SPEC
        sql = f"SELECT {columns} FROM runs WHERE {where}"
        key = (org_id, status, flow_name, deployment_name, created_after, created_before, id_prefix)
        with self.reading() as con:
            rows = self._newest(con, sql, params, limit, key, before, brief=brief)
        if brief:
            return [
                RunRecord(org_id=org_id, **dict(zip(_RUN_BRIEF, row, strict=True))) for row in rows
            ]
        return [RunRecord(*row) for row in rows]

    def _newest(
        self,
        con: duckdb.DuckDBPyConnection,
        sql: str,
        params: list[Any],
        limit: int,
        key: tuple[Any, ...],
        before: tuple[str, str] | None,
        *,
        brief: bool = False,
    ) -> list[Any]:
        """The first ``limit`` rows of ``sql`` (runs, filtered) newest first.

        Sorting every matching run for the newest few is the whole cost of a page (a top-N over
        100,000 runs: 15-20 ms, more with wide rows). Runs are created in time order, so a page
        almost always lies in a narrow window of ``created_at``: ask for that window first, and
        whenever it holds ``limit`` rows they are the answer (every run left out is older than
        all of them); otherwise ask again without it. The window: where the same page began last
        time (the server asks again and again); for the next pages, below the cursor by twice the
        time the last page spanned; else the runs written last (the newest row ids).
        """
        order = " ORDER BY created_at DESC, run_id DESC LIMIT ?"
        floor: Any = None
        if before is None:
            floor = self._page_floors.get(key)
        else:
            span = self._page_spans.get(key)
            if span is not None:
                floor = _dt.datetime.fromisoformat(before[0]) - 2 * span
        rows = None
        if floor is not None:
            rows = con.execute(f"{sql} AND created_at >= ?{order}", [*params, floor, limit])
        elif before is None:
            rows = con.execute(
                f"{sql} AND created_at >= (SELECT min(created_at) FROM runs "
                f"WHERE rowid > (SELECT max(rowid) FROM runs) - ?){order}",
                [*params, 4 * limit, limit],
            )
        found = rows.fetchall() if rows is not None else []
        if len(found) < limit:
            found = con.execute(sql + order, [*params, limit]).fetchall()
        if len(found) == limit:
            if len(self._page_spans) > 1000:
                self._page_floors.clear()
                self._page_spans.clear()
            at = (_RUN_BRIEF if brief else RUN_COLUMNS).index("created_at")
            if before is None:
                self._page_floors[key] = found[-1][at]
            self._page_spans[key] = found[0][at] - found[-1][at]
        elif before is None:
            self._page_floors.pop(key, None)
        return found

    def retry_count(self, run_id: str) -> int:
        """How many retries led to this run: the length of its ``retry_of`` chain."""
        with self.reading() as con:
            row = con.execute(
                """
                WITH RECURSIVE chain(run_id, retry_of, depth) AS (
                    SELECT run_id, retry_of, 0 FROM runs WHERE run_id = ?
                    UNION ALL
                    SELECT r.run_id, r.retry_of, c.depth + 1
                    FROM runs r JOIN chain c ON r.run_id = c.retry_of
                    WHERE c.depth < 10000
                )
                SELECT max(depth) FROM chain
                """,
                [run_id],
            ).fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    # -- crash recovery ---------------------------------------------------------------------------

    def _recover(self, con: duckdb.DuckDBPyConnection) -> None:
        """Finish the runs of processes on this host that died: replay their events, then fail them."""
        host = socket.gethostname()
        rows = con.execute(_ACTIVE_HERE, [host]).fetchall()
        for run_id, pid, pid_started, offset in rows:
            if process_alive(pid, pid_started):
                continue
            changes, tasks, new_offset = events.replay(
                self.paths.run_dir(run_id) / "events.jsonl", offset
            )
            changes["events_offset"] = new_offset
            now = utcnow()
            if changes.get("status") not in FINAL_STATUSES:
                # a task process that outlived its run (no PR_SET_PDEATHSIG here, or a grandchild
                # in its group) must not finish its side effects after its task is marked FAILED
                kill_survivors(self.paths.run_dir(run_id))
                changes.update(
                    status=FAILED,
                    ended_at=now,
                    error=f"crashed: process {pid} on {host} exited before the run finished",
                )
                stuck = {
                    t.task_run_id: t
                    for t in (
                        TaskRunRecord(*r)
                        for r in con.execute(
                            f"SELECT {', '.join(TASK_RUN_COLUMNS)} FROM task_runs WHERE run_id = ?",
                            [run_id],
                        ).fetchall()
                    )
                }
                stuck.update(tasks)
                for t in stuck.values():
                    if t.status in (RUNNING, RETRYING):
                        t.status, t.ended_at, t.error = FAILED, now, "crashed"
                    elif t.status == PENDING:
                        t.status = CANCELLED
                tasks = stuck
            con.execute("BEGIN")
            try:
                self._upsert_task_runs(con, tasks.values())
                self._update_run(con, run_id, changes)
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")


def open_store(paths: DagyPaths | None = None) -> DuckDBStore:
    return DuckDBStore(paths or DagyPaths.from_env())


def store_path(paths: DagyPaths) -> Path:
    return paths.db

"""The history views of ``dagy sql`` (docs/sql.md) and the sandbox a user's query runs in.

A query never runs on the store's own connection. It runs on a DuckDB database of its own, opened
read-only, with ``enable_external_access=false`` (no file, no ATTACH, no COPY, no INSTALL/LOAD),
no extension autoloading, no Python replacement scans, and ``lock_configuration=true`` (no SET):
DuckDB itself refuses what a query may not do, whatever its text says.

Where the org's rows come from:
- the store file, not held by any process (the CLI on its home): the sandbox opens the file
  itself read-only and the six views are TEMP views filtered to the org; the file is the user's
  own, so its raw tables stay readable (read-only) under ``dagy.main.*``;
- the store held by ``dagy serve`` (its one connection): a snapshot — the org's rows of the views
  the query names, copied into a private temporary DuckDB file — is what the sandbox opens; no
  other org's row and no other table exists in it.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import duckdb

from dagy.config import settings
from dagy.store import migrations
from dagy.store.duckdb_store import DuckDBStore, connect_waiting

# What the sandbox may not do, set when it opens; ``lock_configuration`` follows once its views
# are in place, before a user's query runs.
SANDBOX_CONFIG: dict[str, str | bool | int | float | list[str]] = {
    "enable_external_access": False,
    "autoload_known_extensions": False,
    "autoinstall_known_extensions": False,
    "allow_community_extensions": False,
    "allow_unsigned_extensions": False,
    "python_enable_replacements": False,
}

# Each view: its SELECT over the store's raw tables ({db}: the store's catalog, {org}: the org
# as a quoted literal). Status words are the CLI's, lower-cased; timestamps are UTC.
VIEWS: dict[str, str] = {
    "runs": """
        SELECT run_id, flow_name, flow_version, deployment_name, lower(status) AS status,
               trigger, executor, execution_mode, parameters, tags, output, error, retry_of,
               replay_of, host, created_at, started_at, ended_at,
               date_diff('microsecond', started_at, ended_at) / 1e6 AS duration_seconds
        FROM {db}.main.runs WHERE org_id = {org}
    """,
    "task_runs": """
        SELECT run_id, task_run_id, task_name, seq, lower(status) AS status,
               attempt AS attempts, max_attempts, executor, started_at, ended_at,
               duration_seconds, error, reused_from, source_hash
        FROM {db}.main.task_runs WHERE org_id = {org}
    """,
    # One row per attempt a task run made. The store keeps a task run's last attempt only: an
    # earlier one is known to have failed (it was retried); its own error and times are not kept.
    "attempts": """
        SELECT t.run_id, t.task_run_id, t.task_name, a.attempt,
               a.attempt = t.attempt AS is_last,
               CASE WHEN a.attempt = t.attempt THEN lower(t.status) ELSE 'failed' END AS status,
               CASE WHEN a.attempt = t.attempt THEN t.error END AS error,
               CASE WHEN a.attempt = 1 THEN t.started_at END AS started_at,
               CASE WHEN a.attempt = t.attempt THEN t.ended_at END AS ended_at
        FROM {db}.main.task_runs t, generate_series(1, t.attempt) AS a(attempt)
        WHERE t.org_id = {org} AND t.attempt > 0
    """,
    "events": """
        SELECT event_id, type, status, run_id, flow_name, deployment_name, payload,
               created_at, claimed_at, finished_at, attempts, error
        FROM {db}.main.events WHERE org_id = {org}
    """,
    "schedules": """
        SELECT schedule_id, flow_name, flow_version, deployment_name, mode, enabled, timezone,
               catchup_policy, cron_expression, interval_seconds, one_time_at, start_at, end_at,
               parameters, description, environment, next_run_at, last_run_at, last_run_id,
               last_error, created_at, updated_at
        FROM {db}.main.schedules WHERE org_id = {org}
    """,
    # Per UTC day, as usage metering counts (dagy/store/usage.py): a run on the day it was
    # created, a task run on the day it started, a task run reused by a retry nowhere.
    "usage": """
        WITH r AS (
            SELECT created_at::DATE AS day, count(*) AS runs,
                   count(*) FILTER (WHERE status = 'FAILED') AS failed_runs
            FROM {db}.main.runs WHERE org_id = {org} GROUP BY ALL
        ), t AS (
            SELECT started_at::DATE AS day, count(*) AS task_runs,
                   coalesce(sum(duration_seconds), 0) AS compute_seconds
            FROM {db}.main.task_runs
            WHERE org_id = {org} AND started_at IS NOT NULL AND reused_from IS NULL GROUP BY ALL
        ), a AS (
            SELECT day, calls AS api_calls FROM {db}.main.api_calls WHERE org_id = {org}
        )
        SELECT day, coalesce(runs, 0) AS runs, coalesce(failed_runs, 0) AS failed_runs,
               coalesce(task_runs, 0) AS task_runs,
               coalesce(compute_seconds, 0)::DOUBLE AS compute_seconds,
               coalesce(api_calls, 0) AS api_calls
        FROM r FULL JOIN t USING (day) FULL JOIN a USING (day)
    """,
}
VIEW_NAMES = tuple(VIEWS)
_SNAPSHOT = "dagy_sql_snapshot"


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _quote_text(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def view_sql(name: str, db: str, org_id: str) -> str:
    return VIEWS[name].format(db=_quote_ident(db), org=_quote_text(org_id))


def named_views(sql: str) -> list[str]:
    """The views whose name appears as a word in ``sql``: what a snapshot copies. Only a cost
    saving (a view named nowhere is not copied); what a query may do is the sandbox's business."""
    words = {w.lower() for w in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", sql)}
    return [name for name in VIEW_NAMES if name in words]


def _connect_read_only(path: Path, timeout: float) -> duckdb.DuckDBPyConnection:
    """The sandbox on ``path``, read-only and locked down; retried while a writer holds the file."""
    config = {**SANDBOX_CONFIG, "memory_limit": settings.SQL_MEMORY_LIMIT.get()}
    return connect_waiting(path, timeout, read_only=True, config=config)


@contextlib.contextmanager
def sandbox(
    store: DuckDBStore, org_id: str, sql: str, *, timeout: float | None = None
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A locked-down, read-only connection where the six views show ``org_id``'s rows only.

    Call it outside any ``store.connection()`` block of this store object: on the file, the
    sandbox opens the file itself. On a held store, copying the snapshot is stopped after
    ``timeout`` seconds (TimeoutError): the server's connection is not held longer than that.
    """
    if store.held:
        with _snapshot(store, org_id, named_views(sql), timeout) as path:
            con = _connect_read_only(path, store.lock_timeout)
            try:
                _lock(con)
                yield con
            finally:
                con.close()
        return
    con = _open_file(store)
    try:
        db = con.execute("SELECT current_database()").fetchall()[0][0]
        for name in VIEW_NAMES:
            con.execute(f"CREATE TEMP VIEW {name} AS {view_sql(name, db, org_id)}")
        # bare names find the views only; the raw tables stay reachable as dagy.main.<table>
        con.execute("SET search_path = 'temp.main'")
        _lock(con)
        yield con
    finally:
        con.close()


def _lock(con: duckdb.DuckDBPyConnection) -> None:
    """No progress bar on the server's stderr (a connection setting), then no setting changes."""
    con.execute("SET enable_progress_bar = false")
    con.execute("SET lock_configuration = true")


def _open_file(store: DuckDBStore) -> duckdb.DuckDBPyConnection:
    """The store file, read-only; migrated first (by a brief read-write open) only when it is
    missing a migration. Read-only opens do not exclude each other: queries run side by side."""
    if store.paths.db.exists():
        con = _connect_read_only(store.paths.db, store.lock_timeout)
        try:
            done = {r[0] for r in con.execute("SELECT version FROM schema_version").fetchall()}
        except duckdb.CatalogException:
            done = set()
        if done >= {number for number, _ in migrations.available()}:
            return con
        con.close()
    with store.connection():  # creates or migrates the file (and recovers crashed runs)
        pass
    return _connect_read_only(store.paths.db, store.lock_timeout)


@contextlib.contextmanager
def interrupt_after(
    con: duckdb.DuckDBPyConnection, seconds: float | None
) -> Iterator[threading.Event]:
    """Interrupt what ``con`` runs once ``seconds`` have passed (None: never); the event says
    whether it fired. An interrupt reaches only a running query, so the timer keeps interrupting
    until the block ends: a query that starts just after the deadline is stopped too."""
    fired, done = threading.Event(), threading.Event()

    def stop() -> None:
        fired.set()
        while True:
            con.interrupt()
            if done.wait(0.02):
                return

    timer = threading.Timer(seconds or 0, stop)
    timer.daemon = True
    if seconds is not None:
        timer.start()
    try:
        yield fired
    finally:
        done.set()
        timer.cancel()


def _detach(con: duckdb.DuckDBPyConnection, alias: str) -> None:
    """Detach the snapshot; once more if the timer's interrupt landed on the first try."""
    try:
        con.execute(f"DETACH {alias}")
    except duckdb.Error:
        con.execute(f"DETACH IF EXISTS {alias}")


@contextlib.contextmanager
def _snapshot(
    store: DuckDBStore, org_id: str, names: list[str], timeout: float | None
) -> Iterator[Path]:
    """A private temporary DuckDB file holding ``org_id``'s rows of the views ``names``.

    Copied on a cursor of the held connection (a connection of its own to the same database):
    the store's lock is taken only to make the cursor, so the server's other requests go on
    while the copy runs, and the copy reads one consistent version of the history (MVCC).
    """
    folder = Path(tempfile.mkdtemp(prefix="dagy-sql-"))  # mode 0700
    path = folder / "history.duckdb"
    alias = f"{_SNAPSHOT}_{uuid.uuid4().hex}"  # attachments are shared by every cursor
    try:
        with store.connection() as held:
            con = held.cursor()
        try:
            db = con.execute("SELECT current_database()").fetchall()[0][0]
            con.execute(f"ATTACH {_quote_text(str(path))} AS {alias}")
            started = time.monotonic()
            try:
                with interrupt_after(con, timeout) as fired:
                    for name in names:
                        con.execute(
                            f"CREATE TABLE {alias}.main.{name} AS {view_sql(name, db, org_id)}"
                        )
            except duckdb.Error:
                if not fired.is_set():
                    raise
            finally:
                _detach(con, alias)
        finally:
            con.close()
        late = timeout is not None and time.monotonic() - started > timeout
        if fired.is_set() or late:  # late: done before the timer thread got to interrupt it
            raise TimeoutError(f"copying the history took longer than {timeout:g}s")
        yield path
    finally:
        shutil.rmtree(folder, ignore_errors=True)

"""SQL for notifications: channels, alert rules, firings, delivery jobs and delivery attempts.

A channel row holds its secret fields only sealed (``sealed_config``); nothing here opens them.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, fields
from typing import Any

from dagy.store.duckdb_store import DuckDBStore
from dagy.store.records import RUN_COLUMNS, RunRecord

PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"


@dataclass
class ChannelRow:
    channel_id: str
    org_id: str
    name: str
    channel_type: str
    config_json: str
    key_id: str | None
    sealed_config: bytes | None
    enabled: bool
    created_by: str | None
    created_at: _dt.datetime


@dataclass
class RuleRow:
    rule_id: str
    org_id: str
    name: str
    trigger: str
    flow_name: str | None
    sla_seconds: float | None
    channel_ids: list[str]
    enabled: bool
    created_by: str | None
    created_at: _dt.datetime


@dataclass
class JobRow:
    job_id: int
    org_id: str
    channel_id: str
    rule_id: str | None
    run_id: str | None
    event: str
    payload: str
    status: str
    attempts: int
    next_attempt_at: _dt.datetime
    created_at: _dt.datetime
    finished_at: _dt.datetime | None
    last_error: str | None


@dataclass
class DeliveryRow:
    delivery_id: int
    org_id: str
    channel_id: str
    job_id: int | None
    rule_id: str | None
    run_id: str | None
    event: str
    attempt: int
    attempted_at: _dt.datetime
    success: bool
    status_code: int | None
    error: str | None
    duration_ms: int


def _cols(cls: type, *, skip: str = "", alias: str = "") -> list[str]:
    return [f"{alias}{f.name}" for f in fields(cls) if f.name != skip]


def _insert(con: Any, table: str, row: Any, *, skip: str = "") -> None:
    names = _cols(type(row), skip=skip)
    con.execute(
        f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' for _ in names)})",
        [getattr(row, n) for n in names],
    )


def _channel(row: Any) -> ChannelRow:
    values = list(row)
    if values[6] is not None:
        values[6] = bytes(values[6])  # DuckDB answers a BLOB as bytes already; be sure of it
    return ChannelRow(*values)


@dataclass(frozen=True)
class _Table:
    name: str
    key: str
    make: Callable[[Any], Any]
    cols: str


_CHANNELS = _Table("channels", "channel_id", _channel, ", ".join(_cols(ChannelRow)))
_RULES = _Table("alert_rules", "rule_id", lambda r: RuleRow(*r), ", ".join(_cols(RuleRow)))


def _of_org(
    store: DuckDBStore, table: _Table, org_id: str, where: str = "", params: Sequence[Any] = ()
) -> list[Any]:
    """Rows of one org, oldest first (``where`` adds ``AND ...`` conditions)."""
    with store.connection() as con:
        rows = con.execute(
            f"SELECT {table.cols} FROM {table.name} WHERE org_id = ? {where} "
            f"ORDER BY created_at, {table.key}",
            [org_id, *params],
        ).fetchall()
    return [table.make(r) for r in rows]


def _one(store: DuckDBStore, table: _Table, org_id: str, key: str) -> Any:
    found = _of_org(store, table, org_id, f"AND {table.key} = ?", [key])
    return found[0] if found else None


@contextlib.contextmanager
def _atomic(store: DuckDBStore) -> Iterator[Any]:
    """The connection inside one transaction: all of the block's writes or none."""
    with store.transaction() as con:
        yield con


# -- channels ---------------------------------------------------------------------------------------


def insert_channel(store: DuckDBStore, row: ChannelRow) -> None:
    with store.connection() as con:
        _insert(con, "channels", row)


def get_channel(store: DuckDBStore, org_id: str, channel_id: str) -> ChannelRow | None:
    return _one(store, _CHANNELS, org_id, channel_id)  # type: ignore[no-any-return]


def channels(store: DuckDBStore, org_id: str) -> list[ChannelRow]:
    return _of_org(store, _CHANNELS, org_id)


def existing_channel_ids(store: DuckDBStore, org_id: str, channel_ids: list[str]) -> set[str]:
    with store.connection() as con:
        rows = con.execute(
            "SELECT channel_id FROM channels WHERE org_id = ? AND list_contains(?, channel_id)",
            [org_id, channel_ids],
        ).fetchall()
    return {str(r[0]) for r in rows}


def delete_channel(store: DuckDBStore, channel_id: str) -> None:
    """The channel, its jobs and attempts, and its place in every rule, in one transaction."""
    with _atomic(store) as con:
        con.execute("DELETE FROM notification_deliveries WHERE channel_id = ?", [channel_id])
        con.execute("DELETE FROM notification_jobs WHERE channel_id = ?", [channel_id])
        con.execute(
            "UPDATE alert_rules SET channel_ids = list_filter(channel_ids, lambda c: c <> ?) "
            "WHERE list_contains(channel_ids, ?)",
            [channel_id, channel_id],
        )
        con.execute("DELETE FROM channels WHERE channel_id = ?", [channel_id])


def sealed_channels(store: DuckDBStore) -> list[ChannelRow]:
    """Every channel of every org with sealed fields: what a master key rotation re-seals."""
    with store.connection() as con:
        rows = con.execute(
            f"SELECT {_CHANNELS.cols} FROM channels WHERE sealed_config IS NOT NULL ORDER BY channel_id"
        ).fetchall()
    return [_channel(r) for r in rows]


def sealed_key_ids(store: DuckDBStore) -> list[str]:
    with store.connection() as con:
        rows = con.execute(
            "SELECT DISTINCT key_id FROM channels WHERE key_id IS NOT NULL ORDER BY key_id"
        ).fetchall()
    return [str(r[0]) for r in rows]


def reseal_channel(store: DuckDBStore, channel_id: str, key_id: str, sealed: bytes) -> None:
    with store.connection() as con:
        con.execute(
            "UPDATE channels SET key_id = ?, sealed_config = ? WHERE channel_id = ?",
            [key_id, sealed, channel_id],
        )


# -- alert rules ------------------------------------------------------------------------------------


def insert_rule(store: DuckDBStore, row: RuleRow) -> None:
    with store.connection() as con:
        _insert(con, "alert_rules", row)


def get_rule(store: DuckDBStore, org_id: str, rule_id: str) -> RuleRow | None:
    return _one(store, _RULES, org_id, rule_id)  # type: ignore[no-any-return]


def rules(store: DuckDBStore, org_id: str) -> list[RuleRow]:
    return _of_org(store, _RULES, org_id)


def delete_rule(store: DuckDBStore, rule_id: str) -> None:
    """The rule and its firings; jobs already queued for it are still delivered."""
    with _atomic(store) as con:
        con.execute("DELETE FROM alert_firings WHERE rule_id = ?", [rule_id])
        con.execute("DELETE FROM alert_rules WHERE rule_id = ?", [rule_id])


def rules_for(store: DuckDBStore, org_id: str, trigger: str, flow_name: str) -> list[RuleRow]:
    """Enabled rules of one trigger that a run of ``flow_name`` matches."""
    return _of_org(
        store,
        _RULES,
        org_id,
        "AND trigger = ? AND enabled AND (flow_name IS NULL OR flow_name = ?)",
        [trigger, flow_name],
    )


def sla_breaches(store: DuckDBStore, now: _dt.datetime) -> list[tuple[RuleRow, RunRecord]]:
    """(rule, run) for every RUNNING run past an enabled on_sla_breach rule's ``sla_seconds``
    (counted from its start) that the rule has not fired for."""
    runs = ", ".join(f"r.{c}" for c in RUN_COLUMNS)
    with store.connection() as con:
        rows = con.execute(
            f"SELECT {', '.join(_cols(RuleRow, alias='a.'))}, {runs} FROM alert_rules a "
            "JOIN runs r ON r.org_id = a.org_id AND (a.flow_name IS NULL OR a.flow_name = r.flow_name) "
            "WHERE a.enabled AND a.trigger = 'on_sla_breach' AND r.status = 'RUNNING' "
            "AND r.started_at IS NOT NULL "
            "AND r.started_at + to_microseconds(CAST(a.sla_seconds * 1000000 AS BIGINT)) < ? "
            "AND NOT EXISTS (SELECT 1 FROM alert_firings f "
            "                WHERE f.rule_id = a.rule_id AND f.run_id = r.run_id) "
            "ORDER BY r.started_at, a.rule_id",
            [now],
        ).fetchall()
    width = len(fields(RuleRow))
    return [(RuleRow(*row[:width]), RunRecord(*row[width:])) for row in rows]


# -- the event stream -------------------------------------------------------------------------------


def cursor(store: DuckDBStore) -> int:
    with store.connection() as con:
        row = con.execute(
            "SELECT last_event_id FROM notification_cursor WHERE name = 'events'"
        ).fetchone()
    return int(row[0]) if row else 0


def events_after(
    store: DuckDBStore, after: int, types: tuple[str, ...], limit: int
) -> list[tuple[int, str, str | None, RunRecord]]:
    """(event_id, type, payload, run) of the next events of ``types`` that name a run."""
    runs = ", ".join(f"r.{c}" for c in RUN_COLUMNS)
    with store.connection() as con:
        rows = con.execute(
            f"SELECT e.event_id, e.type, e.payload, {runs} FROM events e "
            "JOIN runs r ON r.run_id = e.run_id "
            "WHERE e.event_id > ? AND list_contains(?, e.type) ORDER BY e.event_id LIMIT ?",
            [after, list(types), limit],
        ).fetchall()
    return [(int(r[0]), str(r[1]), r[2], RunRecord(*r[3:])) for r in rows]


def last_event_id(store: DuckDBStore) -> int:
    with store.connection() as con:
        row = con.execute("SELECT coalesce(max(event_id), 0) FROM events").fetchone()
    return int(row[0]) if row else 0


def fire(
    store: DuckDBStore,
    firings: list[tuple[str, str, list[JobRow]]],
    at: _dt.datetime,
    *,
    cursor_to: int | None = None,
) -> int:
    """Record each ``(rule_id, run_id, jobs)`` firing not already recorded, with its jobs, and
    move the event cursor, in one transaction; returns how many jobs were queued."""
    queued = 0
    with _atomic(store) as con:
        for rule_id, run_id, jobs in firings:
            seen = con.execute(
                "SELECT 1 FROM alert_firings WHERE rule_id = ? AND run_id = ?", [rule_id, run_id]
            ).fetchone()
            if seen:
                continue
            con.execute("INSERT INTO alert_firings VALUES (?, ?, ?)", [rule_id, run_id, at])
            for job in jobs:
                _insert(con, "notification_jobs", job, skip="job_id")
                queued += 1
        if cursor_to is not None:
            con.execute(
                "UPDATE notification_cursor SET last_event_id = ? WHERE name = 'events'",
                [cursor_to],
            )
    return queued


# -- delivery ---------------------------------------------------------------------------------------

_JOB = ", ".join(_cols(JobRow))


def due_jobs(store: DuckDBStore, now: _dt.datetime, limit: int) -> list[JobRow]:
    with store.connection() as con:
        rows = con.execute(
            f"SELECT {_JOB} FROM notification_jobs WHERE status = ? AND next_attempt_at <= ? "
            "ORDER BY next_attempt_at, job_id LIMIT ?",
            [PENDING, now, limit],
        ).fetchall()
    return [JobRow(*r) for r in rows]


def record_attempt(
    store: DuckDBStore,
    attempt: DeliveryRow,
    *,
    status: str | None = None,
    next_attempt_at: _dt.datetime | None = None,
) -> None:
    """One attempt, and (for a job's) the job's new state, in one transaction."""
    with _atomic(store) as con:
        _insert(con, "notification_deliveries", attempt, skip="delivery_id")
        if attempt.job_id is not None and status is not None:
            finished = attempt.attempted_at if status != PENDING else None
            con.execute(
                "UPDATE notification_jobs SET status = ?, attempts = ?, last_error = ?, "
                "next_attempt_at = coalesce(?, next_attempt_at), finished_at = ? WHERE job_id = ?",
                [status, attempt.attempt, attempt.error, next_attempt_at, finished, attempt.job_id],
            )


def deliveries_page(
    store: DuckDBStore, org_id: str, channel_id: str, *, before: int | None, limit: int
) -> list[DeliveryRow]:
    """Newest first, keyset-paged by ``delivery_id``."""
    where = "org_id = ? AND channel_id = ?"
    params_any: list[Any] = [org_id, channel_id]
    if before is not None:
        where += " AND delivery_id < ?"
        params_any.append(before)
    with store.connection() as con:
        rows = con.execute(
            f"SELECT {', '.join(_cols(DeliveryRow))} FROM notification_deliveries WHERE {where} "
            "ORDER BY delivery_id DESC LIMIT ?",
            [*params_any, limit],
        ).fetchall()
    return [DeliveryRow(*r) for r in rows]

"""Retention: what `dagy serve` prunes past ``DAGY_RETENTION_DAYS`` (default 30; 0 keeps all).

- webhook deliveries (the ids that dedupe replays) received before the cutoff;
- notification jobs delivered or failed before the cutoff (pending ones are kept), and delivery
  attempts made before it, unless their job is still pending;
- s3 sensors' seen keys last listed before the cutoff *and* absent from the sensor's latest look
  (each look refreshes ``seen_at`` of the keys it lists): a key still in the bucket is never
  forgotten, so it never fires again; a key gone for longer than the retention is.

The sensor loop of `dagy serve` calls ``prune`` when it starts and then every
``PRUNE_INTERVAL`` seconds.
"""

from __future__ import annotations

import datetime as _dt

from dagy.store.duckdb_store import DuckDBStore
from dagy.store.records import utcnow

PRUNE_INTERVAL = 3600.0


def cutoff(now: _dt.datetime | None = None, days: float | None = None) -> _dt.datetime | None:
    from dagy.config import settings

    days = settings.RETENTION_DAYS.get() if days is None else days
    if not days:
        return None
    return (now or utcnow()) - _dt.timedelta(days=days)


def prune(store: DuckDBStore, now: _dt.datetime | None = None) -> dict[str, int]:
    """Delete what is past the retention; how many rows of each table went."""
    limit = cutoff(now)
    if limit is None:
        return {}
    statements = {
        "webhook_deliveries": ("DELETE FROM webhook_deliveries WHERE received_at < ?", 1),
        "notification_deliveries": (
            "DELETE FROM notification_deliveries WHERE attempted_at < ? AND (job_id IS NULL OR "
            "job_id NOT IN (SELECT job_id FROM notification_jobs WHERE status = 'pending'))",
            1,
        ),
        "notification_jobs": (
            "DELETE FROM notification_jobs WHERE status <> 'pending' AND finished_at < ?",
            1,
        ),
        "sensor_seen_keys": (
            "DELETE FROM sensor_seen_keys k WHERE k.seen_at < ? AND EXISTS (SELECT 1 FROM "
            "sensors s WHERE s.sensor_id = k.sensor_id AND s.last_checked_at > k.seen_at)",
            1,
        ),
    }
    counts: dict[str, int] = {}
    with store.transaction() as con:
        for table, (sql, n) in statements.items():
            before = con.execute(f"SELECT count(*) FROM {table}").fetchone()  # noqa: S608
            con.execute(sql, [limit] * n)
            after = con.execute(f"SELECT count(*) FROM {table}").fetchone()  # noqa: S608
            counts[table] = int(before[0] if before else 0) - int(after[0] if after else 0)
    return counts

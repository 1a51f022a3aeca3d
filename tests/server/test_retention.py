"""Retention: `dagy serve` prunes sensor seen keys, webhook deliveries and notification jobs and
deliveries older than DAGY_RETENTION_DAYS when it starts (then hourly); what is recent, pending,
or an s3 key still in its bucket stays."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from dagy.config.paths import DagyPaths
from dagy.store.duckdb_store import DuckDBStore
from tests.conftest import start_server
from tests.server.runs_support import wait_until

NOW = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
OLD, OLDER, RECENT = NOW - dt.timedelta(days=39), NOW - dt.timedelta(days=40), NOW


def _seed(home: Path) -> None:
    store = DuckDBStore(DagyPaths(home))
    with store.transaction() as con:
        for sensor_id, checked in (("sensor_looked", OLD), ("sensor_new", None)):
            con.execute(
                "INSERT INTO sensors (sensor_id, org_id, name, sensor_type, flow_name, enabled,"
                " last_checked_at, created_at, updated_at) VALUES (?, 'personal', ?, 's3', 'f',"
                " false, ?, ?, ?)",
                [sensor_id, sensor_id, checked, OLDER, OLDER],
            )
        con.executemany(
            "INSERT INTO sensor_seen_keys VALUES (?, ?, ?)",
            [
                ["sensor_looked", "gone.csv", OLDER],  # absent from the last look, long ago
                ["sensor_looked", "fresh.csv", RECENT],
                ["sensor_new", "baseline.csv", OLDER],  # never looked since: still there
            ],
        )
        con.executemany(
            "INSERT INTO webhook_deliveries VALUES ('sensor_looked', ?, 'run_1', ?)",
            [["old", OLDER], ["new", RECENT]],
        )
        con.executemany(
            "INSERT INTO notification_jobs (job_id, org_id, channel_id, event, payload, status,"
            " attempts, next_attempt_at, created_at, finished_at) VALUES"
            " (?, 'personal', 'ch', 'run.failed', '{}', ?, 1, ?, ?, ?)",
            [
                [1, "delivered", OLDER, OLDER, OLDER],
                [2, "pending", OLDER, OLDER, None],
                [3, "failed", RECENT, RECENT, RECENT],
            ],
        )
        con.executemany(
            "INSERT INTO notification_deliveries (delivery_id, org_id, channel_id, job_id, event,"
            " attempt, attempted_at, success, duration_ms) VALUES"
            " (?, 'personal', 'ch', ?, 'run.failed', 1, ?, true, 1)",
            [[1, 1, OLDER], [2, 2, OLDER], [3, None, OLDER], [4, 3, RECENT]],
        )


def _rows(home: Path) -> dict[str, list]:
    store = DuckDBStore(DagyPaths(home))
    with store.connection() as con:
        return {
            "keys": sorted(
                r[0] for r in con.execute("SELECT key FROM sensor_seen_keys").fetchall()
            ),
            "hooks": sorted(
                r[0] for r in con.execute("SELECT delivery_id FROM webhook_deliveries").fetchall()
            ),
            "jobs": sorted(
                r[0] for r in con.execute("SELECT job_id FROM notification_jobs").fetchall()
            ),
            "deliveries": sorted(
                r[0]
                for r in con.execute("SELECT delivery_id FROM notification_deliveries").fetchall()
            ),
        }


EXPECTED = {
    "keys": ["baseline.csv", "fresh.csv"],
    "hooks": ["new"],
    "jobs": [2, 3],
    "deliveries": [2, 4],
}


def test_dagy_serve_prunes_rows_past_the_retention_at_start_up(tmp_path):
    home = tmp_path / "home"
    _seed(home)
    server = start_server(
        home, env={"DAGY_RETENTION_DAYS": "30", "DAGY_SENSOR_TICK_SECONDS": "0.1"}
    )
    try:
        wait_until(lambda: _says_pruned(server), 30, "the retention prune's notice")
    finally:
        server.stop()
    assert _rows(home) == EXPECTED


def _says_pruned(server: object) -> bool:
    text = Path(server.stderr_path).read_text()  # type: ignore[attr-defined]
    return "Retention: pruned 1 webhook_deliveries, 2 notification_deliveries" in text


def test_a_retention_of_0_keeps_everything(tmp_path, monkeypatch):
    from dagy.services import retention

    home = tmp_path / "home"
    _seed(home)
    monkeypatch.setenv("DAGY_RETENTION_DAYS", "0")
    assert retention.prune(DuckDBStore(DagyPaths(home))) == {}
    monkeypatch.setenv("DAGY_RETENTION_DAYS", "30")
    counts = retention.prune(DuckDBStore(DagyPaths(home)))
    assert counts == {
        "webhook_deliveries": 1,
        "notification_deliveries": 2,
        "notification_jobs": 1,
        "sensor_seen_keys": 1,
    }
    assert _rows(home) == EXPECTED

"""`dagy sql` on the store file (no server): formats, output files, saved queries, exit codes, and
runs made by a real `dagy run`."""

from __future__ import annotations

import json
import stat
import subprocess
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from tests.sql.history_support import seed, table_counts

Dagy = Callable[..., subprocess.CompletedProcess[str]]
BY_STATUS = "SELECT status, count(*) AS n FROM runs GROUP BY status ORDER BY status"


@pytest.fixture
def seeded(dagy_home: Path) -> Path:
    seed(dagy_home)
    return dagy_home


def test_table_csv_and_json_on_stdout(seeded: Path, run_dagy: Dagy) -> None:
    done = run_dagy("sql", BY_STATUS)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert any("succeeded" in line and "2" in line for line in lines)
    assert lines[-1].startswith("(3 rows, ")
    done = run_dagy("sql", "--format", "csv", BY_STATUS)
    assert done.stdout == "status,n\ncancelled,1\nfailed,1\nsucceeded,2\n"
    done = run_dagy("sql", "--format", "json", "SELECT run_id, created_at FROM runs LIMIT 1")
    body = json.loads(done.stdout)
    assert body["columns"] == [
        {"name": "run_id", "type": "VARCHAR"},
        {"name": "created_at", "type": "TIMESTAMP"},
    ]
    assert body["rows"] == [["p-1", "2026-03-04T12:00:00Z"]]
    assert body["row_count"] == 1 and body["truncated"] is False


def test_output_files_are_private_and_parquet_keeps_types(
    seeded: Path, run_dagy: Dagy, tmp_path: Path
) -> None:
    out = tmp_path / "runs.csv"
    done = run_dagy("sql", "--format", "csv", "--output", str(out), BY_STATUS)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "" and "Wrote 3 rows" in done.stderr
    assert out.read_text() == "status,n\ncancelled,1\nfailed,1\nsucceeded,2\n"
    assert stat.S_IMODE(out.stat().st_mode) == 0o600

    done = run_dagy("sql", "--format", "parquet", "SELECT 1")
    assert done.returncode == 2 and "--output" in done.stderr
    pq = tmp_path / "tasks.parquet"
    text = "SELECT task_run_id, duration_seconds, started_at, attempts FROM task_runs ORDER BY 1"
    done = run_dagy("sql", "--format", "parquet", "-o", str(pq), text)
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE(pq.stat().st_mode) == 0o600
    rel = duckdb.sql(f"SELECT * FROM read_parquet('{pq}')")
    assert [str(t) for t in rel.types] == ["VARCHAR", "DOUBLE", "TIMESTAMP", "INTEGER"]
    assert rel.fetchall()[0][:2] == ("p-1-t0", 4.0)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_limit_truncates_with_a_note_on_stderr(seeded: Path, run_dagy: Dagy) -> None:
    done = run_dagy("sql", "--format", "csv", "--limit", "2", "SELECT run_id FROM runs ORDER BY 1")
    assert done.returncode == 0
    assert done.stdout == "run_id\np-1\np-2\n"
    assert "Truncated: only the first 2 rows" in done.stderr


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("DELETE FROM runs", "Refused: DELETE statements are not allowed"),
        ("INSERT INTO runs SELECT * FROM runs", "Refused: INSERT"),
        ("COPY runs TO '{tmp}/x.csv'", "Refused: COPY"),
        ("SELECT * FROM read_csv('{tmp}/x.csv')", "Refused: files cannot be read"),
        ("ATTACH '{tmp}/x.duckdb'", "Refused: ATTACH"),
        ("SET memory_limit = '1GB'", "Refused: SET"),
        ("INSTALL httpfs", "Refused: INSTALL/LOAD"),
        ("SELECT nope FROM runs", "Invalid SQL: Binder Error"),
    ],
)
def test_refused_or_invalid_sql_exits_2_and_changes_nothing(
    seeded: Path, run_dagy: Dagy, tmp_path: Path, text: str, words: str
) -> None:
    before = table_counts(seeded)
    done = run_dagy("sql", text.format(tmp=tmp_path))
    assert done.returncode == 2, done.stderr
    assert words in done.stderr and "Traceback" not in done.stderr
    assert table_counts(seeded) == before
    assert list(tmp_path.glob("x.*")) == []


def test_saved_queries_save_list_run_delete_audited(seeded: Path, run_dagy: Dagy) -> None:
    done = run_dagy("sql", "save", "by-status", BY_STATUS)
    assert done.returncode == 0 and done.stdout == "Saved query by-status\n", done.stderr
    assert run_dagy("sql", "save", "by-status", BY_STATUS + " DESC").stdout == (
        "Updated query by-status\n"
    )
    listed = json.loads(run_dagy("sql", "list", "--json").stdout)
    assert [(q["name"], q["sql"]) for q in listed] == [("by-status", BY_STATUS + " DESC")]
    done = run_dagy("sql", "run", "by-status", "--format", "csv")
    assert done.stdout == "status,n\nsucceeded,2\nfailed,1\ncancelled,1\n", done.stderr
    assert run_dagy("sql", "save", "bad name", "SELECT 1").returncode == 2
    assert run_dagy("sql", "save", "drops", "DROP TABLE runs").returncode == 2
    assert run_dagy("sql", "delete", "by-status").stdout == "Deleted query by-status\n"
    missing = run_dagy("sql", "run", "by-status")
    assert missing.returncode == 3 and "Saved query not found: by-status" in missing.stderr
    assert run_dagy("sql", "list").stdout == "No saved queries.\n"
    con = duckdb.connect(str(seeded / "dagy.duckdb"), read_only=True)
    try:
        actions = con.execute(
            "SELECT action FROM audit_log WHERE resource_type = 'saved_query' ORDER BY ts"
        ).fetchall()
    finally:
        con.close()
    assert actions == [("create",), ("update",), ("delete",)]


def test_runs_made_by_dagy_run_are_counted(
    dagy_home: Path, run_dagy: Dagy, write_flow: Callable[..., Path]
) -> None:
    flow_file = write_flow(
        """
        from dagy import flow, task

        @task
        def double(x: int) -> int:
            return x * 2

        @task(retries=1, retry_delay_seconds=0)
        def explode(values: list) -> int:
            raise RuntimeError("boom")

        @flow(name="counted")
        def counted(n: int = 3):
            return [double(i) for i in range(n)]

        @flow(name="broken")
        def broken():
            return explode([double(1)])
        """
    )
    for _ in range(2):
        assert run_dagy("run", f"{flow_file}:counted").returncode == 0
    assert run_dagy("run", f"{flow_file}:broken").returncode != 0
    text = (
        "SELECT r.flow_name, r.status, count(*) AS task_runs, sum(t.attempts) AS attempts "
        "FROM runs r JOIN task_runs t USING (run_id) GROUP BY ALL ORDER BY 1"
    )
    done = run_dagy("sql", "--format", "csv", text)
    assert done.returncode == 0, done.stderr
    # broken: double (1 attempt) + explode (2 attempts); counted: 2 runs x 3 doubles
    assert done.stdout == (
        "flow_name,status,task_runs,attempts\nbroken,failed,2,3\ncounted,succeeded,6,6\n"
    )
    done = run_dagy("sql", "--format", "csv", "SELECT count(*) FROM attempts WHERE NOT is_last")
    assert done.stdout.splitlines()[1] == "1"

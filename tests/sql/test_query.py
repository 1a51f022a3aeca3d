"""dagy/services/history/query.py over a real store file, and over a store held as `dagy serve`
holds it: aggregates against hand-counted runs, refusals that change nothing, limits."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dagy.config.paths import DagyPaths
from dagy.errors import InvalidInputError
from dagy.services.history import query
from dagy.store import history
from dagy.store.duckdb_store import DuckDBStore
from tests.sql.history_support import seed, table_counts


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("sql-home")
    seed(folder)
    return folder


@pytest.fixture(params=["file", "held"])
def store(request: pytest.FixtureRequest, home: Path) -> Iterator[DuckDBStore]:
    """The store as the CLI sees it (the file), and as the server does (held open)."""
    found = DuckDBStore(DagyPaths(home))
    if request.param == "held":
        found.hold()
    yield found
    found.release()


def rows(store: DuckDBStore, sql: str, org: str = "personal") -> list[list[object]]:
    return query.run(store, org, sql).rows


def test_aggregates_match_the_hand_counted_runs(store: DuckDBStore) -> None:
    assert rows(store, "SELECT status, count(*) FROM runs GROUP BY status ORDER BY status") == [
        ["cancelled", 1],
        ["failed", 1],
        ["succeeded", 2],
    ]
    assert rows(
        store,
        "SELECT flow_name, avg(duration_seconds), sum(duration_seconds) FROM runs "
        "WHERE status = 'succeeded' GROUP BY ALL",
    ) == [["etl", 15.0, 30.0]]
    assert rows(
        store,
        "SELECT count(*), sum(duration_seconds), count(*) FILTER (WHERE status = 'failed') "
        "FROM task_runs",
    ) == [[7, 30.0, 1]]
    # 7 task runs made 10 attempts: one took 3, one 2
    assert rows(store, "SELECT count(*), count(*) FILTER (WHERE NOT is_last) FROM attempts") == [
        [10, 3]
    ]
    assert rows(store, "SELECT day, runs, failed_runs, task_runs, compute_seconds FROM usage") == [
        ["2026-03-04", 4, 1, 7, 30.0]
    ]


def test_each_org_sees_its_own_rows_only(store: DuckDBStore) -> None:
    assert rows(store, "SELECT run_id FROM runs ORDER BY 1", "other-org") == [["o-1"], ["o-2"]]
    assert rows(store, "SELECT count(*) FROM task_runs", "other-org") == [[2]]
    assert rows(store, "SELECT count(*) FROM runs", "nobody") == [[0]]


def test_views_show_documented_columns_and_no_internal_ones(store: DuckDBStore) -> None:
    result = query.run(store, "personal", "SELECT * FROM runs LIMIT 1")
    names = [c.name for c in result.columns]
    assert names[:5] == ["run_id", "flow_name", "flow_version", "deployment_name", "status"]
    assert "duration_seconds" in names
    for hidden in ("org_id", "flow_spec", "pid", "pid_started", "events_offset"):
        assert hidden not in names
    types = {c.name: c.type for c in result.columns}
    assert types["created_at"] == "TIMESTAMP" and types["duration_seconds"] == "DOUBLE"
    assert result.rows[0][names.index("created_at")] == "2026-03-04T12:00:00Z"


REFUSED = [
    ("INSERT INTO runs SELECT * FROM runs", "write"),
    ("UPDATE task_runs SET status = 'failed'", "write"),
    ("DELETE FROM runs", "write"),
    ("CREATE TABLE stolen AS SELECT * FROM runs", "write"),
    ("CREATE TEMP TABLE scratch AS SELECT 1", "write"),
    ("DROP VIEW runs", "write"),
    ("ATTACH '{tmp}/other.duckdb' AS other", "attach"),
    ("COPY (SELECT * FROM runs) TO '{tmp}/leak.csv'", "copy"),
    ("SET threads = 1", "settings"),
    ("SET enable_external_access = true", "settings"),
    ("PRAGMA enable_profiling", "settings"),
    ("INSTALL httpfs", "extension"),
    ("LOAD httpfs", "extension"),
    ("SELECT * FROM read_csv('{tmp}/secret.csv')", "file_access"),
    ("SELECT * FROM read_parquet('{tmp}/*.parquet')", "file_access"),
    ("SELECT * FROM glob('{tmp}/*')", "file_access"),
]


@pytest.mark.parametrize(("sql", "reason"), REFUSED)
def test_refused_statements_are_refused_and_change_nothing(
    store: DuckDBStore, home: Path, tmp_path: Path, sql: str, reason: str
) -> None:
    (tmp_path / "secret.csv").write_text("a,b\n1,2\n")
    held = store.held
    if held:
        before = {"runs": rows(store, "SELECT count(*) FROM runs")[0][0]}
    else:
        before = table_counts(home)
    with pytest.raises(query.SQLRefusedError) as caught:
        query.run(store, "personal", sql.format(tmp=tmp_path))
    assert caught.value.error == "sql_refused"
    assert caught.value.details["reason"] == reason
    assert caught.value.message.startswith("Refused: ")
    if held:
        assert {"runs": rows(store, "SELECT count(*) FROM runs")[0][0]} == before
    else:
        assert table_counts(home) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["secret.csv"]


@pytest.mark.parametrize(
    "sql",
    [
        "INSERT INTO {db}.main.runs SELECT * FROM {db}.main.runs",
        "DELETE FROM {db}.main.task_runs",
        "CREATE TABLE {db}.main.stolen AS SELECT 1",
        "ATTACH ':memory:' AS m",
        "COPY (SELECT 1) TO '/tmp/never.csv'",
        "SET threads = 1",
        "LOAD httpfs",
    ],
)
def test_the_sandbox_configuration_refuses_without_the_statement_check(
    store: DuckDBStore, sql: str
) -> None:
    """The statement-kind check only words the refusal: DuckDB's configuration is what refuses."""
    with history.sandbox(store, "personal", "runs task_runs") as con:
        db = con.execute(
            "SELECT database_name FROM duckdb_databases() WHERE NOT internal"
        ).fetchall()[0][0]
        with pytest.raises(query.SQLRefusedError):
            query.execute(con, sql.format(db=db), 10, 30.0)
    assert rows(store, "SELECT count(*) FROM runs") == [[4]]


def test_one_statement_at_a_time_and_syntax_errors_are_invalid_sql(store: DuckDBStore) -> None:
    with pytest.raises(query.InvalidSQLError) as caught:
        query.run(store, "personal", "SELECT 1; SELECT 2")
    assert caught.value.details == {"reason": "statements"}
    with pytest.raises(query.InvalidSQLError) as caught:
        query.run(store, "personal", "SELEC 1")
    assert caught.value.details == {"reason": "parser"}
    with pytest.raises(query.InvalidSQLError) as caught:
        query.run(store, "personal", "SELECT nope FROM runs")
    assert caught.value.details == {"reason": "binder"}


def test_bare_names_find_the_views_only(store: DuckDBStore) -> None:
    with pytest.raises(query.InvalidSQLError) as caught:
        query.run(store, "personal", "SELECT password_hash FROM users")
    assert caught.value.details == {"reason": "catalog"}


def test_through_a_server_no_raw_table_exists_at_all(home: Path) -> None:
    """Held (the server's case): the sandbox holds the org's view rows and nothing else."""
    held = DuckDBStore(DagyPaths(home))
    held.hold()
    try:
        sql = "SELECT (SELECT count(*) FROM runs), list(table_name) FROM duckdb_tables()"
        assert query.run(held, "personal", sql).rows == [[4, ["runs"]]]  # the one view named
        for sql in ("SELECT * FROM dagy.main.users", "SELECT * FROM history.main.users"):
            with pytest.raises(query.InvalidSQLError):
                query.run(held, "personal", sql)
    finally:
        held.release()


def test_row_limit_truncates_and_says_so(store: DuckDBStore) -> None:
    result = query.run(store, "personal", "SELECT * FROM range(10)", limit=3)
    assert result.rows == [[0], [1], [2]] and result.truncated
    exact = query.run(store, "personal", "SELECT * FROM range(3)", limit=3)
    assert exact.row_count == 3 and not exact.truncated
    with pytest.raises(InvalidInputError) as caught:
        query.run(store, "personal", "SELECT 1", limit=0)
    assert "limit" in caught.value.details


def test_time_limit_interrupts_a_long_query(store: DuckDBStore) -> None:
    with pytest.raises(query.QueryTimeoutError) as caught:
        query.run(store, "personal", "SELECT count(*) FROM range(1000000000000)", timeout=0.2)
    assert caught.value.error == "query_timeout"
    assert caught.value.details["reason"] == "timeout"
    assert query.run(store, "personal", "SELECT 1").rows == [[1]]  # nothing left stuck


def test_snapshot_files_are_removed_after_a_held_query(
    store: DuckDBStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    assert rows(store, "SELECT count(*) FROM runs") == [[4]]
    with pytest.raises(query.SQLRefusedError):
        query.run(store, "personal", "SELECT * FROM read_csv('x.csv') JOIN runs ON true")
    assert list(tmp_path.iterdir()) == []


def test_a_snapshot_past_the_time_limit_is_stopped_and_leaves_the_store_usable(
    home: Path,
) -> None:
    held = DuckDBStore(DagyPaths(home))
    held.hold()
    try:
        with pytest.raises(TimeoutError), history.sandbox(held, "personal", "runs", timeout=1e-9):
            pass
        with pytest.raises(query.QueryTimeoutError):
            query.run(held, "personal", "SELECT count(*) FROM runs", timeout=1e-9)
        assert query.run(held, "personal", "SELECT count(*) FROM runs").rows == [[4]]
        assert held.get_run("p-1") is not None
    finally:
        held.release()


def test_a_query_past_the_memory_limit_is_refused_cleanly(
    store: DuckDBStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DAGY_SQL_MEMORY_LIMIT", "64MB")
    with pytest.raises(query.InvalidSQLError) as caught:
        query.run(store, "personal", "SELECT list(range) FROM range(100000000)", timeout=60)
    assert caught.value.details == {"reason": "memory", "memory_limit": "64MB"}
    assert query.run(store, "personal", "SELECT count(*) FROM runs").rows == [[4]]

"""POST /v1/sql and the saved-query routes on a real `dagy serve` holding a store of two orgs, and
`dagy sql` through that live server and through it as a remote API."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, ServerProcess, dagy_cmd, start_server
from tests.server.flows_support import Api, add_user, assert_error, login, new_org
from tests.sql.history_support import seed

SERVER_ENV = {"DAGY_RATE_LIMIT_PER_MINUTE": "0", "DAGY_SQL_TIMEOUT": "3"}


@dataclass
class World:
    server: ServerProcess
    home: Path
    owner: Api  # owner of the personal org
    other: Api  # owner of a second org
    other_org: str
    viewer: Api  # viewer in the personal org
    other_key: str  # an API key of the second org (runs.read)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    home = tmp_path_factory.mktemp("sql-api") / "home"
    server = start_server(home, env=SERVER_ENV)
    try:
        add_user(server, "owner@example.com", "owner")
        owner_token = server.login("owner@example.com", "password-123")
        other = new_org(server)
        other_org = other.headers["X-Dagy-Org"]
        viewer = login(server, "viewer@example.com", "viewer")
        key = other.ok("POST", "/api-keys", {"name": "sql", "scopes": ["runs.read"]}, status=201)
    finally:
        server.stop()
    seed(home, {"other-org": other_org})  # the store file is free while no server holds it
    server = start_server(home, env=SERVER_ENV)
    try:
        yield World(
            server,
            home,
            Api(server, owner_token),
            Api(server, other.token, other.headers),
            other_org,
            Api(server, viewer.token),
            str(key["key"]),
        )
    finally:
        server.stop()


def sql(api: Api, text: str, **extra: Any) -> tuple[int, Any]:
    return api.call("POST", "/sql", {"sql": text, **extra})


def test_two_orgs_one_query_each_sees_only_its_own_rows(world: World) -> None:
    text = "SELECT run_id, flow_name, status FROM runs ORDER BY run_id"
    status, mine = sql(world.owner, text)
    assert status == 200, mine
    assert [r[0] for r in mine["rows"]] == ["p-1", "p-2", "p-3", "p-4"]
    status, theirs = sql(world.other, text)
    assert status == 200, theirs
    assert theirs["rows"] == [["o-1", "etl", "failed"], ["o-2", "payroll", "succeeded"]]
    assert set(mine) == {"columns", "rows", "row_count", "truncated", "elapsed_ms"}
    assert mine["columns"][:3] == [
        {"name": "run_id", "type": "VARCHAR"},
        {"name": "flow_name", "type": "VARCHAR"},
        {"name": "status", "type": "VARCHAR"},
    ]
    assert mine["row_count"] == 4 and mine["truncated"] is False


def test_aggregates_over_the_api_match_the_hand_counted_runs(world: World) -> None:
    status, body = sql(
        world.owner,
        "SELECT r.flow_name, count(DISTINCT r.run_id) AS runs, count(*) AS task_runs, "
        "sum(t.duration_seconds) AS task_seconds FROM runs r JOIN task_runs t USING (run_id) "
        "GROUP BY ALL ORDER BY 1",
    )
    assert status == 200, body
    assert body["rows"] == [["etl", 3, 6, 29.5], ["report", 1, 1, 0.5]]
    status, body = sql(world.other, "SELECT sum(runs), sum(failed_runs) FROM usage")
    assert body["rows"] == [[2, 1]]
    # this test's own calls are counted, and written before the query reads them
    status, body = sql(world.owner, "SELECT sum(api_calls) > 0 FROM usage")
    assert body["rows"] == [[True]]


def test_no_query_reaches_another_orgs_rows_or_the_raw_tables(world: World) -> None:
    for text in (
        "SELECT * FROM dagy.main.runs",
        "SELECT password_hash FROM users",
        "SELECT * FROM history.main.users",
    ):
        status, body = sql(world.other, text)
        assert_error(body, status, 400)
        assert body["error"] == "invalid_sql", body
    status, body = sql(world.other, "SELECT count(*) FROM runs WHERE run_id LIKE 'p-%'")
    assert body["rows"] == [[0]]


REFUSED = [
    ("INSERT INTO runs SELECT * FROM runs", "write"),
    ("DELETE FROM task_runs", "write"),
    ("UPDATE runs SET status = 'x'", "write"),
    ("CREATE TABLE copy AS SELECT * FROM runs", "write"),
    ("DROP TABLE runs", "write"),
    ("ATTACH '{tmp}/x.duckdb' AS x", "attach"),
    ("COPY (SELECT * FROM runs) TO '{tmp}/leak.csv'", "copy"),
    ("SELECT * FROM read_csv('{tmp}/data.csv')", "file_access"),
    ("SET threads = 1", "settings"),
    ("INSTALL httpfs", "extension"),
]


@pytest.mark.parametrize(("text", "reason"), REFUSED)
def test_refused_statements_answer_400_and_change_nothing(
    world: World, tmp_path: Path, text: str, reason: str
) -> None:
    (tmp_path / "data.csv").write_text("a\n1\n")
    status, body = sql(world.owner, text.format(tmp=tmp_path))
    assert_error(body, status, 400)
    assert body["error"] == "sql_refused" and body["details"]["reason"] == reason, body
    assert body["message"].startswith("Refused: ")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.csv"]
    counts = "SELECT (SELECT count(*) FROM runs), (SELECT count(*) FROM task_runs)"
    assert sql(world.owner, counts)[1]["rows"] == [[4, 7]]


def test_bad_bodies_limits_and_the_time_limit(world: World) -> None:
    status, body = sql(world.owner, "SELEC 1")
    assert_error(body, status, 400)
    assert body["error"] == "invalid_sql" and body["details"]["reason"] == "parser"
    status, body = world.owner.call("POST", "/sql", {"sql": "SELECT 1", "rows": 5})
    assert_error(body, status, 400)
    status, body = world.owner.call("POST", "/sql", {})
    assert_error(body, status, 400, "sql")
    status, body = sql(world.owner, "SELECT * FROM range(10)", limit=4)
    assert status == 200 and body["row_count"] == 4 and body["truncated"] is True
    status, body = sql(world.owner, "SELECT 1", limit=10_000_000)
    assert_error(body, status, 400, "limit")
    status, body = sql(world.owner, "SELECT count(*) FROM range(1000000000000)")
    assert_error(body, status, 400)
    assert body["error"] == "query_timeout" and body["details"]["reason"] == "timeout"


def test_saved_queries_per_org_audited_and_run(world: World) -> None:
    owner, path = world.owner, "/sql/queries/failed-runs"
    first = owner.ok("PUT", path, {"sql": "SELECT run_id FROM runs"}, status=201)
    assert first["name"] == "failed-runs" and first["created_by"] == "owner@example.com"
    text = "SELECT run_id FROM runs WHERE status = 'failed'"
    assert owner.ok("PUT", path, {"sql": text})["sql"] == text
    assert owner.ok("POST", path + "/run", {})["rows"] == [["p-3"]]
    assert [q["name"] for q in owner.ok("GET", "/sql/queries")["items"]] == ["failed-runs"]
    assert world.other.ok("GET", "/sql/queries")["items"] == []
    status, body = world.other.call("POST", path + "/run", {})
    assert_error(body, status, 404)
    status, body = owner.call("PUT", "/sql/queries/bad", {"sql": "DELETE FROM runs"})
    assert_error(body, status, 400)
    assert body["error"] == "sql_refused"
    status, body = world.viewer.call("PUT", "/sql/queries/mine", {"sql": "SELECT 1"})
    assert_error(body, status, 403)
    assert sql(world.viewer, "SELECT count(*) FROM runs")[1]["rows"] == [[4]]
    assert owner.call("DELETE", path)[0] == 204
    assert owner.call("GET", path)[0] == 404
    trail = owner.audit("saved_query", "failed-runs")
    assert [row["action"] for row in trail] == ["delete", "update", "create"]


def _dagy(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    keep = {
        k: v for k, v in os.environ.items() if not k.startswith("DAGY_") or k == "DAGY_EGRESS_ALLOW"
    }
    return subprocess.run(
        [*dagy_cmd(), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**keep, **env},
        cwd=str(REPO),
    )


def test_cli_through_the_live_server(world: World) -> None:
    """The server holds the store: `dagy sql` on its home goes through it (personal org)."""
    env = {"DAGY_LOCAL_DIR": str(world.home)}
    done = _dagy("sql", "--format", "csv", "SELECT run_id FROM runs ORDER BY 1", env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "run_id\np-1\np-2\np-3\np-4\n"
    done = _dagy(
        "sql",
        "save",
        "by-flow",
        "SELECT flow_name, count(*) n FROM runs GROUP BY 1 ORDER BY 1",
        env=env,
    )
    assert done.returncode == 0 and done.stdout == "Saved query by-flow\n", done.stderr
    done = _dagy("sql", "run", "by-flow", "--format", "csv", env=env)
    assert done.stdout == "flow_name,n\netl,3\nreport,1\n", done.stderr
    done = _dagy("sql", "DELETE FROM runs", env=env)
    assert done.returncode == 2 and "Refused: DELETE" in done.stderr
    assert _dagy("sql", "delete", "by-flow", env=env).returncode == 0


def test_cli_through_a_remote_api_sees_its_keys_org(world: World, tmp_path: Path) -> None:
    env = {
        "DAGY_LOCAL_DIR": str(tmp_path / "elsewhere"),
        "DAGY_API_URL": world.server.api_url,
        "DAGY_API_KEY": world.other_key,
    }
    done = _dagy("sql", "--format", "json", "SELECT run_id FROM runs ORDER BY 1", env=env)
    assert done.returncode == 0, done.stderr
    import json

    assert json.loads(done.stdout)["rows"] == [["o-1"], ["o-2"]]
    done = _dagy("sql", "SELECT * FROM read_csv('/etc/passwd')", env=env)
    assert done.returncode == 2 and "Refused: files cannot be read or written" in done.stderr
    done = _dagy("sql", "run", "nope", env=env)
    assert done.returncode == 3, done.stderr

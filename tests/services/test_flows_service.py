"""The rules of dagy/services/catalog/flows.py, flow_specs.py and deployments.py on a temporary store:
spec checks, schedules, active versions, rollback history, and what deleting a flow removes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pytest

from dagy.config.paths import DagyPaths
from dagy.errors import ConflictError, InvalidInputError, NotFoundError
from dagy.sdk.spec import FlowSpec
from dagy.services.catalog import deployments, flow_specs, flows
from dagy.store.duckdb_store import DuckDBStore
from dagy.store.records import PENDING, SUCCEEDED, RunRecord, TaskRunRecord, utcnow

ORG = "personal"
SOURCE = """
    from dagy import flow, task

    @task
    def double(x: int) -> int:
        return x * 2

    @task
    def total(values: list) -> int:
        return sum(values)

    @flow(name="etl", version="1.0.0")
    def etl(n: int = 2):
        return total([double(i) for i in range(n)])

    @flow(name="empty", version="1")
    def empty():
        return 1
"""


@pytest.fixture
def raw(write_flow) -> dict[str, Any]:
    from dagy.sdk.loader import load_flow

    return load_flow(f"{write_flow(SOURCE)}:etl").build().to_dict()


@pytest.fixture
def store(paths: DagyPaths) -> DuckDBStore:
    return DuckDBStore(paths)


def register(store: DuckDBStore, raw: dict[str, Any], version: str, **fields: Any) -> None:
    spec = FlowSpec.from_dict({**raw, "flow_version": version})
    flows.register_version(store, ORG, spec, **fields)


# -- spec checks ------------------------------------------------------------------------------------


def test_a_built_spec_and_a_flow_without_tasks_are_valid(raw, write_flow):
    from dagy.sdk.loader import load_flow

    assert flow_specs.check_spec(raw)[1] == []
    empty = load_flow(f"{write_flow(SOURCE, name='other')}:empty").build().to_dict()
    spec, errors = flow_specs.check_spec(empty)
    assert errors == [] and spec is not None and spec.task_runs == []


def test_every_problem_is_listed_by_where_it_is(raw):
    first = raw["task_runs"][0]["task_run_id"]
    raw["flow_name"] = ""
    raw["spec_version"] = 99
    raw["tasks"]["double"]["colour"] = "red"
    raw["task_runs"][0]["upstream"] = ["ghost-1"]
    raw["task_runs"][1]["kwargs"] = {"extra": {"$ref": first}}
    raw["task_runs"].append(dict(raw["task_runs"][0]))
    spec, errors = flow_specs.check_spec(raw)
    assert spec is None
    assert errors == [
        "flow_name is required (a non-empty string)",
        "spec_version 99 is not supported (this server reads 1 to 1)",
        "tasks.double: unknown field 'colour'",
        f"task_runs[1] (double-2): input refers to {first!r}, which is not in its upstream",
        f"task_runs[3] ({first}): duplicate task_run_id",
        f"task run {first!r} waits for unknown task run 'ghost-1'",
    ]


def test_parse_spec_raises_a_400_naming_the_first_problem(raw):
    raw["task_runs"][0]["task_name"] = "nope"
    with pytest.raises(InvalidInputError) as caught:
        flows.parse_spec(raw)
    assert "'nope' is not in tasks" in caught.value.message
    assert "flow_spec" in caught.value.details


@pytest.mark.parametrize(
    "schedule", ["0 9 * * *", "*/5 * * * *", "0 0 1-15/2 JAN,jul SUN-SAT", "15s", "2h"]
)
def test_schedules_that_are_accepted(schedule):
    assert deployments.check_schedule(schedule) == schedule


@pytest.mark.parametrize(
    "schedule",
    ["0 9 * *", "60 * * * *", "0 24 * * *", "0 0 0 * *", "0 0 * 13 *", "0 0 * * 8",
     "5-1 * * * *", "*/0 * * * *", "0m", "30 minutes", "@daily", 5],
)  # fmt: skip
def test_schedules_that_are_refused(schedule):
    with pytest.raises(InvalidInputError) as caught:
        deployments.check_schedule(schedule)
    assert "schedule" in caught.value.details


@pytest.mark.parametrize("token", ["%%%", "WzFd", "WyJhIiwiYiJd", "bm90IGpzb24"])
def test_a_malformed_name_token_is_a_400(token):
    with pytest.raises(InvalidInputError):
        flows.name_position(token)


# -- versions and deployments -----------------------------------------------------------------------


def test_an_inactive_deployment_leaves_the_active_version_alone(store, raw):
    for version in ("1", "2"):
        register(store, raw, version)
    deployments.upsert(store, ORG, None, name="d", flow_name="etl", flow_version="1",
                       status="paused")  # fmt: skip
    assert {v.flow_version: v.status for v in flows.versions(store, ORG, "etl")} == {
        "2": "active",
        "1": "inactive",
    }
    deployments.update_settings(store, ORG, "d", {"schedule": "30m"})
    deployments.upsert(store, ORG, None, name="d", flow_name="etl", flow_version="1",
                       status="active")  # fmt: skip
    assert flows.get_version(store, ORG, "etl", "1").status == "active"


def test_rollback_follows_the_history_and_refuses_with_none(store, raw):
    for version in ("1", "2", "3"):
        register(store, raw, version)
    deployments.upsert(store, ORG, "a@example.com", name="d", flow_name="etl", flow_version="1")
    with pytest.raises(InvalidInputError):
        deployments.rollback(store, ORG, None, "d")
    deployments.set_version(store, ORG, None, "d", "3")
    deployment, previous = deployments.rollback(store, ORG, None, "d")
    assert (previous, deployment.flow_version) == ("3", "1")
    deployment, previous = deployments.rollback(store, ORG, None, "d", 2)  # registration number
    assert (previous, deployment.flow_version) == ("1", "2")
    with pytest.raises(NotFoundError):
        deployments.rollback(store, ORG, None, "d", "9")
    with pytest.raises(NotFoundError):
        deployments.rollback(store, ORG, None, "missing")
    with store.connection() as con:
        history = con.execute(
            "SELECT flow_version, previous_version, action FROM deployment_history ORDER BY seq"
        ).fetchall()
    assert history == [
        ("1", None, "create"),
        ("3", "1", "patch"),
        ("1", "3", "rollback"),
        ("2", "1", "rollback"),
    ]


# -- deleting a flow --------------------------------------------------------------------------------


def run_of(flow_name: str, run_id: str, status: str = SUCCEEDED) -> RunRecord:
    return RunRecord(
        run_id=run_id, flow_name=flow_name, flow_version="1", status=status, created_at=utcnow()
    )


def task_of(run_id: str) -> TaskRunRecord:
    return TaskRunRecord(
        run_id=run_id, task_run_id="double-1", task_name="double", seq=0, status=SUCCEEDED
    )


def test_delete_removes_rows_and_only_the_files_it_owns(store, raw, paths: DagyPaths, tmp_path):
    root = paths.home / "artifact-store"
    own = root / "dagy" / "flows" / ORG / "etl" / "1" / "artifact.zip"
    shared = root / "shared.zip"
    escaping = tmp_path / "escaping.zip"
    for file in (own, shared, escaping):
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_bytes(b"zip")
    register(store, raw, "1", artifact_uri=own.as_uri())
    register(store, raw, "2", artifact_uri=shared.as_uri())
    register(store, raw, "3", artifact_uri=f"file://{root}/../../{escaping.relative_to('/')}")
    register(store, {**raw, "flow_name": "keep"}, "1", artifact_uri=shared.as_uri())
    deployments.upsert(store, ORG, None, name="etl-prod", flow_name="etl", flow_version="1")
    for run_id, flow_name in (("r1", "etl"), ("r2", "keep")):
        store.create_run(run_of(flow_name, run_id), [task_of(run_id)])
        paths.run_dir(run_id).mkdir(parents=True)
        (paths.artifacts / run_id).mkdir(parents=True)

    gone = flows.delete(store, paths, ORG, "etl")

    assert gone.versions == ["1", "2", "3"] and gone.deployments == ["etl-prod"]
    assert gone.run_ids == ["r1"] and gone.task_runs == 1
    assert not own.exists() and not (root / "dagy").exists()
    assert shared.exists()  # the flow "keep" still names it
    assert escaping.exists()  # outside the store folder, whatever the URI says
    assert not paths.run_dir("r1").exists() and not (paths.artifacts / "r1").exists()
    assert paths.run_dir("r2").exists() and (paths.artifacts / "r2").exists()
    with store.connection() as con:
        counts = con.execute(
            "SELECT (SELECT count(*) FROM runs), (SELECT count(*) FROM task_runs), "
            "(SELECT count(*) FROM deployments), (SELECT count(*) FROM deployment_history), "
            "(SELECT count(*) FROM flows)"
        ).fetchone()
    assert counts == (1, 1, 0, 0, 1)
    with pytest.raises(NotFoundError):
        flows.delete(store, paths, ORG, "etl")


def test_delete_refuses_while_a_run_is_queued_and_leaves_everything(store, raw, paths):
    register(store, raw, "1")
    store.create_run(run_of("etl", "queued-1", PENDING))
    with pytest.raises(ConflictError) as caught:
        flows.delete(store, paths, ORG, "etl")
    assert caught.value.details == {"run_ids": ["queued-1"]}
    assert flows.latest(store, ORG, "etl").flow_version == "1"


def test_a_run_id_cannot_send_the_delete_outside_the_runs_folder(store, raw, paths, tmp_path):
    victim = tmp_path / "victim"
    victim.mkdir()
    register(store, raw, "1")
    store.create_run(run_of("etl", "../../victim"))
    flows.delete(store, paths, ORG, "etl")
    assert victim.exists()


def test_the_store_file_has_no_rows_of_a_deleted_flow(store, raw, paths: DagyPaths):
    register(store, raw, "1")
    store.create_run(run_of("etl", "r1"), [task_of("r1")])
    flows.delete(store, paths, ORG, "etl")
    with duckdb.connect(str(Path(paths.db)), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM task_runs").fetchone() == (0,)

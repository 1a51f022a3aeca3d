"""Every result state of a run diff and its bounds, over a real store file with result files."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from dagy.config.paths import DagyPaths
from dagy.engine import artifacts
from dagy.errors import NotFoundError
from dagy.services.runs import diff
from dagy.store.duckdb_store import DuckDBStore
from dagy.store.records import FAILED, SUCCEEDED, RunRecord, TaskRunRecord

T0 = dt.datetime(2026, 3, 4, 12, 0, 0)


def _task(
    paths: DagyPaths, run_id: str, tid: str, seq: int, value: Any = None, **kw: Any
) -> TaskRunRecord:
    path = None
    if value is not None:
        folder = paths.artifact_dir(run_id, tid)
        folder.mkdir(parents=True, exist_ok=True)
        path = str(artifacts.write(folder, json.dumps(value).encode()))
    fields: dict[str, Any] = {"status": SUCCEEDED, "attempt": 1, "source_hash": "h-" + tid}
    fields.update(kw)
    return TaskRunRecord(
        run_id=run_id, task_run_id=tid, task_name=tid.split("-")[0].split(".")[0], seq=seq,
        artifact_path=path, **fields,
    )  # fmt: skip


def _run(
    store: DuckDBStore, run_id: str, tasks: list[TaskRunRecord], org: str = "personal"
) -> None:
    store.create_run(
        RunRecord(run_id, "f", "1.0.0", SUCCEEDED, T0, org_id=org, started_at=T0, ended_at=T0),
        tasks,
    )


@pytest.fixture
def store(paths: DagyPaths) -> DuckDBStore:
    return DuckDBStore(paths)


def test_each_result_state(store: DuckDBStore, paths: DagyPaths, tmp_path: Path):
    big_a = {"rows": list(range(30)), "name": "x" * 300}
    big_b = {"rows": [r + 1 for r in range(30)], "name": "y" * 300}
    _run(store, "a", [
        _task(paths, "a", "same-1", 0, {"k": [1, 2]}),
        _task(paths, "a", "big-1", 1, big_a),
        _task(paths, "a", "failed-1", 2, None, status=FAILED, error="boom"),
        _task(paths, "a", "pruned-1", 3, 1),
        _task(paths, "a", "gone-1", 4, "only in a"),
        _task(paths, "a", "map-1", 5, [1, 2], source_hash="m"),
        _task(paths, "a", "map-1.0", 6, 1, source_hash=None),
        _task(paths, "a", "map-1.1", 7, 2, source_hash=None),
    ])  # fmt: skip
    _run(store, "b", [
        _task(paths, "b", "same-1", 0, {"k": [1, 2]}, source_hash="edited"),
        _task(paths, "b", "big-1", 1, big_b),
        _task(paths, "b", "failed-1", 2, None, status=FAILED, error="boom", attempt=3),
        _task(paths, "b", "pruned-1", 3, 1),
        _task(paths, "b", "map-1", 4, [1, 2], source_hash="m", reused_from="a"),
    ])  # fmt: skip
    Path(store.task_runs("a")[3].artifact_path or "").unlink()  # pruned-1's file in run a

    body = diff.diff_runs(DuckDBStore(paths), "personal", "a", "b").to_json()

    items = {i["task_run_id"]: i for i in body["items"]}
    assert [i["task_run_id"] for i in body["items"]] == [
        "same-1", "big-1", "failed-1", "pruned-1", "map-1", "map-1.0", "map-1.1", "gone-1",
    ]  # fmt: skip
    assert {k: (v["source"], v["result"]) for k, v in items.items()} == {
        "same-1": ("changed", "equal"),
        "big-1": ("equal", "changed"),
        "failed-1": ("equal", "none"),
        "pruned-1": ("equal", "unavailable"),
        "map-1": ("equal", "equal"),
        "map-1.0": (None, "reused"),
        "map-1.1": (None, "reused"),
        "gone-1": (None, "missing"),
    }
    assert (items["failed-1"]["attempts_a"], items["failed-1"]["attempts_b"]) == (1, 3)
    assert items["map-1.0"]["parent"] == "map-1" and items["map-1"]["parent"] is None
    changes = items["big-1"]["changes"]
    assert len(changes) == diff.MAX_CHANGES and items["big-1"]["more_changes"] == 21
    assert changes[0] == {"path": "$.name", "a": json.dumps("x" * 300)[:119] + "…",
                          "b": json.dumps("y" * 300)[:119] + "…"}  # fmt: skip
    assert changes[1] == {"path": "$.rows[0]", "a": "0", "b": "1"}
    assert items["gone-1"]["status_a"] == SUCCEEDED and items["gone-1"]["status_b"] is None
    assert body["summary"] == {
        "task_runs": 8, "different": 4, "equal": 2, "changed": 1, "none": 1,
        "unavailable": 1, "reused": 2, "missing": 1, "source_changed": 1,
    }  # fmt: skip


def test_runs_of_another_org_or_unknown_are_not_found(store: DuckDBStore, paths: DagyPaths):
    _run(store, "mine", [_task(paths, "mine", "t-1", 0, 1)])
    _run(store, "theirs", [_task(paths, "theirs", "t-1", 0, 1)], org="other")
    with pytest.raises(NotFoundError, match="Run not found: theirs"):
        diff.diff_runs(store, "personal", "mine", "theirs")
    with pytest.raises(NotFoundError, match="Run not found: nope"):
        diff.diff_runs(store, "personal", "nope", "mine")

"""Control flow in a FlowSpec (what compiled pipelines emit): condition branches and SKIPPED task
runs, skip propagation and joins, for_each maps with $item markers, retries, fail-fast, the process
executor, and `runs retry` of a failed map. Specs are built by hand over tiny @task functions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dagy.config.paths import DagyPaths
from dagy.sdk.loader import load_module
from dagy.sdk.spec import FlowSpec, TaskDef, TaskRunSpec
from dagy.services.runs.execute import RunSettings, retry_run, run_spec
from dagy.store.duckdb_store import DuckDBStore
from dagy.store.records import RunRecord, TaskRunRecord
from tests.conftest import REPO

TASKS = """
from pathlib import Path
from dagy import task

HERE = Path(__file__).parent

def _count(name):
    with (HERE / "calls.txt").open("a") as fh:
        fh.write(name + "\\n")

@task
def source(rows):
    _count("source")
    return rows

@task
def check(data, threshold):
    _count("check")
    return {"$branch": len(data) >= threshold, "value": data}

@task
def upper(data):
    _count("upper")
    return [str(x).upper() for x in data]

@task
def count(data):
    _count("count")
    return len(data)

@task
def join(a=None, b=None):
    _count("join")
    return {"a": a, "b": b}

@task
def label(item, prefix):
    _count(f"label:{item}")
    return f"{prefix}{item}"

@task
def pair(name, size, tag):
    _count(f"pair:{name}")
    return {"name": name, "size": size, "tag": tag}

@task
def fragile(item):
    _count(f"fragile:{item}")
    if item == "bad" or (item == "flaky" and not (HERE / "fixed").exists()):
        raise ValueError(f"cannot take {item}")
    return item * 2

@task(retries=2)
def wobbly(item):
    marker = HERE / f"tried-{item}"
    _count(f"wobbly:{item}")
    if item == "twice" and not marker.exists():
        marker.touch()
        raise RuntimeError("first try fails")
    return item

@task
def mortal(item):
    # Kills the whole run process at item "die" once two children's success is in events.jsonl.
    import json, os, signal, time
    if item == "die" and not (HERE / "fixed").exists():
        home = Path(os.environ["DAGY_LOCAL_DIR"])
        deadline = time.time() + 30
        while time.time() < deadline:
            done = 0
            for path in home.glob("runs/*/events.jsonl"):
                for line in path.read_text().splitlines():
                    event = json.loads(line)
                    if event["k"] == "task" and event["v"]["status"] == "SUCCEEDED":
                        done += 1
            if done >= 2:
                break
            time.sleep(0.02)
        os.kill(os.getpid(), signal.SIGKILL)
    _count(f"mortal:{item}")
    return item

@task
def total(values):
    _count("total")
    return sum(values)
"""


@pytest.fixture
def tasks_file(tmp_path: Path) -> Path:
    path = tmp_path / "cf_tasks.py"
    path.write_text(TASKS, encoding="utf-8")
    return path


def _spec(tasks_file: Path, task_runs: list[TaskRunSpec], outputs: Any = None) -> FlowSpec:
    module = load_module(tasks_file).__name__
    names = {tr.task_name for tr in task_runs}
    tasks = {
        name: TaskDef(name, module, name, retries=2 if name == "wobbly" else 0) for name in names
    }
    return FlowSpec("cf", "1", {}, tasks, task_runs, outputs, entrypoint=f"{tasks_file}:cf")


def _rows(paths: DagyPaths, run: RunRecord) -> dict[str, TaskRunRecord]:
    return {t.task_run_id: t for t in DuckDBStore(paths).task_runs(run.run_id)}


def _result(paths: DagyPaths, run: RunRecord, task_run_id: str) -> Any:
    return json.loads((paths.artifact_dir(run.run_id, task_run_id) / "result.json").read_text())


def _calls(tasks_file: Path) -> list[str]:
    calls = tasks_file.parent / "calls.txt"
    return calls.read_text().split() if calls.exists() else []


def _ref(task_run_id: str) -> dict[str, str]:
    return {"$ref": task_run_id}


def _branching(tasks_file: Path, rows: list[int]) -> FlowSpec:
    """source -> check; upper on the true branch, count on the false one; join takes both."""
    return _spec(
        tasks_file,
        [
            TaskRunSpec("source", "source", kwargs={"rows": rows}),
            TaskRunSpec(
                "check",
                "check",
                kwargs={"data": _ref("source"), "threshold": 3},
                upstream=["source"],
            ),
            TaskRunSpec(
                "upper",
                "upper",
                kwargs={"data": _ref("check")},
                upstream=["check"],
                when={"ref": "check", "branch": True},
            ),
            TaskRunSpec(
                "count",
                "count",
                kwargs={"data": _ref("check")},
                upstream=["check"],
                when={"ref": "check", "branch": False},
            ),
            TaskRunSpec("after_upper", "count", kwargs={"data": _ref("upper")}, upstream=["upper"]),
            TaskRunSpec(
                "join",
                "join",
                kwargs={"a": _ref("after_upper"), "b": _ref("count")},
                upstream=["after_upper", "count"],
            ),
        ],
        outputs=_ref("join"),
    )


def test_a_condition_runs_its_true_branch_and_skips_the_false_one(paths, tasks_file):
    run = run_spec(_branching(tasks_file, [1, 2, 3]), paths=paths)
    assert run.status == "SUCCEEDED", run.error
    rows = _rows(paths, run)
    assert {k: r.status for k, r in rows.items()} == {
        "source": "SUCCEEDED",
        "check": "SUCCEEDED",
        "upper": "SUCCEEDED",
        "count": "SKIPPED",
        "after_upper": "SUCCEEDED",
        "join": "SUCCEEDED",
    }
    skipped = rows["count"]
    assert skipped.attempt == 0 and skipped.ended_at is not None and skipped.error is None
    assert skipped.artifact_path is None
    assert _result(paths, run, "upper") == ["1", "2", "3"]  # got the condition's value
    assert json.loads(run.output or "") == {"a": 3, "b": None}  # the join got None for count
    assert _calls(tasks_file) == ["source", "check", "upper", "count", "join"]  # count: after_upper


def test_a_false_condition_skips_the_whole_true_branch_and_the_join_still_runs(paths, tasks_file):
    run = run_spec(_branching(tasks_file, [1]), paths=paths)
    assert run.status == "SUCCEEDED", run.error
    rows = _rows(paths, run)
    assert rows["upper"].status == "SKIPPED"
    assert rows["after_upper"].status == "SKIPPED"  # every upstream skipped: skipped too
    assert rows["count"].status == "SUCCEEDED" and _result(paths, run, "count") == 1
    assert json.loads(run.output or "") == {"a": None, "b": 1}
    assert _calls(tasks_file) == ["source", "check", "count", "join"]


def test_for_each_over_a_literal_list_maps_children_in_order(paths, tasks_file):
    spec = _spec(
        tasks_file,
        [
            TaskRunSpec(
                "label",
                "label",
                kwargs={"item": {"$item": []}, "prefix": "#"},
                for_each=["a", "b", "c"],
            ),
            TaskRunSpec("after", "count", kwargs={"data": _ref("label")}, upstream=["label"]),
        ],
        outputs=_ref("label"),
    )
    run = run_spec(spec, settings=RunSettings(max_workers=2), paths=paths)
    assert run.status == "SUCCEEDED", run.error
    assert json.loads(run.output or "") == ["#a", "#b", "#c"]
    rows = _rows(paths, run)
    assert set(rows) == {"label", "label.0", "label.1", "label.2", "after"}
    assert all(r.status == "SUCCEEDED" for r in rows.values())
    assert [rows[f"label.{i}"].task_name for i in range(3)] == ["label"] * 3
    assert rows["label.1"].attempt == 1 and _result(paths, run, "label.1") == "#b"
    assert _result(paths, run, "label") == ["#a", "#b", "#c"]
    assert _result(paths, run, "after") == 3
    events = [json.loads(line) for line in (paths.run_dir(run.run_id) / "events.jsonl").open()]
    label = [
        e["v"]["status"] for e in events if e["k"] == "task" and e["v"]["task_run_id"] == "label"
    ]
    assert label == ["RUNNING", "SUCCEEDED"]  # RUNNING while its children ran
    first_child = next(i for i, e in enumerate(events) if e["v"].get("task_run_id") == "label.0")
    label_running = next(i for i, e in enumerate(events) if e["v"].get("task_run_id") == "label")
    assert label_running < first_child


def test_for_each_over_an_upstream_result_with_item_paths(paths, tasks_file):
    items = [{"name": "x", "meta": {"size": 1}}, {"name": "y", "meta": {"size": 2}}]
    spec = _spec(
        tasks_file,
        [
            TaskRunSpec("source", "source", kwargs={"rows": items}),
            TaskRunSpec("tag", "source", kwargs={"rows": "T"}),
            TaskRunSpec(
                "pair",
                "pair",
                kwargs={
                    "name": {"$item": ["name"]},
                    "size": {"$item": ["meta", "size"]},
                    "tag": _ref("tag"),
                },
                upstream=["source", "tag"],
                for_each=_ref("source"),
            ),
        ],
        outputs=_ref("pair"),
    )
    run = run_spec(spec, paths=paths)
    assert run.status == "SUCCEEDED", run.error
    assert json.loads(run.output or "") == [
        {"name": "x", "size": 1, "tag": "T"},
        {"name": "y", "size": 2, "tag": "T"},
    ]


def test_a_missing_item_field_fails_that_child_clearly(paths, tasks_file):
    spec = _spec(
        tasks_file,
        [
            TaskRunSpec(
                "pair",
                "pair",
                kwargs={"name": {"$item": ["name"]}, "size": {"$item": ["size"]}, "tag": "t"},
                for_each=[{"name": "x", "size": 1}, {"name": "y"}],
            ),
        ],
    )
    run = run_spec(spec, settings=RunSettings(fail_fast=False), paths=paths)
    assert run.status == "FAILED"
    rows = _rows(paths, run)
    assert rows["pair.0"].status == "SUCCEEDED"
    assert rows["pair.1"].status == "FAILED" and rows["pair.1"].attempt == 0
    assert "item 1 has no 'size'" in (rows["pair.1"].error or "")
    assert rows["pair"].status == "FAILED" and "pair.1" in (rows["pair"].error or "")


def test_for_each_of_something_not_a_list_fails_the_map(paths, tasks_file):
    spec = _spec(
        tasks_file,
        [
            TaskRunSpec("source", "source", kwargs={"rows": {"not": "a list"}}),
            TaskRunSpec(
                "label",
                "label",
                kwargs={"item": {"$item": []}, "prefix": ""},
                upstream=["source"],
                for_each=_ref("source"),
            ),
        ],
    )
    run = run_spec(spec, paths=paths)
    assert run.status == "FAILED"
    assert run.error == (
        "TaskFailedError: Task label failed: TypeError: for_each of task run label must be a "
        "list, got dict"
    )
    assert _rows(paths, run)["label"].status == "FAILED"


def _fragile_map(tasks_file: Path, items: list[str]) -> FlowSpec:
    return _spec(
        tasks_file,
        [
            TaskRunSpec("fragile", "fragile", kwargs={"item": {"$item": []}}, for_each=items),
            TaskRunSpec("after", "count", kwargs={"data": _ref("fragile")}, upstream=["fragile"]),
            TaskRunSpec("other", "source", kwargs={"rows": 1}),
        ],
    )


def test_a_failing_child_fails_the_map_and_cancels_the_rest_when_fail_fast(paths, tasks_file):
    run = run_spec(_fragile_map(tasks_file, ["bad", "ok1", "ok2", "ok3"]), paths=paths)
    assert run.status == "FAILED"
    assert run.error == "TaskFailedError: Task fragile failed: ValueError: cannot take bad"
    rows = _rows(paths, run)
    assert rows["fragile.0"].status == "FAILED"
    assert rows["fragile"].status == "FAILED"
    assert rows["fragile"].error == "fragile.0: ValueError: cannot take bad"
    assert {rows[f"fragile.{i}"].status for i in (1, 2, 3)} <= {"SUCCEEDED", "CANCELLED"}
    assert rows["after"].status == "CANCELLED"


def test_other_children_finish_when_no_fail_fast(paths, tasks_file):
    spec = _fragile_map(tasks_file, ["ok1", "bad", "ok2", "bad"])
    run = run_spec(spec, settings=RunSettings(fail_fast=False), paths=paths)
    assert run.status == "FAILED"
    rows = _rows(paths, run)
    statuses = [rows[f"fragile.{i}"].status for i in range(4)]
    assert statuses == ["SUCCEEDED", "FAILED", "SUCCEEDED", "FAILED"]
    assert rows["fragile"].status == "FAILED"
    assert (
        rows["fragile"].error == "2 children failed, first fragile.1: ValueError: cannot take bad"
    )
    assert rows["after"].status == "UPSTREAM_FAILED"
    assert rows["other"].status == "SUCCEEDED"


def test_a_child_is_retried_on_its_own(paths, tasks_file):
    spec = _spec(
        tasks_file,
        [
            TaskRunSpec(
                "wobbly", "wobbly", kwargs={"item": {"$item": []}}, for_each=["once", "twice"]
            )
        ],
        outputs=_ref("wobbly"),
    )
    run = run_spec(spec, paths=paths)
    assert run.status == "SUCCEEDED", run.error
    rows = _rows(paths, run)
    assert (rows["wobbly.0"].attempt, rows["wobbly.1"].attempt) == (1, 2)
    assert rows["wobbly.1"].max_attempts == 3
    assert json.loads(run.output or "") == ["once", "twice"]
    assert _calls(tasks_file).count("wobbly:twice") == 2


def test_an_empty_list_succeeds_with_an_empty_result(paths, tasks_file):
    spec = _spec(
        tasks_file,
        [
            TaskRunSpec("source", "source", kwargs={"rows": []}),
            TaskRunSpec(
                "label",
                "label",
                kwargs={"item": {"$item": []}, "prefix": ""},
                upstream=["source"],
                for_each=_ref("source"),
            ),
            TaskRunSpec("after", "count", kwargs={"data": _ref("label")}, upstream=["label"]),
        ],
        outputs=_ref("after"),
    )
    run = run_spec(spec, paths=paths)
    assert run.status == "SUCCEEDED", run.error
    rows = _rows(paths, run)
    assert set(rows) == {"source", "label", "after"}
    assert rows["label"].status == "SUCCEEDED" and _result(paths, run, "label") == []
    assert json.loads(run.output or "") == 0


def test_a_map_on_the_process_executor(paths, tasks_file):
    spec = _spec(
        tasks_file,
        [
            TaskRunSpec(
                "label", "label", kwargs={"item": {"$item": []}, "prefix": "p"}, for_each=[1, 2]
            ),
            TaskRunSpec("total", "count", kwargs={"data": _ref("label")}, upstream=["label"]),
        ],
        outputs=_ref("label"),
    )
    run = run_spec(spec, settings=RunSettings(executor="process", max_workers=2), paths=paths)
    assert run.status == "SUCCEEDED", run.error
    assert json.loads(run.output or "") == ["p1", "p2"]
    rows = _rows(paths, run)
    assert rows["label.0"].executor == "process" and rows["label.1"].status == "SUCCEEDED"


def test_a_map_under_a_skipped_branch_is_skipped(paths, tasks_file):
    spec = _spec(
        tasks_file,
        [
            TaskRunSpec("check", "check", kwargs={"data": [1], "threshold": 5}),
            TaskRunSpec(
                "label",
                "label",
                kwargs={"item": {"$item": []}, "prefix": ""},
                upstream=["check"],
                when={"ref": "check", "branch": True},
                for_each=_ref("check"),
            ),
        ],
    )
    run = run_spec(spec, paths=paths)
    assert run.status == "SUCCEEDED", run.error
    assert set(_rows(paths, run)) == {"check", "label"}
    assert _rows(paths, run)["label"].status == "SKIPPED"


def test_runs_retry_of_a_failed_map_reruns_only_what_failed(paths, tasks_file):
    spec = _spec(
        tasks_file,
        [
            TaskRunSpec("source", "source", kwargs={"rows": ["a", "flaky", "b"]}),
            TaskRunSpec("check", "check", kwargs={"data": [1], "threshold": 5}),
            TaskRunSpec(
                "skipped",
                "count",
                kwargs={"data": _ref("check")},
                upstream=["check"],
                when={"ref": "check", "branch": True},
            ),
            TaskRunSpec(
                "fragile",
                "fragile",
                kwargs={"item": {"$item": []}},
                upstream=["source"],
                for_each=_ref("source"),
            ),
            TaskRunSpec("after", "count", kwargs={"data": _ref("fragile")}, upstream=["fragile"]),
        ],
        outputs=_ref("fragile"),
    )
    failed = run_spec(spec, settings=RunSettings(fail_fast=False), paths=paths)
    assert failed.status == "FAILED"
    (tasks_file.parent / "fixed").touch()
    (tasks_file.parent / "calls.txt").unlink()
    retried = retry_run(failed.run_id, None, paths)
    assert retried.status == "SUCCEEDED", retried.error
    assert json.loads(retried.output or "") == ["aa", "flakyflaky", "bb"]
    assert _calls(tasks_file) == ["fragile:flaky", "count"]  # only the failed child, then after
    rows = _rows(paths, retried)
    assert rows["source"].reused_from == failed.run_id
    assert rows["check"].reused_from == failed.run_id
    assert rows["skipped"].status == "SKIPPED"  # re-decided from the reused condition
    assert rows["fragile.0"].reused_from == failed.run_id
    assert rows["fragile.1"].reused_from is None and rows["fragile.1"].status == "SUCCEEDED"
    assert rows["fragile"].status == "SUCCEEDED" and rows["after"].status == "SUCCEEDED"


def test_dagy_runs_show_and_retry_of_a_map_run(paths, tasks_file, run_dagy):
    """The real `dagy` command: SKIPPED and map children in `runs show`, `runs retry` reusing."""
    spec = _spec(
        tasks_file,
        [
            TaskRunSpec("check", "check", kwargs={"data": [1], "threshold": 5}),
            TaskRunSpec(
                "skipped",
                "count",
                kwargs={"data": _ref("check")},
                upstream=["check"],
                when={"ref": "check", "branch": True},
            ),
            TaskRunSpec(
                "fragile", "fragile", kwargs={"item": {"$item": []}}, for_each=["a", "flaky"]
            ),
        ],
        outputs=_ref("fragile"),
    )
    failed = run_spec(spec, settings=RunSettings(fail_fast=False), paths=paths)
    shown = run_dagy("runs", "show", failed.run_id)
    assert shown.returncode == 0, shown.stderr
    assert "- skipped count status=SKIPPED attempt=0" in shown.stdout
    assert "- fragile.0 fragile status=SUCCEEDED attempt=1" in shown.stdout
    assert "- fragile.1 fragile status=FAILED attempt=1" in shown.stdout
    assert "- fragile fragile status=FAILED attempt=0" in shown.stdout
    (tasks_file.parent / "fixed").touch()
    again = run_dagy("runs", "retry", failed.run_id)
    assert again.returncode == 0, again.stderr
    assert "status=SUCCEEDED" in again.stdout
    new_id = again.stdout.split()[2]
    rows = {t.task_run_id: t for t in DuckDBStore(paths).task_runs(new_id)}
    assert rows["fragile.0"].reused_from == failed.run_id
    assert rows["fragile.1"].reused_from is None and rows["fragile.1"].status == "SUCCEEDED"
    assert rows["skipped"].status == "SKIPPED"
    assert json.loads(DuckDBStore(paths).get_run(new_id).output or "") == ["aa", "flakyflaky"]


def test_a_map_run_records_through_a_server_that_owns_the_store_and_retries_there(
    paths, tasks_file, server, run_dagy
):
    """While `dagy serve` holds the store file, children rows (not in create_run) travel to it,
    and `dagy runs retry` queued on the server (its own child process) reuses the good ones."""
    spec = _spec(
        tasks_file,
        [
            TaskRunSpec("check", "check", kwargs={"data": [1], "threshold": 5}),
            TaskRunSpec(
                "skipped",
                "count",
                kwargs={"data": _ref("check")},
                upstream=["check"],
                when={"ref": "check", "branch": True},
            ),
            TaskRunSpec(
                "fragile", "fragile", kwargs={"item": {"$item": []}}, for_each=["a", "flaky"]
            ),
        ],
        outputs=_ref("fragile"),
    )
    run = run_spec(spec, settings=RunSettings(fail_fast=False), paths=paths)
    assert run.status == "FAILED"
    shown = run_dagy("runs", "show", run.run_id, "--json")
    assert shown.returncode == 0, shown.stderr
    data = json.loads(shown.stdout)
    assert data["status"] == "FAILED"
    assert {t["task_run_id"]: t["status"] for t in data["task_runs"]} == {
        "check": "SUCCEEDED",
        "skipped": "SKIPPED",
        "fragile": "FAILED",
        "fragile.0": "SUCCEEDED",
        "fragile.1": "FAILED",
    }
    (tasks_file.parent / "fixed").touch()
    (tasks_file.parent / "calls.txt").unlink()
    again = run_dagy("runs", "retry", run.run_id)
    assert again.returncode == 0, again.stderr
    new_id = again.stdout.split()[2]
    detail = json.loads(run_dagy("runs", "show", new_id, "--json").stdout)
    rows = {t["task_run_id"]: t for t in detail["task_runs"]}
    assert detail["status"] == "SUCCEEDED"
    assert rows["fragile.0"]["reused_from"] == run.run_id
    assert rows["fragile.1"]["status"] == "SUCCEEDED" and rows["fragile.1"]["reused_from"] is None
    assert rows["skipped"]["status"] == "SKIPPED"
    assert _calls(tasks_file) == ["fragile:flaky"]


CRASH_SCRIPT = """
import sys
from pathlib import Path
from dagy.sdk.spec import FlowSpec
from dagy.services.runs.execute import run_spec
run_spec(FlowSpec.from_json(Path(sys.argv[1]).read_text()))
"""


def test_a_run_killed_mid_map_is_recovered_and_its_retry_reuses_finished_children(
    paths, tasks_file, dagy_home
):
    import os
    import subprocess
    import sys

    spec = _spec(
        tasks_file,
        [
            TaskRunSpec(
                "mortal", "mortal", kwargs={"item": {"$item": []}}, for_each=["a", "b", "die"]
            )
        ],
        outputs=_ref("mortal"),
    )
    spec_file = tasks_file.parent / "spec.json"
    spec_file.write_text(spec.to_json())
    env = {**os.environ, "DAGY_LOCAL_DIR": str(dagy_home), "PYTHONPATH": str(REPO)}
    killed = subprocess.run(
        [sys.executable, "-c", CRASH_SCRIPT, str(spec_file)],
        env=env,
        capture_output=True,
        timeout=60,
    )
    assert killed.returncode == -9, killed.stderr
    store = DuckDBStore(paths)  # the first open after the crash recovers the run
    [crashed] = store.list_runs()
    assert crashed.status == "FAILED" and (crashed.error or "").startswith("crashed: process ")
    rows = {t.task_run_id: t.status for t in store.task_runs(crashed.run_id)}
    assert rows == {
        "mortal": "FAILED",
        "mortal.0": "SUCCEEDED",
        "mortal.1": "SUCCEEDED",
        "mortal.2": "FAILED",
    }
    (tasks_file.parent / "fixed").touch()
    (tasks_file.parent / "calls.txt").unlink()
    retried = retry_run(crashed.run_id, None, paths)
    assert retried.status == "SUCCEEDED", retried.error
    assert json.loads(retried.output or "") == ["a", "b", "die"]
    assert _calls(tasks_file) == ["mortal:die"]


def test_validate_counts_when_and_for_each_refs_and_refuses_ids_a_child_would_take():
    from dagy import DependencyCycleError
    from dagy.engine.runner import validate
    from dagy.errors import InvalidInputError

    def spec(*task_runs: TaskRunSpec) -> FlowSpec:
        return FlowSpec("f", "1", {}, {"t": TaskDef("t", "m", "t")}, list(task_runs))

    ordered = spec(
        TaskRunSpec("m", "t", for_each=_ref("src")),
        TaskRunSpec("w", "t", when={"ref": "c", "branch": True}),
        TaskRunSpec("src", "t"),
        TaskRunSpec("c", "t"),
    )
    order = validate(ordered)
    assert order.index("src") < order.index("m") and order.index("c") < order.index("w")
    with pytest.raises(DependencyCycleError):
        validate(spec(TaskRunSpec("w", "t", when={"ref": "nowhere", "branch": True})))
    with pytest.raises(DependencyCycleError):
        validate(spec(TaskRunSpec("m", "t", for_each=_ref("nowhere"))))
    with pytest.raises(InvalidInputError, match="'m.0' is taken by a child of map task run 'm'"):
        validate(spec(TaskRunSpec("m", "t", for_each=[1]), TaskRunSpec("m.0", "t")))

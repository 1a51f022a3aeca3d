"""`dagy runs replay` and `dagy runs diff` on the store file (no server): the real command."""

from __future__ import annotations

from pathlib import Path

from tests.replay.replay_support import (
    as_json,
    by_id,
    forbid_extract,
    run_id_of,
    tally,
    write_flow,
    write_pipeline,
)


def _first_run(run_dagy, folder: Path) -> str:
    flow = write_flow(folder)
    done = run_dagy("run", f"{flow}:etl", "--param", f"tally={folder / 'tally.txt'}")
    assert done.returncode == 0, done.stderr
    assert tally(folder) == ["extract", "transform", "load"]
    return run_id_of(done)


def test_replay_reuses_unchanged_steps_and_runs_the_edited_one(run_dagy, tmp_path):
    folder = tmp_path / "code"
    source = _first_run(run_dagy, folder)
    write_flow(folder, factor=20)  # transform edited
    forbid_extract(folder)  # extract would fail if it were called

    done = run_dagy("runs", "replay", source)

    assert done.returncode == 0, (done.stdout, done.stderr)
    replay = run_id_of(done)
    assert tally(folder)[3:] == ["transform", "load"]  # extract not called
    shown = as_json(run_dagy("runs", "show", replay, "--json"))
    assert shown["replay_of"] == source
    assert shown["trigger"] == "replay"
    assert shown["parameters"] == {"tally": str(folder / "tally.txt")}
    assert shown["output"] == "stored"
    tasks = by_id(shown["task_runs"])
    assert tasks["extract-1"]["reused_from"] == source
    assert tasks["transform-1"]["reused_from"] is None
    assert tasks["load-1"]["reused_from"] is None  # its input changed
    assert all(t["source_hash"] for t in tasks.values())
    assert f"Replay of: {source}" in run_dagy("runs", "show", replay).stdout


def test_diff_names_exactly_the_changed_task(run_dagy, tmp_path):
    folder = tmp_path / "code"
    source = _first_run(run_dagy, folder)
    write_flow(folder, factor=20)
    replay = run_id_of(run_dagy("runs", "replay", source))

    body = as_json(run_dagy("runs", "diff", source, replay, "--json"))

    assert body["run_a"]["run_id"] == source and body["run_b"]["run_id"] == replay
    assert body["run_b"]["replay_of"] == source
    items = by_id(body["items"])
    assert list(items) == ["extract-1", "transform-1", "load-1"]
    changed = [i["task_run_id"] for i in body["items"] if i["result"] != "equal"]
    assert changed == ["transform-1"]
    assert [i["task_run_id"] for i in body["items"] if i["source"] == "changed"] == ["transform-1"]
    assert items["transform-1"]["changes"] == [
        {"path": "$[0]", "a": "10", "b": "20"},
        {"path": "$[1]", "a": "20", "b": "40"},
        {"path": "$[2]", "a": "30", "b": "60"},
    ]
    assert items["load-1"]["result"] == "equal" and items["load-1"]["source"] == "equal"
    assert items["extract-1"]["status_a"] == items["extract-1"]["status_b"] == "SUCCEEDED"
    assert body["summary"] == {
        "task_runs": 3,
        "different": 1,
        "equal": 2,
        "changed": 1,
        "source_changed": 1,
    }
    table = run_dagy("runs", "diff", source, replay)
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[1].split() == ["TASK", "RUN", "STATUS", "DURATION", "ATTEMPTS", "SOURCE", "RESULT"]
    row = next(line for line in lines if line.startswith("transform-1"))
    assert row.split()[-2:] == ["changed", "changed"]
    assert "      $[0]: 10 → 20" in lines
    assert lines[-1] == "3 task runs, 1 different, 1 changed, 1 source changed"


def test_an_added_step_is_missing_in_the_diff(run_dagy, tmp_path):
    folder = tmp_path / "code"
    source = _first_run(run_dagy, folder)
    write_flow(folder, audit=True)
    forbid_extract(folder)

    replay = run_id_of(run_dagy("runs", "replay", source))

    assert tally(folder)[3:] == ["audit"]  # the three unchanged steps reused, the new one ran
    items = by_id(as_json(run_dagy("runs", "diff", source, replay, "--json"))["items"])
    assert items["audit-1"]["result"] == "missing"
    assert items["audit-1"]["status_a"] is None and items["audit-1"]["status_b"] == "SUCCEEDED"
    assert {k: v["result"] for k, v in items.items() if k != "audit-1"} == dict.fromkeys(
        ["extract-1", "transform-1", "load-1"], "equal"
    )


def test_replay_from_a_step_reruns_it_and_downstream(run_dagy, tmp_path):
    folder = tmp_path / "code"
    source = _first_run(run_dagy, folder)
    forbid_extract(folder)

    done = run_dagy("runs", "replay", source, "--from", "transform")

    assert done.returncode == 0, (done.stdout, done.stderr)
    assert tally(folder)[3:] == ["transform", "load"]
    tasks = by_id(as_json(run_dagy("runs", "show", run_id_of(done), "--json"))["task_runs"])
    assert [t["task_run_id"] for t in tasks.values() if t["reused_from"]] == ["extract-1"]


def test_replay_without_changes_executes_nothing(run_dagy, tmp_path):
    folder = tmp_path / "code"
    source = _first_run(run_dagy, folder)
    forbid_extract(folder)

    done = run_dagy("runs", "replay", source)

    assert done.returncode == 0, done.stderr
    assert tally(folder) == ["extract", "transform", "load"]
    body = as_json(run_dagy("runs", "diff", source, run_id_of(done), "--json"))
    assert body["summary"]["different"] == 0


def test_replay_refusals(run_dagy, tmp_path):
    folder = tmp_path / "code"
    source = _first_run(run_dagy, folder)

    unknown = run_dagy("runs", "replay", "etl-nope")
    assert unknown.returncode == 3
    assert unknown.stderr.strip() == "Run not found: etl-nope"

    bad_step = run_dagy("runs", "replay", source, "--from", "nope")
    assert bad_step.returncode == 2
    assert (
        "Unknown step: nope (steps of this run: extract-1, load-1, transform-1)" in bad_step.stderr
    )

    (folder / "etl.py").unlink()
    gone = run_dagy("runs", "replay", source)
    assert gone.returncode == 3
    assert f"its flow file {folder / 'etl.py'} no longer exists" in gone.stderr

    missing = run_dagy("runs", "diff", source, "etl-nope")
    assert missing.returncode == 3
    assert missing.stderr.strip() == "Run not found: etl-nope"


def test_pipeline_replay_reuses_the_map_and_diff_names_the_edited_step(run_dagy, tmp_path):
    folder = tmp_path / "pipe"
    pipeline = write_pipeline(folder)
    first = run_dagy("run", str(pipeline), "--param", f"tally={folder / 'tally.txt'}")
    assert first.returncode == 0, first.stderr
    source = run_id_of(first)
    assert sorted(tally(folder)) == ["extract", "inc", "inc", "inc", "scale"]
    write_pipeline(folder, factor=7)  # scale edited in steps.py; extract and inc unchanged
    forbid_extract(folder)

    done = run_dagy("runs", "replay", source)

    assert done.returncode == 0, (done.stdout, done.stderr)
    assert tally(folder)[5:] == ["scale"]
    body = as_json(run_dagy("runs", "diff", source, run_id_of(done), "--json"))
    different = [i["task_run_id"] for i in body["items"] if i["result"] not in ("equal", "reused")]
    assert different == ["scale"]
    items = by_id(body["items"])
    assert items["scale"]["source"] == "changed" and items["extract"]["source"] == "equal"
    assert items["bump"]["result"] == "equal"
    children = [i for i in body["items"] if i["parent"] == "bump"]
    assert [c["task_run_id"] for c in children] == ["bump.0", "bump.1", "bump.2"]


def _deploy(home: Path, flow: Path, tally_path: Path) -> None:
    from dagy.config.paths import DagyPaths
    from dagy.sdk.loader import load_flow
    from dagy.services.catalog import deployments, flows
    from dagy.store.duckdb_store import DuckDBStore

    store = DuckDBStore(DagyPaths(home))
    flows.register_version(store, "personal", load_flow(f"{flow}:etl").build(tally=str(tally_path)))
    deployments.upsert(
        store, "personal", None, name="etl-dep", flow_name="etl", flow_version="1.0.0"
    )


def test_a_deployments_run_replays_its_current_code_and_says_when_it_is_gone(
    run_dagy, tmp_path, dagy_home
):
    folder = tmp_path / "code"
    flow = write_flow(folder)
    _deploy(dagy_home, flow, folder / "tally.txt")
    first = run_dagy("run", "etl-dep", "--param", f"tally={folder / 'tally.txt'}")
    assert first.returncode == 0, first.stderr
    source = run_id_of(first)
    write_flow(folder, factor=3)
    forbid_extract(folder)

    done = run_dagy("runs", "replay", source)

    assert done.returncode == 0, (done.stdout, done.stderr)
    assert tally(folder)[3:] == ["transform", "load"]
    shown = as_json(run_dagy("runs", "show", run_id_of(done), "--json"))
    assert shown["deployment_name"] == "etl-dep" and shown["replay_of"] == source

    from dagy.config.paths import DagyPaths
    from dagy.services.catalog import deployments
    from dagy.store.duckdb_store import DuckDBStore

    deployments.delete(DuckDBStore(DagyPaths(dagy_home)), "personal", "etl-dep")
    gone = run_dagy("runs", "replay", source)
    assert gone.returncode == 3
    assert f"Cannot replay {source}: its deployment etl-dep no longer exists" in gone.stderr

"""python_function (both target forms), custom_node, shell_command; and the task context the
executors bind around a node (the thread executor's worker, the process executor's child)."""

from __future__ import annotations

import json
import queue
import textwrap
from pathlib import Path

import pytest

from dagy.engine import _child
from dagy.engine.context import TaskContext, current
from dagy.engine.executors import Attempt, ThreadExecutor, child_payload
from dagy.nodes.run import code, io
from dagy.nodes.run.frames import NodeError


def write(path: Path, source: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source), encoding="utf-8")
    return path


def test_python_function_calls_a_file_function_relative_to_the_pipeline(ctx, tmp_path):
    write(
        tmp_path / "pipelines" / "orders.py",
        """
        def clean(rows, limit):
            return [r for r in rows if r["total"] > 0][:limit]
        """,
    )
    rows = [{"total": 5}, {"total": 0}, {"total": 7}, {"total": 9}]
    out = code.python_function(
        {"function": "pipelines/orders.py:clean"}, {"rows": rows, "limit": 2}
    )
    assert out == [{"total": 5}, {"total": 7}]


def test_python_function_calls_a_module_function(ctx):
    assert code.python_function({"function": "json:dumps"}, {"obj": [1, 2]}) == "[1, 2]"


def test_python_function_gets_dataframes_as_records_unless_told_not_to(ctx, tmp_path):
    write(
        tmp_path / "fns.py",
        "def count(data):\n    return data if isinstance(data, dict) else len(data)\n",
    )
    (tmp_path / "d.json").write_text(json.dumps([{"a": 1}, {"a": 2}]), encoding="utf-8")
    df = io.file_ingest({"uri": "d.json", "output": "dataframe"})
    assert code.python_function({"function": "fns.py:count"}, {"data": df}) == 2
    raw = code.python_function({"function": "fns.py:count", "materialize": False}, {"data": df})
    assert raw == df


def test_python_function_names_what_it_cannot_find(ctx):
    with pytest.raises(NodeError, match="no such file"):
        code.python_function({"function": "missing.py:f"}, {})
    with pytest.raises(NodeError, match="cannot import no_such_module_x"):
        code.python_function({"function": "no_such_module_x:f"}, {})
    with pytest.raises(NodeError, match="json has no attribute nope"):
        code.python_function({"function": "json:nope"}, {})
    with pytest.raises(NodeError, match="must be 'module:function'"):
        code.python_function({"function": "json"}, {})


def test_custom_node_runs_a_function_or_a_class(ctx, tmp_path):
    write(
        tmp_path / "enrich.py",
        """
        def tag(config, inputs):
            return [{**r, "tag": config["tag"]} for r in inputs["data_in"]]

        class Scale:
            def run(self, config, inputs):
                return [r["v"] * config["by"] for r in inputs["data_in"]]
        """,
    )
    rows = [{"v": 1}, {"v": 2}]
    tagged = code.custom_node({"import_path": "enrich.py:tag", "tag": "t"}, {"data_in": rows})
    assert tagged == [{"v": 1, "tag": "t"}, {"v": 2, "tag": "t"}]
    assert code.custom_node({"import_path": "enrich.py:Scale", "by": 3}, {"data_in": rows}) == [
        3,
        6,
    ]


def test_shell_command_answers_its_last_stdout_line(ctx, capsys):
    out = code.shell_command(
        {"command": 'echo one; echo "$GREETING" ; echo two >&2', "env": {"GREETING": "hi there"}}
    )
    assert out == "hi there"
    seen = capsys.readouterr()
    assert seen.out == "one\nhi there\n" and seen.err == "two\n"


def test_shell_command_fails_with_its_exit_code_and_last_stderr_line(ctx):
    with pytest.raises(NodeError, match=r"command exited with code 3: second problem"):
        code.shell_command({"command": "echo first problem >&2; echo second problem >&2; exit 3"})


def test_shell_command_runs_in_the_pipeline_folder(ctx, tmp_path):
    assert code.shell_command({"command": "pwd"}) == str(tmp_path)


def attempt(tmp_path: Path, fn: object, config: dict) -> Attempt:
    from dagy.nodes.run import code as module

    flow_file = write(tmp_path / "flows.py", "# the run's flow file: nothing in it\n")
    return Attempt(
        run_id="run-1",
        task_run_id="announce",
        task_name="announce",
        number=1,
        fn=getattr(fn, "fn", fn),
        args=[],
        kwargs={"config": config, "inputs": {}},
        task_dir=tmp_path / "tasks" / "announce",
        artifact_dir=tmp_path / "artifacts" / "announce",
        max_bytes=1 << 20,
        entrypoint=f"{flow_file}:etl",
        module=module.__name__,
        qualname="shell_command",
    )


def test_the_thread_executor_binds_the_context_and_logs_the_command(tmp_path):
    from dagy.engine import _capture

    completions: queue.SimpleQueue = queue.SimpleQueue()
    executor = ThreadExecutor(completions, 1)
    _capture.install()
    try:
        executor.submit(
            attempt(tmp_path, code.shell_command, {"command": "echo done $X", "env": {"X": "7"}})
        )
        outcome = completions.get(timeout=60)
    finally:
        _capture.uninstall()
        executor.shutdown()
    assert outcome.ok and outcome.value == "done 7"
    log = (tmp_path / "tasks" / "announce" / "task.log").read_text()
    assert "done 7" in log


def test_run_payload_binds_the_context_in_a_child(tmp_path, monkeypatch):
    seen: list[TaskContext | None] = []

    def spy(config: dict, inputs: dict) -> str:
        seen.append(current())
        return "ok"

    payload = json.loads(
        child_payload(attempt(tmp_path, code.shell_command, {"command": "echo x"}))
    )
    result = _child.run_payload(payload)
    assert result.ok and json.loads(result.data or b"null") == "x"
    monkeypatch.setattr(code.shell_command, "fn", spy)
    assert _child.run_payload(payload).ok
    context = seen[0]
    assert context is not None and context.run_id == "run-1" and context.task_run_id == "announce"
    assert context.artifact_dir == tmp_path / "artifacts" / "announce"
    assert context.base_dir == tmp_path
    assert current() is None

"""`dagy run pipeline.yaml` through the real command: python, node, command and control-flow steps,
retries, failures with and without fail-fast, `dagy runs retry`, and the runnable example."""

from __future__ import annotations

import json
import shutil
import textwrap
import urllib.parse
from collections.abc import Callable, Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO
from tests.http_support import JsonHandler, serving, url_of

ORDERS = [
    {"order_id": 1, "customer": " Ada ", "amount": "12.5"},
    {"order_id": 2, "customer": "Bob", "amount": 3},
    {"order_id": 1, "customer": "ada", "amount": 12.5},
    {"order_id": None, "customer": "x", "amount": 1},
    {"order_id": 3, "customer": "Cy", "amount": 0},
]


class _Orders(JsonHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        url = urllib.parse.urlsplit(self.path)
        day = urllib.parse.parse_qs(url.query).get("day", [""])[0]
        self.server.seen.append(self.path)  # type: ignore[attr-defined]
        if url.path != "/orders":
            self.send_error(404)
            return
        self.send_json(ORDERS if day != "2026-01-01" else [])


@pytest.fixture(scope="module")
def orders_api() -> Iterator[ThreadingHTTPServer]:
    with serving(_Orders) as server:
        server.seen = []  # type: ignore[attr-defined]
        yield server


def base_url(server: ThreadingHTTPServer) -> str:
    return url_of(server)


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str, str], Path]:
    def make(name: str, text: str) -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return make


def run_id_of(done: Any) -> str:
    line = done.stdout.strip().splitlines()[-1]
    assert line.startswith("Run completed: "), (done.stdout, done.stderr)
    return line.split()[2]


def show(run_dagy: Any, run_id: str) -> dict[str, Any]:
    done = run_dagy("runs", "show", run_id, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def states(run: dict[str, Any]) -> dict[str, tuple[str, int]]:
    return {t["task_run_id"]: (t["status"], t["attempt"]) for t in run["task_runs"]}


def test_the_example_runs_against_a_test_http_server(run_dagy, orders_api, tmp_path):
    out = tmp_path / "orders.json"
    example = REPO / "examples" / "pipelines" / "orders_etl.yaml"
    done = run_dagy(
        "run", str(example), "--param", f"base_url={base_url(orders_api)}",
        "--param", "day=2026-03-05", "--param", f"out={out}",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Run completed: orders_etl-") and done.stdout.endswith(
        " status=SUCCEEDED\n"
    )
    assert "/orders?day=2026-03-05" in orders_api.seen  # type: ignore[attr-defined]
    assert json.loads(out.read_text()) == [
        {"order_id": 1, "customer": "ada", "amount": 12.5},
        {"order_id": 2, "customer": "bob", "amount": 3.0},
    ]
    run = show(run_dagy, run_id_of(done))
    assert states(run) == {
        "fetch": ("SUCCEEDED", 1),
        "clean": ("SUCCEEDED", 1),
        "dedupe": ("SUCCEEDED", 1),
        "any_orders": ("SUCCEEDED", 1),
        "write": ("SUCCEEDED", 1),
        "cents": ("SUCCEEDED", 0),  # the map's parent: its children ran
        "cents.0": ("SUCCEEDED", 1),
        "cents.1": ("SUCCEEDED", 1),
        "announce": ("SUCCEEDED", 1),
    }
    assert run["output"]["cents"] == [{"order_id": 1, "cents": 1250}, {"order_id": 2, "cents": 300}]
    assert run["output"]["announce"] == "orders_etl wrote the orders of 2026-03-05"
    assert run["parameters"]["day"] == "2026-03-05"
    log = run_dagy("logs", run["run_id"], "--task", "announce")
    assert "orders_etl wrote the orders of 2026-03-05" in log.stdout


def test_the_example_skips_the_write_branch_when_there_are_no_orders(
    run_dagy, orders_api, tmp_path
):
    out = tmp_path / "none.json"
    example = REPO / "examples" / "pipelines" / "orders_etl.yaml"
    done = run_dagy(
        "run", str(example), "--param", f"base_url={base_url(orders_api)}",
        "--param", "day=2026-01-01", "--param", f"out={out}",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.endswith(" status=SUCCEEDED\n")
    run = show(run_dagy, run_id_of(done))
    got = states(run)
    assert got["write"][0] == "SKIPPED" and got["announce"][0] == "SKIPPED"
    assert got["cents"][0] == "SUCCEEDED"
    assert run["output"]["cents"] == []
    assert not out.exists()


STEPS = """
name: steps
params: {who: world, n: 2}
steps:
  - id: greet
    python: mycode.py:greet
    with: {who: "${params.who}"}
  - id: twice
    python: "mycode:repeat"
    with: {text: "${greet}", n: "${params.n}"}
  - id: shout
    command: |
      echo "said: ${params.who}"
      echo DONE
    depends: [twice]
"""
CODE = """
def greet(who):
    return f"hello {who}"


def repeat(text, n):
    return [text] * n
"""


def test_python_and_command_steps_with_params(run_dagy, write):
    write("mycode.py", CODE)
    pipeline = write("steps.yaml", STEPS)
    done = run_dagy("run", str(pipeline), "--param", "who=ada", "--param", "n=3")
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    run = show(run_dagy, run_id_of(done))
    assert run["output"] == {"shout": "DONE"}
    assert run["parameters"] == {"who": "ada", "n": 3}
    assert set(states(run).values()) == {("SUCCEEDED", 1)}
    log = run_dagy("logs", run["run_id"], "--task", "shout").stdout
    assert "said: ada" in log and "DONE" in log
    # the same, with a child process per task
    done = run_dagy("run", f"{pipeline}:steps", "--executor", "process", "--param", "n=1")
    assert done.returncode == 0, done.stderr
    assert show(run_dagy, run_id_of(done))["output"] == {"shout": "DONE"}


def test_bad_parameters_and_wrong_names_are_refused_before_a_run(run_dagy, write):
    write("mycode.py", CODE)
    pipeline = write("steps.yaml", STEPS)
    done = run_dagy("run", str(pipeline), "--param", "n=many")
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == "ParameterTypeError: Parameter 'n' expects int, got 'many'\n"
    done = run_dagy("run", str(pipeline), "--param", "x=1")
    assert done.returncode == 2
    assert done.stderr == (
        "ParameterTypeError: Unknown parameter 'x' for flow 'steps' (parameters: who, n)\n"
    )
    done = run_dagy("run", f"{pipeline}:other")
    assert done.returncode == 3
    assert done.stderr == (
        f"AttributeError: Pipeline 'other' not found in {pipeline} (it is 'steps')\n"
    )
    done = run_dagy("run", str(pipeline.with_name("missing.yaml")))
    assert done.returncode == 3
    assert done.stderr == (
        f"FileNotFoundError: Pipeline file not found: {pipeline.with_name('missing.yaml')}\n"
    )
    broken = write("broken.yaml", "name: b\nsteps:\n  - {id: a, node: nope}\n")
    done = run_dagy("run", str(broken))
    assert done.returncode == 2
    assert done.stderr == "Error: Pipeline is invalid: steps[0].node: unknown node type 'nope'\n"


FLAKY = """
from pathlib import Path


def flaky(marker):
    path = Path(marker)
    count = int(path.read_text()) + 1 if path.exists() else 1
    path.write_text(str(count))
    if count < 3:
        raise RuntimeError(f"attempt {count} fails")
    return count
"""


def test_a_step_is_retried(run_dagy, write, tmp_path):
    write("flaky.py", FLAKY)
    marker = tmp_path / "count"
    pipeline = write(
        "retry.yaml",
        f"""
        name: retrying
        steps:
          - id: flaky
            python: flaky.py:flaky
            with: {{marker: "{marker}"}}
            retries: 2
        """,
    )
    done = run_dagy("run", str(pipeline))
    assert done.returncode == 0, done.stderr
    run = show(run_dagy, run_id_of(done))
    assert states(run) == {"flaky": ("SUCCEEDED", 3)}
    assert run["output"] == {"flaky": 3}


FAILING = """
name: failing
steps:
  - id: boom
    command: "echo about to fail; exit 3"
  - id: after
    command: echo after
    depends: [boom]
  - id: other
    command: echo independent
    depends: [slow]
  - id: slow
    command: echo slow
"""


def test_a_failing_step_fails_fast_or_lets_others_finish(run_dagy, write):
    pipeline = write("failing.yaml", FAILING)
    done = run_dagy("run", str(pipeline))
    assert done.returncode == 1
    assert done.stdout.endswith(" status=FAILED\n")
    assert "command exited with code 3" in done.stderr
    run = show(run_dagy, run_id_of(done))
    got = states(run)
    assert got == {
        "boom": ("FAILED", 1),
        "after": ("CANCELLED", 0),
        "other": ("CANCELLED", 0),  # fail fast: the independent branch did not run
        "slow": ("CANCELLED", 0),
    }

    done = run_dagy("run", str(pipeline), "--no-fail-fast")
    assert done.returncode == 1
    got = states(show(run_dagy, run_id_of(done)))
    assert got["boom"][0] == "FAILED" and got["after"][0] == "UPSTREAM_FAILED"
    assert got["slow"] == ("SUCCEEDED", 1) and got["other"] == ("SUCCEEDED", 1)


GATED = """
from pathlib import Path


def first(marker):
    count = Path(marker + ".first")
    count.write_text(count.read_text() + "x" if count.exists() else "x")
    return 21


def second(value, marker):
    if not Path(marker).exists():
        raise RuntimeError("not yet")
    return value * 2
"""


def test_runs_retry_reuses_the_steps_that_succeeded(run_dagy, write, tmp_path):
    write("gated.py", GATED)
    marker = tmp_path / "open"
    pipeline = write(
        "gated.yaml",
        f"""
        name: gated
        params: {{marker: "{marker}"}}
        steps:
          - {{id: first, python: "gated.py:first", with: {{marker: "${{params.marker}}"}}}}
          - {{id: second, python: "gated.py:second", with: {{value: "${{first}}", marker: "${{params.marker}}"}}}}
        """,
    )
    done = run_dagy("run", str(pipeline))
    assert done.returncode == 1
    failed = run_id_of(done)
    marker.write_text("open")
    retried = run_dagy("runs", "retry", failed)
    assert retried.returncode == 0, retried.stderr
    run = show(run_dagy, run_id_of(retried))
    assert run["status"] == "SUCCEEDED" and run["retry_of"] == failed
    by_id = {t["task_run_id"]: t for t in run["task_runs"]}
    assert by_id["first"]["reused_from"] == failed
    assert by_id["second"]["reused_from"] is None and by_id["second"]["status"] == "SUCCEEDED"
    assert run["output"] == {"second": 42}
    assert Path(str(marker) + ".first").read_text() == "x"  # `first` ran once


def test_a_pipeline_moved_after_its_run_cannot_be_retried_silently(run_dagy, write, tmp_path):
    """The retry loads the pipeline file the run names; gone, it says so (exit 3)."""
    write("gated.py", GATED)
    pipeline = write(
        "gone.yaml",
        f"""
        name: gone
        steps:
          - {{id: second, python: "gated.py:second", with: {{value: 1, marker: "{tmp_path / "never"}"}}}}
        """,
    )
    failed = run_id_of(run_dagy("run", str(pipeline)))
    shutil.move(str(pipeline), str(tmp_path / "elsewhere.yaml"))
    done = run_dagy("runs", "retry", failed)
    assert done.returncode == 3, done.stderr
    assert "not found" in done.stderr


BRANCHES = """
name: branches
params: {size: 3, items: [{id: a}, {id: b}]}
steps:
  - id: big
    node: condition
    config: {operator: gt, value: 2}
    with: {data: "${params.size}"}
  - id: large
    command: echo large
    when: ${big}
  - id: small
    command: echo small
    when: not ${big}
  - id: each
    node: delay
    config: {seconds: 0}
    with: {data: "${item.id}"}
    for_each: ${params.items}
  - id: fixed
    python: mycode.py:greet
    with: {who: "${item}"}
    for_each: [x, y, z]
"""


@pytest.mark.parametrize(
    ("size", "ran", "skipped"), [("3", "large", "small"), ("1", "small", "large")]
)
def test_a_condition_picks_one_branch_and_for_each_fans_out(run_dagy, write, size, ran, skipped):
    write("mycode.py", CODE)
    pipeline = write("branches.yaml", BRANCHES)
    done = run_dagy("run", str(pipeline), "--param", f"size={size}")
    assert done.returncode == 0, done.stderr
    run = show(run_dagy, run_id_of(done))
    got = states(run)
    assert got[ran] == ("SUCCEEDED", 1) and got[skipped][0] == "SKIPPED"
    assert run["output"][ran] == ran and run["output"][skipped] is None
    assert run["output"]["each"] == ["a", "b"]
    assert run["output"]["fixed"] == ["hello x", "hello y", "hello z"]
    assert [t for t in got if t.startswith("fixed.")] == ["fixed.0", "fixed.1", "fixed.2"]


SCORING = """
class Scorer:
    def run(self, config, inputs):
        return [x for x in inputs["data"] if x >= config["threshold"]]
"""


def test_a_custom_node_step_runs_its_import_path(run_dagy, write):
    write("scoring.py", SCORING)
    pipeline = write(
        "custom.yaml",
        """
        name: custom
        steps:
          - id: score
            node: scorer
            import_path: scoring:Scorer
            config: {threshold: 2}
            with: {data: [1, 2, 3]}
        """,
    )
    for executor in ("local", "process"):
        done = run_dagy("run", str(pipeline), "--executor", executor)
        assert done.returncode == 0, done.stderr
        assert show(run_dagy, run_id_of(done))["output"] == {"score": [2, 3]}


def test_a_pipeline_loads_and_runs_from_python_like_a_flow(dagy_home, write):
    from dagy.sdk.loader import load_flow, load_module

    write("mycode.py", CODE)
    pipeline = write("steps.yaml", STEPS)
    flow = load_flow(str(pipeline))
    assert (flow.name, flow.version, flow.entrypoint) == ("steps", "1.0.0", f"{pipeline}:steps")
    assert load_flow(f"{pipeline}:steps").build().flow_name == "steps"
    assert load_module(pipeline).steps.name == "steps"
    assert flow(who="py", n=1) == {"shout": "DONE"}

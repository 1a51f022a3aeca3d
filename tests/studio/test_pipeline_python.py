"""pipeline_python: the @flow/@task module written from a pipeline imports, runs with `dagy run`
and writes what the YAML writes, for the offline planner's pipelines on file:// data."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dagy.pipelines.model import Pipeline, Step
from dagy.pipelines.yaml_format import dump_pipeline
from dagy.studio_providers import TurnInput, load, noop_emit, pipeline_python

ORDERS = [
    {"Order_ID": 1, "Customer": " Ada ", "amount": 12.5},
    {"Order_ID": 2, "Customer": "Bob", "amount": 3},
    {"Order_ID": 1, "Customer": " Ada ", "amount": 12.5},
    {"Order_ID": 3, "Customer": "Cy ", "amount": 0},
]
SPEC = (
    "Build a workflow that reads JSON from S3, validates schema, normalizes records, "
    "deduplicates, and writes back to S3."
)


def _plan(message: str, pipeline: Pipeline | None = None) -> Pipeline:
    out = load("offline").turn(
        TurnInput(message=message, intent="auto", pipeline=pipeline), emit=noop_emit
    )
    assert out.pipeline is not None
    return out.pipeline


def _run(run_dagy: Callable[..., Any], target: str, *params: str) -> str:
    """Run ``target`` with ``dagy run``; it must exit 0 (every step SUCCEEDED)."""
    args = [a for p in params for a in ("--param", p)]
    done = run_dagy("run", target, *args)
    assert done.returncode == 0, done.stderr + done.stdout
    return str(done.stdout)


def test_spec_pipeline_as_python_writes_what_the_yaml_writes(
    tmp_path: Path, run_dagy: Callable[..., Any]
) -> None:
    pipeline = _plan(SPEC)
    source = tmp_path / "orders.json"
    source.write_text(json.dumps(ORDERS))
    (tmp_path / "gen.yaml").write_text(dump_pipeline(pipeline))
    (tmp_path / "gen.py").write_text(pipeline_python(pipeline))

    _run(
        run_dagy,
        str(tmp_path / "gen.yaml"),
        f"input_uri=file://{source}",
        f"output_uri=file://{tmp_path / 'from_yaml.json'}",
    )
    _run(
        run_dagy,
        f"{tmp_path / 'gen.py'}:generated_pipeline",
        f"input_uri=file://{source}",
        f"output_uri=file://{tmp_path / 'from_python.json'}",
    )
    from_yaml = json.loads((tmp_path / "from_yaml.json").read_text())
    from_python = json.loads((tmp_path / "from_python.json").read_text())
    assert from_python == from_yaml
    # normalized (lowercase keys, trimmed) and deduplicated over every field
    assert from_yaml == [
        {"order_id": 1, "customer": "Ada", "amount": 12.5},
        {"order_id": 2, "customer": "Bob", "amount": 3},
        {"order_id": 3, "customer": "Cy", "amount": 0},
    ]


def test_configured_pipeline_with_text_params_and_depends_runs_the_same(
    tmp_path: Path, run_dagy: Callable[..., Any]
) -> None:
    """Keys, a required-fields schema, a param formatted into a longer string, depends, retries."""
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "orders.json").write_text(json.dumps(ORDERS))
    pipeline = _plan(
        f"read JSON from file://{tmp_path}/in/orders.json, validate with required fields "
        "Order_ID, normalize, dedupe by order_id and write it to S3"
    )
    write = pipeline.steps[-1]
    assert write.node == "s3_write"
    pipeline.params["out_dir"] = str(tmp_path)
    pipeline.params.pop("output_uri")
    write.config["uri"] = "file://${params.out_dir}/${params.out_name}.json"
    pipeline.params["out_name"] = "deduped"
    pipeline.steps.append(
        Step(
            id="after-write",
            kind="node",
            node="data_normalizer",
            depends=["write_s3"],
            with_={"data_in": "${dedupe}"},
            retries=1,
            config={"drop_nulls": True},
        )
    )
    module = pipeline_python(pipeline)
    assert "format_value(out_dir)" in module and "retries=1" in module
    (tmp_path / "gen.yaml").write_text(dump_pipeline(pipeline))
    (tmp_path / "gen.py").write_text(module)

    _run(run_dagy, str(tmp_path / "gen.yaml"), "out_name=yaml")
    _run(run_dagy, f"{tmp_path / 'gen.py'}:generated_pipeline", "out_name=python")
    from_yaml = json.loads((tmp_path / "yaml.json").read_text())
    assert json.loads((tmp_path / "python.json").read_text()) == from_yaml
    assert [r["order_id"] for r in from_yaml] == [1, 2, 3]


def test_module_names_are_python_identifiers_and_text_params_are_formatted_in() -> None:
    pipeline = Pipeline(
        name="my-flow.v2",
        description='a "quoted"\\ description\nover lines',
        params={"kind": "x", "day": "2026-03-04"},
        steps=[
            Step(
                id="import",
                kind="node",
                node="http_fetch",
                config={"url": "http://h/${params.kind}?d=${params.day}&x=$${y}"},
            ),
            Step(
                id="post-it",
                kind="node",
                node="webhook_post",
                label='say """hi""" \\',
                config={"url": "${params.kind}"},
                with_={"data": "${import}"},
            ),
        ],
    )
    module = pipeline_python(pipeline)
    namespace: dict[str, Any] = {}
    exec(compile(module, "gen.py", "exec"), namespace)  # noqa: S102 - our own output
    flow = namespace["my_flow_v2"]
    assert flow.name == "my-flow.v2"
    assert flow.description == 'a "quoted"\\ description\nover lines'
    spec = flow.build(kind="c")
    fetch = next(t for t in spec.task_runs if t.task_name == "import")
    assert fetch.kwargs["config"]["url"] == "http://h/c?d=2026-03-04&x=${y}"
    assert [t.task_name for t in spec.task_runs] == ["import", "post-it"]


@pytest.mark.parametrize(
    "message", [SPEC, "fetch https://example.com/a.json and post it to a webhook"]
)
def test_generated_module_builds_the_same_graph_as_the_yaml(message: str) -> None:
    from dagy.pipelines.compile import to_flow_spec

    pipeline = _plan(message)
    namespace: dict[str, Any] = {}
    exec(compile(pipeline_python(pipeline), "gen.py", "exec"), namespace)  # noqa: S102
    spec = namespace["generated_pipeline"].build()
    yaml_spec = to_flow_spec(pipeline)
    assert [t.task_name for t in spec.task_runs] == [t.task_name for t in yaml_spec.task_runs]
    for ours, theirs in zip(spec.task_runs, yaml_spec.task_runs, strict=True):
        assert ours.kwargs["config"] == theirs.kwargs["config"]
        assert [u.rsplit("-", 1)[0] for u in ours.upstream] == theirs.upstream


def test_a_pipeline_with_for_each_is_written_as_a_module_that_loads_its_yaml(
    tmp_path: Path, run_dagy: Callable[..., Any]
) -> None:
    pipeline = Pipeline(
        name="fan",
        params={"ids": [1, 2]},
        steps=[
            Step(
                id="each",
                kind="node",
                node="data_normalizer",
                for_each="${params.ids}",
                with_={"data": [{"ID": "${item}"}]},
            ),
        ],
    )
    (tmp_path / "fan.py").write_text(pipeline_python(pipeline))
    out = _run(run_dagy, f"{tmp_path / 'fan.py'}:fan")
    assert "SUCCEEDED" in out


def test_a_parameter_named_like_a_keyword_keeps_the_yaml_form(tmp_path: Path) -> None:
    pipeline = Pipeline(
        name="kw",
        params={"class": "gold"},
        steps=[
            Step(
                id="n",
                kind="node",
                node="data_normalizer",
                with_={"data": [{"C": "${params.class}"}]},
            )
        ],
    )
    module = pipeline_python(pipeline)
    namespace: dict[str, Any] = {}
    exec(compile(module, "kw.py", "exec"), namespace)  # noqa: S102
    assert namespace["kw"].build(**{"class": "x"}).parameters == {"class": "x"}


def test_python_and_command_steps_run_the_same_from_the_module(
    tmp_path: Path, run_dagy: Callable[..., Any]
) -> None:
    (tmp_path / "steps.py").write_text(
        "import json, pathlib\n"
        "def double(rows, out):\n"
        "    rows = [{**r, 'amount': r['amount'] * 2} for r in rows]\n"
        "    pathlib.Path(out).write_text(json.dumps(rows))\n"
        "    return len(rows)\n"
    )
    (tmp_path / "orders.json").write_text(json.dumps(ORDERS))
    pipeline = Pipeline(
        name="mixed",
        params={"out": ""},
        steps=[
            Step(id="read", kind="node", node="s3_ingest",
                 config={"uri": f"file://{tmp_path}/orders.json"}),
            Step(id="double", kind="python", python="steps.py:double",
                 with_={"rows": "${read}", "out": "${params.out}"}),
            Step(id="announce", kind="command", command="echo done ${params.out}",
                 depends=["double"], timeout_seconds=30),
        ],
    )  # fmt: skip
    (tmp_path / "mixed.yaml").write_text(dump_pipeline(pipeline))
    (tmp_path / "mixed.py").write_text(pipeline_python(pipeline))
    _run(run_dagy, str(tmp_path / "mixed.yaml"), f"out={tmp_path / 'a.json'}")
    _run(run_dagy, f"{tmp_path / 'mixed.py'}:mixed", f"out={tmp_path / 'b.json'}")
    written = json.loads((tmp_path / "a.json").read_text())
    assert json.loads((tmp_path / "b.json").read_text()) == written
    assert [r["amount"] for r in written] == [25.0, 6, 25.0, 0]

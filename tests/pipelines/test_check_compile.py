"""check_pipeline's problems (against the real built-in node definitions) and the FlowSpec the
compiler builds: task runs, edges, control flow, parameters and outputs."""

from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path

import pytest

from dagy.errors import ParameterTypeError
from dagy.nodes.model import ConfigField, Connector, NodeDef
from dagy.nodes.registry import lookup as builtin_lookup
from dagy.pipelines.check import check_pipeline
from dagy.pipelines.compile import coerce_params, parameter_schema, to_flow_spec
from dagy.pipelines.problems import PipelineError
from dagy.pipelines.yaml_format import parse_pipeline
from dagy.sdk.params import coerce_with_schema
from dagy.sdk.spec import FlowSpec, TaskDef


def parse(text: str, base_dir: str | None = None):
    return parse_pipeline(textwrap.dedent(text), base_dir=base_dir)


def lines(text: str, lookup=builtin_lookup, base_dir: str | None = None) -> list[str]:
    return [p.line() for p in check_pipeline(parse(text, base_dir), lookup)]


def test_a_good_pipeline_has_no_problems() -> None:
    assert (
        lines(
            """
        name: ok
        params: {day: "2026-03-04", rows: [1]}
        steps:
          - {id: fetch, node: http_fetch, config: {url: "http://h/?d=${params.day}", timeout_seconds: 5}}
          - {id: has, node: condition, config: {field: $count, operator: gt, value: 0}, with: {data: "${fetch}"}}
          - {id: each, python: "m:f", with: {x: "${item.id}"}, for_each: "${fetch}", when: "${has}"}
          - {id: none, command: "echo none ${params.day}", when: "not ${has}"}
          - {id: rows, python: "m:f", for_each: "${params.rows}", with: {r: "${item}"}}
        """
        )
        == []
    )


CHECK_CASES = [
    ("- {id: a, node: nope}", ["steps[0].node: unknown node type 'nope'"]),
    (
        "- {id: a, node: llm_prompt, config: {prompt: hi}}",
        [
            "steps[0].node: node type llm_prompt is not executable here: no LLM provider is configured"
        ],
    ),
    ("- {id: a, node: http_fetch}", ["steps[0].config.url: required field 'url' is missing"]),
    (
        "- {id: a, node: http_fetch, config: {url: 'http://h', headers: [1], max_bytes: 1.5}}",
        [
            "steps[0].config.headers: must be a mapping, got [1]",
            "steps[0].config.max_bytes: must be an integer, got 1.5",
        ],
    ),
    (
        "- {id: a, node: delay, config: {seconds: soon}}",
        ["steps[0].config.seconds: must be a number, got 'soon'"],
    ),
    (
        "- {id: a, node: http_fetch, config: {url: 'http://h', method: FETCH}}",
        ["steps[0].config.method: must be one of GET, POST, PUT, PATCH, DELETE, got 'FETCH'"],
    ),
    ("- {id: a, python: 'm:f', with: {x: '${b}'}}", ["steps[0].with.x: unknown step 'b'"]),
    (
        "- {id: a, python: 'm:f', with: {x: '${a}'}}",
        ["steps[0].with.x: a step cannot use its own result"],
    ),
    (
        "- {id: a, python: 'm:f', with: {x: '${params.p}'}}",
        ["steps[0].with.x: unknown parameter 'p'"],
    ),
    (
        "- {id: a, node: http_fetch, config: {url: 'http://h/${params.p}'}}",
        ["steps[0].config.url: unknown parameter 'p'"],
    ),
    (
        "- {id: a, python: 'm:f'}\n- {id: b, node: http_fetch, config: {url: 'http://h/${a}'}}",
        [
            "steps[1].config.url: ${a} is a step's result and cannot be part of a longer string; "
            "use it as the whole value (or format it in a python step)"
        ],
    ),
    (
        "- {id: a, python: 'm:f'}\n- {id: b, command: 'echo ${a}'}",
        [
            "steps[1].command: ${a} is a step's result and cannot be part of a longer string; "
            "use it as the whole value (or format it in a python step)"
        ],
    ),
    (
        "- {id: a, python: 'm:f', with: {x: '${item}'}}",
        ["steps[0].with.x: ${item} is only known in a step with for_each"],
    ),
    (
        "- {id: a, python: 'm:f', with: {x: '${fetch.rows}'}}",
        [
            "steps[0].with.x: invalid reference '${fetch.rows}': a step's result is referenced whole, "
            "as ${fetch} (pick a field out of it in a python step)"
        ],
    ),
    ("- {id: a, python: 'm:f', depends: [zz]}", ["steps[0].depends[0]: unknown step 'zz'"]),
    (
        "- {id: a, python: 'm:f', depends: [a]}",
        ["steps[0].depends[0]: a step cannot depend on itself"],
    ),
    ("- {id: a, python: 'm:f', when: '${zz}'}", ["steps[0].when: unknown step 'zz'"]),
    (
        "- {id: a, python: 'm:f'}\n- {id: b, python: 'm:f', when: '${a}'}",
        ["steps[1].when: 'a' is a python step, not a condition step"],
    ),
    (
        "- {id: a, node: delay, config: {seconds: 1}}\n- {id: b, python: 'm:f', when: 'not ${a}'}",
        ["steps[1].when: 'a' is a delay, not a condition step"],
    ),
    (
        "- {id: a, python: 'm:f', for_each: '${params.one}'}",
        ["steps[0].for_each: parameter 'one' is not a list"],
    ),
    ("- {id: a, python: 'm:f', for_each: '${b}'}", ["steps[0].for_each: unknown step 'b'"]),
    (
        "- {id: a, python: 'm:f', depends: [c]}\n- {id: b, python: 'm:f', with: {x: '${a}'}}\n"
        "- {id: c, python: 'm:f', with: {x: '${b}'}}",
        ["steps[0]: steps form a cycle: a -> b -> c -> a"],
    ),
    ("- {id: a, python: 'missing.py:f'}", ["steps[0].python: file not found: missing.py"]),
]


@pytest.mark.parametrize(("steps", "expected"), CHECK_CASES)
def test_check_finds(steps: str, expected: list[str], tmp_path: Path) -> None:
    text = f"name: x\nparams: {{one: 1}}\nsteps:\n{steps}\n"
    assert lines(text, base_dir=str(tmp_path)) == expected


def test_problems_name_the_step_and_field() -> None:
    [problem] = check_pipeline(
        parse("name: x\nsteps:\n- {id: get, node: http_fetch}\n"), builtin_lookup
    )
    assert problem.to_api() == {
        "path": "steps[0].config.url",
        "message": "required field 'url' is missing",
        "node": "get",
        "field": "url",
    }


def test_a_custom_node_with_an_import_path_needs_no_registry_entry() -> None:
    text = "name: x\nsteps:\n- {id: a, node: my_node, import_path: 'pkg.mod:Thing'}\n"
    assert lines(text) == []


CUSTOM = NodeDef(
    node_type="org_scorer",
    label="Scorer",
    description="",
    category="custom",
    icon="",
    color="",
    connectors=(Connector("data_in", "in", "inbound", ("any",)),),
    config_schema=(ConfigField("threshold", "Threshold", "number", required=True),),
    official=False,
    import_path="acme.nodes:score",
)


def org_lookup(node_type: str) -> NodeDef | None:
    return CUSTOM if node_type == "org_scorer" else builtin_lookup(node_type)


def test_a_custom_node_of_the_org_is_checked_and_compiled_to_custom_node() -> None:
    p = parse("name: x\nsteps:\n- {id: s, node: org_scorer, config: {threshold: 0.5}}\n")
    assert lines("name: x\nsteps:\n- {id: s, node: org_scorer}\n", org_lookup) == [
        "steps[0].config.threshold: required field 'threshold' is missing"
    ]
    spec = to_flow_spec(p, {}, lookup=org_lookup)
    assert spec.tasks["s"].module == "dagy.nodes.run.code"
    assert spec.tasks["s"].qualname == "custom_node"
    assert spec.task_runs[0].kwargs == {
        "config": {"import_path": "acme.nodes:score", "threshold": 0.5},
        "inputs": {},
    }


ETL = """
name: orders_etl
version: 1.0.0
params: {day: 2026-03-04, limit: 100, ratio: 0.5, dry: false, ids: [1, 2], anything: null}
steps:
  - id: fetch
    node: http_fetch
    config: {url: "http://127.0.0.1:8080/orders?day=${params.day}"}
  - id: clean
    python: orders.py:clean
    with: {rows: "${fetch}", limit: "${params.limit}"}
    retries: 2
    retry_delay_seconds: 0.5
    timeout_seconds: 30
    executor: process
  - id: dedupe
    node: deduplicator
    config: {keys: [order_id]}
    with: {data: "${clean}"}
  - id: check
    node: condition
    config: {field: $count, operator: gt, value: 0}
    with: {data: "${dedupe}"}
  - id: each
    python: "orders:one"
    with: {order: "${item}", id: "${item.order_id}"}
    for_each: "${dedupe}"
    when: "${check}"
  - id: announce
    command: echo "done ${params.day}"
    depends: [dedupe]
    when: not ${check}
"""


def test_the_flow_spec_of_a_pipeline() -> None:
    spec = to_flow_spec(
        parse(ETL), {"limit": "7"}, lookup=builtin_lookup, entrypoint="/p.yaml:orders_etl"
    )
    assert (spec.flow_name, spec.flow_version, spec.entrypoint) == (
        "orders_etl", "1.0.0", "/p.yaml:orders_etl",
    )  # fmt: skip
    assert spec.tasks["fetch"] == TaskDef(
        name="fetch", module="dagy.nodes.run.io", qualname="http_fetch"
    )
    assert spec.tasks["clean"] == TaskDef(
        name="clean",
        module="dagy.nodes.run.code",
        qualname="python_function",
        retries=2,
        retry_delay_seconds=0.5,
        timeout_seconds=30.0,
        executor="process",
    )
    assert (spec.tasks["announce"].module, spec.tasks["announce"].qualname) == (
        "dagy.nodes.run.code", "shell_command",
    )  # fmt: skip
    runs = {tr.task_run_id: tr for tr in spec.task_runs}
    assert [tr.task_run_id for tr in spec.task_runs] == [
        "fetch", "clean", "dedupe", "check", "each", "announce",
    ]  # fmt: skip
    assert all(tr.task_name == tr.task_run_id for tr in spec.task_runs)
    assert runs["fetch"].kwargs == {
        "config": {"url": "http://127.0.0.1:8080/orders?day=2026-03-04"},
        "inputs": {},
    }
    assert runs["clean"].kwargs == {
        "config": {"function": "orders.py:clean"},
        "inputs": {"rows": {"$ref": "fetch"}, "limit": 7},
    }
    assert runs["clean"].upstream == ["fetch"]
    assert runs["each"].kwargs["inputs"] == {"order": {"$item": []}, "id": {"$item": ["order_id"]}}
    assert runs["each"].for_each == {"$ref": "dedupe"}
    assert runs["each"].when == {"ref": "check", "branch": True}
    assert runs["each"].upstream == ["dedupe", "check"]
    assert runs["announce"].kwargs == {
        "config": {"command": 'echo "done 2026-03-04"'},
        "inputs": {},
    }
    assert runs["announce"].when == {"ref": "check", "branch": False}
    assert runs["announce"].upstream == ["dedupe", "check"]
    assert spec.edges == [
        ["fetch", "clean"], ["clean", "dedupe"], ["dedupe", "check"],
        ["dedupe", "each"], ["check", "each"], ["dedupe", "announce"], ["check", "announce"],
    ]  # fmt: skip
    assert spec.outputs == {"each": {"$ref": "each"}, "announce": {"$ref": "announce"}}
    assert spec.parameters == {
        "day": {"$date": "2026-03-04"}, "limit": 7, "ratio": 0.5, "dry": False, "ids": [1, 2],
        "anything": None,
    }  # fmt: skip
    # the spec survives JSON, as stored with a run
    assert FlowSpec.from_json(spec.to_json()) == spec


def test_parameters_are_typed_by_their_defaults() -> None:
    p = parse(ETL)
    schema = parameter_schema(p)
    assert {k: v["type"] for k, v in schema.items()} == {
        "day": "date", "limit": "int", "ratio": "float", "dry": "bool", "ids": "list",
        "anything": "any",
    }  # fmt: skip
    assert schema["day"] == {
        "type": "date", "annotation": "date", "required": False, "default": {"$date": "2026-03-04"},
    }  # fmt: skip
    values = coerce_params(
        p,
        {
            "day": "2026-03-05",
            "limit": "3",
            "ratio": "2",
            "dry": "yes",
            "ids": "[3]",
            "anything": "x",
        },
    )
    assert values == {
        "day": dt.date(2026, 3, 5), "limit": 3, "ratio": 2.0, "dry": True, "ids": [3], "anything": "x",
    }  # fmt: skip
    # the API coerces a run's parameters with the stored schema alone: the same values
    assert coerce_with_schema(schema, p.name, {"limit": "3"})["limit"] == 3


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"limit": "many"}, "Parameter 'limit' expects int, got 'many'"),
        ({"day": "soon"}, "Parameter 'day' expects date, got 'soon'"),
        ({"ids": "{}"}, "Parameter 'ids' expects list, got '{}'"),
        (
            {"nope": 1},
            "Unknown parameter 'nope' for flow 'orders_etl' "
            "(parameters: day, limit, ratio, dry, ids, anything)",
        ),
    ],
)
def test_bad_parameters_are_refused_like_a_flows(params: dict, message: str) -> None:
    with pytest.raises(ParameterTypeError) as err:
        to_flow_spec(parse(ETL), params, lookup=builtin_lookup)
    assert str(err.value) == message


def test_for_each_over_a_parameter_is_its_value_and_must_be_a_list() -> None:
    p = parse(
        "name: x\nparams: {ids: [1, 2]}\nsteps:\n"
        "- {id: a, python: 'm:f', with: {i: '${item}'}, for_each: '${params.ids}'}\n"
    )
    assert to_flow_spec(p, {"ids": "[5]"}, lookup=builtin_lookup).task_runs[0].for_each == [5]
    q = parse(
        "name: x\nparams: {ids: null}\nsteps:\n"
        "- {id: a, python: 'm:f', for_each: '${params.ids}'}\n"
    )
    with pytest.raises(PipelineError) as err:
        to_flow_spec(q, {"ids": "3"}, lookup=builtin_lookup)
    assert [p.line() for p in err.value.problems] == ["steps[0].for_each: must be a list, got '3'"]


def test_a_pipeline_with_problems_does_not_compile() -> None:
    with pytest.raises(PipelineError) as err:
        to_flow_spec(parse("name: x\nsteps:\n- {id: a, node: nope}\n- {id: b, node: http_fetch}\n"),
                     lookup=builtin_lookup)  # fmt: skip
    assert [p.line() for p in err.value.problems] == [
        "steps[0].node: unknown node type 'nope'",
        "steps[1].config.url: required field 'url' is missing",
    ]
    assert err.value.status == 400

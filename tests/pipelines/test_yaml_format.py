"""The YAML format: what parses, every problem of shape named by its path, and dumps that read back."""

from __future__ import annotations

import datetime as dt
import textwrap

import pytest

from dagy.pipelines.model import Pipeline, Step
from dagy.pipelines.problems import PipelineError
from dagy.pipelines.yaml_format import dump_pipeline, parse_pipeline

ISSUE_EXAMPLE = """
name: orders_etl
version: 1.0.0
params: {day: "2026-03-04", limit: 100}
steps:
  - id: fetch
    node: http_fetch
    config: {url: "http://127.0.0.1:8080/orders?day=${params.day}"}
  - id: clean
    python: pipelines/orders.py:clean          # or module:function
    with: {rows: "${fetch}", limit: "${params.limit}"}
    retries: 2
    timeout_seconds: 30
  - id: dedupe
    node: deduplicator
    config: {keys: [order_id]}
    with: {data: "${clean}"}
  - id: announce
    command: echo "done ${params.day}"         # a shell step, its output in task.log
    depends: [dedupe]
"""


def problems_of(text: str) -> list[str]:
    with pytest.raises(PipelineError) as err:
        parse_pipeline(textwrap.dedent(text))
    return [p.line() for p in err.value.problems]


def test_the_issue_example_parses_into_steps() -> None:
    p = parse_pipeline(ISSUE_EXAMPLE, source="/x/p.yaml", base_dir="/x")
    assert (p.name, p.version, p.params, p.base_dir, p.source) == (
        "orders_etl", "1.0.0", {"day": "2026-03-04", "limit": 100}, "/x", "/x/p.yaml",
    )  # fmt: skip
    assert p.steps == [
        Step(
            id="fetch",
            kind="node",
            node="http_fetch",
            config={"url": "http://127.0.0.1:8080/orders?day=${params.day}"},
        ),
        Step(
            id="clean",
            kind="python",
            python="pipelines/orders.py:clean",
            with_={"rows": "${fetch}", "limit": "${params.limit}"},
            retries=2,
            timeout_seconds=30.0,
        ),
        Step(
            id="dedupe",
            kind="node",
            node="deduplicator",
            config={"keys": ["order_id"]},
            with_={"data": "${clean}"},
        ),
        Step(
            id="announce",
            kind="command",
            command='echo "done ${params.day}"',
            depends=["dedupe"],
        ),
    ]


FULL = """
name: full
version: "2.1"
description: every key
params:
  day: 2026-03-04
  items: [1, 2]
  opts: {a: 1}
  flag: true
steps:
  - id: check
    label: Enough rows?
    node: condition
    config: {field: $count, operator: ">", value: 0}
    with: {data: "${params.items}"}
    ui: {position: [10, 20]}
  - id: each
    node: my_node
    import_path: pkg.mod:Thing
    with: {value: "${item.id}"}
    for_each: ${params.items}
    when: ${check}
    retries: 3
    retry_delay_seconds: 1.5
    timeout_seconds: 10
    executor: process
  - id: other
    command: |
      echo one
      echo two
    when: not ${check}
    depends: check
"""


def test_every_key_parses_and_dumps_back_equal() -> None:
    p = parse_pipeline(FULL, base_dir="/b")
    assert p.description == "every key"
    assert p.params["day"] == dt.date(2026, 3, 4)
    each = p.steps[1]
    assert each.when == {"step": "check", "branch": True}
    assert p.steps[2].when == {"step": "check", "branch": False}
    assert p.steps[2].depends == ["check"]
    assert (each.for_each, each.import_path, each.executor) == (
        "${params.items}", "pkg.mod:Thing", "process",
    )  # fmt: skip
    assert (each.retries, each.retry_delay_seconds, each.timeout_seconds) == (3, 1.5, 10.0)
    assert p.steps[0].label == "Enough rows?" and p.steps[0].ui == {"position": [10, 20]}
    text = dump_pipeline(p)
    assert parse_pipeline(text, base_dir="/b") == p
    assert dump_pipeline(parse_pipeline(text, base_dir="/b")) == text  # stable


def test_the_dump_is_readable_yaml() -> None:
    text = dump_pipeline(parse_pipeline(FULL))
    assert text.startswith("name: full\nversion: '2.1'\ndescription: every key\nparams:\n")
    assert "  - id: other\n    command: |\n      echo one\n      echo two\n" in text
    assert "    when: not ${check}\n" in text and "    when: ${check}\n" in text
    assert "    timeout_seconds: 10\n" in text  # whole seconds without ".0"


def test_a_pipeline_built_in_code_dumps_and_parses_back() -> None:
    p = Pipeline(
        name="made",
        params={"n": 2},
        steps=[
            Step(id="a", kind="python", python="m:f", with_={"n": "${params.n}"}),
            Step(
                id="b", kind="node", node="delay", config={"seconds": 0.5}, with_={"data": "${a}"}
            ),
        ],
    )
    assert parse_pipeline(dump_pipeline(p)) == p


@pytest.mark.parametrize(
    ("text", "lines"),
    [
        ("", ["a pipeline is a mapping with name and steps, got empty"]),
        ("[1, 2]", ["a pipeline is a mapping with name and steps, got a list"]),
        (
            "name: x\nsteps: [{id: a, python: 'm:f'}]\nstep: 1\n",
            ["step: unknown key 'step' (allowed: name, version, description, params, steps)"],
        ),
        ("steps: [{id: a, python: 'm:f'}]", ["name: required"]),
        (
            "name: 'a b'\nsteps: [{id: a, python: 'm:f'}]",
            ["name: must be a name of letters, digits, '_', '-', '.' (at most 128), got 'a b'"],
        ),
        ("name: x", ["steps: required"]),
        (
            "name: validate\nsteps: [{id: a, python: 'm:f'}]",
            ["name: 'validate' is reserved by the API"],
        ),
        (
            "name: x\nversion: latest\nsteps: [{id: a, python: 'm:f'}]",
            ["version: 'latest' cannot be a version (reserved, or a '/' or ':')"],
        ),
        ("name: x\nsteps: {}", ["steps: must be a list of steps, got a mapping"]),
        ("name: x\nsteps: []", ["steps: a pipeline needs at least one step"]),
        (
            "name: x\nversion: [1]\nsteps: [{id: a, python: 'm:f'}]",
            ["version: must be a string, got a list"],
        ),
        (
            "name: x\nparams: [a]\nsteps: [{id: a, python: 'm:f'}]",
            ["params: must be a mapping of name: default, got a list"],
        ),
        (
            "name: x\nparams: {1a: 2}\nsteps: [{id: a, python: 'm:f'}]",
            ["params.1a: a parameter name is letters, digits and '_', not starting with a digit"],
        ),
    ],
)
def test_problems_of_the_document(text: str, lines: list[str]) -> None:
    assert problems_of(text) == lines


STEP_CASES = [
    ("- 3", "steps[0]: a step is a mapping with id and one of node/python/command, got a number"),
    ("- {python: 'm:f'}", "steps[0].id: required"),
    (
        "- {id: 1a, python: 'm:f'}",
        "steps[0].id: a step id is letters, digits, '_' and '-' (at most 64, not starting with a "
        "digit or '-'), got '1a'",
    ),
    (
        "- {id: ../etc, python: 'm:f'}",
        "steps[0].id: a step id is letters, digits, '_' and '-' (at most 64, not starting with a "
        "digit or '-'), got '../etc'",
    ),
    (
        "- {id: params, python: 'm:f'}",
        "steps[0].id: 'params' is reserved (${params...} means something else)",
    ),
    ("- {id: a}", "steps[0]: a step has exactly one of node, python, command (found: none)"),
    (
        "- {id: a, node: x, command: y}",
        "steps[0]: a step has exactly one of node, python, command (found: node, command)",
    ),
    ("- {id: a, node: ''}", "steps[0].node: must be a non-empty string, got a string"),
    ("- {id: a, command: [ls]}", "steps[0].command: must be a non-empty string, got a list"),
    (
        "- {id: a, python: nocolon}",
        "steps[0].python: must be 'module:function' or 'path.py:function', got 'nocolon'",
    ),
    (
        "- {id: a, python: 'm:f', imports: 1}",
        "steps[0].imports: unknown key 'imports' (allowed: id, label, node, python, command, "
        "import_path, config, with, depends, when, for_each, retries, retry_delay_seconds, "
        "timeout_seconds, executor, ui)",
    ),
    (
        "- {id: a, python: 'm:f', import_path: 'p:q'}",
        "steps[0].import_path: only a node step has an import_path",
    ),
    (
        "- {id: a, node: x, import_path: 'nope'}",
        "steps[0].import_path: must be 'package.module:attr', got 'nope'",
    ),
    ("- {id: a, node: x, config: [1]}", "steps[0].config: must be a mapping, got a list"),
    ("- {id: a, node: x, with: 3}", "steps[0].with: must be a mapping, got a number"),
    ("- {id: a, node: x, with: {1: 2}}", "steps[0].with: keys must be strings, got 1"),
    ("- {id: a, node: x, ui: yes}", "steps[0].ui: must be a mapping, got a boolean"),
    (
        "- {id: a, node: x, depends: 3}",
        "steps[0].depends: must be a list of step ids, got a number",
    ),
    ("- {id: a, node: x, depends: [b, 2]}", "steps[0].depends[1]: must be a step id, got 2"),
    ("- {id: a, node: x, depends: [b, b]}", "steps[0].depends[1]: 'b' is listed twice"),
    (
        "- {id: a, node: x, when: 'maybe ${b}'}",
        "steps[0].when: must be '${<condition step>}' or 'not ${<condition step>}', got 'maybe ${b}'",
    ),
    (
        "- {id: a, node: x, when: '${params.p}'}",
        "steps[0].when: must be '${<condition step>}' or 'not ${<condition step>}', got '${params.p}'",
    ),
    (
        "- {id: a, node: x, for_each: 3}",
        "steps[0].for_each: must be a list, '${<step>}' or '${params.<name>}', got 3",
    ),
    (
        "- {id: a, node: x, for_each: '${item}'}",
        "steps[0].for_each: must be a list, '${<step>}' or '${params.<name>}', got '${item}'",
    ),
    ("- {id: a, node: x, retries: -1}", "steps[0].retries: must be a non-negative integer, got -1"),
    (
        "- {id: a, node: x, retries: true}",
        "steps[0].retries: must be a non-negative integer, got True",
    ),
    (
        "- {id: a, node: x, retry_delay_seconds: -2}",
        "steps[0].retry_delay_seconds: must be a non-negative number, got -2",
    ),
    (
        "- {id: a, node: x, timeout_seconds: 0}",
        "steps[0].timeout_seconds: must be a positive number, got 0",
    ),
    (
        "- {id: a, node: x, timeout_seconds: .nan}",
        "steps[0].timeout_seconds: must be a positive number, got nan",
    ),
    ("- {id: a, node: x, executor: ''}", "steps[0].executor: must be a non-empty string, got ''"),
    ("- {id: a, node: x, label: [1]}", "steps[0].label: must be a string, got a list"),
]


@pytest.mark.parametrize(("step", "line"), STEP_CASES)
def test_problems_of_a_step(step: str, line: str) -> None:
    assert problems_of(f"name: x\nsteps:\n{step}\n") == [line]


def test_every_problem_is_reported_with_the_step_it_belongs_to() -> None:
    text = """
    name: x
    steps:
      - {id: a, python: 'm:f', retries: -1, extra: 1}
      - {id: a, python: 'm:f'}
      - {id: b, node: n, command: c}
    """
    with pytest.raises(PipelineError) as err:
        parse_pipeline(textwrap.dedent(text))
    problems = err.value.problems
    assert [p.line() for p in problems] == [
        "steps[0].extra: unknown key 'extra' (allowed: id, label, node, python, command, "
        "import_path, config, with, depends, when, for_each, retries, retry_delay_seconds, "
        "timeout_seconds, executor, ui)",
        "steps[0].retries: must be a non-negative integer, got -1",
        "steps[1].id: duplicate step id 'a' (also steps[0])",
        "steps[2]: a step has exactly one of node, python, command (found: node, command)",
    ]
    assert [(p.node, p.field) for p in problems] == [
        ("a", "extra"), ("a", "retries"), ("a", "id"), ("b", None),
    ]  # fmt: skip
    assert str(err.value) == (
        "Pipeline is invalid: steps[0].extra: unknown key 'extra' (allowed: id, label, node, "
        "python, command, import_path, config, with, depends, when, for_each, retries, "
        "retry_delay_seconds, timeout_seconds, executor, ui) (and 3 more)"
    )


def test_yaml_syntax_errors_name_their_line() -> None:
    [line] = problems_of("name: x\nsteps:\n  - id: a\n    python: [m:f\n")
    # the parser's own words (libyaml's or PyYAML's), where it stopped
    assert line.startswith("line 5: YAML syntax error: ") and "',' or ']'" in line
    assert line.endswith(" (column 1)")
    [line] = problems_of("name: x\nsteps:\n  - id: a\n    python: m:f\n  bad: x: 1\n")
    assert line.startswith("line 5: YAML syntax error: ") and line.endswith(" (column 3)")


def test_duplicate_keys_are_problems_not_silently_the_last() -> None:
    text = "name: x\nname: y\nsteps:\n  - id: a\n    python: m:f\n    python: m:g\n"
    assert problems_of(text) == ["line 2: duplicate key 'name'", "line 6: duplicate key 'python'"]

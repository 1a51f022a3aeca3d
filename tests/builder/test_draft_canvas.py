"""dagy/pipelines/canvas.py: a draft's canvas checked for shape, turned into a pipeline by the
edge rules of docs/builder.md, and back (draft -> YAML -> draft keeps nodes, edges, config and
positions)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from dagy.nodes import registry
from dagy.pipelines import canvas, check, yaml_format

CANVAS: dict[str, Any] = {
    "nodes": [
        {"id": "fetch", "type": "http_fetch", "position": [0, 0], "data": {"url": "http://h/x"}},
        {"id": "check", "type": "condition", "position": [200, 0], "data": {"operator": "exists"}},
        {"id": "each", "type": "map", "position": [400, 0], "data": {}},
        {
            "id": "dedupe",
            "type": "deduplicator",
            "position": [600, 10.5],
            "data": {"keys": ["id"]},
            "label": "Dedupe",
            "settings": {"retries": 2, "timeout_seconds": 30},
        },
        {"id": "wait", "type": "delay", "position": [800, 0], "data": {"seconds": 0}},
        {"id": "ingest", "type": "s3_ingest", "position": [800, 200], "data": {"uri": "s3://b/k"}},
        {"id": "tell", "type": "webhook_post", "position": [900, 0], "data": {"url": "http://h/"}},
    ],
    "edges": [
        {"id": "e1", "source": "fetch", "target": "check"},
        {"id": "e2", "source": "check", "target": "each", "sourceHandle": "true_out"},
        {"id": "e3", "source": "each", "target": "wait", "source_handle": "item_out"},
        {"id": "e4", "source": "fetch", "target": "dedupe", "animated": True},
        {"id": "e5", "source": "dedupe", "target": "ingest"},
        {"id": "e6", "source": "dedupe", "target": "tell", "targetHandle": "data_in"},
        {"id": "e7", "source": "wait", "target": "tell", "target_handle": "data_in"},
    ],
}


def lines(problems: list[Any]) -> list[str]:
    return [p.line() for p in problems]


# -- shape ------------------------------------------------------------------------------------------


def test_a_well_formed_canvas_has_no_shape_problems():
    assert canvas.check_shape(CANVAS) == []
    assert canvas.check_shape({"nodes": []}) == []  # edges may be left out


@pytest.mark.parametrize(
    ("bad", "expected"),
    [
        ([], "canvas_json must be an object with nodes and edges"),
        ({"edges": []}, "nodes: required: a list of nodes"),
        ({"nodes": {}, "edges": []}, "nodes: required: a list of nodes"),
        ({"nodes": [], "edges": {}}, "edges: must be a list of edges"),
        ({"nodes": ["x"]}, "nodes[0]: must be an object with id and type"),
        ({"nodes": [{"type": "delay"}]}, "nodes[0].id: required: a string"),
        ({"nodes": [{"id": "a"}]}, "nodes.a.type: required: a node type"),
        ({"nodes": [{"id": "a.b", "type": "delay"}]}, "nodes[0].id: 'a.b' is not a valid node id"),
        (
            {"nodes": [{"id": "item", "type": "delay"}]},
            "nodes[0].id: 'item' is not a valid node id",
        ),
        (
            {"nodes": [{"id": "a", "type": "delay"}, {"id": "a", "type": "delay"}]},
            "nodes[1].id: duplicate node id 'a'",
        ),
        (
            {"nodes": [{"id": "a", "type": "delay", "position": [1]}]},
            "nodes.a.position: must be [x, y] numbers",
        ),
        ({"nodes": [{"id": "a", "type": "delay", "data": []}]}, "nodes.a.data: must be an object"),
        (
            {"nodes": [{"id": "a", "type": "delay", "settings": {"retries": -1}}]},
            "nodes.a.settings.retries: must be a whole number >= 0",
        ),
        (
            {"nodes": [{"id": "a", "type": "delay", "settings": {"retry": 1}}]},
            "nodes.a.settings.retry: unknown setting",
        ),
        (
            {"nodes": [{"id": "a", "type": "delay"}], "edges": [{"source": "a", "target": "a"}]},
            "edges[0].id: required: a string",
        ),
        (
            {
                "nodes": [{"id": "a", "type": "delay"}],
                "edges": [{"id": "edge_3", "source": "a", "target": "x"}],
            },
            'edges.edge_3.target: node "x" does not exist',
        ),
        (
            {
                "nodes": [{"id": "a", "type": "delay"}],
                "edges": [{"id": "e", "source": "a", "target": "a"}] * 2,
            },
            "edges[1].id: duplicate edge id 'e'",
        ),
        (
            {
                "nodes": [{"id": "a", "type": "delay"}],
                "edges": [{"id": "e", "source": "a", "target": "a", "sourceHandle": 3}],
            },
            "edges.e.sourceHandle: must be a connector id",
        ),
    ],
)
def test_each_shape_problem_names_its_node_or_edge(bad: Any, expected: str):
    found = lines(canvas.check_shape(bad))
    assert any(line.startswith(expected) for line in found), found


# -- canvas -> pipeline -----------------------------------------------------------------------------


def test_edges_become_with_when_for_each_and_depends():
    pipeline, problems = canvas.to_pipeline("demo", CANVAS, registry.lookup, version="2.0.0")
    assert problems == []
    assert check.check_pipeline(pipeline, registry.lookup) == []
    steps = {s.id: s for s in pipeline.steps}
    assert [s.id for s in pipeline.steps] == [n["id"] for n in CANVAS["nodes"]]
    assert (pipeline.name, pipeline.version) == ("demo", "2.0.0")
    assert steps["check"].with_ == {"data_in": "${fetch}"}
    assert steps["each"].when == {"step": "check", "branch": True}
    assert steps["each"].with_ == {"data_in": "${check}"}
    assert steps["wait"].for_each == "${each}"
    assert steps["wait"].with_ == {"data_in": "${item}"}
    assert steps["ingest"].depends == ["dedupe"] and steps["ingest"].with_ == {}
    assert steps["tell"].with_ == {"data_in": ["${dedupe}", "${wait}"]}
    assert steps["dedupe"].node == "deduplicator" and steps["dedupe"].config == {"keys": ["id"]}
    assert (steps["dedupe"].retries, steps["dedupe"].timeout_seconds) == (2, 30)
    assert steps["dedupe"].label == "Dedupe"
    assert steps["dedupe"].ui["position"] == [600, 10.5]


def test_a_false_branch_is_when_not():
    drawn = copy.deepcopy(CANVAS)
    drawn["edges"][1]["sourceHandle"] = "false_out"
    pipeline, problems = canvas.to_pipeline("demo", drawn, registry.lookup)
    assert problems == []
    assert pipeline.step("each").when == {"step": "check", "branch": False}  # type: ignore[union-attr]
    assert "when: not ${check}" in yaml_format.dump_pipeline(pipeline)


def test_invalid_connections_and_unconnected_required_inputs_are_problems():
    drawn = {
        "nodes": [
            {"id": "a", "type": "http_fetch", "data": {"url": "http://h/"}},
            {"id": "b", "type": "deduplicator"},
            {"id": "c", "type": "deduplicator"},
            {"id": "d", "type": "schema_validator", "data": {"schema": {}}},
        ],
        "edges": [
            {"id": "e1", "source": "a", "target": "b"},
            {"id": "e2", "source": "a", "target": "b"},  # data_in takes one
            {"id": "e3", "source": "b", "target": "a", "target_handle": "nope"},
        ],
    }
    _, problems = canvas.to_pipeline("demo", drawn, registry.lookup)
    found = lines(problems)
    assert any(
        line.startswith("edges.e2: invalid connection a.data_out -> b.data_in: cardinality")
        for line in found
    ), found
    assert any(
        line.startswith("edges.e3: invalid connection b.data_out -> a.nope: connector")
        for line in found
    ), found
    assert "nodes.c.data_in: required input 'data_in' has no edge" in found
    assert "nodes.d.data_in: required input 'data_in' has no edge" in found
    assert all(p.node for p in problems)


def test_unknown_node_types_are_left_to_the_checker():
    drawn = {
        "nodes": [{"id": "node_1", "type": "s3_read"}, {"id": "node_2", "type": "transform"}],
        "edges": [{"id": "edge_1", "source": "node_1", "target": "node_2"}],
    }
    pipeline, problems = canvas.to_pipeline("demo", drawn, registry.lookup)
    assert problems == []
    found = check.check_pipeline(pipeline, registry.lookup)
    assert {p.node for p in found if "s3_read" in p.message or "transform" in p.message} == {
        "node_1",
        "node_2",
    }


# -- round trip -------------------------------------------------------------------------------------


def by_id(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {i["id"]: i for i in items}


def test_draft_to_yaml_to_draft_keeps_nodes_edges_config_and_positions():
    pipeline, _ = canvas.to_pipeline("demo", CANVAS, registry.lookup)
    text = yaml_format.dump_pipeline(pipeline)
    back = canvas.from_pipeline(yaml_format.parse_pipeline(text))
    assert back["nodes"] == CANVAS["nodes"]
    assert by_id(back["edges"]) == by_id(CANVAS["edges"])
    # and again: the second trip changes nothing
    again, _ = canvas.to_pipeline("demo", back, registry.lookup)
    assert yaml_format.dump_pipeline(again) == text


def test_a_hand_written_pipeline_gets_a_canvas_laid_out_by_depth():
    text = """
name: orders
params: {day: "2026-03-04"}
steps:
  - id: fetch
    node: http_fetch
    config: {url: "http://h/orders?day=${params.day}"}
  - id: clean
    python: tools:clean
    with: {rows: "${fetch}"}
  - id: announce
    command: echo done
    depends: [clean]
"""
    drawn = canvas.from_pipeline(yaml_format.parse_pipeline(text))
    assert drawn["params"] == {"day": "2026-03-04"}
    nodes = by_id(drawn["nodes"])
    assert nodes["clean"]["type"] == "python_function"
    assert nodes["clean"]["data"] == {"function": "tools:clean"}
    assert nodes["announce"] == {
        "id": "announce",
        "type": "shell_command",
        "position": [500.0, 0.0],
        "data": {"command": "echo done"},
    }
    assert [nodes[n]["position"][0] for n in ("fetch", "clean", "announce")] == [0.0, 250.0, 500.0]
    assert drawn["edges"] == [
        {
            "id": "fetch-clean",
            "source": "fetch",
            "target": "clean",
            "source_handle": "data_out",
            "target_handle": "rows",
        },
        {
            "id": "clean-announce",
            "source": "clean",
            "target": "announce",
            "source_handle": "data_out",
            "target_handle": "trigger_in",
        },
    ]
    assert canvas.check_shape(drawn) == []

"""The DAG's layers: each task run at its longest path from a root."""

from __future__ import annotations

from dagy.tui.dag_tree import layers, with_map_children


def test_a_diamond_puts_the_join_below_both_branches() -> None:
    edges = [["a", "b"], ["a", "c"], ["b", "d"], ["c", "d"], ["a", "d"]]
    assert layers(["a", "b", "c", "d"], edges) == [["a"], ["b", "c"], ["d"]]


def test_a_fan_in_of_500_is_three_layers() -> None:
    ids = ["source"] + [f"noop-{i}" for i in range(500)] + ["total"]
    edges = [["source", f"noop-{i}"] for i in range(500)]
    edges += [[f"noop-{i}", "total"] for i in range(500)]
    assert [len(layer) for layer in layers(ids, edges)] == [1, 500, 1]


def test_no_edges_is_one_layer_and_no_tasks_none() -> None:
    assert layers(["x", "y"], []) == [["x", "y"]]
    assert layers([], []) == []


def test_a_maps_children_are_drawn_under_their_map() -> None:
    ids = ["src", "each", "after", "each.0", "each.1", "v1.2"]
    edges = with_map_children(ids, [["src", "each"], ["each", "after"]])
    assert ("each", "each.0") in edges and ("each", "each.1") in edges
    assert layers(ids, edges) == [["src", "v1.2"], ["each"], ["after", "each.0", "each.1"]]

"""A run's DAG as layers: each task run under the depth it runs at, with its state and upstream."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.text import Text
from textual.widgets import Tree

from dagy.backend.records import TaskRun
from dagy.tui import _format

MAX_NODES_PER_LAYER = 200


def layers(task_ids: list[str], edges: Sequence[Sequence[str]]) -> list[list[str]]:
    """Task runs grouped by their longest path from a root (a fan-in of 500 stays one layer)."""
    upstream: dict[str, list[str]] = {t: [] for t in task_ids}
    for up, down in edges:
        upstream.setdefault(down, []).append(up)
    depth: dict[str, int] = {}
    for task in task_ids:  # the FlowSpec lists task runs after their upstream ones
        depth[task] = 1 + max((depth.get(u, 0) for u in upstream.get(task, [])), default=-1)
    out: list[list[str]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
    for task in task_ids:
        out[depth[task]].append(task)
    return out


def with_map_children(task_ids: list[str], edges: Sequence[Sequence[str]]) -> list[Sequence[str]]:
    """The edges plus one from each map to its children (``<map>.<i>``, created while the run
    runs, so not in the FlowSpec's edges): children are drawn under their map."""
    known = set(task_ids)
    has_upstream = {down for _, down in edges}
    extra = []
    for task in task_ids:
        parent, dot, index = task.rpartition(".")
        if dot and index.isdigit() and parent in known and task not in has_upstream:
            extra.append((parent, task))
    return [*edges, *extra]


class DagTree(Tree[str]):
    """The DAG of one run; ``show(task_runs, edges)`` redraws it with the current states."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("DAG", **kwargs)
        self.show_root = False

    def show(self, task_runs: list[TaskRun], edges: Sequence[Sequence[str]] | None) -> None:
        self.clear()
        status = {t.task_run_id: t.status for t in task_runs}
        ids = [t.task_run_id for t in task_runs]
        edges = with_map_children(ids, edges or [])
        upstream: dict[str, list[str]] = {}
        for up, down in edges:
            upstream.setdefault(down, []).append(up)
        for number, layer in enumerate(layers(ids, edges), start=1):
            noun = "task run" if len(layer) == 1 else "task runs"
            branch = self.root.add(f"layer {number} ({len(layer)} {noun})", expand=True)
            for task in layer[:MAX_NODES_PER_LAYER]:
                label = Text(task + " ")
                label.append_text(_format.status_text(status.get(task)))
                ups = upstream.get(task, [])
                if ups:
                    shown = ", ".join(ups[:3]) + (f" +{len(ups) - 3}" if len(ups) > 3 else "")
                    label.append(f"  ← {shown}", style="dim")
                branch.add_leaf(label, data=task)
            if len(layer) > MAX_NODES_PER_LAYER:
                branch.add_leaf(f"… {len(layer) - MAX_NODES_PER_LAYER} more")

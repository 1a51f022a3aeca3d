"""A visual-builder draft's ``canvas_json`` to a Pipeline and back.

Canvas node: ``{"id", "type", "position": [x, y], "data": {config}, "label"?, "settings"?}``;
edge: ``{"id", "source", "target", "source_handle"?, "target_handle"?}`` (React Flow's
``sourceHandle``/``targetHandle`` too), naming connectors (default ``data_out`` -> ``data_in``, or
the node type's only connector of that direction). A node becomes a step of the same id; an edge
becomes what the step reads (docs/builder.md, "Compile"):

- ``a.data_out -> b.<c>``: ``with: {<c>: ${a}}`` (more edges into one connector: a list);
- ``cond.true_out|false_out -> b.<c>``: ``when`` that branch, and ``with: {<c>: ${cond}}``;
- ``map.item_out -> b.<c>``: ``for_each: ${map}`` and ``with: {<c>: ${item}}``;
- ``a -> b.trigger_in``: ``depends: [a]`` (order, no data).

Positions, labels, edge ids and connector ids go to the step's ``ui``, so draft -> YAML -> draft
gives back the same nodes, edges, config and positions.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from dagy.nodes.connections import validate_connection
from dagy.nodes.model import NodeDef
from dagy.pipelines import refs
from dagy.pipelines.model import Pipeline, Step
from dagy.pipelines.problems import Problem

Lookup = Callable[[str], "NodeDef | None"]

# A node id is its step's id: a task_run_id, a path segment and a ``${ref}`` name.
STEP_ID, RESERVED_IDS = refs.STEP_ID, refs.RESERVED_IDS
SETTINGS = {  # canvas node "settings" -> Step field, and what it must be
    "retries": "int",
    "retry_delay_seconds": "number",
    "timeout_seconds": "number",
    "executor": "str",
}
DATA_OUT, DATA_IN, TRIGGER_IN = "data_out", "data_in", "trigger_in"
BRANCHES = {"true_out": True, "false_out": False}
ITEM_OUT = "item_out"
_RESOLVED = ("source_connector", "target_connector")  # kept in ui beside the edge
_REF = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_-]*)\}$")


# -- shape ------------------------------------------------------------------------------------------


def check_shape(canvas: Any) -> list[Problem]:
    """What must hold for a draft to be stored at all; every problem names its node or edge."""
    if not isinstance(canvas, dict):
        return [Problem("", "canvas_json must be an object with nodes and edges")]
    problems: list[Problem] = []
    nodes = canvas.get("nodes")
    edges = canvas.get("edges", [])
    if not isinstance(nodes, list):
        problems.append(Problem("nodes", "required: a list of nodes"))
        nodes = []
    if not isinstance(edges, list):
        problems.append(Problem("edges", "must be a list of edges"))
        edges = []
    if "params" in canvas and not isinstance(canvas["params"], dict):
        problems.append(Problem("params", "must be an object"))
    ids: set[str] = set()
    for i, node in enumerate(nodes):
        problems += _node_shape(i, node, ids)
    edge_ids: set[str] = set()
    for i, edge in enumerate(edges):
        problems += _edge_shape(i, edge, ids, edge_ids)
    return problems


def _node_shape(i: int, node: Any, ids: set[str]) -> list[Problem]:
    if not isinstance(node, dict):
        return [Problem(f"nodes[{i}]", "must be an object with id and type")]
    problems = []
    node_id = node.get("id")
    where = f"nodes[{i}]"
    if not isinstance(node_id, str) or not node_id:
        problems.append(Problem(f"{where}.id", "required: a string", field="id"))
    elif not STEP_ID.match(node_id) or node_id in RESERVED_IDS:
        problems.append(
            Problem(
                f"{where}.id",
                f"{node_id!r} is not a valid node id (letters, digits, '_' or '-', starting with "
                f"a letter or '_', at most 64; not {' or '.join(RESERVED_IDS)})",
                field="id",
            )
        )
    elif node_id in ids:
        problems.append(Problem(f"{where}.id", f"duplicate node id {node_id!r}", field="id"))
    else:
        ids.add(node_id)
        where = f"nodes.{node_id}"
    name = node_id if isinstance(node_id, str) else None
    if not isinstance(node.get("type"), str) or not node["type"]:
        problems.append(Problem(f"{where}.type", "required: a node type", name, "type"))
    position = node.get("position")
    if position is not None and not (
        isinstance(position, list)
        and len(position) == 2
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in position)
    ):
        problems.append(Problem(f"{where}.position", "must be [x, y] numbers", name, "position"))
    for key in ("data", "settings"):
        if node.get(key) is not None and not isinstance(node[key], dict):
            problems.append(Problem(f"{where}.{key}", "must be an object", name, key))
    if node.get("label") is not None and not isinstance(node["label"], str):
        problems.append(Problem(f"{where}.label", "must be a string", name, "label"))
    settings = node.get("settings")
    for key, value in (settings if isinstance(settings, dict) else {}).items():
        if key not in SETTINGS:
            problems.append(
                Problem(f"{where}.settings.{key}", f"unknown setting (one of {', '.join(SETTINGS)})",
                        name, key)
            )  # fmt: skip
        elif value is not None and not _is(value, SETTINGS[key]):
            problems.append(
                Problem(f"{where}.settings.{key}", f"must be {_KINDS[SETTINGS[key]]}", name, key)
            )
    return problems


_KINDS = {"int": "a whole number >= 0", "number": "a number >= 0", "str": "a string"}


def _is(value: Any, kind: str) -> bool:
    if kind == "str":
        return isinstance(value, str)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        return False
    return kind == "number" or isinstance(value, int)


def _edge_shape(i: int, edge: Any, ids: set[str], edge_ids: set[str]) -> list[Problem]:
    if not isinstance(edge, dict):
        return [Problem(f"edges[{i}]", "must be an object with id, source and target")]
    problems = []
    edge_id = edge.get("id")
    where = f"edges[{i}]"
    if not isinstance(edge_id, str) or not edge_id:
        problems.append(Problem(f"{where}.id", "required: a string", field="id"))
    elif edge_id in edge_ids:
        problems.append(Problem(f"{where}.id", f"duplicate edge id {edge_id!r}", field="id"))
    else:
        edge_ids.add(edge_id)
        where = f"edges.{edge_id}"
    for end in ("source", "target"):
        value = edge.get(end)
        if not isinstance(value, str) or not value:
            problems.append(Problem(f"{where}.{end}", "required: a node id", field=end))
        elif value not in ids:
            problems.append(Problem(f"{where}.{end}", f'node "{value}" does not exist', value, end))
    for key in ("source_handle", "sourceHandle", "target_handle", "targetHandle"):
        if edge.get(key) is not None and not isinstance(edge[key], str):
            problems.append(Problem(f"{where}.{key}", "must be a connector id", field=key))
    return problems


# -- canvas -> pipeline -----------------------------------------------------------------------------


def handles(
    edge: dict[str, Any], source: NodeDef | None, target: NodeDef | None
) -> tuple[str, str]:
    """The (source, target) connector ids an edge joins, defaults filled in."""
    out = edge.get("source_handle") or edge.get("sourceHandle")
    into = edge.get("target_handle") or edge.get("targetHandle")
    out = out or _default(source, "outbound", DATA_OUT)
    return out, into or _default(target, "inbound", DATA_IN)


def _default(node: NodeDef | None, direction: str, usual: str) -> str:
    if node is None or node.connector(usual) is not None:
        return usual
    ends = [c.id for c in node.connectors if c.direction == direction]
    return ends[0] if len(ends) == 1 else usual


def to_pipeline(
    name: str,
    canvas: dict[str, Any],
    lookup: Lookup,
    *,
    version: str = "1.0.0",
    description: str = "",
) -> tuple[Pipeline, list[Problem]]:
    """The Pipeline a (well-shaped) canvas draws, and the problems only the canvas shows: edges
    that join incompatible connectors, required inputs left unconnected, a node on two branches or
    two maps. Node types, cycles and config are ``check.check_pipeline``'s to report."""
    nodes: list[dict[str, Any]] = canvas.get("nodes") or []
    defs = {n["id"]: lookup(n["type"]) for n in nodes}
    steps = {n["id"]: _step(n, defs[n["id"]]) for n in nodes}
    problems: list[Problem] = []
    used: dict[tuple[str, str, str], int] = {}  # (node, direction, connector) -> edges so far
    for edge in canvas.get("edges") or []:
        source, target = edge["source"], edge["target"]
        out, into = handles(edge, defs[source], defs[target])
        where = f"edges.{edge['id']}"
        problems += _connection(where, edge, defs, out, into, used)
        problems += _wire(where, edge, steps[source], steps[target], out, into)
    for node in nodes:
        problems += _unconnected(node["id"], defs[node["id"]], used)
    params = canvas.get("params") or {}
    pipeline = Pipeline(name, version, description, dict(params), list(steps.values()))
    return pipeline, problems


def _step(node: dict[str, Any], node_def: NodeDef | None) -> Step:
    settings = node.get("settings") or {}
    ui: dict[str, Any] = {}
    if node.get("position") is not None:
        ui["position"] = list(node["position"])
    return Step(
        id=node["id"],
        kind="node",
        node=node["type"],
        config=dict(node.get("data") or {}),
        retries=int(settings.get("retries") or 0),
        retry_delay_seconds=float(settings.get("retry_delay_seconds") or 0.0),
        timeout_seconds=_seconds(settings.get("timeout_seconds")),
        executor=settings.get("executor"),
        import_path=node_def.import_path if node_def is not None else None,
        label=node.get("label"),
        ui=ui,
    )


def _seconds(value: Any) -> float | None:
    return None if value is None else float(value)


def _connection(
    where: str,
    edge: dict[str, Any],
    defs: dict[str, NodeDef | None],
    out: str,
    into: str,
    used: dict[tuple[str, str, str], int],
) -> list[Problem]:
    """validate_connection's errors for one edge, counting the edges already on both ends."""
    source, target = edge["source"], edge["target"]
    before = (used.get((source, "out", out), 0), used.get((target, "in", into), 0))
    used[(source, "out", out)] = before[0] + 1
    used[(target, "in", into)] = before[1] + 1
    if defs[source] is None or defs[target] is None:
        return []  # the unknown node type is reported once, on its node
    answer = validate_connection(
        defs[source],  # type: ignore[arg-type]
        out,
        defs[target],  # type: ignore[arg-type]
        into,
        existing_source_connections=before[0],
        existing_target_connections=before[1],
    )
    if answer.get("valid"):
        return []
    return [
        Problem(
            where, f"invalid connection {source}.{out} -> {target}.{into}: {_text(e)}", target, into
        )
        for e in answer.get("errors") or ["invalid"]
    ]


def _text(error: Any) -> str:
    if isinstance(error, dict):
        rule, message = error.get("rule") or error.get("code"), error.get("message")
        return f"{message} ({rule})" if rule and message else str(message or rule or error)
    return str(error)


def _wire(
    where: str, edge: dict[str, Any], source: Step, target: Step, out: str, into: str
) -> list[Problem]:
    """Record one edge on its target step: a ``with`` input, a ``when``, a ``for_each`` or a
    ``depends``, and its ids in the step's ``ui`` so from_pipeline can give the edge back."""
    problems: list[Problem] = []
    value = f"${{{source.id}}}"
    if out in BRANCHES:
        branch = {"step": source.id, "branch": BRANCHES[out]}
        if target.when not in (None, branch):
            problems.append(
                Problem(
                    where,
                    f"node {target.id!r} already follows another condition branch",
                    target.id,
                    "when",
                )
            )
        target.when = branch
    elif out == ITEM_OUT:
        if target.for_each not in (None, value):
            problems.append(
                Problem(
                    where,
                    f"node {target.id!r} is already mapped over another list",
                    target.id,
                    "for_each",
                )
            )
        target.for_each = value
        value = "${item}"
    if into == TRIGGER_IN:
        if source.id not in target.depends:
            target.depends.append(source.id)
    else:
        current = target.with_.get(into)
        if current is None:
            target.with_[into] = value
        elif isinstance(current, list):
            current.append(value)
        else:
            target.with_[into] = [current, value]
    target.ui.setdefault("edges", []).append(
        {k: v for k, v in edge.items() if k != "target"}
        | {"source_connector": out, "target_connector": into}
    )
    return problems


def _unconnected(
    node_id: str, node_def: NodeDef | None, used: dict[tuple[str, str, str], int]
) -> list[Problem]:
    if node_def is None:
        return []
    return [
        Problem(
            f"nodes.{node_id}.{c.id}",
            f"required input {c.id!r} has no edge",
            node_id,
            c.id,
        )
        for c in node_def.connectors
        if c.direction == "inbound"
        and c.required
        and c.id != TRIGGER_IN
        and not used.get((node_id, "in", c.id))
    ]


# -- pipeline -> canvas -----------------------------------------------------------------------------


def from_pipeline(pipeline: Pipeline) -> dict[str, Any]:
    """The canvas of a pipeline: one node per step, one edge per reference between steps. What the
    step's ``ui`` kept (positions, edge ids, connector ids) is used; the rest is laid out."""
    ids = {s.id for s in pipeline.steps}
    layout = _layout(pipeline, ids)
    nodes, edges = [], []
    for step in pipeline.steps:
        nodes.append(_node(step, layout[step.id]))
        edges += _edges(step, ids)
    canvas: dict[str, Any] = {"nodes": nodes, "edges": edges}
    if pipeline.params:
        canvas["params"] = dict(pipeline.params)
    return canvas


def _node(step: Step, position: list[float]) -> dict[str, Any]:
    node_type, data = step.node, dict(step.config)
    if step.kind == "python":
        node_type, data = "python_function", {"function": step.python, **data}
    elif step.kind == "command":
        node_type, data = "shell_command", {"command": step.command, **data}
    node: dict[str, Any] = {
        "id": step.id,
        "type": node_type,
        "position": list(step.ui.get("position") or position),
        "data": data,
    }
    if step.label:
        node["label"] = step.label
    settings = {
        "retries": step.retries or None,
        "retry_delay_seconds": step.retry_delay_seconds or None,
        "timeout_seconds": step.timeout_seconds,
        "executor": step.executor,
    }
    settings = {k: v for k, v in settings.items() if v is not None}
    if settings:
        node["settings"] = settings
    return node


def _edges(step: Step, ids: set[str]) -> list[dict[str, Any]]:
    """The edges into ``step``: each (source, source connector, target connector) its ``with``,
    ``when``, ``for_each`` and ``depends`` imply, given back as drawn when ``ui`` kept it."""
    wanted: list[tuple[str, str, str]] = []
    branch_of = step.when.get("step") if step.when else None
    mapped = _ref(step.for_each)
    for key, value in step.with_.items():
        for item in value if isinstance(value, list) else [value]:
            ref = _ref(item)
            if ref == "item" and mapped in ids:
                wanted.append((mapped, ITEM_OUT, key))  # type: ignore[arg-type]
            elif ref in ids:
                out = DATA_OUT
                if ref == branch_of:
                    out = "true_out" if step.when.get("branch", True) else "false_out"  # type: ignore[union-attr]
                wanted.append((ref, out, key))  # type: ignore[arg-type]
    for dep in step.depends:
        if dep in ids:
            out = DATA_OUT
            if dep == branch_of:
                out = "true_out" if step.when.get("branch", True) else "false_out"  # type: ignore[union-attr]
            elif dep == mapped:
                out = ITEM_OUT
            wanted.append((dep, out, TRIGGER_IN))
    drawn = list(step.ui.get("edges") or [])
    edges = []
    for n, (source, out, into) in enumerate(wanted):
        match = next(
            (
                e
                for e in drawn
                if e.get("source") == source
                and e.get("source_connector") == out
                and e.get("target_connector") == into
            ),
            None,
        )
        if match is not None:
            drawn.remove(match)
            edge = {k: v for k, v in match.items() if k not in _RESOLVED}
            edges.append({**edge, "source": source, "target": step.id})
        else:
            suffix = f"_{n}" if n else ""
            edges.append(
                {
                    "id": f"{source}-{step.id}{suffix}",
                    "source": source,
                    "target": step.id,
                    "source_handle": out,
                    "target_handle": into,
                }
            )
    return edges


def _ref(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    found = _REF.match(value.strip())
    return found.group(1) if found else None


def _layout(pipeline: Pipeline, ids: set[str]) -> dict[str, list[float]]:
    """Columns by depth (longest path from a step without inputs), rows in step order."""
    depth: dict[str, int] = {}
    ups = {s.id: [u for u in _upstream(s) if u in ids and u != s.id] for s in pipeline.steps}
    for _ in range(len(ids) + 1):  # relaxation; a cycle stops growing at len(ids)
        changed = False
        for step in pipeline.steps:
            level = max((depth.get(u, 0) + 1 for u in ups[step.id]), default=0)
            level = min(level, len(ids))
            if depth.get(step.id) != level:
                depth[step.id], changed = level, True
        if not changed:
            break
    rows: dict[int, int] = {}
    where = {}
    for step in pipeline.steps:
        level = depth.get(step.id, 0)
        row = rows.get(level, 0)
        rows[level] = row + 1
        where[step.id] = [level * 250.0, row * 120.0]
    return where


def _upstream(step: Step) -> list[str]:
    found = list(step.depends)
    if step.when:
        found.append(str(step.when.get("step")))
    refs = [step.for_each, *step.with_.values()]
    while refs:
        item = refs.pop()
        if isinstance(item, list):
            refs.extend(item)
        elif (ref := _ref(item)) is not None:
            found.append(ref)
    return found

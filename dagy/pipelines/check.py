"""Every problem of a parsed pipeline that its shape does not show: node types, references,
cycles, config fields against the node's ``config_schema``, nodes that cannot run here, and
``when``/``for_each`` that point at the wrong thing. An empty list means it compiles."""

from __future__ import annotations

import graphlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dagy.nodes.model import ConfigField, NodeDef
from dagy.pipelines import refs
from dagy.pipelines.model import Pipeline, Step
from dagy.pipelines.problems import Problem

Lookup = Callable[[str], NodeDef | None]
PYTHON_NODE = "python_function"
COMMAND_NODE = "shell_command"
CONDITION_NODE = "condition"


def default_lookup() -> Lookup:
    """Built-in and plugin node types (dagy.nodes.registry); none while it is not installed."""
    try:
        from dagy.nodes import registry
    except ImportError:  # pragma: no cover - the registry lands beside this module
        return lambda node_type: None
    return lambda node_type: registry.lookup(node_type)


def step_path(pipeline: Pipeline, step: Step) -> str:
    """``steps[<i>]`` of this very step (by identity: two equal steps are two places)."""
    return f"steps[{next(i for i, s in enumerate(pipeline.steps) if s is step)}]"


def upstream_of(step: Step) -> list[str]:
    """The steps ``step`` waits for: its ``${step}`` references, ``depends``, ``when`` and a
    ``for_each`` over a step, in first-seen order."""
    out: list[str] = []

    def add(name: str) -> None:
        if name not in out:
            out.append(name)

    for value in (step.config, step.with_, step.for_each):
        found, _ = refs.find_refs(value, "")
        for f in found:
            if f.ref.kind == "step":
                add(f.ref.name)
    if step.kind == "command" and step.command:
        found, _ = refs.find_refs(step.command, "")
        for f in found:
            if f.ref.kind == "step":
                add(f.ref.name)
    for d in step.depends:
        add(d)
    if step.when is not None:
        add(str(step.when.get("step")))
    return out


def check_pipeline(pipeline: Pipeline, lookup: Lookup | None = None) -> list[Problem]:
    """Every problem found, in step order; [] when the pipeline compiles."""
    lookup = lookup or default_lookup()
    out: list[Problem] = []
    ids = {s.id for s in pipeline.steps}
    for i, step in enumerate(pipeline.steps):
        at = f"steps[{i}]"
        out += _check_kind(pipeline, step, at, lookup)
        out += _check_refs(pipeline, step, at, ids)
        out += _check_control(pipeline, step, at, lookup)
    out += _check_cycles(pipeline, ids)
    return out


def _problem(at: str, step: Step, key: str, message: str, field: str | None = None) -> Problem:
    return Problem(f"{at}.{key}" if key else at, message, node=step.id, field=field or key or None)


def _check_kind(pipeline: Pipeline, step: Step, at: str, lookup: Lookup) -> list[Problem]:
    out: list[Problem] = []
    if step.kind == "python":
        target = step.python or ""
        path, _, _ = target.rpartition(":")
        if path.endswith(".py") and pipeline.base_dir is not None:
            file = Path(path) if Path(path).is_absolute() else Path(pipeline.base_dir) / path
            if not file.is_file():
                out.append(_problem(at, step, "python", f"file not found: {path}"))
        return out
    if step.kind == "command":
        return out
    node_type = step.node or ""
    node = lookup(node_type)
    if node is None:
        if step.import_path is None:
            out.append(_problem(at, step, "node", f"unknown node type '{node_type}'"))
        return out
    if not node.executable and step.import_path is None:
        why = node.not_executable or "it has no implementation"
        out.append(
            _problem(at, step, "node", f"node type {node_type} is not executable here: {why}")
        )
    out += _check_config(step, at, node.config_schema)
    return out


def _check_config(step: Step, at: str, schema: tuple[ConfigField, ...]) -> list[Problem]:
    out: list[Problem] = []
    for f in schema:
        value = step.config.get(f.name)
        if value is None:
            if f.required and f.default is None:
                out.append(
                    _problem(
                        at,
                        step,
                        f"config.{f.name}",
                        f"required field '{f.name}' is missing",
                        f.name,
                    )
                )
            continue
        why = _type_problem(f, value)
        if why:
            out.append(_problem(at, step, f"config.{f.name}", why, f.name))
    return out


_TEXT = ("string", "text", "code", "secret", "select")


def _type_problem(f: ConfigField, value: Any) -> str | None:
    """Why ``value`` is not of the field's type; None when it is, or when it is a reference whose
    value is only known when the pipeline builds or runs."""
    try:
        if refs.whole_ref(value) is not None:
            return None
    except refs.RefError:
        return None  # reported by _check_refs
    kind = f.type
    ok = True
    if kind == "string":  # YAML writes `value: 10` for a compared value: any scalar will do
        ok = isinstance(value, (str, int, float, bool))
    elif kind in _TEXT:
        ok = isinstance(value, str)
        if (
            ok
            and kind == "select"
            and f.options
            and value not in f.options
            and not refs.refs_in_text(value)
        ):
            return f"must be one of {', '.join(f.options)}, got {value!r}"
    elif kind == "integer":
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif kind == "number":
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    elif kind == "boolean":
        ok = isinstance(value, bool)
    elif kind == "object":
        ok = isinstance(value, dict)
    elif kind == "array":
        ok = isinstance(value, list)
    if ok:
        return None
    return f"must be {_TYPE_WORDS.get(kind, kind)}, got {value!r}"


_TYPE_WORDS = {
    "string": "a string",
    "text": "a string",
    "code": "a string",
    "secret": "a string",
    "select": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "object": "a mapping",
    "array": "a list",
}


def _check_refs(pipeline: Pipeline, step: Step, at: str, ids: set[str]) -> list[Problem]:
    out: list[Problem] = []
    places: list[tuple[str, Any]] = [("config", step.config), ("with", step.with_)]
    if step.kind == "command":
        places.append(("command", step.command))
    if step.for_each is not None:
        places.append(("for_each", step.for_each))
    for key, value in places:
        found, bad = refs.find_refs(value, f"{at}.{key}")
        out += [Problem(path, msg, node=step.id, field=key) for path, msg in bad]
        for f in found:
            ref = f.ref
            if ref.kind == "param" and ref.name not in pipeline.params:
                out.append(Problem(f.path, f"unknown parameter '{ref.name}'", step.id, key))
            elif ref.kind == "step":
                if ref.name not in ids:
                    out.append(Problem(f.path, f"unknown step '{ref.name}'", step.id, key))
                elif ref.name == step.id:
                    out.append(Problem(f.path, "a step cannot use its own result", step.id, key))
                elif not f.whole or key == "command":
                    out.append(Problem(f.path, refs.inside_message(ref), step.id, key))
            elif ref.kind == "item":
                if step.for_each is None:
                    out.append(
                        Problem(
                            f.path,
                            f"{ref.text()} is only known in a step with for_each",
                            step.id,
                            key,
                        )
                    )
                elif key == "for_each":
                    out.append(Problem(f.path, "for_each cannot use ${item}", step.id, key))
                elif not f.whole or key == "command":
                    out.append(Problem(f.path, refs.inside_message(ref), step.id, key))
    for j, d in enumerate(step.depends):
        if d not in ids:
            out.append(Problem(f"{at}.depends[{j}]", f"unknown step '{d}'", step.id, "depends"))
        elif d == step.id:
            out.append(
                Problem(f"{at}.depends[{j}]", "a step cannot depend on itself", step.id, "depends")
            )
    return out


def _check_control(pipeline: Pipeline, step: Step, at: str, lookup: Lookup) -> list[Problem]:
    out: list[Problem] = []
    if step.when is not None:
        name = str(step.when.get("step"))
        target = pipeline.step(name)
        if target is None:
            out.append(_problem(at, step, "when", f"unknown step '{name}'"))
        elif target.id == step.id:
            out.append(_problem(at, step, "when", "a step cannot depend on itself"))
        elif target.kind != "node" or target.node != CONDITION_NODE:
            what = target.node if target.kind == "node" else f"{target.kind} step"
            out.append(
                _problem(at, step, "when", f"'{name}' is a {what}, not a {CONDITION_NODE} step")
            )
    fe = step.for_each
    if isinstance(fe, str):
        try:
            ref = refs.whole_ref(fe)
        except refs.RefError:
            ref = None
        if ref is not None and ref.kind == "param" and ref.name in pipeline.params:
            default = pipeline.params[ref.name]
            if default is not None and not isinstance(default, list):
                out.append(_problem(at, step, "for_each", f"parameter '{ref.name}' is not a list"))
    return out


def _check_cycles(pipeline: Pipeline, ids: set[str]) -> list[Problem]:
    graph = {s.id: [u for u in upstream_of(s) if u in ids and u != s.id] for s in pipeline.steps}
    sorter: graphlib.TopologicalSorter[str] = graphlib.TopologicalSorter(graph)
    try:
        sorter.prepare()
    except graphlib.CycleError as exc:
        members = set(exc.args[1])
        order = [s.id for s in pipeline.steps]
        first = min(members, key=order.index)
        step = pipeline.step(first)
        assert step is not None
        # in the order data flows: a -> b means b waits for a
        chain, current = [first], first
        while True:
            current = next(m for m in order if m in members and current in graph[m])
            chain.append(current)
            if current == first or len(chain) > len(members):
                break
        chain_text = " -> ".join(chain)
        return [
            Problem(step_path(pipeline, step), f"steps form a cycle: {chain_text}", node=step.id)
        ]
    return []

"""Checking a FlowSpec sent to the API: every problem, named by where it is.

POST /flows refuses a spec with the first problem (400); POST /flows/validate lists them all. The
checks are what ``FlowSpec.from_dict`` and the engine rely on, so a spec that passes can be run.
"""

from __future__ import annotations

import graphlib
import json
from dataclasses import fields
from typing import Any

from dagy.errors import DependencyCycleError
from dagy.sdk import _codec
from dagy.sdk.spec import SPEC_VERSION, FlowSpec, TaskDef, TaskRunSpec

# Names the API's own routes take: a version "latest" or "versions" could not be fetched by
# GET /flows/{flow_name}/{flow_version}, nor a flow "validate" deleted (POST /flows/validate).
RESERVED_VERSIONS = ("latest", "versions")
RESERVED_NAMES = ("validate",)


def check_spec(raw: Any) -> tuple[FlowSpec | None, list[str]]:
    """The FlowSpec in ``raw`` and every problem found with it: (spec, []) or (None, errors).

    Checks what ``FlowSpec.from_dict`` and the engine rely on, each problem named by where it is
    (``task_runs[2] (double-3): ...``), so POST /flows/validate can list them all.
    """
    from dagy.engine.runner import validate

    if isinstance(raw, (str, bytes)):
        try:
            raw = json.loads(raw)
        except ValueError as exc:
            return None, [f"not JSON: {exc}"]
    if not isinstance(raw, dict):
        return None, ["must be an object (a FlowSpec: flow.build().to_dict())"]
    errors: list[str] = []
    _check_header(raw, errors)
    tasks = _check_tasks(raw.get("tasks"), errors)
    _check_task_runs(raw.get("task_runs"), tasks, raw.get("outputs"), errors)
    if errors:
        return None, errors
    try:
        spec = FlowSpec.from_dict(raw)
        validate(spec)
    except (KeyError, TypeError, ValueError, AttributeError, DependencyCycleError) as exc:
        return None, [f"{type(exc).__name__}: {exc}"]
    return spec, []


def _check_header(raw: dict[str, Any], errors: list[str]) -> None:
    for key in ("flow_name", "flow_version"):
        value = raw.get(key)
        if not isinstance(value, str) or not value.strip():
            errors.append(f"{key} is required (a non-empty string)")
        elif "/" in value or any(ord(c) < 32 for c in value):
            errors.append(f"{key} must not contain '/' or control characters: {value!r}")
    if raw.get("flow_version") in RESERVED_VERSIONS:
        errors.append(f"flow_version {raw['flow_version']!r} is reserved by the API")
    if raw.get("flow_name") in RESERVED_NAMES:
        errors.append(f"flow_name {raw['flow_name']!r} is reserved by the API")
    version = raw.get("spec_version", SPEC_VERSION)
    if (
        not isinstance(version, int)
        or isinstance(version, bool)
        or not 1 <= version <= SPEC_VERSION
    ):
        errors.append(
            f"spec_version {version!r} is not supported (this server reads 1 to {SPEC_VERSION})"
        )
    for key, kind, name in (
        ("parameters", dict, "an object"),
        ("parameter_schema", dict, "an object"),
        ("entrypoint", str, "a string"),
    ):
        if raw.get(key) is not None and not isinstance(raw[key], kind):
            errors.append(f"{key} must be {name}")


def _check_tasks(raw: Any, errors: list[str]) -> set[str]:
    if raw is None:
        return set()
    if not isinstance(raw, dict):
        errors.append("tasks must be an object of task definitions")
        return set()
    allowed = {f.name for f in fields(TaskDef)}
    for name, task in raw.items():
        where = f"tasks.{name}"
        if not isinstance(task, dict):
            errors.append(f"{where} must be an object")
            continue
        unknown = sorted(set(task) - allowed)
        if unknown:
            errors.append(f"{where}: unknown field {unknown[0]!r}")
        for key in ("name", "module", "qualname"):
            if not isinstance(task.get(key), str) or not task[key]:
                errors.append(f"{where}.{key} is required (a string)")
        if task.get("name") not in (None, name):
            errors.append(f"{where}.name is {task.get('name')!r}, not {name!r}")
    return set(raw)


def _check_task_runs(raw: Any, tasks: set[str], outputs: Any, errors: list[str]) -> None:
    if raw is None:
        raw = []
    if not isinstance(raw, list):
        errors.append("task_runs must be a list")
        return
    allowed = {f.name for f in fields(TaskRunSpec)}
    seen: set[str] = set()
    graph: dict[str, list[str]] = {}
    for i, tr in enumerate(raw):
        if not isinstance(tr, dict) or not isinstance(tr.get("task_run_id"), str):
            errors.append(f"task_runs[{i}] must be an object with a task_run_id")
            continue
        tid = tr["task_run_id"]
        where = f"task_runs[{i}] ({tid})"
        if tid in seen:
            errors.append(f"{where}: duplicate task_run_id")
        seen.add(tid)
        unknown = sorted(set(tr) - allowed)
        if unknown:
            errors.append(f"{where}: unknown field {unknown[0]!r}")
        task_name = tr.get("task_name")
        if not isinstance(task_name, str) or task_name not in tasks:
            errors.append(f"{where}: task {task_name!r} is not in tasks")
        if not isinstance(tr.get("args", []), list) or not isinstance(tr.get("kwargs", {}), dict):
            errors.append(f"{where}: args must be a list and kwargs an object")
        upstream = tr.get("upstream") or []
        if not isinstance(upstream, list) or not all(isinstance(u, str) for u in upstream):
            errors.append(f"{where}: upstream must be a list of task_run_ids")
            continue
        graph[tid] = upstream
        refs = _refs([tr.get("args") or [], tr.get("kwargs") or {}])
        for ref in sorted(refs - set(upstream)):
            errors.append(f"{where}: input refers to {ref!r}, which is not in its upstream")
    for tid, upstream in graph.items():
        for up in upstream:
            if up not in graph:
                errors.append(f"task run {tid!r} waits for unknown task run {up!r}")
    for ref in sorted(_refs(outputs) - set(graph)):
        errors.append(f"outputs refer to unknown task run {ref!r}")
    cycle = _cycle(graph)
    if cycle:
        errors.append(f"dependency cycle: {' -> '.join(cycle)}")


def _refs(value: Any) -> set[str]:
    found: set[str] = set()
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            if len(item) == 1 and _codec.REF in item:
                found.add(str(item[_codec.REF]))
            else:
                stack.extend(item.values())
    return found


def _cycle(graph: dict[str, list[str]]) -> list[str] | None:
    """One cycle of ``task_run_id -> upstream`` edges (known ids only), as a path, or None."""
    sorter: graphlib.TopologicalSorter[str] = graphlib.TopologicalSorter()
    for tid, upstream in graph.items():
        sorter.add(tid, *(u for u in upstream if u in graph))
    try:
        sorter.prepare()
    except graphlib.CycleError as exc:
        return list(reversed(exc.args[1]))
    return None

"""The one compiler: a Pipeline (from YAML or a draft) to the FlowSpec a Python flow builds.

Every step is one task run (``task_run_id`` = step id) of a node implementation, called as
``fn(config=<dict>, inputs=<dict>)``: a node step runs its node type's ``impl`` (a custom node
``dagy.nodes.run.code:custom_node`` with its ``import_path``), a python step
``python_function`` with ``{"function": target}``, a command step ``shell_command`` with
``{"command": ...}``. ``${step}`` references become ``$ref`` edges, ``depends`` and ``when`` add
ordering edges, and the FlowSpec's outputs are the results of the steps nothing depends on.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

from dagy.errors import ParameterTypeError
from dagy.nodes.model import NodeDef
from dagy.pipelines import refs
from dagy.pipelines.check import Lookup, check_pipeline, default_lookup, upstream_of
from dagy.pipelines.model import Pipeline, Step
from dagy.pipelines.problems import PipelineError, Problem
from dagy.sdk import _codec, source_hash
from dagy.sdk.params import coerce_with_schema
from dagy.sdk.spec import FlowSpec, TaskDef, TaskRunSpec

PYTHON_IMPL = "dagy.nodes.run.code:python_function"
COMMAND_IMPL = "dagy.nodes.run.code:shell_command"
CUSTOM_IMPL = "dagy.nodes.run.code:custom_node"


# -- parameters ----------------------------------------------------------------------------------


def _type_of(default: Any) -> str:
    if default is None:
        return "any"
    if isinstance(default, bool):
        return "bool"
    if isinstance(default, int):
        return "int"
    if isinstance(default, float):
        return "float"
    if isinstance(default, str):
        return "str"
    if isinstance(default, _dt.datetime):
        return "datetime"
    if isinstance(default, _dt.date):
        return "date"
    if isinstance(default, list):
        return "list"
    if isinstance(default, dict):
        return "dict"
    return "any"


def parameter_schema(pipeline: Pipeline) -> dict[str, dict[str, Any]]:
    """The pipeline's parameters as sdk.params records them for a flow: each typed by its
    declared default (a null default takes any value), none required."""
    out: dict[str, dict[str, Any]] = {}
    for name, default in pipeline.params.items():
        kind = _type_of(default)
        out[name] = {
            "type": kind,
            "annotation": kind,
            "required": False,
            "default": _codec.encode(default, set()),
        }
    return out


def coerce_params(pipeline: Pipeline, raw: dict[str, Any] | None) -> dict[str, Any]:
    """Run parameters (``--param`` strings or JSON values) coerced to the declared defaults' types,
    defaults filled in; ParameterTypeError for a bad value or an unknown name, as for a flow."""
    return coerce_with_schema(parameter_schema(pipeline), pipeline.name, dict(raw or {}))


# -- the FlowSpec --------------------------------------------------------------------------------


def _split(impl: str) -> tuple[str, str]:
    module, _, qualname = impl.partition(":")
    return module, qualname


def _runner(step: Step, node: NodeDef | None) -> tuple[str, dict[str, Any]]:
    """The implementation a step runs and its config before references are resolved."""
    if step.kind == "python":
        return PYTHON_IMPL, {**step.config, "function": step.python}  # e.g. materialize
    if step.kind == "command":
        return COMMAND_IMPL, {**step.config, "command": step.command}
    config = dict(step.config)  # defaults are the implementation's own, not filled in here
    custom = node is None or node.import_path is not None or node.impl in (None, CUSTOM_IMPL)
    if not custom and node is not None and node.impl is not None:
        return node.impl, config
    # an org's node (or one the lookup does not know, carrying its code): the custom-node
    # runner, with the step's import_path (written in the YAML) or else the node's
    import_path = step.import_path or (node.import_path if node is not None else None)
    return CUSTOM_IMPL, {"import_path": import_path, **config}


def to_flow_spec(
    pipeline: Pipeline,
    params: dict[str, Any] | None = None,
    *,
    lookup: Lookup | None = None,
    entrypoint: str | None = None,
) -> FlowSpec:
    """The FlowSpec of ``pipeline`` run with ``params``. PipelineError with every problem when
    it does not check; ParameterTypeError for bad parameters."""
    lookup = lookup or default_lookup()
    problems = check_pipeline(pipeline, lookup)
    if problems:
        raise PipelineError(problems)
    values = coerce_params(pipeline, params)
    downstream: set[str] = set()
    tasks: dict[str, TaskDef] = {}
    task_runs: list[TaskRunSpec] = []
    failures: list[Problem] = []
    for i, step in enumerate(pipeline.steps):
        node = lookup(step.node) if step.kind == "node" and step.node else None
        impl, config = _runner(step, node)
        module, qualname = _split(impl)
        tasks[step.id] = TaskDef(
            name=step.id,
            module=module,
            qualname=qualname,
            retries=step.retries,
            retry_delay_seconds=float(step.retry_delay_seconds),
            timeout_seconds=step.timeout_seconds,
            executor=step.executor,
        )
        try:
            kwargs = {
                "config": refs.resolve(config, values),
                "inputs": refs.resolve(step.with_, values),
            }
            for_each = None if step.for_each is None else refs.resolve(step.for_each, values)
            kwargs = _codec.encode(kwargs, set())
            for_each = _codec.encode(for_each, set())
        except (refs.RefError, TypeError) as exc:
            failures.append(Problem(f"steps[{i}]", str(exc), node=step.id))
            continue
        if step.for_each is not None and not (
            isinstance(for_each, list) or (isinstance(for_each, dict) and refs.REF in for_each)
        ):
            failures.append(
                Problem(
                    f"steps[{i}].for_each",
                    f"must be a list, got {for_each!r}",
                    node=step.id,
                    field="for_each",
                )
            )
            continue
        upstream = upstream_of(step)
        downstream.update(upstream)
        when = None
        if step.when is not None:
            when = {"ref": step.when["step"], "branch": bool(step.when.get("branch", True))}
        task_runs.append(
            TaskRunSpec(
                task_run_id=step.id,
                task_name=step.id,
                kwargs=kwargs,
                upstream=upstream,
                when=when,
                for_each=for_each,
                source_hash=source_hash.of_step(step.kind, impl, config, step, pipeline.base_dir),
            )
        )
    if failures:
        raise PipelineError(failures)
    outputs = {s.id: {refs.REF: s.id} for s in pipeline.steps if s.id not in downstream}
    try:
        encoded_params = _codec.encode(values, set())
    except TypeError as exc:  # pragma: no cover - YAML values and coerced params always encode
        raise ParameterTypeError(
            f"Pipeline '{pipeline.name}' has a parameter that cannot be stored: {exc}"
        ) from None
    return FlowSpec(
        flow_name=pipeline.name,
        flow_version=pipeline.version,
        parameters=encoded_params,
        tasks=tasks,
        task_runs=task_runs,
        outputs=outputs,
        entrypoint=entrypoint,
        parameter_schema=parameter_schema(pipeline),
    )

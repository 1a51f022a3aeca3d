"""A pipeline written out as a Python module: one ``@task`` per step calling the step's node
implementation, one ``@flow`` whose body wires them as the pipeline's references do, the pipeline's
params as the flow's parameters. ``dagy run <file>.py:<flow>`` runs it with the same results as
the YAML (task run ids differ: a Python flow numbers them ``<step>-1``).

A pipeline with ``when`` or ``for_each`` (which the ``@task`` call API cannot express), or a parameter
named like a Python keyword, is written as a module that holds its YAML and loads it as a flow, so
it still runs the same.
"""

from __future__ import annotations

import datetime as _dt
import keyword
import re
from typing import Any

from dagy.pipelines import refs
from dagy.pipelines.compile import _runner
from dagy.pipelines.model import Pipeline, Step

_IMPORTED = {"flow", "task", "Any", "format_value", "datetime", "annotations"}


def _ident(text: str, taken: set[str], suffix: str = "") -> str:
    name = re.sub(r"\W", "_", text) + suffix
    if not name or name[0].isdigit():
        name = "_" + name
    base, n = name, 2
    while name in taken or keyword.iskeyword(name) or name in _IMPORTED:
        name, n = f"{base}_{n}", n + 1
    taken.add(name)
    return name


def _annotation(default: Any) -> str:
    if default is None:
        return "Any"
    if isinstance(default, bool):
        return "bool"
    for kind, name in ((int, "int"), (float, "float"), (str, "str"), (list, "list")):
        if isinstance(default, kind):
            return name
    if isinstance(default, dict):
        return "dict"
    if isinstance(default, _dt.datetime):
        return "datetime.datetime"
    if isinstance(default, _dt.date):
        return "datetime.date"
    return "Any"


class _Writer:
    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.taken: set[str] = set()
        self.modules: dict[str, str] = {}  # impl module -> local alias
        self.uses_format = False
        self.flow_fn = _ident(pipeline.name, self.taken)
        self.params = {p: _ident(p, self.taken) for p in pipeline.params}
        self.fns = {s.id: _ident(s.id, self.taken) for s in pipeline.steps}
        self.outs = {s.id: _ident(s.id, self.taken, "_out") for s in pipeline.steps}

    def expr(self, value: Any) -> str:
        """``value`` as a Python expression: references become the flow's variables."""
        if isinstance(value, dict):
            return "{" + ", ".join(f"{k!r}: {self.expr(v)}" for k, v in value.items()) + "}"
        if isinstance(value, list):
            return "[" + ", ".join(self.expr(v) for v in value) + "]"
        if isinstance(value, str):
            return self.text(value)
        return repr(value)

    def text(self, value: str) -> str:
        ref = refs.whole_ref(value)
        if ref is not None:
            return self.params[ref.name] if ref.kind == "param" else self.outs[ref.name]
        parts: list[str] = []
        pos = 0
        for m in refs._TOKEN.finditer(value):
            literal = value[pos : m.start()]
            pos = m.end()
            if m.group(1) is None:
                literal += "${"
            if literal:
                parts.append(repr(literal))
            if m.group(1) is not None:
                inner = refs.parse_ref(m.group(1))  # only params can be inside text (checked)
                self.uses_format = True
                parts.append(f"format_value({self.params[inner.name]})")
        if pos < len(value) or not parts:
            parts.append(repr(value[pos:]))
        merged: list[str] = []
        for p in parts:  # join neighbouring literals
            if merged and p.startswith(("'", '"')) and merged[-1].startswith(("'", '"')):
                merged[-1] = repr(eval(merged[-1]) + eval(p))  # noqa: S307 - our own reprs
            else:
                merged.append(p)
        return " + ".join(merged)

    def impl(self, step: Step) -> tuple[str, dict[str, Any]]:
        from dagy.nodes import registry

        node = registry.lookup(step.node) if step.kind == "node" and step.node else None
        impl, config = _runner(step, node)
        module, _, qualname = impl.partition(":")
        alias = self.modules.get(module)
        if alias is None:
            alias = _ident(module.rpartition(".")[2], self.taken, "_nodes")
            self.modules[module] = alias
        return f"{alias}.{qualname}", config

    def task(self, step: Step, call: str) -> list[str]:
        options = []
        if step.retries:
            options.append(f"retries={step.retries}")
        if step.retry_delay_seconds:
            options.append(f"retry_delay_seconds={step.retry_delay_seconds!r}")
        if step.timeout_seconds is not None:
            options.append(f"timeout_seconds={step.timeout_seconds!r}")
        if step.executor:
            options.append(f"executor={step.executor!r}")
        what = step.label or step.node or step.kind
        after = ", after: Any = None" if step.depends else ""
        return [
            f"@task(name={step.id!r}{''.join(', ' + o for o in options)})",
            f"def {self.fns[step.id]}(config: dict[str, Any], inputs: dict[str, Any]{after}) -> Any:",
            f'    """{_doc(what)}."""',
            f"    return {call}.fn(config=config, inputs=inputs)",
            "",
            "",
        ]

    def module(self) -> str:
        pipeline = self.pipeline
        tasks: list[str] = []
        body: list[str] = []
        downstream: set[str] = set()
        from dagy.pipelines.check import upstream_of

        for step in pipeline.steps:
            call, config = self.impl(step)
            tasks += self.task(step, call)
            args = [f"config={self.expr(config)}", f"inputs={self.expr(step.with_)}"]
            if step.depends:
                args.append("after=[" + ", ".join(self.outs[d] for d in step.depends) + "]")
            body.append(f"    {self.outs[step.id]} = {self.fns[step.id]}({', '.join(args)})")
            downstream.update(upstream_of(step))
        outputs = [s.id for s in pipeline.steps if s.id not in downstream]
        body.append(
            "    return {" + ", ".join(f"{sid!r}: {self.outs[sid]}" for sid in outputs) + "}"
        )
        signature = ", ".join(
            f"{self.params[p]}: {_annotation(d)} = {d!r}" for p, d in pipeline.params.items()
        )
        needs_dt = any(isinstance(d, _dt.date) for d in pipeline.params.values())
        head = [
            f'"""{_doc(pipeline.name)}: a Dagy flow written from its pipeline.',
            "",
            f"Run it: dagy run <this file>:{self.flow_fn}"
            + "".join(f" --param {p}=..." for p in pipeline.params),
            '"""',
            "",
            "from __future__ import annotations",
            "",
            *(["import datetime", ""] if needs_dt else []),
            "from typing import Any",
            "",
            "from dagy import flow, task",
            *[
                f"from {m.rpartition('.')[0]} import {m.rpartition('.')[2]} as {alias}"
                for m, alias in sorted(self.modules.items())
            ],
            *(["from dagy.pipelines.refs import format_value"] if self.uses_format else []),
            "",
            "",
        ]
        flow_lines = [
            f"@flow(name={pipeline.name!r}, version={pipeline.version!r}"
            + (f", description={pipeline.description!r}" if pipeline.description else "")
            + ")",
            f"def {self.flow_fn}({signature}) -> dict[str, Any]:",
            *body,
        ]
        return "\n".join(head + tasks + flow_lines) + "\n"


def _doc(text: str) -> str:
    """``text`` safe inside a one-line docstring."""
    one_line = " ".join(text.split())
    return one_line.replace("\\", "\\\\").replace('"', "'")


def _needs_yaml(pipeline: Pipeline) -> bool:
    """when/for_each, or a parameter no Python function parameter can be named (``class``)."""
    return any(s.when is not None or s.for_each is not None for s in pipeline.steps) or any(
        keyword.iskeyword(p) or p in _IMPORTED for p in pipeline.params
    )


def _yaml_module(pipeline: Pipeline) -> str:
    from dagy.pipelines.yaml_format import dump_pipeline

    text = dump_pipeline(pipeline)
    name = _ident(pipeline.name, set())
    return "\n".join(
        [
            f'"""{_doc(pipeline.name)}: a Dagy flow loaded from its pipeline (it uses when or',
            "for_each, which @task calls cannot express).",
            "",
            f"Run it: dagy run <this file>:{name}",
            '"""',
            "",
            "from __future__ import annotations",
            "",
            "from dagy.pipelines.loader import PipelineFlow",
            "from dagy.pipelines.yaml_format import parse_pipeline",
            "",
            f"PIPELINE_YAML = {text!r}",
            "",
            f"{name} = PipelineFlow(parse_pipeline(PIPELINE_YAML))",
            "",
        ]
    )


def pipeline_python(pipeline: Pipeline) -> str:
    """The module text of ``pipeline`` (checked or not: it mirrors the steps as they are)."""
    if _needs_yaml(pipeline):
        return _yaml_module(pipeline)
    return _Writer(pipeline).module()

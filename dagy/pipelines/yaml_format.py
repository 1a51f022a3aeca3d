"""The YAML pipeline format: ``parse_pipeline`` (every problem named by its path) and
``dump_pipeline`` (stable, readable YAML that parses back to the same Pipeline).

Only the shape is checked here (keys, types, ids, one of node/python/command per step); what the
values mean (node types, references, cycles, config fields) is dagy/pipelines/check.py's.
"""

from __future__ import annotations

import math
import re
from typing import Any

import yaml

from dagy.pipelines import refs
from dagy.pipelines.model import Pipeline, Step
from dagy.pipelines.problems import PipelineError, Problem

TOP_KEYS = ("name", "version", "description", "params", "steps")
STEP_KEYS = (
    "id",
    "label",
    "node",
    "python",
    "command",
    "import_path",
    "config",
    "with",
    "depends",
    "when",
    "for_each",
    "retries",
    "retry_delay_seconds",
    "timeout_seconds",
    "executor",
    "ui",
)
NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
TARGET = re.compile(r"^[^:\s]+:[A-Za-z_][A-Za-z0-9_.]*$")
IMPORT_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*:[A-Za-z_][A-Za-z0-9_.]*$")
RESERVED_NAMES = ("validate",)  # POST /flows/validate
RESERVED_VERSIONS = ("latest", "versions")  # GET /flows/{name}/latest, /versions
_WHEN = re.compile(r"^\s*(not\s+)?(\$\{[^}]*\})\s*$")


# -- reading -------------------------------------------------------------------------------------


# libyaml's parser when PyYAML has it (several times faster on a 500-step pipeline).
_SafeLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_SafeLoader):  # type: ignore[misc]
    """A safe loader that notes duplicate mapping keys (YAML would keep the last one silently)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.duplicates: list[tuple[int, str]] = []

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)  # type: ignore[no-untyped-call]
            try:
                if key in seen:
                    self.duplicates.append((key_node.start_mark.line + 1, str(key)))
                seen.add(key)
            except TypeError:  # an unhashable key: the base class reports it
                pass
        return super().construct_mapping(node, deep=deep)


def load_yaml(text: str) -> tuple[Any, list[Problem]]:
    """The YAML document, or the syntax problems (with line numbers) that stop it loading."""
    loader = _Loader(text)
    try:
        data = loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}" if mark is not None else ""
        what = exc.problem or exc.context or "invalid YAML"
        column = f" (column {mark.column + 1})" if mark is not None else ""
        return None, [Problem(where, f"YAML syntax error: {what}{column}")]
    except yaml.YAMLError as exc:
        return None, [Problem("", f"YAML syntax error: {exc}")]
    finally:
        loader.dispose()
    problems = [
        Problem(f"line {line}", f"duplicate key '{key}'") for line, key in loader.duplicates
    ]
    return data, problems


def parse_pipeline(
    text: str, *, source: str | None = None, base_dir: str | None = None
) -> Pipeline:
    """A Pipeline from YAML text; PipelineError listing every problem of shape otherwise."""
    data, problems = load_yaml(text)
    if problems:
        raise PipelineError(problems)
    pipeline, problems = from_data(data, source=source, base_dir=base_dir)
    if problems or pipeline is None:
        raise PipelineError(problems or [Problem("", "not a pipeline")])
    return pipeline


def from_data(
    data: Any, *, source: str | None = None, base_dir: str | None = None
) -> tuple[Pipeline | None, list[Problem]]:
    """The Pipeline of already-loaded YAML data, and the problems of its shape."""
    out: list[Problem] = []
    if not isinstance(data, dict):
        kind = "empty" if data is None else _kind(data)
        return None, [Problem("", f"a pipeline is a mapping with name and steps, got {kind}")]
    for key in data:
        if key not in TOP_KEYS:
            out.append(Problem(str(key), f"unknown key '{key}' (allowed: {', '.join(TOP_KEYS)})"))

    name = data.get("name")
    if "name" not in data:
        out.append(Problem("name", "required"))
    elif not isinstance(name, str) or not NAME.match(name):
        out.append(
            Problem(
                "name",
                f"must be a name of letters, digits, '_', '-', '.' (at most 128), got {name!r}",
            )
        )
    if name in RESERVED_NAMES:
        out.append(Problem("name", f"'{name}' is reserved by the API"))
    version = data.get("version", "1.0.0")
    if isinstance(version, bool) or not isinstance(version, (str, int, float)) or not str(version):
        out.append(Problem("version", f"must be a string, got {_kind(version)}"))
    elif str(version) in RESERVED_VERSIONS or "/" in str(version) or ":" in str(version):
        out.append(
            Problem("version", f"{str(version)!r} cannot be a version (reserved, or a '/' or ':')")
        )
    description = data.get("description", "")
    if description is None:
        description = ""
    if not isinstance(description, str):
        out.append(Problem("description", f"must be a string, got {_kind(description)}"))

    params = data.get("params") or {}
    if not isinstance(params, dict):
        out.append(Problem("params", f"must be a mapping of name: default, got {_kind(params)}"))
        params = {}
    for pname in params:
        if not isinstance(pname, str) or not refs.PARAM_NAME.match(pname):
            out.append(
                Problem(
                    f"params.{pname}",
                    "a parameter name is letters, digits and '_', not starting with a digit",
                    field=str(pname),
                )
            )

    raw_steps = data.get("steps")
    steps: list[Step] = []
    if "steps" not in data:
        out.append(Problem("steps", "required"))
    elif not isinstance(raw_steps, list):
        out.append(Problem("steps", f"must be a list of steps, got {_kind(raw_steps)}"))
    elif not raw_steps:
        out.append(Problem("steps", "a pipeline needs at least one step"))
    else:
        seen: dict[str, int] = {}
        for i, raw in enumerate(raw_steps):
            step = _step(raw, f"steps[{i}]", out)
            sid = raw.get("id") if isinstance(raw, dict) else None
            if isinstance(sid, str) and sid in seen:
                out.append(
                    Problem(
                        f"steps[{i}].id",
                        f"duplicate step id '{sid}' (also steps[{seen[sid]}])",
                        node=sid,
                        field="id",
                    )
                )
                continue
            if isinstance(sid, str):
                seen[sid] = i
            if step is not None:
                steps.append(step)
    if out:
        return None, out
    pipeline = Pipeline(
        name=str(name),
        version=str(version),
        description=str(description),
        params=dict(params),
        steps=steps,
        base_dir=base_dir,
        source=source,
    )
    return pipeline, []


def _step(raw: Any, at: str, out: list[Problem]) -> Step | None:
    if not isinstance(raw, dict):
        out.append(
            Problem(
                at, f"a step is a mapping with id and one of node/python/command, got {_kind(raw)}"
            )
        )
        return None
    before = len(out)
    sid = raw.get("id")
    node_id = sid if isinstance(sid, str) else None

    def bad(key: str, message: str) -> None:
        out.append(Problem(f"{at}.{key}", message, node=node_id, field=key))

    for key in raw:
        if key not in STEP_KEYS:
            bad(str(key), f"unknown key '{key}' (allowed: {', '.join(STEP_KEYS)})")
    if "id" not in raw:
        out.append(Problem(f"{at}.id", "required", field="id"))
    elif not isinstance(sid, str) or not refs.STEP_ID.match(sid):
        bad(
            "id",
            "a step id is letters, digits, '_' and '-' (at most 64, not starting with a digit "
            f"or '-'), got {sid!r}",
        )
    elif sid in refs.RESERVED_IDS:
        bad("id", f"'{sid}' is reserved (${{{sid}...}} means something else)")

    kinds = [k for k in ("node", "python", "command") if k in raw]
    if len(kinds) != 1:
        found = ", ".join(kinds) if kinds else "none"
        out.append(
            Problem(
                at,
                f"a step has exactly one of node, python, command (found: {found})",
                node=node_id,
            )
        )
    kind = kinds[0] if kinds else "node"
    value = raw.get(kind)
    if kinds and (not isinstance(value, str) or not value.strip()):
        bad(kind, f"must be a non-empty string, got {_kind(value)}")
    elif kind == "python" and kinds and not TARGET.match(str(value)):
        bad("python", f"must be 'module:function' or 'path.py:function', got {value!r}")

    import_path = raw.get("import_path")
    if import_path is not None:
        if kind != "node":
            bad("import_path", "only a node step has an import_path")
        elif not isinstance(import_path, str) or not IMPORT_PATH.match(import_path):
            bad("import_path", f"must be 'package.module:attr', got {import_path!r}")

    config = _mapping(raw, "config", bad)
    with_ = _mapping(raw, "with", bad)
    ui = _mapping(raw, "ui", bad)

    depends_raw = raw.get("depends", [])
    if isinstance(depends_raw, str):
        depends_raw = [depends_raw]
    depends: list[str] = []
    if not isinstance(depends_raw, list):
        bad("depends", f"must be a list of step ids, got {_kind(depends_raw)}")
    else:
        for j, d in enumerate(depends_raw):
            if not isinstance(d, str) or not refs.STEP_ID.match(d):
                out.append(
                    Problem(
                        f"{at}.depends[{j}]",
                        f"must be a step id, got {d!r}",
                        node=node_id,
                        field="depends",
                    )
                )
            elif d in depends:
                out.append(
                    Problem(
                        f"{at}.depends[{j}]",
                        f"'{d}' is listed twice",
                        node=node_id,
                        field="depends",
                    )
                )
            else:
                depends.append(d)

    when = None
    if raw.get("when") is not None:
        when = _when(raw["when"])
        if when is None:
            bad(
                "when",
                f"must be '${{<condition step>}}' or 'not ${{<condition step>}}', got {raw['when']!r}",
            )

    for_each = raw.get("for_each")
    if for_each is not None and not isinstance(for_each, list):
        ok = False
        if isinstance(for_each, str):
            try:
                ref = refs.whole_ref(for_each)
                ok = ref is not None and ref.kind in ("step", "param")
            except refs.RefError:
                ok = False
        if not ok:
            bad(
                "for_each",
                f"must be a list, '${{<step>}}' or '${{params.<name>}}', got {for_each!r}",
            )

    retries = raw.get("retries", 0)
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        bad("retries", f"must be a non-negative integer, got {retries!r}")
    delay = raw.get("retry_delay_seconds", 0)
    if not _number(delay) or delay < 0:
        bad("retry_delay_seconds", f"must be a non-negative number, got {delay!r}")
    timeout = raw.get("timeout_seconds")
    if timeout is not None and (not _number(timeout) or timeout <= 0):
        bad("timeout_seconds", f"must be a positive number, got {timeout!r}")
    executor = raw.get("executor")
    if executor is not None and (not isinstance(executor, str) or not executor.strip()):
        bad("executor", f"must be a non-empty string, got {executor!r}")
    label = raw.get("label")
    if label is not None and not isinstance(label, str):
        bad("label", f"must be a string, got {_kind(label)}")

    if len(out) > before:
        return None
    return Step(
        id=str(sid),
        kind=kind,
        node=value if kind == "node" else None,
        python=value if kind == "python" else None,
        command=value if kind == "command" else None,
        config=config,
        with_=with_,
        depends=depends,
        when=when,
        for_each=for_each,
        retries=retries,
        retry_delay_seconds=float(delay),
        timeout_seconds=None if timeout is None else float(timeout),
        executor=executor,
        import_path=import_path,
        label=label,
        ui=ui,
    )


def _mapping(raw: dict[str, Any], key: str, bad: Any) -> dict[str, Any]:
    value = raw.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        bad(key, f"must be a mapping, got {_kind(value)}")
        return {}
    for k in value:
        if not isinstance(k, str):
            bad(key, f"keys must be strings, got {k!r}")
            return {}
    return dict(value)


def _when(value: Any) -> dict[str, Any] | None:
    if not isinstance(value, str):
        return None
    match = _WHEN.match(value)
    if match is None:
        return None
    try:
        ref = refs.whole_ref(match.group(2))
    except refs.RefError:
        return None
    if ref is None or ref.kind != "step":
        return None
    return {"step": ref.name, "branch": match.group(1) is None}


def _number(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


# -- writing -------------------------------------------------------------------------------------


class _Dumper(yaml.SafeDumper):
    """Block style for nested data, ``|`` for multi-line text, lists indented under their key."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def step_data(step: Step) -> dict[str, Any]:
    """One step as YAML data, in the format's key order, defaults left out."""
    body: dict[str, Any] = {"id": step.id}
    if step.label is not None:
        body["label"] = step.label
    kind_value = {"node": step.node, "python": step.python, "command": step.command}[step.kind]
    body[step.kind] = kind_value
    if step.import_path is not None:
        body["import_path"] = step.import_path
    if step.config:
        body["config"] = step.config
    if step.with_:
        body["with"] = step.with_
    if step.depends:
        body["depends"] = list(step.depends)
    if step.when is not None:
        ref = f"${{{step.when['step']}}}"
        body["when"] = ref if step.when.get("branch", True) else f"not {ref}"
    if step.for_each is not None:
        body["for_each"] = step.for_each
    if step.retries:
        body["retries"] = step.retries
    if step.retry_delay_seconds:
        body["retry_delay_seconds"] = _seconds(step.retry_delay_seconds)
    if step.timeout_seconds is not None:
        body["timeout_seconds"] = _seconds(step.timeout_seconds)
    if step.executor is not None:
        body["executor"] = step.executor
    if step.ui:
        body["ui"] = step.ui
    return body


def _seconds(value: float) -> float | int:
    """Whole seconds read as ``30``, not ``30.0`` (parsing makes them floats again)."""
    return int(value) if float(value).is_integer() else value


def to_data(pipeline: Pipeline) -> dict[str, Any]:
    body: dict[str, Any] = {"name": pipeline.name, "version": pipeline.version}
    if pipeline.description:
        body["description"] = pipeline.description
    if pipeline.params:
        body["params"] = pipeline.params
    body["steps"] = [step_data(s) for s in pipeline.steps]
    return body


def dump_pipeline(pipeline: Pipeline) -> str:
    """Readable YAML, the same text for the same pipeline; ``parse_pipeline`` reads it back equal."""
    return yaml.dump(
        to_data(pipeline),
        Dumper=_Dumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=100,
    )

"""The FlowSpec: a flow's DAG as plain JSON-serialisable data, what every executor runs."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

SPEC_VERSION = 1


@dataclass(frozen=True)
class TaskDef:
    """A task function and its options, located by module and qualified name."""

    name: str
    module: str
    qualname: str
    source_file: str | None = None
    retries: int = 0
    retry_delay_seconds: float = 0.0
    retry_jitter_factor: float = 0.0
    timeout_seconds: float | None = None
    executor: str | None = None


@dataclass(frozen=True)
class TaskRunSpec:
    """One call of a task in the flow: its encoded inputs and the task runs it waits for."""

    task_run_id: str
    task_name: str
    args: list[Any] = field(default_factory=list)
    kwargs: dict[str, Any] = field(default_factory=dict)
    upstream: list[str] = field(default_factory=list)
    # Control flow, set by compiled pipelines (dagy/pipelines/compile.py), None in Python flows:
    # ``when`` {"ref": "<task_run_id>", "branch": true|false}: run only if that condition task run
    # took this branch (its result is {"$branch": bool, "value": ...}), else SKIPPED.
    # ``for_each``: a list, or {"$ref": "<task_run_id>"} of one; the engine expands this task run
    # into one child per element (``<task_run_id>.<i>``), each with {"$item": [path...]} markers in
    # its args and kwargs replaced by the element (or a field of it), and the task run's result is
    # the list of the children's results.
    when: dict[str, Any] | None = None
    for_each: Any = None
    # What identifies the task's code and config (dagy/sdk/source_hash.py); replay compares it.
    source_hash: str | None = None


@dataclass(frozen=True)
class FlowSpec:
    flow_name: str
    flow_version: str
    parameters: dict[str, Any]
    tasks: dict[str, TaskDef]
    task_runs: list[TaskRunSpec]
    outputs: Any = None
    entrypoint: str | None = None
    spec_version: int = SPEC_VERSION
    # The flow function's parameters as data (sdk.params.parameter_schema), so the API can check
    # and coerce a run's parameters without importing the flow; None in specs built before it.
    parameter_schema: dict[str, dict[str, Any]] | None = None

    @property
    def edges(self) -> list[list[str]]:
        return [[up, tr.task_run_id] for tr in self.task_runs for up in tr.upstream]

    def to_dict(self) -> dict[str, Any]:
        return {
            "spec_version": self.spec_version,
            "flow_name": self.flow_name,
            "flow_version": self.flow_version,
            "entrypoint": self.entrypoint,
            "parameters": self.parameters,
            "tasks": {name: asdict(td) for name, td in self.tasks.items()},
            # Not asdict(): it deep-copies every input list, which dominates at 10,000 task runs.
            "task_runs": [_task_run_dict(tr) for tr in self.task_runs],
            "edges": self.edges,
            "outputs": self.outputs,
            "parameter_schema": self.parameter_schema,
        }

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), indent=indent, sort_keys=indent is not None)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FlowSpec:
        return cls(
            flow_name=data["flow_name"],
            flow_version=data["flow_version"],
            parameters=data.get("parameters") or {},
            tasks={name: TaskDef(**td) for name, td in (data.get("tasks") or {}).items()},
            task_runs=[TaskRunSpec(**tr) for tr in data.get("task_runs") or []],
            outputs=data.get("outputs"),
            entrypoint=data.get("entrypoint"),
            spec_version=data.get("spec_version", SPEC_VERSION),
            parameter_schema=data.get("parameter_schema"),
        )

    @classmethod
    def from_json(cls, text: str) -> FlowSpec:
        return cls.from_dict(json.loads(text))


def _task_run_dict(tr: TaskRunSpec) -> dict[str, Any]:
    body: dict[str, Any] = {
        "task_run_id": tr.task_run_id,
        "task_name": tr.task_name,
        "args": tr.args,
        "kwargs": tr.kwargs,
        "upstream": tr.upstream,
    }
    if tr.when is not None:
        body["when"] = tr.when
    if tr.for_each is not None:
        body["for_each"] = tr.for_each
    if tr.source_hash is not None:
        body["source_hash"] = tr.source_hash
    return body

"""The build context: while ``flow.build()`` runs, task calls are recorded instead of executed."""

from __future__ import annotations

import contextvars
from typing import TYPE_CHECKING, Any

from dagy.sdk import _codec

if TYPE_CHECKING:
    from dagy.sdk.spec import TaskDef, TaskRunSpec
    from dagy.sdk.task import Task

_current: contextvars.ContextVar[Builder | None] = contextvars.ContextVar(
    "dagy_build", default=None
)


class FlowBuildError(Exception):
    """Raised inside a flow body for a mistake in how tasks are wired (wrapped by Flow.build)."""


class Builder:
    def __init__(self) -> None:
        self.tasks: dict[str, TaskDef] = {}
        self.task_runs: list[TaskRunSpec] = []
        self._counts: dict[str, int] = {}
        self._owners: dict[str, Task[Any]] = {}

    def add_call(
        self, task: Task[Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> _codec.TaskRef:
        from dagy.sdk.spec import TaskRunSpec

        owner = self._owners.setdefault(task.name, task)
        if owner is not task:
            raise FlowBuildError(
                f"Two different tasks are named '{task.name}'; give one another name"
            )
        try:
            task.signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise FlowBuildError(f"Task '{task.name}' called with wrong arguments: {exc}") from None
        refs: set[str] = set()
        try:
            enc_args = [_codec.encode(a, refs) for a in args]
            enc_kwargs = {k: _codec.encode(v, refs) for k, v in kwargs.items()}
        except TypeError as exc:
            raise FlowBuildError(
                f"Task '{task.name}' got an input that cannot be stored in a FlowSpec: {exc}"
            ) from None
        n = self._counts.get(task.name, 0) + 1
        self._counts[task.name] = n
        task_run_id = f"{task.name}-{n}"
        self.tasks[task.name] = task.definition
        self.task_runs.append(
            TaskRunSpec(
                task_run_id=task_run_id,
                task_name=task.name,
                args=enc_args,
                kwargs=enc_kwargs,
                upstream=sorted(refs),
                source_hash=task.source_hash,
            )
        )
        return _codec.TaskRef(task_run_id)


def current() -> Builder | None:
    return _current.get()


def activate(builder: Builder) -> contextvars.Token[Builder | None]:
    return _current.set(builder)


def deactivate(token: contextvars.Token[Builder | None]) -> None:
    _current.reset(token)

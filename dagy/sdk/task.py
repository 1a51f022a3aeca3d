"""``@task``: a plain function that, called inside ``flow.build()``, becomes a node of the DAG."""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable
from typing import Any, Generic, TypeVar, overload

from dagy.errors import RetryConfigurationError
from dagy.sdk import _build
from dagy.sdk.spec import TaskDef

R = TypeVar("R")

# Every task defined in this process, by (module, qualname): how executors find a task's function.
_REGISTRY: dict[tuple[str, str], Task[Any]] = {}


def _check_options(
    name: str,
    retries: Any,
    retry_delay_seconds: Any,
    retry_jitter_factor: Any,
    timeout_seconds: Any,
) -> None:
    def bad(msg: str) -> RetryConfigurationError:
        return RetryConfigurationError(f"Task '{name}': {msg}")

    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise bad(f"retries must be a non-negative integer, got {retries!r}")
    for label, value in (
        ("retry_delay_seconds", retry_delay_seconds),
        ("retry_jitter_factor", retry_jitter_factor),
    ):
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
            or value < 0
        ):
            raise bad(f"{label} must be a non-negative number, got {value!r}")
    if timeout_seconds is not None and (
        isinstance(timeout_seconds, bool)
        or not isinstance(timeout_seconds, (int, float))
        or not math.isfinite(timeout_seconds)
        or timeout_seconds <= 0
    ):
        raise bad(f"timeout_seconds must be a positive number or None, got {timeout_seconds!r}")


class Task(Generic[R]):
    """A task: the wrapped function plus its retry, timeout and executor options."""

    def __init__(
        self,
        fn: Callable[..., R],
        *,
        name: str | None = None,
        retries: int = 0,
        retry_delay_seconds: float = 0,
        retry_jitter_factor: float = 0,
        timeout_seconds: float | None = None,
        executor: str | None = None,
    ) -> None:
        self.fn = fn
        self.name = name or fn.__name__
        _check_options(
            self.name, retries, retry_delay_seconds, retry_jitter_factor, timeout_seconds
        )
        if executor is not None and (not isinstance(executor, str) or not executor):
            raise RetryConfigurationError(
                f"Task '{self.name}': executor must be a non-empty string"
            )
        self.definition = TaskDef(
            name=self.name,
            module=fn.__module__,
            qualname=fn.__qualname__,
            source_file=inspect.getsourcefile(fn),
            retries=retries,
            retry_delay_seconds=float(retry_delay_seconds),
            retry_jitter_factor=float(retry_jitter_factor),
            timeout_seconds=None if timeout_seconds is None else float(timeout_seconds),
            executor=executor,
        )
        self.signature = inspect.signature(fn)
        self._source_hash: str | None = None
        functools.update_wrapper(self, fn)  # type: ignore[arg-type]
        _REGISTRY[(fn.__module__, fn.__qualname__)] = self

    def __call__(self, *args: Any, **kwargs: Any) -> R:
        builder = _build.current()
        if builder is None:
            return self.fn(*args, **kwargs)
        return builder.add_call(self, args, kwargs)  # type: ignore[return-value]

    def __repr__(self) -> str:
        return f"<Task {self.name}>"

    @property
    def source_hash(self) -> str:
        """The hash of the function's code (dagy/sdk/source_hash.py), computed once."""
        if self._source_hash is None:
            from dagy.sdk.source_hash import of_function

            self._source_hash = of_function(self.fn)
        return self._source_hash


@overload
def task(fn: Callable[..., R]) -> Task[R]: ...


@overload
def task(
    fn: None = None,
    *,
    name: str | None = None,
    retries: int = 0,
    retry_delay_seconds: float = 0,
    retry_jitter_factor: float = 0,
    timeout_seconds: float | None = None,
    executor: str | None = None,
) -> Callable[[Callable[..., R]], Task[R]]: ...


def task(fn: Callable[..., R] | None = None, **options: Any) -> Any:
    """Declare a task: ``@task`` or ``@task(retries=2, retry_delay_seconds=1, timeout_seconds=30)``."""
    if fn is not None:
        return Task(fn, **options)
    unknown = set(options) - {
        "name",
        "retries",
        "retry_delay_seconds",
        "retry_jitter_factor",
        "timeout_seconds",
        "executor",
    }
    if unknown:
        raise RetryConfigurationError(f"Unknown task option(s): {', '.join(sorted(unknown))}")
    # Validate now, so a bad option fails at decoration time even before the function is known.
    _check_options(
        options.get("name") or "<task>",
        options.get("retries", 0),
        options.get("retry_delay_seconds", 0),
        options.get("retry_jitter_factor", 0),
        options.get("timeout_seconds"),
    )
    return lambda f: Task(f, **options)


def resolve_task(definition: TaskDef) -> Task[Any]:
    """The Task object for a TaskDef, importing its module if this process has not yet.

    A flow file loaded by path gets a module name with a hash of that path
    (``dagy_flow_<stem>_<hash>``); when the same file is loaded from another place (an artifact
    unpacked elsewhere) the task is found in the module loaded for a file of the same stem.
    """
    found = _REGISTRY.get((definition.module, definition.qualname))
    if found is None and definition.module.startswith("dagy_flow_"):
        prefix = definition.module.rsplit("_", 1)[0] + "_"
        found = next(
            (
                t
                for (module, qualname), t in _REGISTRY.items()
                if qualname == definition.qualname and module.startswith(prefix)
            ),
            None,
        )
    if found is None and not definition.module.startswith("dagy_flow_"):
        import importlib

        importlib.import_module(definition.module)
        found = _REGISTRY.get((definition.module, definition.qualname))
    if found is None:
        raise LookupError(
            f"Task '{definition.name}' ({definition.module}.{definition.qualname}) not found"
        )
    return found

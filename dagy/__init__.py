"""Dagy: a local-first workflow orchestrator. ``from dagy import flow, task``."""

from typing import TYPE_CHECKING, Any

from dagy.errors import (
    APIError,
    ArtifactSerializationError,
    DagyError,
    DependencyCycleError,
    LocalExecutionError,
    ParameterTypeError,
    RetryConfigurationError,
    TaskFailedError,
    TaskTimeoutError,
)

if TYPE_CHECKING:
    from dagy.sdk import Flow, FlowSpec, Task, flow, task
    from dagy.sdk.logging import get_run_logger
    from dagy.sdk.secrets import secret

__version__ = "0.1.0"

# The SDK is imported when one of its names is first asked for (``from dagy import flow`` does),
# not by ``import dagy``: the ``dagy`` command, and most of its subcommands, never need it.
_SDK = {
    "Flow": "dagy.sdk",
    "FlowSpec": "dagy.sdk",
    "Task": "dagy.sdk",
    "flow": "dagy.sdk",
    "task": "dagy.sdk",
    "get_run_logger": "dagy.sdk.logging",
    "secret": "dagy.sdk.secrets",
}


def __getattr__(name: str) -> Any:
    module = _SDK.get(name)
    if module is None:
        raise AttributeError(f"module 'dagy' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_SDK))


__all__ = [
    "APIError",
    "ArtifactSerializationError",
    "DagyError",
    "DependencyCycleError",
    "Flow",
    "FlowSpec",
    "LocalExecutionError",
    "ParameterTypeError",
    "RetryConfigurationError",
    "Task",
    "TaskFailedError",
    "TaskTimeoutError",
    "__version__",
    "flow",
    "get_run_logger",
    "secret",
    "task",
]

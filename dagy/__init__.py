"""Dagy: a local-first workflow orchestrator. ``from dagy import flow, task``."""

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
from dagy.sdk import Flow, FlowSpec, Task, flow, task
from dagy.sdk.logging import get_run_logger
from dagy.sdk.secrets import secret

__version__ = "0.1.0"

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

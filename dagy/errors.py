"""Dagy's exception hierarchy, exactly the spec's tree.

    Exception
    ├── DagyError
    │   ├── APIError(status_code, message)
    │   ├── ParameterTypeError
    │   └── RetryConfigurationError
    └── LocalExecutionError (RuntimeError)
        ├── DependencyCycleError
        ├── TaskFailedError
        ├── ArtifactSerializationError
        └── TaskTimeoutError

A few more specific errors subclass these leaves (never new roots) so the CLI can give them their own
exit codes; see docs/cli.md.
"""

from __future__ import annotations


class DagyError(Exception):
    """Base class of errors raised by the SDK, the CLI and the API client."""


class APIError(DagyError):
    """An HTTP error from the Dagy API; ``status_code`` 0 means the API could not be reached."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(f"{status_code}: {message}")
        self.status_code = status_code
        self.message = message


class ParameterTypeError(DagyError):
    """A flow parameter is missing, unknown, or cannot be coerced to its annotation."""


class RetryConfigurationError(DagyError):
    """A task's retry or timeout options are invalid (raised at decoration time)."""


class RunNotFoundError(DagyError):
    """No run with this id in the store."""

    def __init__(self, run_id: str) -> None:
        super().__init__(f"Run not found: {run_id}")
        self.run_id = run_id


class LogNotFoundError(DagyError):
    """The log file of a run or task run does not exist (never written, or pruned by retention)."""

    def __init__(self, path: object) -> None:
        super().__init__(f"Log not found: {path}")
        self.path = path


class StoreBusyError(DagyError):
    """The DuckDB store stayed locked by another process for longer than the lock timeout."""


class ConfigError(DagyError):
    """config.yaml or a profile in it is invalid."""


class RequestError(DagyError):
    """A service refused a request; ``status`` and ``error`` are how the API reports it.

    Services raise these (never HTTP exceptions); the server maps them to the spec's error body.
    """

    status = 400
    error = "bad_request"

    def __init__(self, message: str, details: dict[str, object] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}


class InvalidInputError(RequestError):
    status, error = 400, "validation_error"


class AuthenticationError(RequestError):
    status, error = 401, "unauthorized"


class PermissionDeniedError(RequestError):
    status, error = 403, "forbidden"


class OrgSuspendedError(PermissionDeniedError):
    """The org is suspended by a super admin: its members, keys, webhooks, sensors and schedules
    are refused until it is activated (dagy/services/admin/customers.py)."""

    status, error = 403, "org_suspended"


class NotFoundError(RequestError):
    status, error = 404, "not_found"


class ConflictError(RequestError):
    status, error = 409, "conflict"


class InsufficientCreditsError(RequestError):
    """The org's credit balance is below what the request costs (the AI studio's 402)."""

    status, error = 402, "insufficient_credits"


class QuotaExceededError(RequestError):
    """A plan's limit is reached; ``fields`` go at the top of the body (the spec's 429 shows
    ``limit``, ``current_usage`` and ``reset_at`` beside ``error``), ``retry_after`` in seconds."""

    status, error = 429, "quota_exceeded"

    def __init__(
        self,
        message: str,
        details: dict[str, object] | None = None,
        *,
        fields: dict[str, object] | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(message, details)
        self.fields = fields or {}
        self.retry_after = retry_after


class ServiceUnavailableError(RequestError):
    """Something the request needs is not configured on this server (e.g. Stripe)."""

    status, error = 503, "service_unavailable"


class LocalExecutionError(RuntimeError):
    """Base class of errors raised while executing a flow run."""


class DependencyCycleError(LocalExecutionError):
    """The FlowSpec has a cycle or refers to a task run output that does not exist."""

    def __init__(
        self, message: str = "Dependency cycle detected or missing dependency output"
    ) -> None:
        super().__init__(message)


class TaskFailedError(LocalExecutionError):
    """A task run failed for good (after its retries)."""

    def __init__(self, task_name: str, message: str) -> None:
        super().__init__(f"Task {task_name} failed: {message}")
        self.task_name = task_name
        self.message = message


class ArtifactSerializationError(LocalExecutionError):
    """A task's return value cannot be stored as a JSON artifact, or is too large."""


class TaskTimeoutError(LocalExecutionError):
    """A task attempt ran longer than its ``timeout_seconds``."""

    def __init__(self, timeout_seconds: float) -> None:
        super().__init__(f"Task exceeded timeout of {timeout_seconds:g}s")
        self.timeout_seconds = timeout_seconds


class RunCancelledError(LocalExecutionError):
    """The run was cancelled (Ctrl+C or a cancel request) before it finished."""


__all__ = [
    "APIError",
    "ArtifactSerializationError",
    "AuthenticationError",
    "ConfigError",
    "ConflictError",
    "DagyError",
    "DependencyCycleError",
    "InvalidInputError",
    "LocalExecutionError",
    "LogNotFoundError",
    "NotFoundError",
    "ParameterTypeError",
    "PermissionDeniedError",
    "QuotaExceededError",
    "RequestError",
    "RetryConfigurationError",
    "RunCancelledError",
    "RunNotFoundError",
    "ServiceUnavailableError",
    "StoreBusyError",
    "TaskFailedError",
    "TaskTimeoutError",
]

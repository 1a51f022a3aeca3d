"""The exception hierarchy is the spec's tree; Dagy's extra errors hang below its nodes, never beside."""

from __future__ import annotations

import pytest

from dagy import errors


@pytest.mark.parametrize(
    ("child", "parent"),
    [
        (errors.DagyError, Exception),
        (errors.APIError, errors.DagyError),
        (errors.ParameterTypeError, errors.DagyError),
        (errors.RetryConfigurationError, errors.DagyError),
        (errors.LocalExecutionError, RuntimeError),
        (errors.DependencyCycleError, errors.LocalExecutionError),
        (errors.TaskFailedError, errors.LocalExecutionError),
        (errors.ArtifactSerializationError, errors.LocalExecutionError),
        (errors.TaskTimeoutError, errors.LocalExecutionError),
        (errors.RunNotFoundError, errors.DagyError),
        (errors.LogNotFoundError, errors.DagyError),
        (errors.StoreBusyError, errors.DagyError),
        (errors.ConfigError, errors.DagyError),
        (errors.RunCancelledError, errors.LocalExecutionError),
    ],
)
def test_each_error_sits_where_the_spec_puts_it(child, parent):
    assert issubclass(child, parent)


def test_local_execution_errors_are_not_dagy_errors():
    assert not issubclass(errors.LocalExecutionError, errors.DagyError)


def test_messages_match_the_spec():
    assert str(errors.TaskFailedError("load", "boom")) == "Task load failed: boom"
    assert str(errors.TaskTimeoutError(30)) == "Task exceeded timeout of 30s"
    assert (
        str(errors.DependencyCycleError())
        == "Dependency cycle detected or missing dependency output"
    )
    assert str(errors.RunNotFoundError("r1")) == "Run not found: r1"
    assert str(errors.LogNotFoundError("/x/run.log")) == "Log not found: /x/run.log"
    api = errors.APIError(0, "Unable to reach Dagy API at http://x.")
    assert (api.status_code, api.message) == (0, "Unable to reach Dagy API at http://x.")

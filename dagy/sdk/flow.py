"""``@flow``: a function whose body wires tasks together; ``build()`` turns it into a FlowSpec."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, overload

from dagy.errors import DagyError
from dagy.sdk import _build, _codec
from dagy.sdk.params import coerce_parameters, parameter_schema
from dagy.sdk.spec import FlowSpec

DEFAULT_VERSION = "0.1.0"


class FlowBuildError(DagyError):
    """The flow body failed while it was being built into a FlowSpec."""


class Flow:
    """A flow: its function, name and version. Calling it runs it locally and returns its output."""

    def __init__(
        self,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        version: str | None = None,
        description: str | None = None,
    ) -> None:
        self.fn = fn
        self.name = name or fn.__name__
        self.version = str(version) if version is not None else DEFAULT_VERSION
        self.description = description if description is not None else (fn.__doc__ or "").strip()
        self.entrypoint: str | None = None  # "<file>:<attr>", set by the loader
        functools.update_wrapper(self, fn)  # type: ignore[arg-type]

    def coerce(self, params: dict[str, Any]) -> dict[str, Any]:
        """Parameters coerced to the function's annotations, defaults filled in."""
        return coerce_parameters(self.fn, self.name, params)

    def build(self, **params: Any) -> FlowSpec:
        """Call the flow body once with task calls recorded; the result is the run's FlowSpec."""
        values = self.coerce(params)
        builder = _build.Builder()
        token = _build.activate(builder)
        try:
            result = self.fn(**values)
        except _build.FlowBuildError as exc:
            raise FlowBuildError(f"Flow '{self.name}' failed to build: {exc}") from None
        except DagyError:
            raise
        except Exception as exc:
            raise FlowBuildError(
                f"Flow '{self.name}' failed to build: {type(exc).__name__}: {exc}"
            ) from exc
        finally:
            _build.deactivate(token)
        refs: set[str] = set()
        try:
            outputs = _codec.encode(result, refs)
            encoded_params = _codec.encode(values, set())
        except TypeError as exc:
            raise FlowBuildError(
                f"Flow '{self.name}' returned or received a value that cannot be stored: {exc}"
            ) from None
        return FlowSpec(
            flow_name=self.name,
            flow_version=self.version,
            parameters=encoded_params,
            tasks=dict(builder.tasks),
            task_runs=list(builder.task_runs),
            outputs=outputs,
            entrypoint=self.entrypoint,
            parameter_schema=parameter_schema(self.fn),
        )

    def run(self, *, max_workers: int = 1, fail_fast: bool = True, **params: Any) -> Any:
        """Run the flow locally through the engine and store; returns the finished run record."""
        from dagy.sdk import hooks

        return hooks.get("run_flow")(self, params, max_workers=max_workers, fail_fast=fail_fast)

    def __call__(self, *args: Any, **params: Any) -> Any:
        if args:
            raise TypeError(f"Flow '{self.name}' takes keyword parameters only")
        record = self.run(**params)
        if record.error:
            from dagy.errors import LocalExecutionError

            raise LocalExecutionError(record.error)
        return None if record.output is None else _codec.loads(record.output)

    def __repr__(self) -> str:
        return f"<Flow {self.name}:{self.version}>"


@overload
def flow(fn: Callable[..., Any]) -> Flow: ...


@overload
def flow(
    fn: None = None,
    *,
    name: str | None = None,
    version: str | None = None,
    description: str | None = None,
) -> Callable[[Callable[..., Any]], Flow]: ...


def flow(fn: Callable[..., Any] | None = None, **options: Any) -> Any:
    """Declare a flow: ``@flow`` or ``@flow(name="daily_etl", version="1.0.0")``."""
    if fn is not None:
        return Flow(fn, **options)
    return lambda f: Flow(f, **options)

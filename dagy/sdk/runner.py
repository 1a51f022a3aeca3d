"""The seam through which calling a flow from Python runs it: the runs services register the
function that executes a flow (dagy/services/runs/execute.py), so the SDK never imports them and
``from dagy import flow, task`` stays light."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dagy.sdk.flow import Flow

# run(flow, params, max_workers=..., fail_fast=...) -> the finished run record
Runner = Callable[..., Any]

_runner: Runner | None = None
# The module that registers the runner when imported: the one name the SDK knows it by.
PROVIDER = "dagy.services.runs.execute"


def register(runner: Runner) -> None:
    """Called by the runs services when they are imported."""
    global _runner
    _runner = runner


def run(flow: Flow, params: dict[str, Any], *, max_workers: int, fail_fast: bool) -> Any:
    """Execute ``flow`` here, recording it in this home's store; the finished run record."""
    if _runner is None:
        importlib.import_module(PROVIDER)
    if _runner is None:
        raise RuntimeError(f"{PROVIDER} did not register a flow runner")
    return _runner(flow, params, max_workers=max_workers, fail_fast=fail_fast)

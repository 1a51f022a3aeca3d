"""The seam between the SDK and the services: what a flow or a task needs from Dagy's machinery
(running a flow called from Python, a secret's value outside a server run) is looked up here.

The services register their function when imported (dagy/services/runs/execute.py registers
``run_flow``); until then the one place below names the module and function to import, so the SDK
never imports ``dagy.services`` and ``from dagy import flow, task`` stays light.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

# hook -> "<module>:<function>" that provides it (imported on first use only)
PROVIDERS = {
    # run_flow(flow, params, max_workers=..., fail_fast=...) -> the finished run record
    "run_flow": "dagy.services.runs.execute:run_flow",
    # secret_value(paths, name, environment) -> str, where the backend looks (audited there)
    "secret_value": "dagy.backend.vault:secret_value",
}

_hooks: dict[str, Callable[..., Any]] = {}


def register(name: str, fn: Callable[..., Any]) -> None:
    """Called by a service module when it is imported."""
    if name not in PROVIDERS:
        raise KeyError(f"Unknown SDK hook: {name}")
    _hooks[name] = fn


def get(name: str) -> Callable[..., Any]:
    """The registered function, importing its provider the first time."""
    fn = _hooks.get(name)
    if fn is None:
        module, _, attr = PROVIDERS[name].partition(":")
        provided = importlib.import_module(module)
        fn = _hooks.setdefault(name, getattr(provided, attr))
    return fn

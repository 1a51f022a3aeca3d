"""The execution backends installed here (GET /backends): executors found by entry point.

Each backend reports its class attributes ``capabilities``, ``max_concurrent_runs`` and
``max_timeout_seconds`` (null: no limit of its own). A plugin that fails to load is listed as
``unavailable`` with its error instead of breaking the list.
"""

from __future__ import annotations

from typing import Any

GROUP = "dagy.executors"


def installed() -> list[dict[str, Any]]:
    """Every backend, built-in ones first, then plugins by name."""
    from importlib.metadata import entry_points

    from dagy.engine.executors import BUILTIN

    found: dict[str, dict[str, Any]] = {}
    for name in ("local", "process"):  # BUILTIN also has "thread", an alias of local
        found[name] = _describe(name, BUILTIN[name])
    for ep in sorted(entry_points(group=GROUP), key=lambda e: e.name):
        if ep.name in found:
            continue  # executor_class() prefers the built-in class of that name, so do we
        try:
            cls = ep.load()
        except Exception as exc:  # noqa: BLE001 - any failure of a plugin's import is reported
            found[ep.name] = {
                "name": ep.name,
                "status": "unavailable",
                "error": f"{type(exc).__name__}: {exc}",
            }
            continue
        found[ep.name] = _describe(ep.name, cls)
    return list(found.values())


def _describe(name: str, cls: Any) -> dict[str, Any]:
    return {
        "name": name,
        "capabilities": list(getattr(cls, "capabilities", ())),
        "max_concurrent_runs": getattr(cls, "max_concurrent_runs", None),
        "max_timeout_seconds": getattr(cls, "max_timeout_seconds", None),
        "status": "available",
    }

"""Plugins: packages that register entry points in Dagy's groups. Nothing here imports a plugin
until it is asked for, and a plugin that fails to load is reported by name, never raised at the
caller (docs/plugins.md)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

GROUPS = {
    "dagy.executors": "executor",
    "dagy.artifact_stores": "artifact_store",
}


@dataclass(frozen=True)
class Plugin:
    group: str
    kind: str
    name: str
    target: str  # "module:attribute"
    distribution: str | None
    version: str | None
    error: str | None = None  # why it failed to load; None: it loads

    @property
    def ok(self) -> bool:
        return self.error is None


def load_error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _distribution(ep: Any) -> tuple[str | None, str | None]:
    dist = getattr(ep, "dist", None)
    if dist is None:
        return None, None
    return dist.metadata["Name"], dist.version


def discover(*, load: bool = True) -> list[Plugin]:
    """Every entry point of Dagy's groups, by group and name; ``load`` tries each import."""
    from importlib.metadata import entry_points

    found: list[Plugin] = []
    for group, kind in GROUPS.items():
        for ep in sorted(entry_points(group=group), key=lambda e: e.name):
            error = None
            if load:
                try:
                    ep.load()
                except Exception as exc:  # noqa: BLE001 - any failure of a plugin is reported
                    error = load_error(exc)
            found.append(Plugin(group, kind, ep.name, ep.value, *_distribution(ep), error))
    return found

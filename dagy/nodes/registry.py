"""Every node type a pipeline can use: the built-ins, plugins' nodes and an org's custom nodes.

Plugins add node types through the entry-point group ``dagy.nodes``: an entry point loads to a
``NodeDef``, a list of them, or a callable returning one or a list. A plugin that fails to load, or
answers anything else, is skipped with a warning (it never breaks the registry); a plugin may not
replace a built-in. Custom nodes are rows of the org's ``custom_nodes`` table (dagy/store/custom_nodes.py).
"""

from __future__ import annotations

import functools
import logging
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dagy.nodes.definitions import builtin_nodes
from dagy.nodes.model import NodeDef

if TYPE_CHECKING:
    from dagy.store.duckdb_store import DuckDBStore

ENTRY_POINT_GROUP = "dagy.nodes"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Category:
    id: str
    label: str


# The spec's seven categories, in the node panel's order.
CATEGORIES: tuple[Category, ...] = (
    Category("ingestion", "Ingestion"),
    Category("transform", "Transform"),
    Category("llm", "LLM"),
    Category("vectordb", "Vector DB"),
    Category("notification", "Notifications"),
    Category("custom", "Custom Code"),
    Category("control_flow", "Control Flow"),
)
CATEGORY_IDS = tuple(c.id for c in CATEGORIES)


def _plugin_defs(loaded: Any) -> list[NodeDef]:
    if callable(loaded) and not isinstance(loaded, NodeDef):
        loaded = loaded()
    items = [loaded] if isinstance(loaded, NodeDef) else loaded
    if not isinstance(items, (list, tuple)) or not all(isinstance(d, NodeDef) for d in items):
        raise TypeError(f"expected a NodeDef or a list of them, got {type(loaded).__name__}")
    return list(items)


def _warn(message: str) -> None:
    log.warning(message)
    warnings.warn(message, RuntimeWarning, stacklevel=3)


def plugin_nodes(known: Iterable[str] = ()) -> list[NodeDef]:
    """Node types from installed plugins; broken plugins and clashes are skipped with a warning."""
    from importlib.metadata import entry_points

    taken = set(known)
    found: list[NodeDef] = []
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        try:
            defs = _plugin_defs(ep.load())
        except Exception as exc:  # a plugin's bug must not break the registry
            _warn(f"dagy.nodes plugin {ep.name!r} ({ep.value}) skipped: {exc}")
            continue
        for d in defs:
            if d.node_type in taken:
                _warn(f"dagy.nodes plugin {ep.name!r}: node type {d.node_type!r} already exists")
                continue
            if d.category not in CATEGORY_IDS:
                _warn(f"dagy.nodes plugin {ep.name!r}: {d.node_type!r} has unknown category")
                continue
            taken.add(d.node_type)
            found.append(d)
    return found


@functools.cache
def builtins() -> dict[str, NodeDef]:
    """The built-ins and plugin nodes, by node_type, in panel order (loaded once per process)."""
    nodes = {d.node_type: d for d in builtin_nodes()}
    for d in plugin_nodes(nodes):
        nodes[d.node_type] = d
    return nodes


def custom_nodes(store: DuckDBStore, org_id: str) -> list[NodeDef]:
    """The org's custom nodes, by node_type."""
    from dagy.nodes.custom import from_row
    from dagy.store import custom_nodes as rows

    return [from_row(row) for row in rows.list_for_org(store, org_id)]


def lookup(
    node_type: str, *, store: DuckDBStore | None = None, org_id: str | None = None
) -> NodeDef | None:
    """A node type: built-ins and plugins first, then the org's custom nodes (store and org given)."""
    found = builtins().get(node_type)
    if found is not None or store is None or org_id is None:
        return found
    from dagy.nodes.custom import from_row
    from dagy.store import custom_nodes as rows

    row = rows.get(store, org_id, node_type)
    return from_row(row) if row is not None else None


def lookup_for(store: DuckDBStore | None, org_id: str | None) -> Callable[[str], NodeDef | None]:
    """A ``lookup`` bound to one org: what the pipeline checker and compiler take."""
    return functools.partial(lookup, store=store, org_id=org_id)


def all_nodes(store: DuckDBStore | None = None, org_id: str | None = None) -> list[NodeDef]:
    """Built-ins and plugins, then the org's custom nodes."""
    nodes = list(builtins().values())
    if store is not None and org_id is not None:
        nodes += custom_nodes(store, org_id)
    return nodes


def matches(node: NodeDef, query: str) -> bool:
    """Whether every word of ``query`` is in the node's type, label, description or tags."""
    text = " ".join((node.node_type, node.label, node.description, *node.tags)).lower()
    return all(word in text for word in query.lower().split())


def search(
    query: str, store: DuckDBStore | None = None, org_id: str | None = None
) -> list[NodeDef]:
    return [n for n in all_nodes(store, org_id) if matches(n, query)]


def category_counts(nodes: Iterable[NodeDef]) -> list[dict[str, Any]]:
    counts = dict.fromkeys(CATEGORY_IDS, 0)
    for n in nodes:
        counts[n.category] = counts.get(n.category, 0) + 1
    return [{"id": c.id, "label": c.label, "count": counts[c.id]} for c in CATEGORIES]

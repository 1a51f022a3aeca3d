"""Whether an edge may join two connectors: direction, data types and cardinality.

Each error names its rule first (``direction: ...``, ``data_types: ...``, ``cardinality: ...``,
``connector: ...``) so a canvas can show why an edge is refused.
"""

from __future__ import annotations

from typing import Any

from dagy.nodes.model import Connector, NodeDef

# How many edges a connector takes, by cardinality (None: no limit).
MAX_CONNECTIONS: dict[str, int | None] = {
    "one": 1,
    "zero_or_one": 1,
    "zero_or_many": None,
    "one_or_many": None,
}


def types_compatible(source: tuple[str, ...], target: tuple[str, ...]) -> bool:
    """``any`` on either side matches everything; otherwise the two must share a type."""
    return "any" in source or "any" in target or bool(set(source) & set(target))


def _summary(connector: Connector | None) -> dict[str, Any] | None:
    if connector is None:
        return None
    return {"id": connector.id, "name": connector.name, "data_types": list(connector.data_types)}


def _cardinality(connector: Connector, existing: int, side: str) -> str | None:
    limit = MAX_CONNECTIONS.get(connector.cardinality)
    if limit is not None and existing + 1 > limit:
        return (
            f"cardinality: {side} connector {connector.id!r} accepts at most {limit} "
            f"connection{'s' if limit != 1 else ''} ({connector.cardinality}) and already "
            f"has {existing}"
        )
    return None


def validate_connection(
    source: NodeDef,
    source_connector_id: str,
    target: NodeDef,
    target_connector_id: str,
    existing_source_connections: int = 0,
    existing_target_connections: int = 0,
) -> dict[str, Any]:
    """The body of POST /nodes/validate-connection: ``valid``, ``errors`` and both connectors."""
    errors: list[str] = []
    out = source.connector(source_connector_id)
    into = target.connector(target_connector_id)
    if out is None:
        errors.append(
            f"connector: {source.node_type} has no connector {source_connector_id!r} "
            f"(it has {', '.join(c.id for c in source.connectors) or 'none'})"
        )
    if into is None:
        errors.append(
            f"connector: {target.node_type} has no connector {target_connector_id!r} "
            f"(it has {', '.join(c.id for c in target.connectors) or 'none'})"
        )
    if out is not None and out.direction != "outbound":
        errors.append(
            f"direction: source connector {out.id!r} of {source.node_type} is {out.direction}; "
            "an edge must start at an outbound connector"
        )
    if into is not None and into.direction != "inbound":
        errors.append(
            f"direction: target connector {into.id!r} of {target.node_type} is {into.direction}; "
            "an edge must end at an inbound connector"
        )
    if (
        out is not None
        and into is not None
        and not types_compatible(out.data_types, into.data_types)
    ):
        errors.append(
            f"data_types: {source.node_type}.{out.id} gives {', '.join(out.data_types)} but "
            f"{target.node_type}.{into.id} takes {', '.join(into.data_types)}"
        )
    if out is not None:
        problem = _cardinality(out, existing_source_connections, "source")
        if problem:
            errors.append(problem)
    if into is not None:
        problem = _cardinality(into, existing_target_connections, "target")
        if problem:
            errors.append(problem)
    return {
        "valid": not errors,
        "errors": errors,
        "source_connector": _summary(out),
        "target_connector": _summary(into),
    }

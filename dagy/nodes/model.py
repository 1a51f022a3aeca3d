"""A node type as data: its connectors, its config form, and what runs it.

A built-in is a ``NodeDef`` in code (dagy/nodes/definitions.py); a plugin's is a ``NodeDef`` its
``dagy.nodes`` entry point returns; a custom node is a row of the org's ``custom_nodes`` table turned
into a ``NodeDef``. ``to_api`` is the shape of GET /nodes/registry/{node_type}.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

DIRECTIONS = ("inbound", "outbound")
CARDINALITIES = ("one", "zero_or_one", "zero_or_many", "one_or_many")
# Data types a connector can carry; "any" matches every type.
DATA_TYPES = (
    "any",
    "trigger",
    "json",
    "dataframe",
    "string",
    "number",
    "boolean",
    "binary",
    "documents",
    "embeddings",
)
FIELD_TYPES = (
    "string",
    "text",
    "integer",
    "number",
    "boolean",
    "select",
    "object",
    "array",
    "code",
    "secret",
    "json",  # any JSON value (a compared value, a request body): no type check
)


@dataclass(frozen=True)
class Connector:
    id: str
    name: str
    direction: str  # inbound | outbound
    data_types: tuple[str, ...]
    cardinality: str = "zero_or_many"
    required: bool = False

    def to_api(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "direction": self.direction,
            "data_types": list(self.data_types),
            "cardinality": self.cardinality,
            "required": self.required,
        }


@dataclass(frozen=True)
class ConfigField:
    name: str
    label: str
    type: str = "string"
    required: bool = False
    default: Any = None
    description: str = ""
    options: tuple[str, ...] = ()  # the choices of a "select"

    def to_api(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "name": self.name,
            "label": self.label,
            "type": self.type,
            "required": self.required,
        }
        if self.default is not None:
            body["default"] = self.default
        if self.description:
            body["description"] = self.description
        if self.options:
            body["options"] = list(self.options)
        return body


@dataclass(frozen=True)
class NodeDef:
    node_type: str
    label: str
    description: str
    category: str
    icon: str
    color: str
    connectors: tuple[Connector, ...]
    config_schema: tuple[ConfigField, ...] = ()
    tags: tuple[str, ...] = ()
    official: bool = True
    # What runs it: "module:function" of a node implementation (dagy/nodes/run/), called as
    # fn(config=<dict>, inputs=<dict keyed by inbound connector or `with` key>). None: this node
    # cannot run here, and ``not_executable`` says why (refused at validation, never at run time).
    impl: str | None = None
    not_executable: str | None = None
    # Custom nodes: the org's code ("package.module:attr"), and the row's version and owner.
    import_path: str | None = None
    org_id: str | None = None
    version: int = 1
    created_at: str | None = None
    updated_at: str | None = None

    @property
    def executable(self) -> bool:
        return self.impl is not None or self.import_path is not None

    def connector(self, connector_id: str) -> Connector | None:
        return next((c for c in self.connectors if c.id == connector_id), None)

    def to_api(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "node_type": self.node_type,
            "label": self.label,
            "description": self.description,
            "category": self.category,
            "icon": self.icon,
            "color": self.color,
            "official": self.official,
            "connectors": [c.to_api() for c in self.connectors],
            "config_schema": [f.to_api() for f in self.config_schema],
            "tags": list(self.tags),
            "executable": self.executable,
        }
        if self.not_executable:
            body["not_executable_reason"] = self.not_executable
        if not self.official:
            body.update(
                import_path=self.import_path,
                org_id=self.org_id,
                version=self.version,
                created_at=self.created_at,
                updated_at=self.updated_at,
            )
        return body

"""An org's custom node type as data: checking a definition the API receives, and the ``NodeDef``
of a stored one.

A definition is the body of POST /nodes/registry without ``node_type`` and ``import_path`` (those
are columns): label, description, category, icon, color, connectors, config_schema, tags. Every
problem is reported at once, each under its path (``connectors[1].direction``).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from dagy.errors import InvalidInputError
from dagy.names import check_display_name
from dagy.nodes.model import (
    CARDINALITIES,
    DATA_TYPES,
    DIRECTIONS,
    FIELD_TYPES,
    ConfigField,
    Connector,
    NodeDef,
)

if TYPE_CHECKING:
    from dagy.store.custom_nodes import CustomNodeRow

NODE_TYPE = re.compile(r"^[a-z][a-z0-9_]{1,63}$")
IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
IMPORT_PATH = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*:[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*$")
# What runs every custom node: it imports ``import_path`` and calls it (NODERUN).
CUSTOM_IMPL = "dagy.nodes.run.code:custom_node"
FIELDS = frozenset(
    {
        "node_type",
        "label",
        "description",
        "category",
        "icon",
        "color",
        "connectors",
        "config_schema",
        "tags",
        "import_path",
        "official",
    }
)
DEFAULT_ICON, DEFAULT_COLOR = "Box", "gray"
MAX_TEXT = 2000
MAX_ITEMS = 100


class _Problems:
    def __init__(self) -> None:
        self.found: dict[str, str] = {}

    def add(self, path: str, message: str) -> None:
        self.found.setdefault(path, message)

    def raise_any(self) -> None:
        if self.found:
            path, message = next(iter(self.found.items()))
            raise InvalidInputError(f"Invalid node definition: {path}: {message}", dict(self.found))


def _text(
    p: _Problems, body: dict[str, Any], key: str, *, required: bool, default: str = ""
) -> str:
    value = body.get(key)
    if value is None:
        if required:
            p.add(key, "required")
        return default
    if not isinstance(value, str) or (required and not value.strip()) or len(value) > MAX_TEXT:
        p.add(key, f"a {'non-empty ' if required else ''}string of at most {MAX_TEXT} characters")
        return default
    return value


def _strings(p: _Problems, value: Any, path: str, allowed: tuple[str, ...] = ()) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        p.add(path, "a list of non-empty strings")
        return []
    for i, v in enumerate(value):
        if allowed and v not in allowed:
            p.add(
                f"{path}[{i}]",
                f"unknown {path.rpartition('.')[2]} {v!r}: one of {', '.join(allowed)}",
            )
    return list(value)


def _list_of_objects(p: _Problems, value: Any, path: str) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > MAX_ITEMS:
        p.add(path, f"a list of at most {MAX_ITEMS} objects")
        return []
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            p.add(f"{path}[{i}]", "an object")
    return [item for item in value if isinstance(item, dict)]


def _connectors(p: _Problems, value: Any) -> list[dict[str, Any]]:
    out, seen = [], set()
    known = {"id", "name", "direction", "data_types", "cardinality", "required"}
    for i, c in enumerate(_list_of_objects(p, value, "connectors")):
        at = f"connectors[{i}]"
        for key in sorted(set(c) - known):
            p.add(f"{at}.{key}", "unknown field")
        cid = c.get("id")
        if not isinstance(cid, str) or not IDENT.match(cid):
            p.add(f"{at}.id", "required: letters, digits and _ (at most 64)")
        elif cid in seen:
            p.add(f"{at}.id", f"duplicate connector id {cid!r}")
        seen.add(cid)
        name = c.get("name", cid)
        if not isinstance(name, str) or not name:
            p.add(f"{at}.name", "a non-empty string")
        if c.get("direction") not in DIRECTIONS:
            p.add(f"{at}.direction", f"required: one of {', '.join(DIRECTIONS)}")
        types = _strings(p, c.get("data_types", ["any"]), f"{at}.data_types", DATA_TYPES)
        if not types:
            p.add(f"{at}.data_types", "at least one data type")
        cardinality = c.get("cardinality", "zero_or_many")
        if cardinality not in CARDINALITIES:
            p.add(f"{at}.cardinality", f"one of {', '.join(CARDINALITIES)}")
        required = c.get("required", False)
        if not isinstance(required, bool):
            p.add(f"{at}.required", "true or false")
        out.append(
            {
                "id": cid,
                "name": name,
                "direction": c.get("direction"),
                "data_types": types,
                "cardinality": cardinality,
                "required": required,
            }
        )
    return out


def _config_schema(p: _Problems, value: Any) -> list[dict[str, Any]]:
    out, seen = [], set()
    known = {"name", "label", "type", "required", "default", "description", "options"}
    for i, f in enumerate(_list_of_objects(p, value, "config_schema")):
        at = f"config_schema[{i}]"
        for key in sorted(set(f) - known):
            p.add(f"{at}.{key}", "unknown field")
        name = f.get("name")
        if not isinstance(name, str) or not IDENT.match(name):
            p.add(f"{at}.name", "required: letters, digits and _ (at most 64)")
        elif name in seen:
            p.add(f"{at}.name", f"duplicate field {name!r}")
        seen.add(name)
        label = f.get("label", name)
        if not isinstance(label, str) or not label:
            p.add(f"{at}.label", "a non-empty string")
        ftype = f.get("type", "string")
        if ftype not in FIELD_TYPES:
            p.add(f"{at}.type", f"one of {', '.join(FIELD_TYPES)}")
        required = f.get("required", False)
        if not isinstance(required, bool):
            p.add(f"{at}.required", "true or false")
        description = f.get("description", "")
        if not isinstance(description, str):
            p.add(f"{at}.description", "a string")
        options = _strings(p, f["options"], f"{at}.options") if "options" in f else []
        if ftype == "select" and not options:
            p.add(f"{at}.options", "a select field needs its options")
        field: dict[str, Any] = {
            "name": name,
            "label": label,
            "type": ftype,
            "required": required,
            "description": description,
            "options": options,
        }
        if f.get("default") is not None:
            field["default"] = f["default"]
        out.append(field)
    return out


def check(body: Any, categories: tuple[str, ...]) -> tuple[str, str, dict[str, Any]]:
    """``(node_type, import_path, definition)`` of a full body; InvalidInputError naming every
    problem by its path otherwise."""
    if not isinstance(body, dict):
        raise InvalidInputError("The body must be a JSON object", {"body": "a JSON object"})
    p = _Problems()
    for key in sorted(set(body) - FIELDS):
        p.add(key, "unknown field")
    node_type = body.get("node_type")
    if not isinstance(node_type, str) or not NODE_TYPE.match(node_type):
        p.add("node_type", "required: 2-64 of a-z, 0-9 and _, starting with a letter")
    if body.get("official") not in (None, False):
        p.add("official", "a custom node is never official")
    label = _text(p, body, "label", required=True)
    if label:
        try:
            label = check_display_name(label, "label", max_length=MAX_TEXT)
        except InvalidInputError as exc:
            p.add("label", str(exc.details["label"]))
    description = _text(p, body, "description", required=False)
    category = body.get("category")
    if category not in categories:
        p.add("category", f"required: one of {', '.join(categories)}")
    icon = _text(p, body, "icon", required=False, default=DEFAULT_ICON) or DEFAULT_ICON
    color = _text(p, body, "color", required=False, default=DEFAULT_COLOR) or DEFAULT_COLOR
    connectors = _connectors(p, body.get("connectors"))
    config_schema = _config_schema(p, body.get("config_schema"))
    tags = _strings(p, body.get("tags", []), "tags")
    import_path = body.get("import_path")
    if not isinstance(import_path, str) or not IMPORT_PATH.match(import_path):
        p.add("import_path", 'required: "package.module:attribute"')
    p.raise_any()
    definition = {
        "label": label,
        "description": description,
        "category": category,
        "icon": icon,
        "color": color,
        "connectors": connectors,
        "config_schema": config_schema,
        "tags": tags,
    }
    return str(node_type), str(import_path), definition


def to_node_def(
    node_type: str, import_path: str, definition: dict[str, Any], **row: Any
) -> NodeDef:
    return NodeDef(
        node_type=node_type,
        label=definition["label"],
        description=definition.get("description", ""),
        category=definition["category"],
        icon=definition.get("icon", DEFAULT_ICON),
        color=definition.get("color", DEFAULT_COLOR),
        connectors=tuple(
            Connector(
                c["id"],
                c["name"],
                c["direction"],
                tuple(c["data_types"]),
                c["cardinality"],
                c["required"],
            )
            for c in definition.get("connectors", [])
        ),
        config_schema=tuple(
            ConfigField(
                f["name"],
                f["label"],
                f["type"],
                f["required"],
                f.get("default"),
                f.get("description", ""),
                tuple(f.get("options", ())),
            )
            for f in definition.get("config_schema", [])
        ),
        tags=tuple(definition.get("tags", ())),
        official=False,
        impl=CUSTOM_IMPL,
        import_path=import_path,
        **row,
    )


def from_row(row: CustomNodeRow) -> NodeDef:
    from dagy.store.records import iso_z

    return to_node_def(
        row.node_type,
        row.import_path,
        row.definition,
        org_id=row.org_id,
        version=row.version,
        created_at=iso_z(row.created_at),
        updated_at=iso_z(row.updated_at),
    )

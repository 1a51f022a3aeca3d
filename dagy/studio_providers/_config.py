"""Config a step gets from what the request says about it, and the parameters and questions for
what it does not say (shared by the offline planner's build and its edits)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from dagy.nodes.model import NodeDef
from dagy.studio_providers import _words

# A step's data input is keyed by the inbound connector's id, so the canvas draws the edge.
DATA_IN = "data_in"
STEP_IDS = {
    "s3_ingest": "read_s3",
    "http_fetch": "fetch_http",
    "schema_validator": "validate",
    "data_normalizer": "normalize",
    "deduplicator": "dedupe",
    "python_function": "python_step",
    "s3_write": "write_s3",
    "webhook_post": "post_webhook",
}


@dataclass
class Plan:
    """What the planner gathers while it configures steps."""

    params: dict[str, Any] = field(default_factory=dict)
    asks: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    source_format: str | None = None
    bucket: str | None = None
    schema: dict[str, Any] | None = None  # a JSON Schema the user attached
    schema_from: str | None = None

    def param(self, name: str, default: Any, ask: str) -> str:
        self.params.setdefault(name, default)
        self.asks.append(ask)
        return f"${{params.{name}}}"


def attached_schema(attachments: list[Any]) -> tuple[dict[str, Any], str] | None:
    """The first attachment that parses (JSON or YAML) to a JSON Schema of an object."""
    import json

    import yaml

    for a in attachments:
        try:
            data = json.loads(a.text)
        except ValueError:
            try:
                data = yaml.safe_load(a.text)
            except yaml.YAMLError:
                continue
        is_schema = isinstance(data, dict) and ("properties" in data or "required" in data)
        if is_schema and data.get("type", "object") == "object":
            return data, a.name
    return None


def s3_uri(uris: list[str]) -> str | None:
    return next((u for u in uris if u.lower().startswith(("s3://", "file://"))), None)


def http_url(uris: list[str]) -> str | None:
    return next((u for u in uris if u.lower().startswith(("http://", "https://"))), None)


def configure(node_type: str, text: str, uris: list[str], plan: Plan) -> dict[str, Any]:
    """The config ``text`` (what the request says about this step) gives a node of ``node_type``;
    missing required values become parameters and questions in ``plan``."""
    config: dict[str, Any] = {}
    if node_type == "s3_ingest":
        uri = s3_uri(uris)
        if uri:
            config["uri"] = uri
        elif plan.bucket:
            key = plan.param("input_key", "", f"the key to read in bucket {plan.bucket}")
            config["uri"] = f"s3://{plan.bucket}/{key}"
        else:
            config["uri"] = plan.param(
                "input_uri", "", "where to read the input (input_uri: s3://bucket/key)"
            )
        fmt = _words.format_in(text)
        if fmt:
            config["format"] = fmt
            plan.source_format = fmt
    elif node_type == "s3_write":
        uri = s3_uri(uris)
        if uri:
            config["uri"] = uri
        elif plan.bucket:
            key = plan.param("output_key", "", f"the key to write in bucket {plan.bucket}")
            config["uri"] = f"s3://{plan.bucket}/{key}"
        else:
            config["uri"] = plan.param(
                "output_uri", "", "where to write the result (output_uri: s3://bucket/key)"
            )
        fmt = _words.format_in(text) or plan.source_format
        if fmt:
            config["format"] = fmt
    elif node_type == "http_fetch":
        url = http_url(uris)
        config["url"] = url or plan.param(
            "source_url", "", "the URL to fetch (source_url: https://...)"
        )
    elif node_type == "webhook_post":
        url = http_url(uris)
        config["url"] = url or plan.param(
            "webhook_url", "", "the webhook URL to post to (webhook_url: https://...)"
        )
    elif node_type == "schema_validator":
        required = _words.required_fields(text)
        schema: dict[str, Any] = {"type": "object"}
        if required:
            schema["required"] = required
        elif plan.schema is not None:
            schema = plan.schema
            plan.notes.append(f"The schema is the one in {plan.schema_from}")
        else:
            plan.asks.append(
                "which fields every record must have (say 'required fields id, email'): "
                "the schema now only checks that each record is an object"
            )
        config["schema"] = schema
        if re.search(r"\b(drop|skip|discard|filter out)\b", text, re.I):
            config["on_invalid"] = "drop"
    elif node_type == "deduplicator":
        keys = _words.keys_in(text)
        if keys:
            config["keys"] = keys
        else:
            plan.asks.append(
                "which fields identify a record for deduplication (say 'dedupe by order_id'): "
                "records now count as duplicates only when every field is equal"
            )
        if re.search(r"\b(keep|keeping)\s+(the\s+)?(last|latest|newest|most recent)\b", text, re.I):
            config["keep"] = "last"
    elif node_type == "data_normalizer":
        renames = _words.renames_in(text)
        if renames:
            config["rename"] = renames
        if re.search(r"\b(drop|remove)\s+(nulls?|empty|missing)", text, re.I):
            config["drop_nulls"] = True
    elif node_type == "python_function":
        target = _words.python_target(text)
        config["function"] = target or plan.param(
            "function", "", "the Python function to call (function: module:function)"
        )
    return config


def data_key(step_with: dict[str, Any]) -> str:
    """The key of a step's data input: ``data_in`` (canvas), or ``data`` (hand-written YAML)."""
    return "data" if "data" in step_with and DATA_IN not in step_with else DATA_IN


def new_step_id(node_type: str, taken: set[str] | list[str]) -> str:
    base = STEP_IDS.get(node_type, node_type)
    sid, n = base, 2
    while sid in taken:
        sid, n = f"{base}_{n}", n + 1
    return sid


def data_input(node: NodeDef, upstream: str | None) -> dict[str, Any]:
    """The ``with`` of a step fed by ``upstream``: a source takes none."""
    if upstream is None or _words.is_source(node):
        return {}
    return {DATA_IN: f"${{{upstream}}}"}

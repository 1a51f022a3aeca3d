"""GET /ui/ai-studio: the AI studio page's templates, examples and capabilities (the allowlisted
nodes as the org's registry describes them, and what the studio takes)."""

from __future__ import annotations

from typing import Any

from dagy.nodes import registry
from dagy.services.studio import parse, tiers
from dagy.store.duckdb_store import DuckDBStore

TEMPLATES = [
    {
        "id": "s3_etl",
        "title": "S3 clean-up pipeline",
        "description": "Read JSON from S3, validate, normalize, deduplicate, write back",
        "message": "Build a workflow that reads JSON from S3, validates schema, normalizes "
        "records, deduplicates, and writes back to S3.",
        "intent": "build",
    },
    {
        "id": "api_to_webhook",
        "title": "API to webhook",
        "description": "Fetch JSON from an HTTP API and post the result to a webhook",
        "message": "Build a workflow that fetches JSON from https://api.example.com/items, "
        "deduplicates by id and posts the result to a webhook at https://hooks.example.com/in.",
        "intent": "build",
    },
    {
        "id": "add_webhook",
        "title": "Notify when done",
        "description": "Add a webhook step to the current workflow",
        "message": "Also post the result to a webhook.",
        "intent": "modify",
    },
]

EXAMPLES = [
    "Build a workflow that reads JSON from s3://my-bucket/in/orders.json, validates schema, "
    "normalizes records, deduplicates by order_id, and writes back to "
    "s3://my-bucket/out/orders.json.",
    "Fetch https://api.example.com/users and drop duplicate records by email.",
    "Also post the result to a webhook at https://hooks.example.com/dagy.",
    "What does the deduplicator node do?",
]


def page(store: DuckDBStore, org_id: str) -> dict[str, Any]:
    from dagy.studio_providers.base import ALLOWLIST

    nodes = []
    for node_type in ALLOWLIST:
        found = registry.lookup(node_type, store=store, org_id=org_id)
        if found is None:
            continue
        nodes.append(
            {
                "capability": "node",
                "node_type": found.node_type,
                "label": found.label,
                "description": found.description,
                "category": found.category,
                "tags": list(found.tags),
            }
        )
    return {
        "templates": TEMPLATES,
        "examples": EXAMPLES,
        "capabilities": [
            *nodes,
            {"capability": "intents", "values": ["auto", "build", "modify", "advisory"]},
            {
                "capability": "attachments",
                "types": parse.SUPPORTED.split(", "),
                "max_size_bytes": tiers.MAX_ATTACHMENT_BYTES,
                "images": False,
            },
            {"capability": "tiers", "values": sorted(tiers.tiers())},
            {
                "capability": "outputs",
                "values": ["canvas_state", "pipeline_yaml", "pipeline_python"],
            },
        ],
    }

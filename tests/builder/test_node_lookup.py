"""registry.lookup / lookup_for, what the pipeline checker and compiler use, on a real store: the
org's custom nodes resolve to the custom-node runner with their import_path; other orgs see none."""

from __future__ import annotations

import pytest

from dagy.nodes import registry
from dagy.nodes.custom import CUSTOM_IMPL
from dagy.services.accounts.audit import local_actor
from dagy.services.builder import nodes
from dagy.store.duckdb_store import DuckDBStore

BODY = {
    "node_type": "geo_enricher",
    "label": "Geo Enricher",
    "category": "transform",
    "connectors": [
        {"id": "data_in", "direction": "inbound", "data_types": ["json"]},
        {"id": "data_out", "direction": "outbound", "data_types": ["json"]},
    ],
    "config_schema": [{"name": "api_url", "required": True}],
    "import_path": "acme.geo:Enricher",
}


@pytest.fixture
def store(paths) -> DuckDBStore:
    return DuckDBStore(paths)


def test_lookup_for_an_org_finds_its_custom_nodes_after_the_builtins(store):
    made = nodes.create(store, "personal", local_actor(), BODY)
    assert (made.version, made.org_id, made.official) == (1, "personal", False)
    lookup = registry.lookup_for(store, "personal")
    found = lookup("geo_enricher")
    assert found is not None
    assert (found.impl, found.import_path, found.executable) == (
        CUSTOM_IMPL,
        "acme.geo:Enricher",
        True,
    )
    assert found.connector("data_in").data_types == ("json",)  # type: ignore[union-attr]
    assert found.config_schema[0].label == "api_url"  # a label defaults to the name
    assert lookup("s3_ingest") is registry.builtins()["s3_ingest"]
    assert lookup("nope") is None
    assert registry.lookup_for(store, "org_other")("geo_enricher") is None
    assert registry.lookup("geo_enricher") is None  # without a store: built-ins and plugins only


def test_each_change_writes_its_audit_row(store):
    nodes.create(store, "personal", local_actor(), BODY)
    nodes.update(store, "personal", "geo_enricher", local_actor(), {"label": "Geo v2"})
    nodes.delete(store, "personal", "geo_enricher", local_actor())
    with store.connection() as con:
        actions = con.execute(
            "SELECT action FROM audit_log WHERE resource_type = 'custom_node' ORDER BY ts"
        ).fetchall()
    assert [a for (a,) in actions] == ["create", "update", "delete"]

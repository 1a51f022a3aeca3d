"""validate_connection's rules on the real built-in definitions, without a server."""

from __future__ import annotations

import pytest

from dagy.nodes import registry
from dagy.nodes.connections import types_compatible, validate_connection
from dagy.nodes.model import Connector, NodeDef


def node(node_type: str) -> NodeDef:
    found = registry.lookup(node_type)
    assert found is not None
    return found


def made(*connectors: Connector) -> NodeDef:
    return NodeDef("probe", "Probe", "", "custom", "Box", "gray", connectors)


def test_the_specs_example_is_valid_and_shows_both_connectors():
    answer = validate_connection(node("s3_ingest"), "data_out", node("schema_validator"), "data_in")
    assert answer == {
        "valid": True,
        "errors": [],
        "source_connector": {
            "id": "data_out",
            "name": "Data",
            "data_types": ["dataframe", "json", "string"],
        },
        "target_connector": {
            "id": "data_in",
            "name": "Data",
            "data_types": ["json", "dataframe", "any"],
        },
    }


def test_types_that_share_nothing_are_refused_naming_the_rule():
    text_out = made(Connector("out", "Text", "outbound", ("string",)))
    json_in = made(Connector("in", "Rows", "inbound", ("json", "dataframe")))
    answer = validate_connection(text_out, "out", json_in, "in")
    assert answer["valid"] is False
    assert len(answer["errors"]) == 1
    assert answer["errors"][0].startswith("data_types: ")
    assert "string" in answer["errors"][0] and "json, dataframe" in answer["errors"][0]


@pytest.mark.parametrize(
    ("source", "target", "ok"),
    [
        (("any",), ("json",), True),
        (("embeddings",), ("any",), True),
        (("json", "string"), ("string",), True),
        (("embeddings",), ("json", "dataframe"), False),
    ],
)
def test_any_on_either_side_matches_everything(source, target, ok):
    assert types_compatible(source, target) is ok


def test_any_typed_inbound_connectors_take_embeddings_a_strict_one_does_not():
    loose = validate_connection(
        node("embed_documents"), "data_out", node("deduplicator"), "data_in"
    )
    assert loose["valid"] is True  # the deduplicator's data_in includes "any"
    to_vectors = validate_connection(
        node("s3_ingest"), "data_out", node("vector_upsert"), "data_in"
    )
    assert to_vectors["valid"] is True  # vector_upsert takes embeddings or any
    strict = made(Connector("in", "Rows", "inbound", ("json",)))
    refused = validate_connection(node("embed_documents"), "data_out", strict, "in")
    assert [e.split(":")[0] for e in refused["errors"]] == ["data_types"]


def test_an_edge_must_start_outbound_and_end_inbound():
    backwards = validate_connection(
        node("schema_validator"), "data_in", node("s3_ingest"), "data_out"
    )
    assert backwards["valid"] is False
    rules = [e.split(":")[0] for e in backwards["errors"]]
    assert rules == ["direction", "direction"]
    assert "source connector 'data_in'" in backwards["errors"][0]
    assert "target connector 'data_out'" in backwards["errors"][1]


def test_cardinality_one_takes_a_single_edge():
    # schema_validator.data_in is "one": the first edge fits, a second is refused.
    first = validate_connection(
        node("http_fetch"), "data_out", node("schema_validator"), "data_in", 0, 0
    )
    assert first["valid"] is True
    second = validate_connection(
        node("http_fetch"), "data_out", node("schema_validator"), "data_in", 0, 1
    )
    assert second["valid"] is False
    assert second["errors"] == [
        "cardinality: target connector 'data_in' accepts at most 1 connection (one) "
        "and already has 1"
    ]


def test_zero_or_one_and_many_sided_connectors():
    trigger = validate_connection(node("delay"), "data_out", node("s3_ingest"), "trigger_in", 5, 1)
    assert trigger["valid"] is False  # trigger_in is zero_or_one; data_out has no limit
    assert [e.split(":")[0] for e in trigger["errors"]] == ["cardinality"]
    fan_out = validate_connection(
        node("s3_ingest"), "data_out", node("webhook_post"), "data_in", 40, 12
    )
    assert fan_out["valid"] is True  # zero_or_many on both sides


def test_unknown_connector_ids_are_named_with_what_exists():
    answer = validate_connection(node("condition"), "data_out", node("delay"), "nope")
    assert answer["valid"] is False
    assert answer["source_connector"] is None and answer["target_connector"] is None
    assert answer["errors"] == [
        "connector: condition has no connector 'data_out' (it has data_in, true_out, false_out)",
        "connector: delay has no connector 'nope' (it has data_in, data_out)",
    ]


def test_a_condition_branch_feeds_a_node():
    answer = validate_connection(node("condition"), "false_out", node("webhook_post"), "data_in")
    assert answer["valid"] is True
    assert answer["source_connector"]["id"] == "false_out"

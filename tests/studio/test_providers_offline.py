"""The offline planner: the spec's request and variations, modify (add, remove, reconfigure),
advisory answers, questions for what is missing, determinism, only allowlisted node types; every
pipeline it gives checks and survives the canvas round trip STUDIO makes."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from dagy.nodes import registry
from dagy.pipelines import canvas
from dagy.pipelines.check import check_pipeline
from dagy.pipelines.model import Pipeline
from dagy.pipelines.yaml_format import dump_pipeline
from dagy.studio_providers import (
    ALLOWLIST,
    TurnInput,
    TurnOutput,
    UnbuildableError,
    load,
    noop_emit,
)

SPEC = (
    "Build a workflow that reads JSON from S3, validates schema, normalizes records, "
    "deduplicates, and writes back to S3."
)


def turn(message: str, pipeline: Pipeline | None = None, intent: str = "auto") -> TurnOutput:
    return load("offline").turn(
        TurnInput(message=message, intent=intent, pipeline=pipeline), emit=noop_emit
    )


def nodes_of(pipeline: Pipeline | None) -> list[str | None]:
    assert pipeline is not None
    return [s.node for s in pipeline.steps]


def assert_valid(pipeline: Pipeline | None) -> Pipeline:
    """What STUDIO checks: the pipeline compiles, and its canvas draws it back without problems."""
    assert pipeline is not None
    assert check_pipeline(pipeline) == []
    drawn = canvas.from_pipeline(pipeline)
    assert canvas.check_shape(drawn) == []
    back, problems = canvas.to_pipeline(pipeline.name, drawn, registry.lookup)
    assert problems == []
    assert check_pipeline(back) == []
    assert [s.id for s in back.steps] == [s.id for s in pipeline.steps]
    assert all(s.node in ALLOWLIST for s in pipeline.steps)
    return pipeline


@pytest.fixture(scope="module")
def spec_pipeline() -> Pipeline:
    return assert_valid(turn(SPEC).pipeline)


def test_spec_request_builds_the_five_steps_in_order(spec_pipeline: Pipeline) -> None:
    assert nodes_of(spec_pipeline) == [
        "s3_ingest",
        "schema_validator",
        "data_normalizer",
        "deduplicator",
        "s3_write",
    ]
    steps = spec_pipeline.steps
    for up, down in zip(steps, steps[1:], strict=False):
        assert down.with_ == {"data_in": f"${{{up.id}}}"}
    assert steps[0].config == {"uri": "${params.input_uri}", "format": "json"}
    assert steps[-1].config == {"uri": "${params.output_uri}", "format": "json"}
    assert spec_pipeline.params == {"input_uri": "", "output_uri": ""}


def test_spec_request_asks_for_what_is_missing() -> None:
    out = turn(SPEC)
    assert out.intent == "build"
    for asked in ("input_uri", "output_uri", "dedupe by", "required fields"):
        assert asked in out.response


def test_named_values_fill_the_config_and_nothing_is_asked() -> None:
    out = turn(
        "Read CSV from s3://raw/orders.csv, validate with required fields order_id, email, "
        "normalize, dedupe by order_id and customer_id keeping the latest, "
        "then write parquet to s3://clean/orders.parquet"
    )
    pipeline = assert_valid(out.pipeline)
    by_node = {s.node: s.config for s in pipeline.steps}
    assert by_node["s3_ingest"] == {"uri": "s3://raw/orders.csv", "format": "csv"}
    assert by_node["schema_validator"]["schema"] == {
        "type": "object",
        "required": ["order_id", "email"],
    }
    assert by_node["deduplicator"] == {"keys": ["order_id", "customer_id"], "keep": "last"}
    assert by_node["s3_write"] == {"uri": "s3://clean/orders.parquet", "format": "parquet"}
    assert pipeline.params == {}
    assert "Tell me" not in out.response


def test_a_bucket_without_a_key_becomes_a_key_parameter() -> None:
    out = turn("load json from the bucket acme-raw, dedupe by id and save it to S3")
    pipeline = assert_valid(out.pipeline)
    assert pipeline.steps[0].config["uri"] == "s3://acme-raw/${params.input_key}"
    assert "input_key" in pipeline.params and "acme-raw" in out.response


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (
            "fetch https://api.example.com/orders.json, dedupe by id and post it to a webhook",
            ["http_fetch", "deduplicator", "webhook_post"],
        ),
        (
            "Deduplicate records then normalise them and upload to S3",
            ["s3_ingest", "deduplicator", "data_normalizer", "s3_write"],
        ),
        (
            "call the API at https://h.example/x -> validate -> notify https://hooks.example/y",
            ["http_fetch", "schema_validator", "webhook_post"],
        ),
        (
            "read from s3 and run my python function etl/clean.py:tidy then write to s3",
            ["s3_ingest", "python_function", "s3_write"],
        ),
    ],
)
def test_variations_map_onto_registry_nodes(message: str, expected: list[str]) -> None:
    pipeline = assert_valid(turn(message).pipeline)
    assert nodes_of(pipeline) == expected


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (
            "Create a pipeline to pull data from https://api.x.com/users and save to "
            "s3://out/users.json",
            [("http_fetch", {"url": "https://api.x.com/users"}),
             ("s3_write", {"uri": "s3://out/users.json", "format": "json"})],
        ),
        (
            "I need to clean up customer records in s3://crm/customers.csv and store the "
            "unique ones back",
            [("s3_ingest", {"uri": "s3://crm/customers.csv", "format": "csv"}),
             ("data_normalizer", {}), ("deduplicator", {}),
             ("s3_write", {"uri": "${params.output_uri}", "format": "csv"})],
        ),
        (
            "write to s3://a/b.json after you read s3://a/in.json",
            [("s3_ingest", {"uri": "s3://a/in.json", "format": "json"}),
             ("s3_write", {"uri": "s3://a/b.json", "format": "json"})],
        ),
        (
            "load the orders from s3://a/b.json, dedupe by id and load into s3://c/d.json",
            [("s3_ingest", {"uri": "s3://a/b.json", "format": "json"}),
             ("deduplicator", {"keys": ["id"]}),
             ("s3_write", {"uri": "s3://c/d.json", "format": "json"})],
        ),
        (
            "Build an S3 validation workflow",  # the spec's curl example: one clause, two steps
            [("s3_ingest", {"uri": "${params.input_uri}"}),
             ("schema_validator", {"schema": {"type": "object"}})],
        ),
    ],
)  # fmt: skip
def test_each_value_goes_to_the_step_named_before_it(message: str, expected: list[Any]) -> None:
    pipeline = assert_valid(turn(message).pipeline)
    assert [(s.node, s.config) for s in pipeline.steps] == expected


def test_urls_and_functions_named_fill_their_steps() -> None:
    pipeline = assert_valid(
        turn(
            "fetch https://api.example.com/orders.json, run etl/clean.py:tidy and post it to "
            "https://hooks.example.com/in"
        ).pipeline
    )
    configs = [s.config for s in pipeline.steps]
    assert configs == [
        {"url": "https://api.example.com/orders.json"},
        {"function": "etl/clean.py:tidy"},
        {"url": "https://hooks.example.com/in"},
    ]


def test_a_request_with_no_step_it_knows_is_unbuildable() -> None:
    with pytest.raises(UnbuildableError) as caught:
        turn("bake me a chocolate cake", intent="build")
    assert caught.value.status == 422
    assert "could not map" in caught.value.message


def test_only_allowlisted_node_types_even_when_other_nodes_match() -> None:
    # "slack", "sql", "email" name registry nodes outside the allowlist
    out = turn("read from S3, run a SQL transform, send an email and a slack message")
    pipeline = assert_valid(out.pipeline)
    assert set(nodes_of(pipeline)) <= set(ALLOWLIST)
    assert "did not understand" in out.response


def test_the_same_request_gives_the_same_answer_in_another_process() -> None:
    code = (
        "from dagy.studio_providers import load, TurnInput, noop_emit\n"
        "from dagy.pipelines.yaml_format import dump_pipeline\n"
        f"o = load('offline').turn(TurnInput(message={SPEC!r}, intent='auto', pipeline=None),"
        " emit=noop_emit)\n"
        "print(o.response); print(dump_pipeline(o.pipeline))\n"
    )
    runs = [
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={**__import__("os").environ, "PYTHONHASHSEED": seed},
        ).stdout
        for seed in ("1", "2")
    ]
    out = turn(SPEC)
    assert runs[0] == runs[1] == f"{out.response}\n{dump_pipeline(out.pipeline)}\n"  # type: ignore[arg-type]


# -- modify -------------------------------------------------------------------------------------


def test_modify_adds_a_webhook_after_the_last_step(spec_pipeline: Pipeline) -> None:
    out = turn("also post the result to a webhook", spec_pipeline)
    assert out.intent == "modify"
    pipeline = assert_valid(out.pipeline)
    assert nodes_of(pipeline) == [*nodes_of(spec_pipeline), "webhook_post"]
    hook = pipeline.steps[-1]
    assert hook.with_ == {"data_in": "${write_s3}"}
    assert hook.config == {"url": "${params.webhook_url}"}
    assert pipeline.params["webhook_url"] == ""
    assert "webhook_url" in out.response
    assert nodes_of(spec_pipeline)[-1] == "s3_write"  # the session's pipeline is not changed


def test_modify_removes_a_step_and_rewires_around_it(spec_pipeline: Pipeline) -> None:
    out = turn("remove the dedupe step", spec_pipeline)
    pipeline = assert_valid(out.pipeline)
    assert "deduplicator" not in nodes_of(pipeline)
    assert pipeline.step("write_s3").with_ == {"data_in": "${normalize}"}  # type: ignore[union-attr]
    assert "removed step dedupe" in out.response


def test_modify_reconfigures_a_step(spec_pipeline: Pipeline) -> None:
    out = turn("dedupe by customer_id", spec_pipeline)
    pipeline = assert_valid(out.pipeline)
    assert nodes_of(pipeline) == nodes_of(spec_pipeline)
    assert pipeline.step("dedupe").config == {"keys": ["customer_id"]}  # type: ignore[union-attr]
    assert "customer_id" in out.response


def test_modify_places_a_step_after_the_one_named(spec_pipeline: Pipeline) -> None:
    out = turn("add a python step etl.py:enrich after the validate step", spec_pipeline)
    pipeline = assert_valid(out.pipeline)
    ids = [s.id for s in pipeline.steps]
    assert ids[:3] == ["read_s3", "validate", "python_step"]
    assert pipeline.step("python_step").with_ == {"data_in": "${validate}"}  # type: ignore[union-attr]
    assert pipeline.step("normalize").with_ == {"data_in": "${python_step}"}  # type: ignore[union-attr]


def test_modify_then_remove_drops_the_parameter_only_that_step_used(
    spec_pipeline: Pipeline,
) -> None:
    added = turn("also post the result to a webhook", spec_pipeline).pipeline
    out = turn("remove the webhook", added)
    pipeline = assert_valid(out.pipeline)
    assert nodes_of(pipeline) == nodes_of(spec_pipeline)
    assert pipeline.params == spec_pipeline.params


def test_modify_it_does_not_understand_keeps_the_pipeline(spec_pipeline: Pipeline) -> None:
    out = turn("make it nicer", spec_pipeline, intent="modify")
    assert out.intent == "modify"
    assert dump_pipeline(out.pipeline) == dump_pipeline(spec_pipeline)  # type: ignore[arg-type]
    assert "could not tell what to change" in out.response


# -- intents and events -------------------------------------------------------------------------


def test_auto_intent(spec_pipeline: Pipeline) -> None:
    assert turn(SPEC).intent == "build"
    assert turn("what does the deduplicator do?", spec_pipeline).intent == "advisory"
    assert turn("add a webhook", spec_pipeline).intent == "modify"
    assert turn("remove the dedupe step", spec_pipeline, intent="build").intent == "build"


def test_advisory_answers_in_words_without_a_pipeline(spec_pipeline: Pipeline) -> None:
    out = turn("What does the deduplicator do and how do I run this pipeline?", spec_pipeline)
    assert out.intent == "advisory" and out.pipeline is None
    assert "Drop duplicate records by key" in out.response
    assert "read_s3" in out.response and "POST /runs" in out.response
    assert "LLM provider" in out.response
    # a verb many nodes share weighs less than the noun that names one
    assert "HTTP Fetch (http_fetch)" in turn("How do I read from an API?").response


def test_events_are_progress_then_deltas_that_make_the_answer() -> None:
    events: list[tuple[str, dict[str, Any]]] = []
    out = load("offline").turn(
        TurnInput(message=SPEC, intent="build", pipeline=None),
        emit=lambda e, d: events.append((e, d)),
    )
    kinds = [e for e, _ in events]
    assert kinds[0] == "progress" and kinds[-1] == "progress" and "delta" in kinds
    assert "".join(d["text"] for e, d in events if e == "delta").strip() == out.response


def test_a_raising_emit_stops_the_turn() -> None:
    class Gone(Exception):
        pass

    def emit(event: str, data: dict[str, Any]) -> None:
        raise Gone

    with pytest.raises(Gone):
        load("offline").turn(TurnInput(message=SPEC, intent="build", pipeline=None), emit=emit)


def test_an_attached_json_schema_becomes_the_validators_schema() -> None:
    from dagy.studio_providers import Attachment

    schema = '{"type": "object", "required": ["sku"], "properties": {"sku": {"type": "string"}}}'
    out = load("offline").turn(
        TurnInput(
            message="read from S3 and validate against the attached schema",
            intent="build",
            pipeline=None,
            attachments=[
                Attachment("notes.txt", "text/plain", "hello"),
                Attachment("schema.json", "application/json", schema),
            ],
        ),
        emit=noop_emit,
    )
    pipeline = assert_valid(out.pipeline)
    assert pipeline.steps[1].config["schema"]["required"] == ["sku"]
    assert "schema.json" in out.response


def test_modify_edits_a_pipeline_read_back_from_a_drawn_canvas(spec_pipeline: Pipeline) -> None:
    """What STUDIO hands over: the session's canvas as a pipeline, edges keyed by connector."""
    drawn = canvas.from_pipeline(spec_pipeline)
    drawn["nodes"][3]["id"] = "node_4"  # a canvas id the planner did not choose
    for edge in drawn["edges"]:
        edge["source"] = "node_4" if edge["source"] == "dedupe" else edge["source"]
        edge["target"] = "node_4" if edge["target"] == "dedupe" else edge["target"]
    current, problems = canvas.to_pipeline("orders", drawn, registry.lookup)
    assert problems == []
    out = turn("remove node_4, then also post the result to https://hooks.example.com/x", current)
    pipeline = assert_valid(out.pipeline)
    assert nodes_of(pipeline) == [
        "s3_ingest", "schema_validator", "data_normalizer", "s3_write", "webhook_post"
    ]  # fmt: skip
    assert pipeline.steps[-1].config == {"url": "https://hooks.example.com/x"}


@pytest.mark.parametrize(
    ("message", "check"),
    [
        ("validate required fields id, email",
         lambda p: p.step("validate").config["schema"]["required"] == ["id", "email"]),
        ("Remove validation and normalization",
         lambda p: [s.id for s in p.steps] == ["read_s3", "dedupe", "write_s3"]
         and p.step("dedupe").with_ == {"data_in": "${read_s3}"}),
        ("read from https://api.example.com/x instead",
         lambda p: p.steps[0].node == "http_fetch" and "input_uri" not in p.params
         and p.step("validate").with_ == {"data_in": "${fetch_http}"}),
        ("also write a copy to s3://backup/copy.json",
         lambda p: p.steps[-1].config["uri"] == "s3://backup/copy.json"
         and p.steps[-1].with_ == {"data_in": "${dedupe}"}
         and p.step("write_s3").config["uri"] == "${params.output_uri}"),
        ("change the output to s3://b/out.json",
         lambda p: p.step("write_s3").config["uri"] == "s3://b/out.json"
         and "output_uri" not in p.params),
        ("Can you also send it to a webhook?", lambda p: p.steps[-1].node == "webhook_post"),
        ("drop nulls in the normalizer", lambda p: p.step("normalize").config == {"drop_nulls": True}),
    ],
)  # fmt: skip
def test_modify_phrasings(spec_pipeline: Pipeline, message: str, check: Any) -> None:
    out = turn(message, spec_pipeline)
    assert out.intent == "modify"
    assert check(assert_valid(out.pipeline)), out.response

"""The OpenAPI document a real `dagy serve` serves says what the API does (issue 21, finding 5):
each failure the whole-API schemathesis run found (tests/ops/test_schemathesis_api.py) is a test
here, next to the fix that made the document or the route truthful."""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest

from tests.conftest import ServerProcess, start_server

ERROR_KEYS = {"error", "message", "details", "detail"}
METHODS = ("get", "post", "put", "patch", "delete")


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = start_server(
        tmp_path_factory.mktemp("openapi") / "home", env={"DAGY_RATE_LIMIT_PER_MINUTE": "0"}
    )
    yield server
    server.stop()


@pytest.fixture(scope="module")
def doc(srv: ServerProcess) -> dict[str, Any]:
    status, _, body = srv.request("GET", srv.url + "/docs/openapi.json")
    assert status == 200 and isinstance(body, dict)
    return body


def call(srv: ServerProcess, method: str, path: str, body: object = None) -> tuple[int, Any]:
    status, _, answer = srv.request(method, path, token=srv.local_token, body=body)
    return status, answer


def operations(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in doc["paths"].items():
        for method in METHODS:
            if method in item:
                yield method, path, item[method]


def error_schema(doc: dict[str, Any]) -> dict[str, Any]:
    """The declared error body, with the document's components to resolve references."""
    return {**doc["components"]["schemas"]["Error"], "components": doc["components"]}


# -- the error shape --------------------------------------------------------------------------------


def test_every_declared_4xx_and_5xx_is_the_specs_error_shape(doc):
    """Was Litestar's default ({status_code, detail, extra}): 51 schema violations."""
    assert set(error_schema(doc)["required"]) == ERROR_KEYS
    for method, path, op in operations(doc):
        for status, response in op["responses"].items():
            if status[0] in "45":
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/Error"}, (method, path, status)


def test_a_real_error_body_validates_against_the_declared_one(srv, doc):
    status, body = call(srv, "GET", "/runs/run-that-is-not-there")
    assert status == 404 and set(body) == ERROR_KEYS
    jsonschema.validate(body, error_schema(doc))
    assert "404" in doc["paths"]["/v1/runs/{run_id}"]["get"]["responses"]


def test_401_403_404_and_429_are_declared_where_a_route_can_answer_them(doc):
    """Were undeclared: 92 responses with undocumented status codes."""
    for method, path, op in operations(doc):
        codes = set(op["responses"])
        assert "429" in codes, (method, path)  # the rate limiter wraps every route
        if op.get("security") != []:
            assert {"401", "403"} <= codes, (method, path)
        if "{" in path:
            assert "404" in codes, (method, path)
    assert "409" in doc["paths"]["/v1/secrets"]["post"]["responses"]
    assert {"404", "409"} <= set(doc["paths"]["/v1/runs"]["post"]["responses"])


def test_public_routes_need_no_token_in_the_document(doc):
    """Were declared as needing the bearer token."""
    for path, method in (
        ("/v1/health", "get"),
        ("/v1/billing/plans", "get"),
        ("/v1/webhooks/{token}", "post"),
        ("/v1/auth/login", "post"),
    ):
        op = doc["paths"][path][method]
        assert op["security"] == [], path
        # 401 only where a credential of the request's own is checked: a password, a signature
        assert "401" not in op["responses"] or path in ("/v1/auth/login", "/v1/webhooks/{token}")
    assert doc["security"] == [{"bearer": []}]
    assert "security" not in doc["paths"]["/v1/runs"]["get"]


def test_a_204_declares_no_body(doc):
    response = doc["paths"]["/v1/secrets/{secret_name}"]["delete"]["responses"]["204"]
    assert "content" not in response


# -- unknown fields, typed bodies and parameters ----------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/secrets", {"secret_name": "k1", "value": "v", "colour": "red"}),
        ("/flows", {"flow_spec": {}, "colour": "red"}),
        ("/environments", {"env_name": "e1", "colour": "red"}),
        ("/channels", {"name": "c", "channel_type": "webhook", "colour": "red"}),
    ],
)
def test_an_unknown_field_is_refused_the_same_way_everywhere(srv, path, body):
    """POST /secrets took it silently, POST /flows refused it in other words."""
    status, answer = call(srv, "POST", path, body)
    assert status == 400, answer
    assert answer["message"] == "Unknown field: colour"
    assert answer["details"] == {"colour": "unknown field"}
    assert answer["error"] == "validation_error"


def test_nothing_is_written_when_a_field_is_unknown(srv):
    call(srv, "POST", "/secrets", {"secret_name": "half", "value": "v", "x": 1})
    assert call(srv, "GET", "/secrets/half")[0] == 404


def test_the_services_message_for_a_missing_field_is_kept(srv):
    status, answer = call(srv, "POST", "/secrets", {"value": "v"})
    assert status == 400 and "secret_name" in answer["details"], answer


def test_bodies_are_typed_and_required_fields_are_listed(doc):
    """Were free-form objects: schema-valid {} bodies were refused."""
    schemas = doc["components"]["schemas"]
    body = doc["paths"]["/v1/secrets"]["post"]["requestBody"]["content"]["application/json"]
    secret = schemas[body["schema"]["$ref"].rsplit("/", 1)[-1]]
    assert secret["additionalProperties"] is False
    assert set(secret["required"]) == {"secret_name", "value"}
    assert secret["properties"]["secret_name"]["type"] == "string"  # not nullable
    assert "pattern" in secret["properties"]["secret_name"]


def test_a_body_the_service_requires_is_required_in_the_document(doc):
    """A null body was valid per the document and refused (`Unknown tier: None`)."""
    body = doc["paths"]["/v1/ai-studio/sessions/{session_id}/tier"]["patch"]["requestBody"]
    assert body["required"] is True
    assert "$ref" in body["content"]["application/json"]["schema"]


def test_limit_is_an_integer_of_at_least_one(srv, doc):
    """Was a string: `limit=5` per the document was a string, `limit=0` was valid and a 400."""
    for path in ("/v1/runs", "/v1/deployments", "/v1/flows", "/v1/dag-drafts"):
        (limit,) = [p for p in doc["paths"][path]["get"]["parameters"] if p["name"] == "limit"]
        schema = limit["schema"]
        branch = next(s for s in schema.get("oneOf", [schema]) if s.get("type") != "null")
        assert branch["type"] == "integer" and branch["minimum"] == 1, path
    assert call(srv, "GET", "/runs?limit=2")[0] == 200
    status, answer = call(srv, "GET", "/runs?limit=two")
    assert status == 400 and "limit" in answer["details"], answer


def test_filters_with_a_fixed_set_of_values_name_them(doc):
    params = {p["name"]: p for p in doc["paths"]["/v1/runs"]["get"]["parameters"]}
    status = params["status"]["schema"]
    assert "completed" in json.dumps(status)


# -- content types ----------------------------------------------------------------------------------


def test_metrics_is_text_with_one_charset(srv, doc):
    """Was declared JSON, and sent `charset` twice."""
    status, headers, body = srv.request("GET", "/metrics", token=srv.local_token)
    assert status == 200 and "dagy_runs_total" in body
    content_type = headers["content-type"]
    assert content_type.startswith("text/plain") and content_type.count("charset") == 1
    assert list(doc["paths"]["/v1/metrics"]["get"]["responses"]["200"]["content"]) == ["text/plain"]


def test_the_streamed_turn_is_declared_as_server_sent_events(doc):
    path = "/v1/ai-studio/sessions/{session_id}/messages/stream"
    assert list(doc["paths"][path]["post"]["responses"]["200"]["content"]) == ["text/event-stream"]


# -- bugs the run found -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "template"),
    [
        (
            "/artifacts/uploads/up-1/parts/1",
            "/v1/artifacts/uploads/{upload_id}/parts/{part_number}",
        ),
        ("/ai-studio/uploads/att-1", "/v1/ai-studio/uploads/{attachment_id}"),
    ],
)
def test_a_signed_url_with_non_ascii_in_its_signature_is_403_not_500(srv, doc, path, template):
    """hmac.compare_digest refuses a str with non-ASCII characters: it raised, a 500."""
    query = urllib.parse.urlencode({"expires": "é", "signature": "£"})
    status, _, body = srv.request("PUT", f"{path}?{query}", raw=b"x")
    assert status == 403, body
    assert set(body) == ERROR_KEYS
    assert "403" in doc["paths"][template]["put"]["responses"]


def test_a_deployment_upsert_that_updates_is_a_declared_200(doc):
    assert {"200", "201"} <= set(doc["paths"]["/v1/deployments"]["post"]["responses"])


# -- the structs follow the services' field lists ---------------------------------------------------


def test_body_structs_list_the_fields_their_services_take():
    """A field a service learns must be added to its route's struct, or the route refuses it."""
    from dagy.nodes import custom
    from dagy.server.routes import ai_studio, drafts, nodes, runs, schedules, sensors
    from dagy.services.builder import draft_compile
    from dagy.services.builder import drafts as draft_rules
    from dagy.services.studio import sessions, turns
    from dagy.services.triggers import schedule_rules
    from dagy.services.triggers import sensors as sensor_rules

    pairs = [
        (sensors.SensorBody, sensor_rules.FIELDS),
        (schedules.SchedulePatch, schedule_rules.PATCH_FIELDS),
        (schedules.ScheduleBody, schedule_rules.CREATE_FIELDS),
        (runs.TriggerBody, runs.TRIGGER_FIELDS),
        (drafts.DraftBody, draft_rules.FIELDS),
        (drafts.DeployBody, draft_compile.DEPLOY_FIELDS),
        (ai_studio.BindBody, sessions.BIND_FIELDS),
        (ai_studio.MessageBody, turns.BODY_FIELDS),
        (nodes.NodeBody, custom.FIELDS),
    ]
    for struct, fields in pairs:
        assert set(struct.__struct_fields__) == set(fields), struct.__name__


def test_the_document_is_the_same_at_both_addresses(srv, doc):
    status, _, other = srv.request("GET", "/openapi.json")
    assert status == 200 and other == doc


def test_raw_body_routes_declare_their_body_and_answers(doc):
    """The webhook reads its raw body (a signature covers the bytes): the document still says it
    takes a JSON object, and that a replayed delivery is a 200 and a bad signature a 401."""
    op = doc["paths"]["/v1/webhooks/{token}"]["post"]
    assert op["requestBody"]["content"]["application/json"]["schema"] == {"type": "object"}
    assert {"200", "202", "400", "401", "404", "413", "429"} <= set(op["responses"])
    billing = doc["paths"]["/v1/billing/webhook"]["post"]
    assert {"400", "403", "503"} <= set(billing["responses"]) and billing["security"] == []

"""The node registry through a real `dagy serve`: every route with the spec's example bodies, the
27 built-ins, custom nodes per org (versions, 403, 409, 400s with nothing stored), search and
validate-connection."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import ServerProcess, start_server
from tests.server.members_support import PASSWORD, assert_error

# The spec's POST /nodes/registry example body.
ENRICHER: dict[str, Any] = {
    "node_type": "custom_enricher",
    "label": "Data Enricher",
    "description": "Enriches records with external data",
    "category": "transform",
    "icon": "Sparkles",
    "color": "violet",
    "connectors": [
        {
            "id": "data_in",
            "name": "Input",
            "direction": "inbound",
            "data_types": ["json", "dataframe"],
            "cardinality": "zero_or_many",
            "required": True,
        },
        {
            "id": "enriched_out",
            "name": "Enriched",
            "direction": "outbound",
            "data_types": ["json"],
            "cardinality": "zero_or_many",
        },
    ],
    "config_schema": [
        {"name": "api_url", "label": "API URL", "type": "string", "required": True},
        {"name": "api_key_ref", "label": "API Key", "type": "string", "required": True},
    ],
    "import_path": "my_org.nodes.enricher:DataEnricherNode",
}
# The spec's POST /nodes/validate-connection example body.
CONNECTION = {
    "source_node_type": "s3_ingest",
    "source_connector_id": "data_out",
    "target_node_type": "schema_validator",
    "target_connector_id": "data_in",
    "existing_source_connections": 0,
    "existing_target_connections": 0,
}
SPEC_CATEGORIES = [
    {"id": "ingestion", "label": "Ingestion", "count": 5},
    {"id": "transform", "label": "Transform", "count": 5},
    {"id": "llm", "label": "LLM", "count": 4},
    {"id": "vectordb", "label": "Vector DB", "count": 3},
    {"id": "notification", "label": "Notifications", "count": 4},
    {"id": "custom", "label": "Custom Code", "count": 3},
    {"id": "control_flow", "label": "Control Flow", "count": 3},
]


class Caller:
    def __init__(self, srv: ServerProcess, token: str) -> None:
        self.srv, self.token = srv, token

    def __call__(
        self, method: str, path: str, body: Any = None, org: str | None = None
    ) -> tuple[int, Any]:
        headers = {"X-Org-Id": org} if org else None
        status, _, answer = self.srv.request(
            method, path, token=self.token, body=body, headers=headers
        )
        return status, answer


def add_user(srv: ServerProcess, email: str, role: str) -> str:
    status, _, body = srv.request(
        "POST",
        "/_local/users",
        token=srv.local_token,
        body={"email": email, "password": PASSWORD, "role": role},
    )
    assert status == 201, body
    return srv.login(email, PASSWORD)


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = start_server(
        tmp_path_factory.mktemp("registry") / "home", env={"DAGY_RATE_LIMIT_PER_MINUTE": "0"}
    )
    yield server
    server.stop()


@pytest.fixture(scope="module")
def owner(srv: ServerProcess) -> Caller:
    return Caller(srv, add_user(srv, "owner@example.com", "owner"))


@pytest.fixture(scope="module")
def viewer(srv: ServerProcess) -> Caller:
    return Caller(srv, add_user(srv, "viewer@example.com", "viewer"))


@pytest.fixture(scope="module")
def team_org(owner: Caller) -> str:
    """A second org the owner created (so belongs to); the viewer does not."""
    status, org = owner("POST", "/orgs", {"org_name": "Node Team"})
    assert status == 201, org
    return str(org["org_id"])


@pytest.fixture(scope="module")
def enricher(owner: Caller, team_org: str) -> dict[str, Any]:
    """The spec's example custom node, in the team org."""
    return create(owner, ENRICHER, team_org)


def create(call: Caller, body: dict[str, Any], org: str | None = None) -> dict[str, Any]:
    status, answer = call("POST", "/nodes/registry", body, org)
    assert status == 201, answer
    return answer  # type: ignore[no-any-return]


def named(node_type: str, **changes: Any) -> dict[str, Any]:
    body = copy.deepcopy(ENRICHER)
    body.update(node_type=node_type, **changes)
    return body


# -- built-ins --------------------------------------------------------------------------------------


def test_the_registry_lists_the_27_builtins_in_the_specs_shape(owner):
    status, org = owner("POST", "/orgs", {"org_name": "No Custom Nodes"})  # a fresh, empty org
    status, body = owner("GET", "/nodes/registry", org=org["org_id"])
    assert status == 200, body
    assert (body["total"], body["builtin_count"], body["custom_count"]) == (27, 27, 0)
    s3 = body["items"][0]
    assert {k: s3[k] for k in ("node_type", "label", "description", "category")} == {
        "node_type": "s3_ingest",
        "label": "S3 Ingest",
        "description": "Read files from Amazon S3",
        "category": "ingestion",
    }
    assert (s3["icon"], s3["color"], s3["official"]) == ("CloudDownload", "blue", True)
    assert s3["connectors"] == [
        {
            "id": "trigger_in",
            "name": "Trigger",
            "direction": "inbound",
            "data_types": ["trigger", "any"],
            "cardinality": "zero_or_one",
            "required": False,
        },
        {
            "id": "data_out",
            "name": "Data",
            "direction": "outbound",
            "data_types": ["dataframe", "json", "string"],
            "cardinality": "zero_or_many",
            "required": False,
        },
    ]
    fields = {f["name"]: f for f in s3["config_schema"]}
    assert fields["uri"]["type"] == "string"
    assert fields["format"]["options"] == ["auto", "json", "ndjson", "csv", "parquet"]
    for item in body["items"]:
        assert item["official"] is True and item["label"] and item["icon"] and item["color"]
        assert item["connectors"] and all(c["data_types"] for c in item["connectors"])


def test_builtin_lists_only_builtins_and_categories_match_the_spec(owner):
    status, body = owner("GET", "/nodes/registry/builtin")
    assert status == 200
    assert (body["total"], body["builtin_count"], body["custom_count"]) == (27, 27, 0)
    assert len({item["node_type"] for item in body["items"]}) == 27
    status, cats = owner("GET", "/nodes/registry/categories")
    assert status == 200
    assert cats == {"categories": SPEC_CATEGORIES}


def test_a_single_node_and_an_unknown_one(owner):
    status, body = owner("GET", "/nodes/registry/schema_validator")
    assert status == 200
    assert body["node_type"] == "schema_validator" and body["executable"] is True
    assert body["connectors"][0]["data_types"] == ["json", "dataframe", "any"]
    status, body = owner("GET", "/nodes/registry/llm_prompt")
    assert status == 200
    assert body["executable"] is False
    assert body["not_executable_reason"] == "no LLM provider is configured"
    status, body = owner("GET", "/nodes/registry/no_such_node")
    assert status == 404
    assert_error(body, "not_found")


def test_builtins_cannot_be_deleted_or_changed(owner):
    status, body = owner("DELETE", "/nodes/registry/s3_ingest")
    assert status == 403
    assert_error(body, "forbidden")
    assert "s3_ingest" in body["message"]
    status, body = owner("PUT", "/nodes/registry/s3_ingest", {"label": "Mine"})
    assert status == 403
    assert_error(body, "forbidden")
    assert owner("GET", "/nodes/registry/s3_ingest")[1]["label"] == "S3 Ingest"


# -- custom nodes -----------------------------------------------------------------------------------


def test_the_specs_custom_node_is_created_listed_and_read(owner, team_org, enricher):
    made = enricher
    assert made["node_type"] == "custom_enricher" and made["official"] is False
    assert made["version"] == 1 and made["org_id"] == team_org
    assert made["import_path"] == ENRICHER["import_path"]
    assert made["connectors"][1] == {**ENRICHER["connectors"][1], "required": False}
    assert made["config_schema"] == ENRICHER["config_schema"]
    assert made["created_at"].endswith("Z") and made["executable"] is True

    status, listed = owner("GET", "/nodes/registry/custom", org=team_org)
    assert status == 200
    assert "custom_enricher" in [i["node_type"] for i in listed["items"]]
    assert listed["builtin_count"] == 0 and listed["custom_count"] == listed["total"] >= 1
    assert all(i["org_id"] == team_org for i in listed["items"])

    status, everything = owner("GET", f"/nodes/registry?org_id={team_org}")
    assert everything["builtin_count"] == 27
    assert everything["custom_count"] == listed["total"]
    assert everything["total"] == 27 + listed["total"]
    status, cats = owner("GET", f"/nodes/registry/categories?org_id={team_org}")
    transform = sum(1 for i in everything["items"] if i["category"] == "transform")
    assert transform >= 6
    assert cats["categories"][1] == {"id": "transform", "label": "Transform", "count": transform}
    status, single = owner("GET", "/nodes/registry/custom_enricher", org=team_org)
    assert status == 200 and single == made

    # Another org (the caller's personal one) sees none of it.
    status, personal = owner("GET", "/nodes/registry/custom")
    assert "custom_enricher" not in [i["node_type"] for i in personal["items"]]
    assert owner("GET", "/nodes/registry/custom_enricher")[0] == 404


def test_put_makes_a_new_version_and_keeps_the_old_one(srv, owner):
    create(owner, named("versioned_node", label="First"))
    status, body = owner("PUT", "/nodes/registry/versioned_node", {"label": "Second"})
    assert status == 200, body
    assert body["version"] == 2 and body["label"] == "Second"
    assert body["description"] == ENRICHER["description"]  # partial: the rest stays
    assert body["import_path"] == ENRICHER["import_path"]
    status, body = owner(
        "PUT", "/nodes/registry/versioned_node", {"import_path": "acme.nodes:Better", "tags": ["x"]}
    )
    assert (body["version"], body["import_path"], body["tags"]) == (3, "acme.nodes:Better", ["x"])

    status, history = owner("GET", "/nodes/registry/versioned_node/versions")
    assert status == 200
    assert history["version"] == 3
    assert [i["version"] for i in history["items"]] == [2, 1]
    assert [i["definition"]["label"] for i in history["items"]] == ["Second", "First"]
    assert history["items"][1]["created_by"] == "owner@example.com"

    status, audit = owner("GET", "/audit-logs?resource_type=custom_node")
    assert status == 200, audit
    mine = [e for e in audit["items"] if e["resource_id"] == "versioned_node"]
    assert sorted(e["action"] for e in mine) == ["create", "update", "update"]


def test_a_bad_put_changes_nothing(owner):
    create(owner, named("stable_node"))
    status, body = owner(
        "PUT", "/nodes/registry/stable_node", {"category": "nowhere", "connectors": "x"}
    )
    assert status == 400
    assert_error(body, "validation_error")
    assert set(body["details"]) == {"category", "connectors"}
    status, body = owner("GET", "/nodes/registry/stable_node")
    assert body["version"] == 1 and body["category"] == "transform"
    assert owner("PUT", "/nodes/registry/missing_node", {"label": "x"})[0] == 404


def test_duplicates_are_409_also_against_builtins(owner):
    create(owner, named("dupe_node"))
    status, body = owner("POST", "/nodes/registry", named("dupe_node"))
    assert status == 409
    assert_error(body, "conflict")
    status, body = owner("POST", "/nodes/registry", named("http_fetch"))
    assert status == 409
    assert_error(body, "conflict")
    assert "built-in" in body["message"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"node_type": "Bad-Name"}, "node_type"),
        ({"node_type": None}, "node_type"),
        ({"category": "space"}, "category"),
        ({"label": ""}, "label"),
        ({"import_path": "no_colon"}, "import_path"),
        (
            {"connectors": [{"id": "x", "name": "X", "direction": "sideways"}]},
            "connectors[0].direction",
        ),
        (
            {"connectors": [{"id": "x", "direction": "inbound", "data_types": ["pixels"]}]},
            "connectors[0].data_types[0]",
        ),
        (
            {"connectors": [{"id": "x", "direction": "inbound", "cardinality": "lots"}]},
            "connectors[0].cardinality",
        ),
        ({"config_schema": [{"name": "a", "type": "select"}]}, "config_schema[0].options"),
        ({"config_schema": [{"label": "No name"}]}, "config_schema[0].name"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_invalid_definitions_are_400_naming_the_field_and_nothing_is_stored(owner, change, field):
    body = {**named("invalid_node"), **change}
    status, answer = owner("POST", "/nodes/registry", body)
    assert status == 400, answer
    assert_error(answer, "validation_error")
    assert field in answer["details"], answer
    assert field in answer["message"]
    assert owner("GET", "/nodes/registry/invalid_node")[0] == 404


def test_delete_removes_a_custom_node_and_its_history(owner):
    create(owner, named("doomed_node"))
    owner("PUT", "/nodes/registry/doomed_node", {"label": "v2"})
    status, body = owner("DELETE", "/nodes/registry/doomed_node")
    assert status == 204 and body is None
    assert owner("GET", "/nodes/registry/doomed_node")[0] == 404
    assert owner("DELETE", "/nodes/registry/doomed_node")[0] == 404
    again = create(owner, named("doomed_node"))  # the name is free again, at version 1
    assert again["version"] == 1


# -- org header and permissions ---------------------------------------------------------------------


def test_x_org_id_must_name_an_org_of_the_caller(owner, viewer, team_org, enricher):
    status, body = viewer("GET", "/nodes/registry/custom", org=team_org)
    assert status == 403
    assert_error(body, "forbidden")
    status, body = viewer("GET", f"/nodes/registry?org_id={team_org}")
    assert status == 403
    status, body = viewer("GET", f"/nodes/registry/search?q=enrich&org_id={team_org}")
    assert status == 403
    status, body = owner("POST", "/nodes/registry", named("elsewhere_node"), org="org_nope")
    assert status == 403
    assert_error(body, "forbidden")


def test_viewers_read_but_cannot_write(viewer):
    assert viewer("GET", "/nodes/registry/builtin")[0] == 200
    assert viewer("POST", "/nodes/validate-connection", CONNECTION)[0] == 200
    status, body = viewer("POST", "/nodes/registry", named("viewer_node"))
    assert status == 403
    assert_error(body, "forbidden")
    assert viewer("GET", "/nodes/registry/viewer_node")[0] == 404


def test_routes_need_a_token(srv):
    status, _, body = srv.request("GET", "/nodes/registry")
    assert status == 401
    assert_error(body, "unauthorized")


# -- search -----------------------------------------------------------------------------------------


def search(call: Caller, query: str, org: str | None = None) -> list[str]:
    path = f"/nodes/registry/search?q={query}" + (f"&org_id={org}" if org else "")
    status, body = call("GET", path)
    assert status == 200, body
    assert body["total"] == len(body["items"])
    return [item["node_type"] for item in body["items"]]


def test_search_matches_type_label_description_and_tags(owner):
    assert search(owner, "s3") == ["s3_ingest", "s3_write"]  # node_type
    assert search(owner, "Schema%20Validator") == ["schema_validator"]  # label, any case
    assert "file_write" in search(owner, "local%20file")  # description
    assert search(owner, "pagerduty") == ["pagerduty_event"]
    assert "condition" in search(owner, "branch")  # a tag
    assert search(owner, "zzzz") == []


def test_search_needs_q(owner):
    for path in (
        "/nodes/registry/search",
        "/nodes/registry/search?q=",
        "/nodes/registry/search?q=%20",
    ):
        status, body = owner("GET", path)
        assert status == 400, path
        assert_error(body, "validation_error")


def test_search_includes_the_orgs_custom_nodes(owner, team_org, enricher):
    create(owner, named("geo_tagger", label="Geo Tagger", tags=["geography"]), team_org)
    assert search(owner, "geography", team_org) == ["geo_tagger"]
    assert search(owner, "geography") == []  # the personal org has no such node


# -- validate-connection ----------------------------------------------------------------------------


def test_validate_connection_with_the_specs_example(owner):
    status, body = owner("POST", "/nodes/validate-connection", CONNECTION)
    assert status == 200, body
    assert body == {
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


def test_validate_connection_reports_each_rule(owner, team_org, enricher):
    status, body = owner(
        "POST", "/nodes/validate-connection", {**CONNECTION, "existing_target_connections": 1}
    )
    assert status == 200 and body["valid"] is False
    assert [e.split(":")[0] for e in body["errors"]] == ["cardinality"]
    backwards = {
        **CONNECTION,
        "source_node_type": "schema_validator",
        "source_connector_id": "data_in",
        "target_node_type": "s3_ingest",
        "target_connector_id": "data_out",
    }
    status, body = owner("POST", "/nodes/validate-connection", backwards)
    assert [e.split(":")[0] for e in body["errors"]] == ["direction", "direction"]
    # The team's custom node: its enriched_out gives json only; embeddings in -> mismatch.
    to_vectors = {
        "source_node_type": "custom_enricher",
        "source_connector_id": "enriched_out",
        "target_node_type": "embed_documents",
        "target_connector_id": "data_in",
    }
    status, body = owner("POST", "/nodes/validate-connection", to_vectors, team_org)
    assert status == 200 and body["valid"] is True  # embed_documents takes json
    strict = {**to_vectors, "target_node_type": "vector_upsert"}
    status, body = owner("POST", "/nodes/validate-connection", strict, team_org)
    assert body["valid"] is True  # vector_upsert's data_in includes any


def test_validate_connection_type_mismatch(owner, team_org, enricher):
    create(
        owner,
        named(
            "text_source",
            connectors=[{"id": "text_out", "direction": "outbound", "data_types": ["string"]}],
        ),
        team_org,
    )
    body = {
        "source_node_type": "text_source",
        "source_connector_id": "text_out",
        "target_node_type": "custom_enricher",
        "target_connector_id": "data_in",
    }
    status, answer = owner("POST", "/nodes/validate-connection", body, team_org)
    assert status == 200
    assert answer["valid"] is False
    assert answer["errors"][0].startswith("data_types: text_source.text_out gives string")


def test_validate_connection_400s(owner):
    status, body = owner(
        "POST", "/nodes/validate-connection", {**CONNECTION, "target_node_type": "nope"}
    )
    assert status == 400
    assert_error(body, "validation_error")
    assert body["details"] == {"target_node_type": "unknown node type"}
    status, body = owner("POST", "/nodes/validate-connection", {"source_node_type": "s3_ingest"})
    assert status == 400
    assert "source_connector_id" in body["details"]
    status, body = owner(
        "POST", "/nodes/validate-connection", {**CONNECTION, "existing_source_connections": -1}
    )
    assert status == 400
    assert body["details"] == {"existing_source_connections": "a non-negative integer"}
    status, body = owner(
        "POST",
        "/nodes/validate-connection",
        {**CONNECTION, "target_connector_id": "nope"},
    )
    assert status == 200 and body["valid"] is False and body["target_connector"] is None


def test_the_callers_role_in_the_named_org_is_what_counts(srv, owner):
    """A developer of the personal org who only views another: X-Org-Id of that org is checked
    against the viewer role there; X-Dagy-Org resolves the whole request in that org."""
    status, org = owner("POST", "/orgs", {"org_name": "View Shop"})
    assert status == 201, org
    dev = Caller(srv, add_user(srv, "dev@example.com", "developer"))
    status, _, member = srv.request(
        "POST",
        f"/orgs/{org['org_id']}/members",
        token=owner.token,
        headers={"X-Dagy-Org": org["org_id"]},
        body={"email": "dev@example.com", "role": "viewer"},
    )
    assert status == 201, member
    status, body = dev("POST", "/nodes/registry", named("dev_node"), org["org_id"])
    assert status == 403
    assert_error(body, "forbidden")
    assert body["details"] == {"permission": "flows.write"}
    status, _, body = srv.request(
        "POST", "/nodes/registry", token=dev.token, body=named("dev_node"),
        headers={"X-Dagy-Org": org["org_id"]},
    )  # fmt: skip
    assert status == 403
    assert dev("GET", "/nodes/registry/custom", org=org["org_id"])[0] == 200
    assert dev("POST", "/nodes/registry", named("dev_node"))[0] == 201  # at home: developer


def test_the_local_token_may_name_any_existing_org(srv, owner, team_org, enricher):
    status, _, body = srv.request(
        "GET", "/nodes/registry/custom_enricher", token=srv.local_token,
        headers={"X-Org-Id": team_org},
    )  # fmt: skip
    assert status == 200 and body["org_id"] == team_org
    status, _, body = srv.request(
        "GET", "/nodes/registry/custom", token=srv.local_token, headers={"X-Org-Id": "org_nope"}
    )
    assert status == 403
    assert_error(body, "forbidden")

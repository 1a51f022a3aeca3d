"""DAG drafts through a real `dagy serve`: the spec's routes and example bodies, shape checks that
store nothing, validation on every read, the draft's YAML, deploy refusals, round trip, orgs,
permissions and audit rows. (A drawn pipeline deployed and run: test_drafts_run.py.)"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from dagy.nodes import registry
from dagy.pipelines import canvas, yaml_format
from dagy.services.builder.draft_compile import bump
from tests.conftest import REPO, ServerProcess
from tests.server.flows_support import Api, assert_error, login, new_org, start
from tests.server.sensors_support import wait_done

# The reference's POST /dag-drafts body (node types s3_read and transform are not Dagy's).
SPEC_BODY: dict[str, Any] = {
    "name": "Data Processing Pipeline v2",
    "description": "Process customer data and generate insights",
    "canvas_json": {
        "nodes": [
            {
                "id": "node_1",
                "type": "s3_read",
                "position": [0, 0],
                "data": {"bucket": "my-bucket", "key": "customers.csv"},
            },
            {"id": "node_2", "type": "transform", "position": [200, 0], "data": {"script": "..."}},
        ],
        "edges": [{"id": "edge_1", "source": "node_1", "target": "node_2"}],
    },
    "flow_name": "data-processing-v2",
    "executor": "kubernetes",
}
CREATED_KEYS = {
    "draft_id",
    "name",
    "description",
    "flow_name",
    "executor",
    "created_at",
    "updated_at",
}
ITEM_KEYS = CREATED_KEYS - {"executor"}

# Allowlisted nodes, complete: what compiles and deploys.
GOOD_CANVAS: dict[str, Any] = {
    "nodes": [
        {
            "id": "fetch",
            "type": "http_fetch",
            "position": [0, 0],
            "data": {"url": "http://127.0.0.1:9/orders"},
        },
        {
            "id": "dedupe",
            "type": "deduplicator",
            "position": [250, 0],
            "data": {"keys": ["order_id"]},
            "label": "Dedupe orders",
        },
        {"id": "write", "type": "file_write", "position": [500, 0], "data": {"uri": "/tmp/x.json"}},
    ],
    "edges": [
        {"id": "e1", "source": "fetch", "target": "dedupe"},
        {"id": "e2", "source": "dedupe", "target": "write", "sourceHandle": "data_out"},
    ],
}


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = start(tmp_path_factory.mktemp("drafts") / "home")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def owner(srv: ServerProcess) -> Api:
    return Api(srv, srv.login("owner@example.com"))


def create(api: Api, **body: Any) -> dict[str, Any]:
    return api.ok("POST", "/dag-drafts", {"name": "draft", **body}, status=201)  # type: ignore[no-any-return]


def draft_ids(api: Api) -> list[str]:
    return [d["draft_id"] for d in api.ok("GET", "/dag-drafts?limit=100")["items"]]


def refused(answer: tuple[int, Any], code: int, field: str | None = None) -> dict[str, Any]:
    """The spec's error body of an ``Api.call`` answer, with its status and ``field`` named."""
    status, body = answer
    return assert_error(body, status, code, field)


def lines(validation: dict[str, Any], kind: str = "errors") -> list[str]:
    return [f"{p['path']}: {p['message']}" for p in validation[kind]]


# -- the spec's routes ------------------------------------------------------------------------------


def test_every_route_with_the_spec_example_bodies(owner: Api):
    created = owner.ok("POST", "/dag-drafts", SPEC_BODY, status=201)
    assert set(created) == CREATED_KEYS
    assert created["draft_id"].startswith("draft_")
    for key in ("name", "description", "flow_name", "executor"):
        assert created[key] == SPEC_BODY[key]
    assert created["created_at"].endswith("Z") and created["updated_at"] == created["created_at"]
    draft_id = created["draft_id"]

    listed = owner.ok("GET", "/dag-drafts")
    item = next(i for i in listed["items"] if i["draft_id"] == draft_id)
    assert set(item) == ITEM_KEYS and item["name"] == SPEC_BODY["name"]

    detail = owner.ok("GET", f"/dag-drafts/{draft_id}")
    assert detail["canvas_json"] == SPEC_BODY["canvas_json"]
    assert {k: detail[k] for k in CREATED_KEYS} == created
    # saved as drawn; its validation names the node types Dagy does not have, on their nodes
    validation = detail["validation"]
    assert validation["valid"] is False
    unknown = {(e["node"], e["field"], e["path"]) for e in validation["errors"]}
    assert ("node_1", "type", "nodes.node_1.type") in unknown
    assert ("node_2", "type", "nodes.node_2.type") in unknown
    assert any("unknown node type 's3_read'" in line for line in lines(validation))
    assert any(
        "'kubernetes' is not installed here" in line for line in lines(validation, "warnings")
    )

    update = {
        "name": "Data Processing Pipeline v3",
        "description": "Updated description",
        "canvas_json": GOOD_CANVAS,
    }
    updated = owner.ok("PUT", f"/dag-drafts/{draft_id}", update)
    assert set(updated) == {"draft_id", "name", "updated_at"}
    assert updated["name"] == "Data Processing Pipeline v3"
    detail = owner.ok("GET", f"/dag-drafts/{draft_id}")
    assert detail["description"] == "Updated description"
    assert detail["canvas_json"] == GOOD_CANVAS
    assert detail["flow_name"] == "data-processing-v2"  # not in the PUT: unchanged
    assert detail["validation"]["valid"] is True, detail["validation"]

    status, answer = owner.call("DELETE", f"/dag-drafts/{draft_id}")
    assert (status, answer) == (204, None)
    refused(owner.call("GET", f"/dag-drafts/{draft_id}"), 404)
    assert draft_id not in draft_ids(owner)
    actions = [row["action"] for row in owner.audit("dag_draft", draft_id)]
    assert actions == ["delete", "update", "create"]


def test_put_changes_only_the_fields_given_and_null_clears_optional_ones(owner: Api):
    draft = create(owner, flow_name="kept", executor="process", description="d")
    owner.ok("PUT", f"/dag-drafts/{draft['draft_id']}", {"executor": None, "description": None})
    detail = owner.ok("GET", f"/dag-drafts/{draft['draft_id']}")
    assert (detail["flow_name"], detail["executor"], detail["description"]) == ("kept", None, "")
    assert detail["canvas_json"] == {"nodes": [], "edges": []}


def test_a_list_pages_in_sql_with_limit_and_next_token(srv: ServerProcess):
    api = new_org(srv)
    made = [create(api, name=f"d{i}")["draft_id"] for i in range(3)]
    first = api.ok("GET", "/dag-drafts?limit=2")
    assert [i["draft_id"] for i in first["items"]] == made[:2] and first["next_token"]
    second = api.ok("GET", f"/dag-drafts?limit=2&next_token={first['next_token']}")
    assert [i["draft_id"] for i in second["items"]] == made[2:] and second["next_token"] is None
    refused(api.call("GET", "/dag-drafts?next_token=garbage"), 400, "next_token")


# -- what saving refuses ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("canvas_json", "path"),
    [
        ("not a canvas", ""),
        ({"edges": []}, "nodes"),
        ({"nodes": [{"id": "a"}]}, "nodes.a.type"),
        ({"nodes": [{"type": "delay"}, {"id": "b", "type": "delay"}]}, "nodes[0].id"),
        ({"nodes": [{"id": "a", "type": "delay"}] * 2}, "nodes[1].id"),
        ({"nodes": [{"id": "a", "type": "delay", "position": {"x": 1}}]}, "nodes.a.position"),
        (
            {
                "nodes": [{"id": "a", "type": "delay"}],
                "edges": [{"id": "edge_3", "source": "a", "target": "x"}],
            },
            "edges.edge_3.target",
        ),
        (
            {
                "nodes": [{"id": "a", "type": "delay"}],
                "edges": [{"id": "e", "source": "a", "target": "a"}] * 2,
            },
            "edges[1].id",
        ),
    ],
)
def test_a_malformed_canvas_is_400_naming_node_or_edge_and_nothing_is_stored(
    owner: Api, canvas_json: Any, path: str
):
    before = draft_ids(owner)
    body = refused(
        owner.call("POST", "/dag-drafts", {"name": "bad", "canvas_json": canvas_json}), 400
    )
    assert path in [e["path"] for e in body["details"]["errors"]], body
    assert draft_ids(owner) == before
    # and a PUT of it leaves the stored canvas as it was
    draft = create(owner, canvas_json=GOOD_CANVAS)
    refused(
        owner.call(
            "PUT", f"/dag-drafts/{draft['draft_id']}", {"name": "x", "canvas_json": canvas_json}
        ),
        400,
    )
    detail = owner.ok("GET", f"/dag-drafts/{draft['draft_id']}")
    assert (detail["name"], detail["canvas_json"]) == ("draft", GOOD_CANVAS)
    owner.ok("DELETE", f"/dag-drafts/{draft['draft_id']}", status=204)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"name": "d", "flow_name": "a/b"}, "flow_name"),
        ({"name": "d", "flow_name": "validate"}, "flow_name"),
        ({"name": "d", "executor": "no spaces"}, "executor"),
        ({"name": "d", "description": 3}, "description"),
        ({"name": "d", "colour": "red"}, "colour"),
    ],
)
def test_bad_fields_are_400_naming_the_field(owner: Api, body: dict[str, Any], field: str):
    before = draft_ids(owner)
    refused(owner.call("POST", "/dag-drafts", body), 400, field)
    assert draft_ids(owner) == before


# -- validation, compile and deploy -----------------------------------------------------------------

INCOMPLETE: dict[str, Any] = {
    "nodes": [
        {"id": "fetch", "type": "http_fetch", "data": {}},
        {"id": "summary", "type": "llm_summarize", "data": {}},
        {"id": "x", "type": "deduplicator"},
        {"id": "y", "type": "deduplicator"},
        {"id": "lonely", "type": "deduplicator"},
        {"id": "sink", "type": "file_write", "data": {"uri": "/tmp/out.json"}},
    ],
    "edges": [
        {"id": "e1", "source": "fetch", "target": "summary"},
        {"id": "e2", "source": "x", "target": "y"},
        {"id": "e3", "source": "y", "target": "x"},
        {"id": "e4", "source": "fetch", "target": "sink", "sourceHandle": "trigger_in"},
    ],
}


def test_an_incomplete_draft_is_saved_with_its_errors_and_refused_at_compile_and_deploy(
    owner: Api,
):
    draft = create(owner, canvas_json=INCOMPLETE, flow_name="incomplete-flow")
    validation = owner.ok("GET", f"/dag-drafts/{draft['draft_id']}")["validation"]
    assert validation["valid"] is False
    found = lines(validation)
    assert "nodes.fetch.data.url: required field 'url' is missing" in found
    assert (
        "nodes.summary.type: node type llm_summarize is not executable here: "
        "no LLM provider is configured"
    ) in found
    assert any(line.startswith("nodes.x: steps form a cycle: x -> y -> x") for line in found)
    assert any(
        line.startswith("edges.e4: invalid connection fetch.trigger_in -> sink.data_in: direction")
        for line in found
    ), found
    assert "nodes.lonely.data_in: required input 'data_in' has no edge" in found
    assert all(e["node"] for e in validation["errors"])
    assert "nodes.lonely: not connected to any other node" in lines(validation, "warnings")

    for method, path in (("GET", "pipeline"), ("POST", "deploy")):
        body = refused(owner.call(method, f"/dag-drafts/{draft['draft_id']}/{path}"), 400)
        assert [e["path"] for e in body["details"]["errors"]] == [
            e["path"] for e in validation["errors"]
        ]
    refused(owner.call("GET", "/flows/incomplete-flow/latest"), 404)  # nothing registered


def test_deploy_needs_a_flow_name(owner: Api):
    draft = create(owner, canvas_json=GOOD_CANVAS)
    validation = owner.ok("GET", f"/dag-drafts/{draft['draft_id']}")["validation"]
    assert validation["valid"] is True
    assert lines(validation, "warnings") == ["flow_name: not set: deploying needs a flow name"]
    refused(owner.call("POST", f"/dag-drafts/{draft['draft_id']}/deploy"), 400, "flow_name")


def test_the_pipeline_yaml_round_trips_to_the_same_draft(owner: Api):
    draft = create(owner, canvas_json=GOOD_CANVAS, flow_name="orders-etl", description="orders")
    body = owner.ok("GET", f"/dag-drafts/{draft['draft_id']}/pipeline")
    assert set(body) == {"draft_id", "pipeline_yaml", "validation"}
    assert body["validation"]["valid"] is True
    pipeline = yaml_format.parse_pipeline(body["pipeline_yaml"])
    assert (pipeline.name, pipeline.description) == ("orders-etl", "orders")
    assert [(s.id, s.node) for s in pipeline.steps] == [
        ("fetch", "http_fetch"),
        ("dedupe", "deduplicator"),
        ("write", "file_write"),
    ]
    assert pipeline.step("write").with_ == {"data_in": "${dedupe}"}  # type: ignore[union-attr]
    redrawn = canvas.from_pipeline(pipeline)
    assert redrawn == GOOD_CANVAS
    again = create(owner, canvas_json=redrawn, flow_name="orders-etl", description="orders")
    yaml_again = owner.ok("GET", f"/dag-drafts/{again['draft_id']}/pipeline")["pipeline_yaml"]
    assert yaml_again == body["pipeline_yaml"]

    status, headers, text = owner.server.request(
        "GET",
        f"/dag-drafts/{draft['draft_id']}/pipeline",
        token=owner.token,
        headers={"Accept": "application/yaml"},
    )
    assert status == 200 and headers["content-type"].startswith("application/yaml")
    assert text == body["pipeline_yaml"]


def test_deploy_registers_new_versions_with_the_yaml_artifact(owner: Api, srv: ServerProcess):
    draft = create(owner, canvas_json=GOOD_CANVAS, flow_name="drawn-flow", executor="process")
    path = f"/dag-drafts/{draft['draft_id']}/deploy"
    first = owner.ok("POST", path, status=201)
    assert first["flow_name"] == "drawn-flow" and first["flow_version"] == "1.0.0"
    assert first["deployment_name"] == "drawn-flow"
    assert first["artifact_s3_uri"].startswith("file://")
    second = owner.ok("POST", path, {"deployment_name": "drawn-nightly"}, status=201)
    assert second["flow_version"] == "1.0.1" and second["deployment_name"] == "drawn-nightly"
    third = owner.ok("POST", path, {"flow_version": "2.0.0"}, status=201)
    assert third["flow_version"] == "2.0.0"

    latest = owner.ok("GET", "/flows/drawn-flow/latest")
    assert latest["flow_version"] == "2.0.0" and latest["default_executor"] == "process"
    assert latest["flow_spec"]["entrypoint"] == "drawn-flow.yaml:drawn-flow"
    assert sorted(latest["flow_spec"]["tasks"]) == ["dedupe", "fetch", "write"]
    deployment = owner.ok("GET", "/deployments/drawn-nightly")
    assert deployment["flow_version"] == "1.0.1"
    detail = owner.ok("GET", f"/dag-drafts/{draft['draft_id']}")
    assert detail["deployed_flow_version"] == "2.0.0"
    assert [r["action"] for r in owner.audit("dag_draft", draft["draft_id"])][:3] == ["execute"] * 3
    refused(owner.call("POST", path, {"flow_version": "1/2"}), 400, "flow_version")
    refused(owner.call("POST", path, {"colour": 1}), 400, "colour")
    refused(owner.call("POST", path, {"schedule": "every tuesday"}), 400, "schedule")
    refused(owner.call("POST", path, {"deployment_name": "no spaces"}), 400, "deployment_name")
    assert [v["flow_version"] for v in owner.ok("GET", "/flows/drawn-flow/versions")["items"]] == [
        "2.0.0",
        "1.0.1",
        "1.0.0",
    ]
    scheduled = owner.ok("POST", path, {"schedule": "30m", "deployment_name": "drawn-often"}, 201)
    assert owner.ok("GET", "/deployments/drawn-often")["schedule"] == "30m"
    assert scheduled["flow_version"] == "2.0.1"


@pytest.mark.parametrize(
    ("newest", "taken", "expected"),
    [
        ("1.0.0", {"1.0.0"}, "1.0.1"),
        ("1.0.3", {"1.0.3", "1.0.4"}, "1.0.5"),
        ("beta", {"beta"}, "beta.1"),
        ("2024.1", {"2024.1", "2024.1.1"}, "2024.1.2"),
    ],
)
def test_a_deploy_without_a_version_takes_the_next_free_one(newest, taken, expected):
    assert bump(newest, taken) == expected


# -- orgs and permissions ---------------------------------------------------------------------------


def test_another_orgs_draft_is_404(owner: Api, srv: ServerProcess):
    draft = create(owner, canvas_json=GOOD_CANVAS, flow_name="mine")
    other = new_org(srv)
    path = f"/dag-drafts/{draft['draft_id']}"
    for method, suffix, body in (
        ("GET", "", None),
        ("PUT", "", {"name": "stolen"}),
        ("DELETE", "", None),
        ("GET", "/pipeline", None),
        ("POST", "/deploy", None),
    ):
        refused(other.call(method, path + suffix, body), 404)
    assert draft["draft_id"] not in draft_ids(other)
    assert owner.ok("GET", path)["name"] == "draft"


def test_a_viewer_reads_drafts_but_cannot_change_or_deploy_them(owner: Api, srv: ServerProcess):
    draft = create(owner, canvas_json=GOOD_CANVAS, flow_name="viewed")
    viewer = login(srv, "viewer@example.com", "viewer")
    path = f"/dag-drafts/{draft['draft_id']}"
    assert viewer.ok("GET", path)["draft_id"] == draft["draft_id"]
    viewer.ok("GET", path + "/pipeline")
    for method, suffix, body in (
        ("POST", "", {"name": "v"}),
        ("PUT", path[len("/dag-drafts") :], {"name": "v"}),
        ("DELETE", path[len("/dag-drafts") :], None),
        ("POST", path[len("/dag-drafts") :] + "/deploy", None),
    ):
        refused(viewer.call(method, "/dag-drafts" + suffix, body), 403)
    status, _, _ = srv.request("GET", "/dag-drafts")
    assert status == 401


CUSTOM_NODE: dict[str, Any] = {
    "node_type": "acme_enrich",
    "label": "Enrich",
    "description": "Adds fields",
    "category": "custom",
    "import_path": "acme.nodes:enrich",
    "connectors": [
        {"id": "data_in", "name": "In", "direction": "inbound", "data_types": ["any"]},
        {"id": "data_out", "name": "Out", "direction": "outbound", "data_types": ["any"]},
    ],
}


def with_custom_node() -> dict[str, Any]:
    drawn = copy.deepcopy(GOOD_CANVAS)
    drawn["nodes"].append({"id": "enrich", "type": "acme_enrich", "position": [750, 0]})
    drawn["edges"].append({"id": "e3", "source": "write", "target": "enrich"})
    return drawn


def test_a_custom_node_of_the_org_compiles_with_its_import_path(owner: Api):
    owner.ok("POST", "/nodes/registry", CUSTOM_NODE, status=201)
    draft = create(owner, canvas_json=with_custom_node(), flow_name="custom-flow")
    body = owner.ok("GET", f"/dag-drafts/{draft['draft_id']}/pipeline")
    assert body["validation"]["valid"] is True, body["validation"]
    step = yaml_format.parse_pipeline(body["pipeline_yaml"]).step("enrich")
    assert step is not None and (step.node, step.import_path) == (
        "acme_enrich",
        "acme.nodes:enrich",
    )
    assert registry.lookup("acme_enrich") is None  # not a built-in: the org's own


def test_x_org_id_names_the_org_as_the_node_registry_takes_it(owner: Api, srv: ServerProcess):
    other = new_org(srv)  # its owner, through X-Dagy-Org
    org_id = other.headers["X-Dagy-Org"]
    named = Api(srv, other.token, {"X-Org-Id": org_id})
    named.ok("POST", "/nodes/registry", {**CUSTOM_NODE, "node_type": "acme_score"}, status=201)
    drawn = with_custom_node()
    drawn["nodes"][-1]["type"] = "acme_score"
    draft = create(named, canvas_json=drawn)
    assert draft["draft_id"] in draft_ids(other)
    assert other.ok("GET", f"/dag-drafts/{draft['draft_id']}")["validation"]["valid"] is True
    # the same node type is unknown in the owner's org, and the owner is no member of the other
    mine = create(owner, canvas_json=drawn)
    errors = owner.ok("GET", f"/dag-drafts/{mine['draft_id']}")["validation"]["errors"]
    assert [e["message"] for e in errors] == ["unknown node type 'acme_score'"]
    stranger = Api(srv, owner.token, {"X-Org-Id": org_id})
    refused(stranger.call("GET", "/dag-drafts"), 403)
    refused(stranger.call("GET", f"/dag-drafts/{draft['draft_id']}"), 403)


# -- examples/builder ------------------------------------------------------------------------------

EXAMPLE = REPO / "examples" / "builder"
CLEAN_ORDERS = [
    {"order_id": 1, "customer": "Ada Lovelace", "amount": 120.5},
    {"order_id": 2, "customer": "Grace Hopper", "amount": 80},
    {"order_id": 4, "customer": "Edsger Dijkstra", "amount": 42},
]


def test_the_example_draft_runs_from_its_yaml_and_deployed(
    owner: Api, run_dagy: Callable[..., Any], tmp_path: Path
):
    body = json.loads((EXAMPLE / "orders_draft.json").read_text())
    draft = owner.ok("POST", "/dag-drafts", body, status=201)
    path = f"/dag-drafts/{draft['draft_id']}"
    assert owner.ok("GET", path)["validation"] == {"valid": True, "errors": [], "warnings": []}
    inputs = {"input": str(EXAMPLE / "orders.json")}

    # its YAML, run by the dagy command on this machine
    yaml_file = tmp_path / "clean_orders.yaml"
    yaml_file.write_text(owner.ok("GET", path + "/pipeline")["pipeline_yaml"])
    local_out = tmp_path / "local.json"
    done = run_dagy(
        "run",
        str(yaml_file),
        "--param",
        f"input={inputs['input']}",
        "--param",
        f"output={local_out}",
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(local_out.read_text()) == CLEAN_ORDERS

    # deployed, and run by the server
    deployed = owner.ok("POST", path + "/deploy", status=201)
    served_out = tmp_path / "served.json"
    run = owner.ok(
        "POST",
        "/runs",
        {
            "deployment": deployed["deployment_name"],
            "parameters": {**inputs, "output": str(served_out)},
        },
        status=202,
    )
    assert wait_done(owner, run["run_id"], timeout=120)["status"] == "completed"
    assert json.loads(served_out.read_text()) == CLEAN_ORDERS

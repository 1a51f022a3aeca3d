"""Drawn pipelines really run: drafts of allowlisted nodes saved, deployed and run through POST
/runs on a real `dagy serve`, reading JSON from an HTTP server of the test and from moto's S3 server
on 127.0.0.1 and writing back to S3 (objects read back with boto3): http_fetch -> schema_validator
-> data_normalizer -> deduplicator -> s3_write beside s3_ingest -> deduplicator -> s3_write; a
condition and a map (a SKIPPED branch, one task run per item); an org's custom node."""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import ServerProcess, start_server
from tests.http_support import JsonHandler, serving, url_of
from tests.moto_support import AWS_ENV, moto_server, s3_client
from tests.server.flows_support import Api, add_user

pytest.importorskip("moto", reason="moto is not installed (pip install -e '.[dev]')")
boto3 = pytest.importorskip("boto3")


ORDERS = [
    {"Order_ID": 1, "Customer": "  Ada ", "amount": 10},
    {"Order_ID": 2, "Customer": "Bob", "amount": 20.5},
    {"Order_ID": 1, "Customer": "Ada", "amount": 10},  # the same order once normalized
    {"Order_ID": 3, "Customer": "Cy", "amount": "lots"},  # refused by the schema, dropped
]
CUSTOMERS = [
    {"id": "c1", "tier": "gold"},
    {"id": "c2", "tier": "free"},
    {"id": "c1", "tier": "gold"},
]
SCHEMA = {
    "type": "object",
    "required": ["Order_ID", "amount"],
    "properties": {"Order_ID": {"type": "integer"}, "amount": {"type": "number"}},
}


class Orders(JsonHandler):
    """Answers GET /orders with ORDERS as JSON; remembers each query string it was asked."""

    queries: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        path, _, query = self.path.partition("?")
        if path != "/orders":
            self.send_error(404)
            return
        Orders.queries.append(query)
        self.send_json(ORDERS)


@pytest.fixture(scope="module")
def orders_url() -> Iterator[str]:
    with serving(Orders) as server:
        yield url_of(server, "/orders")


@pytest.fixture(scope="module")
def aws() -> Iterator[dict[str, str]]:
    """``python -m moto.server`` on a free loopback port, and the AWS environment that reaches it."""
    with moto_server() as endpoint:
        yield {**AWS_ENV, "AWS_ENDPOINT_URL": endpoint}


@pytest.fixture(scope="module")
def s3(aws: dict[str, str]) -> Any:
    return s3_client(aws)


@pytest.fixture(scope="module")
def bucket(s3: Any) -> str:
    name = f"dagy-drafts-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="in/customers.json", Body=json.dumps(CUSTOMERS).encode())
    return name


ACME_NODES = """
def enrich(config, inputs):
    return [{**row, "tier": config.get("tier", "standard")} for row in inputs["data_in"]]
"""


@pytest.fixture(scope="module")
def owner(tmp_path_factory: pytest.TempPathFactory, aws: dict[str, str]) -> Iterator[Api]:
    """A real server whose runs (child processes) reach moto through the AWS environment, and
    import the org's custom node code (acme_nodes) from a folder on their PYTHONPATH."""
    code = tmp_path_factory.mktemp("code")
    (code / "acme_nodes.py").write_text(ACME_NODES)
    path = os.pathsep.join(p for p in (str(code), os.environ.get("PYTHONPATH")) if p)
    env = {
        **aws,
        "PYTHONPATH": path,
        "DAGY_RATE_LIMIT_PER_MINUTE": "0",
        "DAGY_ARTIFACT_STORE": "local",
        "DAGY_LOCAL_KEEP_RUNS": "0",
    }
    server: ServerProcess = start_server(tmp_path_factory.mktemp("drawn") / "home", env=env)
    add_user(server, "owner@example.com", "owner")
    yield Api(server, server.login("owner@example.com"))
    server.stop()


def drawing(orders_url: str, bucket: str) -> dict[str, Any]:
    def node(node_id: str, node_type: str, x: int, y: int, **data: Any) -> dict[str, Any]:
        return {"id": node_id, "type": node_type, "position": [x, y], "data": data}

    def edge(source: str, target: str) -> dict[str, Any]:
        return {"id": f"{source}-{target}", "source": source, "target": target}

    return {
        "params": {"day": "2026-03-04"},
        "nodes": [
            node("fetch", "http_fetch", 0, 0, url=orders_url + "?day=${params.day}"),
            node("validate", "schema_validator", 250, 0, schema=SCHEMA, on_invalid="drop"),
            node("normalize", "data_normalizer", 500, 0, lowercase_keys=True, trim_strings=True),
            node("dedupe", "deduplicator", 750, 0, keys=["order_id"]),
            node("write", "s3_write", 1000, 0, uri=f"s3://{bucket}/out/orders.json"),
            node("ingest", "s3_ingest", 0, 200, uri=f"s3://{bucket}/in/customers.json"),
            node("unique", "deduplicator", 250, 200, keys=["id"]),
            node(
                "store",
                "s3_write",
                500,
                200,
                uri=f"s3://{bucket}/out/customers.ndjson",
                format="ndjson",
            ),
        ],
        "edges": [
            edge("fetch", "validate"),
            edge("validate", "normalize"),
            edge("normalize", "dedupe"),
            edge("dedupe", "write"),
            edge("ingest", "unique"),
            edge("unique", "store"),
        ],
    }


def wait_done(api: Api, run_id: str, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = api.ok("GET", f"/runs/{run_id}")
        if run["status"] in ("completed", "failed", "cancelled"):
            return run  # type: ignore[no-any-return]
        time.sleep(0.1)
    raise AssertionError(f"run {run_id} did not finish")


def test_a_drawn_pipeline_is_deployed_and_run_against_http_and_s3(
    owner: Api, orders_url: str, bucket: str, s3: Any
):
    draft = owner.ok(
        "POST",
        "/dag-drafts",
        {
            "name": "Orders and customers",
            "canvas_json": drawing(orders_url, bucket),
            "flow_name": "drawn-orders",
        },
        status=201,
    )
    validation = owner.ok("GET", f"/dag-drafts/{draft['draft_id']}")["validation"]
    assert validation == {"valid": True, "errors": [], "warnings": []}

    deployed = owner.ok("POST", f"/dag-drafts/{draft['draft_id']}/deploy", status=201)
    assert (deployed["flow_name"], deployed["flow_version"]) == ("drawn-orders", "1.0.0")

    run = owner.ok(
        "POST",
        "/runs",
        {"deployment": deployed["deployment_name"], "parameters": {"day": "2026-03-05"}},
        status=202,
    )
    done = wait_done(owner, run["run_id"])
    tasks = owner.ok("GET", f"/runs/{run['run_id']}/task-runs")
    assert done["status"] == "completed", (done, tasks)

    written = s3.get_object(Bucket=bucket, Key="out/orders.json")["Body"].read()
    assert json.loads(written) == [
        {"order_id": 1, "customer": "Ada", "amount": 10},
        {"order_id": 2, "customer": "Bob", "amount": 20.5},
    ]
    lines = s3.get_object(Bucket=bucket, Key="out/customers.ndjson")["Body"].read().splitlines()
    assert [json.loads(line) for line in lines] == CUSTOMERS[:2]
    assert "day=2026-03-05" in Orders.queries  # the run's parameter, not the drawn default
    assert "day=2026-03-04" not in Orders.queries


def test_a_drawn_condition_and_map_run_as_branches_and_one_task_run_per_item(
    owner: Api, orders_url: str, bucket: str, s3: Any, tmp_path: Any
):
    """check.true_out -> each (map) -> pause (delay, once per order) -> keep (s3_write);
    check.false_out -> dump (file_write), which the run skips."""
    dump = tmp_path / "dump.json"
    drawn = {
        "nodes": [
            {"id": "fetch", "type": "http_fetch", "data": {"url": orders_url}},
            {
                "id": "check",
                "type": "condition",
                "data": {"field": "$count", "operator": "gt", "value": 0},
            },
            {"id": "each", "type": "map", "data": {}},
            {"id": "pause", "type": "delay", "data": {"seconds": 0}},
            {"id": "keep", "type": "s3_write", "data": {"uri": f"s3://{bucket}/out/items.json"}},
            {"id": "dump", "type": "file_write", "data": {"uri": str(dump)}},
        ],
        "edges": [
            {"id": "e1", "source": "fetch", "target": "check"},
            {"id": "e2", "source": "check", "target": "each", "sourceHandle": "true_out"},
            {"id": "e3", "source": "each", "target": "pause", "sourceHandle": "item_out"},
            {"id": "e4", "source": "pause", "target": "keep"},
            {"id": "e5", "source": "check", "target": "dump", "sourceHandle": "false_out"},
        ],
    }
    draft = owner.ok(
        "POST",
        "/dag-drafts",
        {"name": "Branches", "canvas_json": drawn, "flow_name": "drawn-branches"},
        status=201,
    )
    assert owner.ok("GET", f"/dag-drafts/{draft['draft_id']}")["validation"]["valid"] is True
    deployed = owner.ok("POST", f"/dag-drafts/{draft['draft_id']}/deploy", status=201)
    run = owner.ok("POST", "/runs", {"deployment": deployed["deployment_name"]}, status=202)
    done = wait_done(owner, run["run_id"])
    tasks = owner.ok("GET", f"/runs/{run['run_id']}/task-runs")["items"]
    assert done["status"] == "completed", (done, tasks)

    status = {t["task_run_id"]: t["status"] for t in tasks}
    assert status["dump"] == "SKIPPED" and not dump.exists()
    assert sorted(k for k in status if k.startswith("pause.")) == [f"pause.{i}" for i in range(4)]
    kept = json.loads(s3.get_object(Bucket=bucket, Key="out/items.json")["Body"].read())
    assert kept == ORDERS  # each order through its own delay task run, in order


def test_a_drawn_custom_node_of_the_org_runs_its_import_path(
    owner: Api, orders_url: str, bucket: str, s3: Any
):
    owner.ok(
        "POST",
        "/nodes/registry",
        {
            "node_type": "acme_enrich",
            "label": "Enrich",
            "description": "Adds the customer tier",
            "category": "transform",
            "import_path": "acme_nodes:enrich",
            "connectors": [
                {"id": "data_in", "name": "In", "direction": "inbound", "data_types": ["json"]},
                {"id": "data_out", "name": "Out", "direction": "outbound", "data_types": ["json"]},
            ],
            "config_schema": [{"name": "tier", "label": "Tier", "type": "string"}],
        },
        status=201,
    )
    drawn = {
        "nodes": [
            {"id": "fetch", "type": "http_fetch", "data": {"url": orders_url}},
            {"id": "enrich", "type": "acme_enrich", "data": {"tier": "gold"}},
            {"id": "keep", "type": "s3_write", "data": {"uri": f"s3://{bucket}/out/enriched.json"}},
        ],
        "edges": [
            {"id": "e1", "source": "fetch", "target": "enrich"},
            {"id": "e2", "source": "enrich", "target": "keep"},
        ],
    }
    draft = owner.ok(
        "POST",
        "/dag-drafts",
        {"name": "Custom", "canvas_json": drawn, "flow_name": "drawn-custom"},
        201,
    )
    deployed = owner.ok("POST", f"/dag-drafts/{draft['draft_id']}/deploy", status=201)
    run = owner.ok("POST", "/runs", {"deployment": deployed["deployment_name"]}, status=202)
    done = wait_done(owner, run["run_id"])
    assert done["status"] == "completed", owner.ok("GET", f"/runs/{run['run_id']}/task-runs")
    kept = json.loads(s3.get_object(Bucket=bucket, Key="out/enriched.json")["Body"].read())
    assert kept == [{**order, "tier": "gold"} for order in ORDERS]

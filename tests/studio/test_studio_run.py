"""What the AI studio builds really runs: the spec's S3 request, saved and deployed from the
session (bind-flow), run with POST /runs against moto's S3 server on 127.0.0.1, writes the
deduplicated records (read back with boto3); after a modify turn ("also post the result to a
webhook") the redeployed flow also posts them to a receiver in the test."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import ServerProcess, start_server
from tests.http_support import JsonHandler, serving, url_of
from tests.moto_support import AWS_ENV, moto_server, s3_client
from tests.server.flows_support import Api, add_user
from tests.studio.studio_support import SPEC_MESSAGE, SPEC_TYPES, chain, new_session, send

boto3 = pytest.importorskip("boto3")

RECORDS = [
    {"ID": 1, "Name": "  Ada "},
    {"ID": 2, "Name": "Bob"},
    {"ID": 1, "Name": "Ada"},  # the first record once normalized (keys lowercased, trimmed)
]
UNIQUE = [{"id": 1, "name": "Ada"}, {"id": 2, "name": "Bob"}]


class Hook(JsonHandler):
    received: list[Any] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        size = int(self.headers.get("Content-Length") or 0)
        Hook.received.append(json.loads(self.rfile.read(size) or b"null"))
        self.send_json({})


@pytest.fixture(scope="module")
def hook_url() -> Iterator[str]:
    with serving(Hook) as server:
        yield url_of(server, "/hook")


@pytest.fixture(scope="module")
def aws() -> Iterator[dict[str, str]]:
    with moto_server() as endpoint:
        yield {**AWS_ENV, "AWS_ENDPOINT_URL": endpoint}


@pytest.fixture(scope="module")
def s3(aws: dict[str, str]) -> Any:
    return s3_client(aws)


@pytest.fixture(scope="module")
def owner(tmp_path_factory: pytest.TempPathFactory, aws: dict[str, str]) -> Iterator[Api]:
    env = {**aws, "DAGY_RATE_LIMIT_PER_MINUTE": "0", "DAGY_LOCAL_KEEP_RUNS": "0"}
    server: ServerProcess = start_server(tmp_path_factory.mktemp("studio-run") / "home", env=env)
    add_user(server, "owner@example.com", "owner")
    yield Api(server, server.login("owner@example.com", "password-123"))
    server.stop()


def wait_done(api: Api, run_id: str, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = api.ok("GET", f"/runs/{run_id}")
        if run["status"] in ("completed", "failed", "cancelled"):
            return run  # type: ignore[no-any-return]
        time.sleep(0.1)
    raise AssertionError(f"run {run_id} did not finish")


def _deploy_and_run(owner: Api, sid: str, flow: str, bucket: str) -> dict[str, Any]:
    saved = owner.ok(
        "POST", f"/ai-studio/sessions/{sid}/bind-flow",
        {"flow_name": flow, "save": True, "deploy": True},
    )  # fmt: skip
    deployed = saved["deployment"]
    assert deployed["flow_name"] == flow and saved["draft"]["flow_name"] == flow
    run = owner.ok(
        "POST",
        "/runs",
        {
            "deployment": deployed["deployment_name"],
            "parameters": {
                "input_uri": f"s3://{bucket}/in/records.json",
                "output_uri": f"s3://{bucket}/out/records.json",
            },
        },
        status=202,
    )
    done = wait_done(owner, run["run_id"])
    tasks = owner.ok("GET", f"/runs/{run['run_id']}/task-runs")
    assert done["status"] == "completed", (done, tasks)
    return saved


def test_the_spec_request_deploys_and_runs_against_s3_then_a_modify_adds_a_webhook(
    owner: Api,
    s3: Any,
    hook_url: str,
):
    bucket = f"studio-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="in/records.json", Body=json.dumps(RECORDS).encode())

    sid = new_session(owner, title="S3 clean-up")["session_id"]
    status, turn = send(owner, sid, {"message": SPEC_MESSAGE, "intent": "build"})
    assert status == 200, turn
    assert chain(turn["canvas_state"]) == SPEC_TYPES

    saved = _deploy_and_run(owner, sid, "studio-orders", bucket)
    written = s3.get_object(Bucket=bucket, Key="out/records.json")["Body"].read()
    assert json.loads(written) == UNIQUE
    assert saved["deployment"]["flow_version"] == "1.0.0"

    s3.delete_object(Bucket=bucket, Key="out/records.json")
    status, turn = send(
        owner, sid,
        {"message": f"Also post the result to a webhook at {hook_url}", "intent": "modify"},
    )  # fmt: skip
    assert status == 200, turn
    assert chain(turn["canvas_state"]) == [*SPEC_TYPES, "webhook_post"]
    again = _deploy_and_run(owner, sid, "studio-orders", bucket)
    assert again["deployment"]["flow_version"] == "1.0.1"  # a new version of the bound flow
    assert again["draft"]["draft_id"] == saved["draft"]["draft_id"]
    assert json.loads(s3.get_object(Bucket=bucket, Key="out/records.json")["Body"].read()) == (
        UNIQUE
    )
    deadline = time.monotonic() + 10
    while not Hook.received and time.monotonic() < deadline:
        time.sleep(0.05)
    assert Hook.received, "the webhook step posted nothing"
    posted = Hook.received[-1]  # what the last step (s3_write) answered: where and how many
    assert posted["data"]["uri"] == f"s3://{bucket}/out/records.json", posted
    assert posted["data"]["rows"] == len(UNIQUE)

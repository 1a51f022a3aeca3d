"""The Lambda plugin: tiers and layers; the function created, updated and invoked through moto's
Lambda API; and the handler run for real on an artifact `dagy build` made, fetched from moto's S3 —
a whole flow (in-process), one task (task-isolated), and `dagy run --executor lambda` sending
every task through it.

moto's Lambda keeps functions and answers invokes but cannot run their code without Docker, which
this machine has not; ``DAGY_LAMBDA_INVOKE=subprocess`` runs the same handler with the same event
in a fresh process instead, so everything but Lambda's runtime itself is exercised.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from dagy_lambda import functions
from dagy_lambda.tiers import TIERS, layer_arns, tier
from dagy_s3.store import S3ArtifactStore

FLOW = """
from dagy import flow, task


@task
def square(x: int) -> int:
    print(f"squaring {x}")
    return x * x


@task
def total(values: list) -> int:
    return sum(values)


@flow(name="squares", version="1.0")
def squares(n: int = 3):
    return total([square(i) for i in range(n)])
"""


@pytest.fixture
def deployed(run_dagy, write_flow, tmp_path, bucket, aws) -> dict[str, Any]:
    """A `dagy build` artifact of FLOW in S3, and what an event says about it."""
    source = write_flow(FLOW, name="squares")
    done = run_dagy("build", f"{source}:squares", "--output-dir", str(tmp_path / "dist"))
    assert done.returncode == 0, done.stderr
    artifact = Path(done.stdout.strip().removeprefix("Artifact: "))
    store = S3ArtifactStore(bucket=bucket)
    uri = store.put_file("dagy/flows/personal/squares/1.0/artifact.zip", artifact)
    with zipfile.ZipFile(artifact) as zf:
        spec = json.loads(zf.read("flow_spec.json"))
        code_hash = json.loads(zf.read("metadata.json"))["code_hash"]
    return {
        "artifact_uri": uri,
        "code_hash": code_hash,
        "entrypoint": spec["entrypoint"],
        "flow_name": "squares",
        "flow_version": "1.0",
        "store": store,
        "module": spec["tasks"]["square"]["module"],
    }


@pytest.fixture
def here(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("DAGY_LAMBDA_INVOKE", "subprocess")
    monkeypatch.setenv("DAGY_LAMBDA_HOME", str(tmp_path / "lambda-tmp"))


def event_of(deployed: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {**{k: v for k, v in deployed.items() if k not in ("store", "module")}, **fields}


def test_tiers_map_to_memory_and_timeout_and_slugs_to_layers(monkeypatch):
    assert (tier("nano").memory_mb, tier("nano").timeout_seconds) == (128, 60)
    assert tier(None) == TIERS["micro"] and tier("xlarge").memory_mb == 10240
    with pytest.raises(ValueError, match="Unknown execution tier 'huge'"):
        tier("huge")
    monkeypatch.setenv("DAGY_LAMBDA_LAYERS", json.dumps({"pandas-layer": "arn:layer:pandas:3"}))
    assert layer_arns(["pandas-layer"]) == ["arn:layer:pandas:3"]
    with pytest.raises(ValueError, match="Unknown dependency package 'numpy-utils'"):
        layer_arns(["numpy-utils"])


def test_the_function_is_created_updated_and_invoked_through_the_lambda_api(aws, monkeypatch):
    import boto3

    client = boto3.client("lambda")
    role = boto3.client("iam").create_role(RoleName="dagy-exec", AssumeRolePolicyDocument="{}")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("dagy_lambda/handler.py", "def handler(event, context): return event\n")
    layer = client.publish_layer_version(LayerName="pandas-layer", Content={"ZipFile": b"PK"})
    monkeypatch.setenv("DAGY_LAMBDA_LAYERS", json.dumps({"pandas-layer": layer["LayerVersionArn"]}))

    made = functions.ensure_function(
        client, "dagy-flow-executor", role_arn=role["Role"]["Arn"], code_zip=buf.getvalue(),
        execution_mode="nano", dep_package_slugs=["pandas-layer"],
    )  # fmt: skip
    assert (made["MemorySize"], made["Timeout"], made["Handler"]) == (
        128,
        60,
        "dagy_lambda.handler.handler",
    )
    assert [x["Arn"] for x in made["Layers"]] == [layer["LayerVersionArn"]]
    again = functions.ensure_function(
        client, "dagy-flow-executor", role_arn=role["Role"]["Arn"], code_zip=buf.getvalue(),
        execution_mode="large",
    )  # fmt: skip
    assert again["MemorySize"] == 3008
    # moto answers the invoke but cannot run code without Docker: a clean LambdaError says so.
    with pytest.raises(functions.LambdaError, match="docker"):
        functions.invoke({"mode": "flow"}, client=client, name="dagy-flow-executor")


def test_the_handler_runs_a_whole_flow_from_the_artifact_in_s3(deployed, here):
    answer = functions.invoke(event_of(deployed, mode="flow", parameters={"n": 4}))
    assert answer["ok"] is True and answer["status"] == "SUCCEEDED"
    assert answer["output"] == 14


def test_the_handler_runs_one_task_with_inputs_and_output_in_s3(deployed, here):
    store = deployed["store"]
    base = store.uri("dagy/runs/r1/square-1/1")
    store.write(base + "/inputs.json", json.dumps({"args": [7], "kwargs": {}}).encode())
    answer = functions.invoke(
        event_of(
            deployed, mode="task", task_name="square", module=deployed["module"], qualname="square",
            inputs_uri=base + "/inputs.json", output_uri=base + "/output.json",
        )
    )  # fmt: skip
    assert answer["ok"] is True and "squaring 7" in answer["log"]
    assert json.loads(store.read(base + "/output.json")) == 49


def test_dagy_run_with_the_lambda_executor_sends_each_task_through_the_handler(
    deployed, here, run_dagy, write_flow, s3, bucket, monkeypatch
):
    source = write_flow(FLOW, name="squares_local")
    monkeypatch.setenv("DAGY_ARTIFACT_URI", deployed["artifact_uri"])
    monkeypatch.setenv("DAGY_ARTIFACT_CODE_HASH", deployed["code_hash"])
    monkeypatch.setenv("DAGY_ARTIFACT_BUCKET", bucket)
    done = run_dagy("run", f"{source}:squares", "--param", "n=3", "--executor", "lambda")
    assert done.returncode == 0, done.stderr
    run_id = done.stdout.split()[2]
    shown = json.loads(run_dagy("runs", "show", run_id, "--json").stdout)
    assert shown["output"] == 5 and shown["executor"] == "lambda"
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="dagy/runs/")["Contents"]]
    assert f"dagy/runs/{run_id}/square-1/1/inputs.json" in keys
    assert f"dagy/runs/{run_id}/total-1/1/output.json" in keys
    log = run_dagy("logs", run_id, "--task", "square-3")
    assert "squaring 2" in log.stdout


def test_without_a_deployed_artifact_the_lambda_executor_fails_the_task_clearly(
    run_dagy, write_flow, aws
):
    source = write_flow(FLOW, name="squares_plain")
    done = run_dagy("run", f"{source}:squares", "--executor", "lambda")
    assert done.returncode == 1
    assert "the lambda executor runs deployed flows" in done.stderr


def test_a_deployment_in_process_on_lambda_runs_whole_in_one_invocation_from_dagy_serve(
    run_dagy, write_flow, tmp_path, bucket, aws
):
    from tests.conftest import start_server
    from tests.server.runs_support import wait_status

    source = write_flow(FLOW, name="squares")
    built = run_dagy("build", f"{source}:squares", "--output-dir", str(tmp_path / "dist"))
    artifact = built.stdout.strip().removeprefix("Artifact: ")
    home = tmp_path / "server-home"
    env = {
        **aws,
        "DAGY_ARTIFACT_STORE": "s3",
        "DAGY_ARTIFACT_BUCKET": bucket,
        "DAGY_LAMBDA_INVOKE": "subprocess",
        "DAGY_LAMBDA_HOME": str(tmp_path / "lambda-tmp"),
    }
    server = start_server(home, "--local", env=env)
    try:
        deployed = run_dagy(
            "deploy", artifact, "--deployment", "squares-on-lambda", "--flow-name", "squares",
            "--flow-version", "1.0", "--default-executor", "lambda",
            "--execution-mode", "in-process", env={"DAGY_LOCAL_DIR": str(home), **env},
        )  # fmt: skip
        assert deployed.returncode == 0, deployed.stderr
        assert f"s3://{bucket}/" in deployed.stdout
        status, _, run = server.request(
            "POST", "/runs", token=server.local_token,
            body={"deployment": "squares-on-lambda", "parameters": {"n": 4}},
        )  # fmt: skip
        assert status == 202, run
        done = wait_status(server, run["run_id"], "completed", "failed", timeout=90)  # type: ignore[index]
        logs = server.request("GET", f"/runs/{done['run_id']}/logs", token=server.local_token)[2]
    finally:
        server.stop()
    assert (done["status"], done["output"], done["executor"]) == ("completed", 14, "lambda")
    assert done["execution_mode"] == "in-process"
    messages = [e["message"] for e in logs["events"]]  # type: ignore[index]
    assert any("handed whole to executor lambda" in m for m in messages)
    # The flow ran in the handler's process, on its own store under the function's /tmp.
    assert list((tmp_path / "lambda-tmp" / "runs").iterdir())

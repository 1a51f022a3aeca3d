"""`dagy deploy` with the S3 store, through the real command: straight to S3 without an API, and
through a real `dagy serve` whose artifact store is S3 (presigned part URLs to moto, a 20 MB
artifact in parts, abort), then a run the server executes from the artifact it fetches back."""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

import pytest
from s3_support import multipart_uploads, put_part

from tests.conftest import ServerProcess, start_server
from tests.e2e.test_deploy_cmd import FLOW  # the same greeter flow as the core deploy tests
from tests.server.flows_support import add_user
from tests.server.runs_support import wait_status

KEY = "dagy/flows/personal/greeter/1.0/artifact.zip"


def build(run_dagy, write_flow, tmp_path: Path, padding: int = 0) -> Path:
    lines = [base64.b64encode(os.urandom(75)).decode() for _ in range(padding // 100)]
    source = write_flow(FLOW + "".join(f"# {x}\n" for x in lines), name="greeter")
    out = tmp_path / "dist" / str(len(list(tmp_path.glob("dist/*"))))
    done = run_dagy("build", f"{source}:greeter", "--output-dir", str(out))
    assert done.returncode == 0, done.stderr
    return Path(done.stdout.strip().removeprefix("Artifact: "))


def deploy(run_dagy, artifact: Path, *extra: str, env: dict[str, str] | None = None) -> Any:
    return run_dagy(
        "deploy", str(artifact), "--deployment", "greeter-prod", "--flow-name", "greeter",
        "--flow-version", "1.0", *extra, env=env,
    )  # fmt: skip


def test_without_an_api_the_artifact_goes_to_s3_and_unchanged_code_is_skipped(
    run_dagy, write_flow, tmp_path, s3, bucket, aws
):
    env = {"DAGY_ARTIFACT_STORE": "s3"}
    artifact = build(run_dagy, write_flow, tmp_path)
    done = deploy(run_dagy, artifact, "--bucket", bucket, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"Deployed to s3://{bucket}/{KEY} and registered as greeter:1.0\n"
    assert s3.get_object(Bucket=bucket, Key=KEY)["Body"].read() == artifact.read_bytes()

    again = deploy(run_dagy, build(run_dagy, write_flow, tmp_path), "--bucket", bucket, env=env)
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith("No code changes detected (code_hash unchanged).")
    forced = deploy(run_dagy, artifact, "--bucket", bucket, "--force", env=env)
    assert forced.stdout.startswith(f"Deployed to s3://{bucket}/")


def test_a_missing_bucket_is_one_clear_line(run_dagy, write_flow, tmp_path, aws):
    artifact = build(run_dagy, write_flow, tmp_path)
    env = {"DAGY_ARTIFACT_STORE": "s3"}
    done = deploy(run_dagy, artifact, "--bucket", "no-such-bucket-here", env=env)
    assert done.returncode != 0
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
    assert "no-such-bucket-here" in done.stderr or "NoSuchBucket" in done.stderr


@pytest.fixture
def s3_server(tmp_path: Path, aws: dict[str, str], bucket: str) -> Any:
    """A multi-user `dagy serve` whose artifact store is S3, and a logged-in CLI home for it."""
    from dagy.config import credentials
    from dagy.config.paths import DagyPaths

    server = start_server(
        tmp_path / "server-home",
        env={
            **aws,
            "DAGY_ARTIFACT_STORE": "s3",
            "DAGY_ARTIFACT_BUCKET": bucket,
            "DAGY_RATE_LIMIT_PER_MINUTE": "0",
        },
    )
    add_user(server, "owner@example.com", "owner")
    client = {"DAGY_LOCAL_DIR": str(tmp_path / "client"), "DAGY_KEYRING": "0",
              "DAGY_API_URL": server.api_url}  # fmt: skip
    token = server.login("owner@example.com")
    credentials.save(
        DagyPaths(tmp_path / "client"),
        credentials.Credentials(access_token=token, api_url=server.api_url),
        environ=client,
    )
    yield server, client, token
    server.stop()


def test_through_the_api_a_20_mb_artifact_goes_to_s3_in_parts_and_the_server_runs_it(
    s3_server, run_dagy, write_flow, tmp_path, s3, bucket
):
    server, client, token = s3_server
    artifact = build(run_dagy, write_flow, tmp_path, padding=27_000_000)
    assert artifact.stat().st_size > 20 * 1024 * 1024
    done = deploy(run_dagy, artifact, env=client)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"Deployed to s3://{bucket}/{KEY} and registered as greeter:1.0\n"
    assert s3.get_object(Bucket=bucket, Key=KEY)["Body"].read() == artifact.read_bytes()
    assert multipart_uploads(s3, bucket) == []

    again = deploy(run_dagy, artifact, env=client)
    assert again.stdout.startswith("No code changes detected")

    status, _, run = server.request(
        "POST",
        "/runs",
        token=token,
        body={"deployment": "greeter-prod", "parameters": {"name": "s3"}},
    )
    assert status == 202, run
    finished = wait_status(server, run["run_id"], "completed", "failed", timeout=60)  # type: ignore[index]
    assert (finished["status"], finished["output"]) == ("completed", "hello s3")


def test_abort_cleans_up_the_parts_in_s3(s3_server: tuple[ServerProcess, Any, str], s3, bucket):
    server, _, token = s3_server
    status, _, started = server.request(
        "POST",
        "/artifacts/initiate",
        token=token,
        body={"flow_name": "greeter", "flow_version": "1.0", "deployment_name": "greeter-prod",
              "file_size": 6 * 1024 * 1024},
    )  # fmt: skip
    assert status == 200, started
    assert started["parts"][0]["url"].startswith(os.environ["AWS_ENDPOINT_URL"])  # type: ignore[index]
    put_part(started["parts"][0]["url"], os.urandom(5 * 1024 * 1024))  # type: ignore[index]
    assert len(multipart_uploads(s3, bucket)) == 1
    status, _, body = server.request(
        "POST",
        "/artifacts/abort",
        token=token,
        body={"upload_id": started["upload_id"], "artifact_key": started["artifact_key"]},  # type: ignore[index]
    )
    assert status == 204, body
    assert multipart_uploads(s3, bucket) == []
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount", 0) == 0

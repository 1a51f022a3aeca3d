"""Exception traces on S3 (the dagy-s3 plugin against moto's server on loopback): a deliberate
fault is an object under exceptions/ in the bucket, listed and read through the API, downloaded
through a real S3 presigned URL, and deleted from the bucket."""

from __future__ import annotations

import json
import os
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO, ServerProcess
from tests.moto_support import AWS_ENV, moto_server
from tests.ops.support import OWNER, ROOT, assert_error, serve

pytest.importorskip("dagy_s3")


@pytest.fixture(scope="module")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, str, str]]:
    import boto3

    with moto_server() as endpoint:
        env = {**AWS_ENV, "AWS_ENDPOINT_URL": endpoint}
        bucket = f"dagy-traces-{uuid.uuid4().hex[:10]}"
        client = boto3.client("s3", **_client_args(env))
        client.create_bucket(Bucket=bucket)
        plugin = str(REPO / "plugins" / "dagy-s3")  # this checkout's plugin, whatever is installed
        srv = serve(
            tmp_path_factory.mktemp("s3traces") / "home",
            env={
                **env,
                "DAGY_ARTIFACT_STORE": "s3",
                "DAGY_ARTIFACT_BUCKET": bucket,
                "PYTHONPATH": os.pathsep.join([plugin, os.environ.get("PYTHONPATH", "")]),
            },
        )
        try:
            yield srv, bucket, endpoint
        finally:
            srv.stop()


def _client_args(env: dict[str, str]) -> dict[str, str]:
    return {
        "endpoint_url": env["AWS_ENDPOINT_URL"],
        "region_name": env["AWS_DEFAULT_REGION"],
        "aws_access_key_id": env["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": env["AWS_SECRET_ACCESS_KEY"],
    }


def test_a_trace_lives_in_the_bucket_and_downloads_from_s3(s3_server, tmp_path: Path):
    import boto3

    srv, bucket, endpoint = s3_server
    root, owner = srv.login(ROOT), srv.login(OWNER)
    status, _, body = srv.request("POST", "/_test/fault", token=owner, body={"message": "on s3"})
    assert_error(status, body, 500)
    assert not (srv.home / "exceptions").exists()  # not on local disk: in the bucket
    status, _, listed = srv.request("GET", "/admin/exceptions", token=root)
    assert status == 200, listed
    [item] = listed["items"]
    assert item["message"] == "on s3"
    client = boto3.client("s3", **_client_args({**AWS_ENV, "AWS_ENDPOINT_URL": endpoint}))
    stored = client.get_object(Bucket=bucket, Key=item["key"])["Body"].read()
    assert json.loads(stored)["exception"]["message"] == "on s3"

    status, _, trace = srv.request(
        "GET", f"/admin/exceptions/content?key={item['key']}", token=root
    )
    assert status == 200 and trace["exception"]["type"] == "RuntimeError"
    status, _, download = srv.request(
        "GET", f"/admin/exceptions/download?key={item['key']}", token=root
    )
    assert status == 200, download
    url = download["download_url"]
    assert url.startswith(endpoint) and "Signature" in url  # S3's own presigned URL
    with urllib.request.urlopen(url, timeout=10) as resp:
        assert json.loads(resp.read())["key"] == item["key"]

    status, _, gone = srv.request(
        "DELETE", "/admin/exceptions", token=root, body={"keys": [item["key"]]}
    )
    assert (status, gone) == (200, {"deleted": 1})
    assert client.list_objects_v2(Bucket=bucket, Prefix="exceptions/").get("KeyCount") == 0

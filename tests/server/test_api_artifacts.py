"""Multipart artifact upload on a real `dagy serve` with the local store: initiate, PUT parts to
the signed URLs it hands out, complete (registers the flow version and deployment), abort."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import subprocess
import textwrap
import time
import urllib.parse
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, ServerProcess, dagy_cmd, start_server
from tests.server.runs_support import wait_status

MIB = 1024 * 1024
PART = 5 * MIB
PASSWORD = "password-123"

FLOW = """
from dagy import flow, task


@task
def shout(word: str) -> str:
    return word.upper()


@flow(name="{name}", version="{version}")
def main(word: str = "hi"):
    return shout(word)
"""


def build(folder: Path, name: str, version: str, padding: int = 0) -> Path:
    """A real artifact from `dagy build`; ``padding`` bytes of random comment make it large (it
    does not compress)."""
    folder.mkdir(parents=True, exist_ok=True)
    source = folder / f"{name}.py"
    text = textwrap.dedent(FLOW.format(name=name, version=version))
    lines = [base64.b64encode(os.urandom(75)).decode() for _ in range(padding // 100)]
    source.write_text(text + "".join(f"# {line}\n" for line in lines), encoding="utf-8")
    done = subprocess.run(
        [*dagy_cmd(), "build", f"{source}:main", "--output-dir", str(folder / "dist")],
        capture_output=True,
        text=True,
        env={**os.environ, "DAGY_LOCAL_DIR": str(folder / "home")},
        cwd=str(REPO),
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return Path(done.stdout.strip().removeprefix("Artifact: "))


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """About 12 MB: three parts of 5 MB."""
    data = build(tmp_path_factory.mktemp("big"), "big_flow", "1.0", 16_000_000).read_bytes()
    assert 2 * PART < len(data) <= 3 * PART, len(data)
    return data


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return build(tmp_path_factory.mktemp("small"), "small_flow", "1.0").read_bytes()


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = start_server(tmp_path_factory.mktemp("artifacts") / "home")
    server.create_user("owner@example.com", "owner")
    server.create_user("viewer@example.com", "viewer")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def owner(srv: ServerProcess) -> str:
    return srv.login("owner@example.com")


def initiate(srv: ServerProcess, token: str, **body: Any) -> tuple[int, Any]:
    status, _, answer = srv.request("POST", "/artifacts/initiate", token=token, body=body)
    return status, answer


def put(srv: ServerProcess, url: str, data: bytes) -> tuple[int, dict[str, str], Any]:
    return srv.request("PUT", url, raw=data, headers={"Content-Type": "application/octet-stream"})


def put_all(srv: ServerProcess, started: dict[str, Any], data: bytes) -> list[dict[str, Any]]:
    etags, offset = [], 0
    for part in started["parts"]:
        status, headers, body = put(srv, part["url"], data[offset : offset + part["size"]])
        assert status == 200, body
        etags.append({"part_number": part["part_number"], "etag": headers["etag"]})
        offset += part["size"]
    assert offset == len(data)
    return etags


def upload(
    srv: ServerProcess, token: str, data: bytes, flow: str, deployment: str, **extra: Any
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    status, started = initiate(
        srv, token, flow_name=flow, flow_version="1.0", deployment_name=deployment,
        file_size=len(data), **extra,
    )  # fmt: skip
    assert status == 200, started
    return started, put_all(srv, started, data)


def complete(
    srv: ServerProcess, token: str, started: dict[str, Any], etags: list[Any], **body: Any
) -> tuple[int, Any]:
    payload = {
        "upload_id": started["upload_id"],
        "artifact_key": started["artifact_key"],
        "parts": etags,
        "flow_version": "1.0",
        **body,
    }
    status, _, answer = srv.request("POST", "/artifacts/complete", token=token, body=payload)
    return status, answer


def upload_dir(srv: ServerProcess, upload_id: str) -> Path:
    return srv.home / "uploads" / upload_id


def test_a_12_mb_artifact_goes_up_in_3_parts_registers_its_deployment_and_runs(srv, owner, big):
    status, started = initiate(
        srv, owner, flow_name="big_flow", flow_version="1.0", deployment_name="big-prod",
        file_size=len(big), part_size=PART,
    )  # fmt: skip
    assert status == 200, started
    assert set(started) == {"upload_id", "artifact_key", "parts", "expires_at"}
    assert started["artifact_key"] == "dagy/flows/personal/big_flow/1.0/artifact.zip"
    assert [p["size"] for p in started["parts"]] == [PART, PART, len(big) - 2 * PART]
    assert started["expires_at"].endswith("Z")
    url = urllib.parse.urlsplit(started["parts"][1]["url"])
    assert f"{url.scheme}://{url.netloc}" == srv.url
    assert url.path == f"/v1/artifacts/uploads/{started['upload_id']}/parts/2"
    assert sorted(urllib.parse.parse_qs(url.query)) == ["expires", "signature"]

    etags = put_all(srv, started, big)
    assert etags[0]["etag"] == '"' + hashlib.md5(big[:PART]).hexdigest() + '"'
    status, body = complete(
        srv, owner, started, etags, flow_name="big_flow", deployment_name="big-prod",
        schedule="0 9 * * *", timezone="UTC", tags={"team": "data-eng"}, environment="production",
        execution_mode="in-process", status="ACTIVE",
    )  # fmt: skip
    assert status == 200, body
    stored = srv.home / "artifact-store" / "dagy/flows/personal/big_flow/1.0/artifact.zip"
    assert body == {
        "artifact_s3_uri": stored.as_uri(),
        "flow_name": "big_flow",
        "flow_version": "1.0",
        "deployment_name": "big-prod",
        "deployment_version": 1,
        "environment": "production",
        "code_hash": body["code_hash"],
    }
    assert len(body["code_hash"]) == 64
    assert stored.read_bytes() == big
    assert not upload_dir(srv, started["upload_id"]).exists()

    rows = srv.request("GET", "/audit-logs?limit=100", token=owner)[2]["items"]
    mine = {(r["action"], r["resource_type"], r["resource_id"]) for r in rows}
    assert ("create", "artifact_upload", started["upload_id"]) in mine
    assert ("create", "flow", "big_flow:1.0") in mine
    assert ("create", "deployment", "big-prod") in mine

    # The server runs the deployment from the stored artifact (fetched by dagy.artifacts.fetch).
    status, _, run = srv.request(
        "POST", "/runs", token=owner, body={"deployment": "big-prod", "parameters": {"word": "ok"}}
    )
    assert status == 202, run
    done = wait_status(srv, run["run_id"], "completed", "failed", timeout=60)
    assert done["status"] == "completed", done.get("error")
    assert done["output"] == "OK"


def test_initiate_defaults_to_8_mb_parts_and_refuses_impossible_sizes(srv, owner):
    base = {"flow_name": "sized", "flow_version": "1", "deployment_name": "sized-prod"}
    status, body = initiate(srv, owner, **base, file_size=25_000_000)
    assert status == 200, body
    assert [(p["part_number"], p["size"]) for p in body["parts"]] == [
        (1, 8388608),
        (2, 8388608),
        (3, 8222784),
    ]
    for extra, field in (
        ({"file_size": 0}, "file_size"),
        ({"file_size": -1}, "file_size"),
        ({"file_size": 100, "part_size": 4 * MIB}, "part_size"),
        ({"file_size": 100, "part_size": 0}, "part_size"),
        ({"file_size": 10_001 * PART, "part_size": PART}, "part_size"),
    ):
        status, body = initiate(srv, owner, **base, **extra)
        assert status == 400, (extra, body)
        assert field in body["details"], body
    status, body = initiate(srv, owner, flow_name="x", flow_version="1", file_size=10)
    assert status == 400 and "deployment_name" in body["message"]
    status, body = initiate(srv, owner, **{**base, "deployment_name": "no spaces"}, file_size=10)
    assert status == 400 and "deployment name" in body["message"]


def test_part_urls_are_checked_signature_first_then_the_upload(srv, owner, small):
    status, started = initiate(
        srv, owner, flow_name="small_flow", flow_version="1.0", deployment_name="signed",
        file_size=len(small),
    )  # fmt: skip
    assert status == 200
    url = started["parts"][0]["url"]
    tampered = url[:-4] + ("0000" if not url.endswith("0000") else "1111")
    status, _, body = put(srv, tampered, small)
    assert status == 403 and body["message"] == "Invalid upload URL signature"
    other_part = url.replace("/parts/1?", "/parts/2?")
    assert put(srv, other_part, small)[0] == 403
    assert put(srv, url.split("?")[0], small)[0] == 403  # no query at all
    later = url.replace("expires=", "expires=9")
    assert put(srv, later, small)[0] == 403  # a longer life is not signed

    from dagy.artifacts.local import LocalArtifactStore
    from dagy.config.paths import DagyPaths

    signer = LocalArtifactStore(DagyPaths(srv.home))
    unknown = "f" * 32
    expires = int(time.time()) + 60
    signed = f"{srv.api_url}/artifacts/uploads/{unknown}/parts/1?" + urllib.parse.urlencode(
        {"expires": expires, "signature": signer.signature(unknown, 1, expires)}
    )
    status, _, body = put(srv, signed, small)
    assert status == 404 and body["message"] == f"Upload not found: {unknown}"
    status, headers, _ = put(srv, url, small)  # the real URL still works
    assert status == 200 and headers["etag"] == '"' + hashlib.md5(small).hexdigest() + '"'


def test_a_part_of_the_wrong_size_is_400_and_leaves_nothing(srv, owner, small):
    status, started = initiate(
        srv, owner, flow_name="small_flow", flow_version="1.0", deployment_name="sizes",
        file_size=len(small),
    )  # fmt: skip
    url = started["parts"][0]["url"]
    for data in (small[:-1], small + b"x", b""):
        status, _, body = put(srv, url, data)
        assert status == 400, body
        assert body["message"] == f"Part 1 must be {len(small)} bytes, got {len(data)}"
    assert [p.name for p in upload_dir(srv, started["upload_id"]).iterdir()] == ["upload.json"]


def test_an_expired_part_url_is_403(tmp_path):
    server = start_server(tmp_path / "home", env={"DAGY_ARTIFACT_URL_TTL": "1"})
    try:
        status, _, started = server.request(
            "POST", "/artifacts/initiate", token=server.local_token,
            body={"flow_name": "f", "flow_version": "1", "deployment_name": "d", "file_size": 3},
        )  # fmt: skip
        assert status == 200, started
        time.sleep(2.1)
        status, _, body = put(server, started["parts"][0]["url"], b"abc")
        assert status == 403 and body["message"] == "Upload URL expired"
    finally:
        server.stop()


def test_complete_refuses_a_wrong_etag_and_abort_removes_the_upload(srv, owner, small):
    started, etags = upload(srv, owner, small, "small_flow", "etags")
    wrong = [{"part_number": 1, "etag": '"' + "0" * 32 + '"'}]
    status, body = complete(
        srv, owner, started, wrong, flow_name="small_flow", deployment_name="etags"
    )
    assert status == 400 and body["message"].startswith("ETag mismatch for part 1"), body
    status, body = complete(
        srv, owner, started, [], flow_name="small_flow", deployment_name="etags"
    )
    assert status == 400 and "every part" in body["message"]
    folder = upload_dir(srv, started["upload_id"])
    assert (folder / "part-00001").exists()  # a refused complete keeps the parts

    keys = {"upload_id": started["upload_id"], "artifact_key": started["artifact_key"]}
    status, _, body = srv.request("POST", "/artifacts/abort", token=owner, body=keys)
    assert status == 204 and body is None
    assert not folder.exists()
    assert srv.request("POST", "/artifacts/abort", token=owner, body=keys)[0] == 404
    status, body = complete(
        srv, owner, started, etags, flow_name="small_flow", deployment_name="etags"
    )
    assert status == 404


def test_complete_refuses_an_artifact_of_another_flow_and_keeps_what_was_there(srv, owner, small):
    started, etags = upload(srv, owner, small, "other_flow", "mismatch")
    status, body = complete(
        srv, owner, started, etags, flow_name="other_flow", deployment_name="mismatch"
    )
    assert status == 400, body
    assert body["message"] == (
        "Artifact flow spec mismatch. Expected other_flow:1.0, got small_flow:1.0"
    )
    assert not (srv.home / "artifact-store" / started["artifact_key"]).exists()
    # The key was issued for other_flow: completing it as small_flow is refused too.
    status, body = complete(
        srv, owner, started, etags, flow_name="small_flow", deployment_name="mismatch"
    )
    assert status == 400 and "artifact_key does not match" in body["message"]


def test_code_hash_comes_from_the_artifact_and_must_agree(srv, owner, small):
    started, etags = upload(srv, owner, small, "small_flow", "hashed")
    status, body = complete(
        srv, owner, started, etags, flow_name="small_flow", deployment_name="hashed",
        code_hash="0" * 64,
    )  # fmt: skip
    assert status == 400 and "code_hash" in body["message"]
    status, body = complete(
        srv, owner, started, etags, flow_name="small_flow", deployment_name="hashed"
    )
    assert status == 200, body
    with zipfile.ZipFile(io.BytesIO(small)) as zf:
        assert body["code_hash"] == json.loads(zf.read("metadata.json"))["code_hash"]
    assert body["environment"] is None


def test_a_zip_that_is_no_artifact_is_refused(srv, owner):
    junk = os.urandom(1000)
    started, etags = upload(srv, owner, junk, "small_flow", "junk")
    status, body = complete(
        srv, owner, started, etags, flow_name="small_flow", deployment_name="junk"
    )
    assert status == 400 and body["message"].startswith("Invalid artifact"), body


def test_uploads_belong_to_the_org_that_started_them(srv, owner, small):
    started, etags = upload(srv, owner, small, "small_flow", "scoped")
    status, _, org = srv.request("POST", "/orgs", token=owner, body={"org_name": "Artifacts Co"})
    assert status == 201, org
    acme = {"X-Dagy-Org": org["org_id"]}
    keys = {"upload_id": started["upload_id"], "artifact_key": started["artifact_key"]}
    payload = {**keys, "parts": etags, "flow_name": "small_flow", "flow_version": "1.0",
               "deployment_name": "scoped"}  # fmt: skip
    status, _, body = srv.request(
        "POST", "/artifacts/complete", token=owner, headers=acme, body=payload
    )
    assert status == 404 and body["message"] == f"Upload not found: {started['upload_id']}"
    # The other org's own key with this upload id is not found either.
    theirs = started["artifact_key"].replace("/personal/", f"/{org['org_id']}/")
    status, _, _ = srv.request(
        "POST", "/artifacts/complete", token=owner, headers=acme,
        body={**payload, "artifact_key": theirs},
    )  # fmt: skip
    assert status == 404
    status, _, _ = srv.request("POST", "/artifacts/abort", token=owner, headers=acme, body=keys)
    assert status == 404
    status, _, in_acme = srv.request(
        "POST", "/artifacts/initiate", token=owner, headers=acme,
        body={"flow_name": "small_flow", "flow_version": "1.0", "deployment_name": "scoped",
              "file_size": 10},
    )  # fmt: skip
    assert in_acme["artifact_key"] == f"dagy/flows/{org['org_id']}/small_flow/1.0/artifact.zip"
    assert (
        complete(srv, owner, started, etags, flow_name="small_flow", deployment_name="scoped")[0]
        == 200
    )


def test_a_viewer_may_not_upload(srv, owner):
    viewer = srv.login("viewer@example.com")
    body = {"flow_name": "f", "flow_version": "1", "deployment_name": "d", "file_size": 10}
    assert initiate(srv, viewer, **body)[0] == 403
    keys = {"upload_id": "0" * 32, "artifact_key": "dagy/flows/personal/f/1/artifact.zip"}
    status, _, answer = srv.request("POST", "/artifacts/abort", token=viewer, body=keys)
    assert status == 403 and answer["details"] == {"permission": "flows.write"}
    status, _, _ = srv.request(
        "POST", "/artifacts/complete", token=viewer,
        body={**keys, "parts": [], "flow_name": "f", "flow_version": "1", "deployment_name": "d"},
    )  # fmt: skip
    assert status == 403
    assert initiate(srv, "", **body)[0] == 401


def test_redeploying_a_version_keeps_its_deployment_version_and_a_new_one_counts_up(
    srv, owner, small, tmp_path
):
    first = complete(srv, owner, *upload(srv, owner, small, "small_flow", "counted"),
                     flow_name="small_flow", deployment_name="counted")  # fmt: skip
    again = complete(srv, owner, *upload(srv, owner, small, "small_flow", "counted"),
                     flow_name="small_flow", deployment_name="counted")  # fmt: skip
    assert first[0] == again[0] == 200
    assert again[1]["deployment_version"] == first[1]["deployment_version"]
    newer = build(tmp_path / "v2", "small_flow", "2.0").read_bytes()
    status, started = initiate(
        srv, owner, flow_name="small_flow", flow_version="2.0", deployment_name="counted",
        file_size=len(newer),
    )  # fmt: skip
    etags = put_all(srv, started, newer)
    status, body = complete(
        srv, owner, started, etags, flow_name="small_flow", flow_version="2.0",
        deployment_name="counted",
    )  # fmt: skip
    assert status == 200, body
    assert body["deployment_version"] == first[1]["deployment_version"] + 1

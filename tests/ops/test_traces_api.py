"""Exception traces through a real `dagy serve`: a deliberate fault (the DAGY_TEST_FAULTS hook)
leaves a masked trace in <home>/exceptions/ that a super admin lists, reads, downloads through a
signed URL and deletes; bad keys are 400 and everyone else gets 403."""

from __future__ import annotations

import json
import os
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ServerProcess, dagy_cmd
from tests.ops.support import OWNER, ROOT, assert_error, serve

SECRET = "s3cr3t-Value-9f8e7d"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    home = tmp_path_factory.mktemp("traces") / "home"
    srv = serve(home, env={"DAGY_TEST_SERVICE_TOKEN": SECRET})
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def root(server: ServerProcess) -> str:
    return server.login(ROOT)


@pytest.fixture(scope="module")
def owner(server: ServerProcess) -> str:
    return server.login(OWNER)


def fault(server: ServerProcess, token: str, message: str) -> None:
    status, _, body = server.request("POST", "/_test/fault", token=token, body={"message": message})
    assert_error(status, body, 500, "internal_error")
    assert body["message"] == "Internal server error"  # nothing of the fault reaches the caller


def newest(server: ServerProcess, token: str) -> dict:
    status, _, body = server.request("GET", "/admin/exceptions?limit=1", token=token)
    assert status == 200, body
    return body["items"][0]


def test_a_server_fault_is_a_trace_a_super_admin_lists_and_reads(server, root, owner):
    fault(server, owner, "the ledger is on fire")
    item = newest(server, root)
    assert item["kind"] == "server"
    assert item["exception_type"] == "RuntimeError"
    assert item["message"] == "the ledger is on fire"
    assert item["org_id"] == "personal"
    assert item["request"] == {"method": "POST", "path": "/v1/_test/fault"}
    assert item["key"].startswith("exceptions/") and item["key"].endswith(".json")
    # locally the trace is a file under <home>/exceptions/
    assert (server.home / item["key"]).is_file()

    status, _, trace = server.request(
        "GET", f"/admin/exceptions/content?key={item['key']}", token=root
    )
    assert status == 200, trace
    assert trace["exception"] == {"type": "RuntimeError", "message": "the ledger is on fire"}
    assert "test_fault" in trace["stack"] and "Traceback" in trace["stack"]
    assert trace["dagy_version"] and trace["time"].endswith("Z")
    assert trace["run"] is None


def test_traces_are_listed_newest_first_within_the_limit(server, root, owner):
    for n in range(3):
        fault(server, owner, f"fault number {n}")
    status, _, body = server.request("GET", "/admin/exceptions?limit=2", token=root)
    assert status == 200
    assert [i["message"] for i in body["items"]] == ["fault number 2", "fault number 1"]
    assert body["total"] >= 3
    status, _, body = server.request("GET", "/admin/exceptions?limit=0", token=root)
    assert_error(status, body, 400)


def test_secrets_in_a_fault_never_reach_the_trace(server, root, owner):
    message = (
        f"calling with token={SECRET} and Authorization: Bearer {owner} "
        "password=hunter2hunter2 key sk_test_abcdefghijklmnop"
    )
    fault(server, owner, message)
    item = newest(server, root)
    text = (server.home / item["key"]).read_text()
    for leaked in (SECRET, owner, "hunter2hunter2", "sk_test_abcdefghijklmnop"):
        assert leaked not in text
    assert "****" in item["message"]
    assert "Authorization" not in json.loads(text).get("request", {})


def test_download_url_serves_the_trace_without_a_token_until_tampered(server, root, owner):
    fault(server, owner, "download me")
    key = newest(server, root)["key"]
    status, _, body = server.request("GET", f"/admin/exceptions/download?key={key}", token=root)
    assert status == 200, body
    url = body["download_url"]
    assert url.startswith(server.api_url + "/admin/exceptions/file?")
    with urllib.request.urlopen(url, timeout=10) as resp:
        assert resp.status == 200
        assert json.loads(resp.read())["exception"]["message"] == "download me"
    status, _, refused = server.request("GET", url.replace("signature=", "signature=0"))
    assert_error(status, refused, 403)
    status, _, refused = server.request("GET", url.replace("expires=", "expires=1"))
    assert_error(status, refused, 403)


def test_delete_answers_how_many_and_the_trace_is_gone(server, root, owner):
    fault(server, owner, "delete me")
    key = newest(server, root)["key"]
    status, _, body = server.request(
        "DELETE", "/admin/exceptions", token=root, body={"keys": [key, key]}
    )
    assert (status, body) == (200, {"deleted": 1})
    assert not (server.home / key).exists()
    status, _, body = server.request(
        "DELETE", "/admin/exceptions", token=root, body={"keys": [key]}
    )
    assert (status, body) == (200, {"deleted": 0})
    status, _, body = server.request("GET", f"/admin/exceptions/content?key={key}", token=root)
    assert_error(status, body, 404)


@pytest.mark.parametrize(
    "key",
    [
        "../dagy.duckdb",
        "exceptions/../server.json",
        "/etc/passwd",
        "artifact-signing.key",
        "flows/personal/x.json",
        "exceptions/",
        "exceptions/20260101T000000000000Z-server-0123456789ab.json/../../x",
    ],
)
def test_a_key_that_is_not_a_trace_key_is_a_400(server, root, key):
    quoted = urllib.request.quote(key, safe="")
    for path in (
        f"/admin/exceptions/content?key={quoted}",
        f"/admin/exceptions/download?key={quoted}",
    ):
        status, _, body = server.request("GET", path, token=root)
        assert_error(status, body, 400)
    status, _, body = server.request(
        "DELETE", "/admin/exceptions", token=root, body={"keys": [key]}
    )
    assert_error(status, body, 400)


def test_only_a_super_admin_reaches_the_traces(server, owner):
    for method, path, body in (
        ("GET", "/admin/exceptions", None),
        ("GET", "/admin/exceptions/content?key=x", None),
        ("GET", "/admin/exceptions/download?key=x", None),
        ("DELETE", "/admin/exceptions", {"keys": ["x"]}),
    ):
        status, _, answer = server.request(method, path, token=owner, body=body)
        assert_error(status, answer, 403)
        assert answer["message"] == "Super admin access required"
        status, _, answer = server.request(method, path, body=body)
        assert_error(status, answer, 401)


def test_without_the_setting_there_is_no_fault_hook(tmp_path: Path):
    from tests.conftest import start_server
    from tests.ops.support import seed_accounts

    home = tmp_path / "home"
    seed_accounts(home)
    srv = start_server(home, env={"DAGY_RATE_LIMIT_PER_MINUTE": "0"})
    try:
        token = srv.login(OWNER)
        status, _, body = srv.request("POST", "/_test/fault", token=token, body={})
        assert_error(status, body, 404)
    finally:
        srv.stop()


def dagy(server: ServerProcess, *args: str) -> subprocess.CompletedProcess[str]:
    """The real `dagy` against the server's home: through the live server, as its local token."""
    env = {**os.environ, "DAGY_LOCAL_DIR": str(server.home)}
    for name in ("DAGY_PROFILE", "DAGY_API_URL", "DAGY_TOKEN", "DAGY_API_KEY"):
        env.pop(name, None)
    return subprocess.run([*dagy_cmd(), *args], capture_output=True, text=True, env=env, timeout=60)


def test_dagy_admin_exceptions_lists_shows_and_deletes(server, root, owner):
    fault(server, owner, "seen from the cli")
    key = newest(server, root)["key"]
    listed = dagy(server, "admin", "exceptions", "--json", "--limit", "5")
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout)["items"][0]["key"] == key
    table = dagy(server, "admin", "exceptions")
    assert table.returncode == 0 and key in table.stdout and "seen from the cli" in table.stdout
    shown = dagy(server, "admin", "exceptions", "--show", key)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["exception"]["message"] == "seen from the cli"
    bad = dagy(server, "admin", "exceptions", "--show", "../dagy.duckdb")
    assert bad.returncode != 0 and "Traceback" not in bad.stderr
    assert "Not an exception trace key" in bad.stderr
    deleted = dagy(server, "admin", "exceptions", "--delete", key)
    assert deleted.returncode == 0, deleted.stderr
    assert deleted.stdout.strip() == "Deleted 1 exception trace"
    assert not (server.home / key).exists()


def test_a_5xx_a_service_raised_is_traced_even_when_the_store_is_missing(tmp_path: Path):
    """DAGY_ARTIFACT_STORE names no installed store: a deploy's initiate is the spec's 500, and its
    trace falls back to <home>/exceptions/ (a 503 "not configured" would not be a fault)."""
    home = tmp_path / "home"
    srv = serve(home, env={"DAGY_ARTIFACT_STORE": "no-such-store"})
    try:
        owner, root = srv.login(OWNER), srv.login(ROOT)
        body = {"flow_name": "f", "flow_version": "1", "deployment_name": "d", "file_size": 10}
        status, _, answer = srv.request("POST", "/artifacts/initiate", token=owner, body=body)
        assert_error(status, answer, 500, "artifact_store_not_configured")
        item = newest(srv, root)
        assert item["exception_type"] == "ArtifactStoreNotConfigured"
        assert item["request"] == {"method": "POST", "path": "/v1/artifacts/initiate"}
        assert (home / item["key"]).is_file()
    finally:
        srv.stop()

"""One name check for every named resource: trimmed, 1..N characters, no control or bidi characters."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import ServerProcess, start_server
from tests.server.members_support import assert_error

BAD = "a\u0000b\u202e\nc"


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = start_server(
        tmp_path_factory.mktemp("names") / "home", env={"DAGY_RATE_LIMIT_PER_MINUTE": "0"}
    )
    server.create_user("owner@example.com", "owner")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def owner(srv: ServerProcess) -> str:
    return srv.login("owner@example.com")


CASES = [
    ("/sensors", {"sensor_type": "webhook", "flow_name": "f"}, "name"),
    ("/api-keys", {"scopes": ["flows.read"]}, "name"),
    ("/channels", {"channel_type": "webhook", "config_json": {}}, "name"),
    ("/alert-rules", {"trigger": "run_failed", "channel_ids": []}, "name"),
    ("/dag-drafts", {}, "name"),
    ("/ai-studio/sessions", {}, "title"),
    ("/orgs", {"plan": "free"}, "org_name"),
]


@pytest.mark.parametrize(("path", "rest", "field"), CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize(
    "bad", [BAD, "   ", "x" * 201, "ok\u2066isolate", "tab\tname", "del\x7f"], ids=repr
)
def test_a_name_with_control_or_bidi_characters_is_400_naming_the_field(
    srv, owner, path, rest, field, bad
):
    status, _, body = srv.request("POST", path, token=owner, body={field: bad, **rest})
    assert status == 400, body
    details = assert_error(body, "validation_error")["details"]
    assert field in details, body


def test_a_custom_node_label_is_checked_the_same_way(srv, owner):
    node = {
        "node_type": "my_node",
        "label": BAD,
        "category": "transform",
        "import_path": "mymod:fn",
    }
    status, _, body = srv.request("POST", "/nodes/registry", token=owner, body=node)
    assert status == 400 and "label" in assert_error(body)["details"], body


def test_a_good_name_is_stored_trimmed(srv, owner):
    status, _, body = srv.request(
        "POST", "/api-keys", token=owner, body={"name": "  CI key  ", "scopes": ["flows.read"]}
    )
    assert status == 201, body
    status, _, listed = srv.request("GET", "/api-keys", token=owner)
    assert status == 200 and "CI key" in [k["name"] for k in listed["items"]]
    status, _, body = srv.request("POST", "/dag-drafts", token=owner, body={"name": " Ünïcode ok "})
    assert status == 201 and body["name"] == "Ünïcode ok", body

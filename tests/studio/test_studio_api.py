"""The AI studio's routes on one real `dagy serve` (module-scoped): every route with the spec's
examples, turns that build and modify a validated workflow, idempotent turns (409 with a replay),
credits (402, and two turns racing for the last credits), limits (429), an unbuildable request
(422, canvas unchanged), SSE read as it streams, and attachments of each type."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from dagy.pipelines import check, yaml_format
from tests.conftest import ServerProcess, start_server
from tests.server.flows_support import Api, add_user, assert_error, new_org
from tests.studio.studio_support import (
    SPEC_MESSAGE,
    SPEC_TYPES,
    TIERS,
    chain,
    docx_bytes,
    new_session,
    node_types,
    pdf_bytes,
    pptx_bytes,
    send,
    stream,
    upload,
)

pytest.importorskip("pypdf", reason="the studio extra is not installed (pip install -e '.[dev]')")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    env = {"DAGY_RATE_LIMIT_PER_MINUTE": "0", "DAGY_STUDIO_TIERS": json.dumps(TIERS)}
    srv = start_server(tmp_path_factory.mktemp("studio") / "home", env=env)
    add_user(srv, "owner@example.com", "owner")
    add_user(srv, "viewer@example.com", "viewer")
    add_user(srv, "dev@example.com", "developer")
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def owner(server: ServerProcess) -> Api:
    return Api(server, server.login("owner@example.com", "password-123"))


@pytest.fixture(scope="module")
def viewer(server: ServerProcess) -> Api:
    return Api(server, server.login("viewer@example.com", "password-123"))


@pytest.fixture(scope="module")
def dev(server: ServerProcess) -> Api:
    return Api(server, server.login("dev@example.com", "password-123"))


def balance(api: Api) -> float:
    return float(api.ok("GET", "/ai-studio/tiers")["credits_balance"])


# -- page, tiers, sessions --------------------------------------------------------------------------


def test_the_page_lists_templates_examples_and_the_allowlisted_nodes(
    viewer: Api, server: ServerProcess
):
    page = viewer.ok("GET", "/ui/ai-studio")
    assert set(page) == {"templates", "examples", "capabilities"}
    assert page["templates"] and page["examples"]
    nodes = [c["node_type"] for c in page["capabilities"] if c["capability"] == "node"]
    assert nodes == [
        "s3_ingest", "s3_write", "http_fetch", "schema_validator", "data_normalizer",
        "deduplicator", "python_function", "webhook_post",
    ]  # fmt: skip
    attach = next(c for c in page["capabilities"] if c["capability"] == "attachments")
    assert attach["max_size_bytes"] == 25 * 1024 * 1024 and attach["images"] is False
    status, _, body = server.request("GET", "/ui/ai-studio")
    assert_error(body, status, 401)


def test_tiers_show_limits_and_the_orgs_credit_balance(owner: Api):
    tiers = owner.ok("GET", "/ai-studio/tiers")
    by_name = {t["tier"]: t for t in tiers["items"]}
    assert {"standard", "advanced", "tiny", "half"} <= set(by_name)
    assert tiers["default_tier"] == "standard" and by_name["standard"]["default"] is True
    assert by_name["standard"]["provider"] == "offline"
    assert by_name["tiny"]["limits"] == {
        "max_turns_per_session": 2,
        "max_attachments_per_session": 1,
        "max_message_chars": 8000,
        "max_attachment_bytes": 25 * 1024 * 1024,
    }
    fresh = new_org(owner.server)  # a free plan's org opens with its grant
    assert fresh.ok("GET", "/ai-studio/tiers")["credits_balance"] == 100.0


def test_a_session_is_created_listed_renamed_archived_and_deleted(owner: Api, dev: Api):
    created = new_session(owner, title="Orders", tier="standard")
    sid = created["session_id"]
    assert sid.startswith("ss_")
    assert created["status"] == "active" and created["canvas_state"] == {"nodes": [], "edges": []}
    assert created["history"] == [] and created["attachments"] == [] and created["artifacts"] == []
    second = new_session(owner)
    assert second["title"] == "Untitled session" and second["tier"] == "standard"

    page = owner.ok("GET", "/ai-studio/sessions?limit=1")
    assert [s["session_id"] for s in page["items"]] == [second["session_id"]]  # newest first
    rest = owner.ok("GET", f"/ai-studio/sessions?limit=100&next_token={page['next_token']}")
    assert sid in [s["session_id"] for s in rest["items"]]
    assert sid not in [s["session_id"] for s in dev.ok("GET", "/ai-studio/sessions")["items"]]
    for query in ("limit=0", "limit=many", "next_token=garbage", "status=deleted"):
        status, body = owner.call("GET", f"/ai-studio/sessions?{query}")
        assert_error(body, status, 400)
    status, body = dev.call("GET", f"/ai-studio/sessions/{sid}")  # another user's: not found
    assert_error(body, status, 404)

    renamed = owner.ok("PATCH", f"/ai-studio/sessions/{sid}/title", {"title": "Orders v2"})
    assert renamed["title"] == "Orders v2"
    tiered = owner.ok("PATCH", f"/ai-studio/sessions/{sid}/tier", {"tier": "advanced"})
    assert tiered["tier"] == "advanced"
    status, body = owner.call("PATCH", f"/ai-studio/sessions/{sid}/tier", {"tier": "gold"})
    assert_error(body, status, 400, "tier")
    status, body = owner.call("PATCH", f"/ai-studio/sessions/{sid}/title", {"title": ""})
    assert_error(body, status, 400, "title")

    archived = owner.ok("POST", f"/ai-studio/sessions/{sid}/archive")
    assert archived["status"] == "archived" and archived["archived_at"]
    listed = owner.ok("GET", "/ai-studio/sessions?status=archived")["items"]
    assert [s["session_id"] for s in listed] == [sid]
    status, body = send(owner, sid, {"message": "Build an S3 validation workflow"})
    assert_error(body, status, 409)

    owner.ok("DELETE", f"/ai-studio/sessions/{sid}", status=204)
    status, body = owner.call("GET", f"/ai-studio/sessions/{sid}")
    assert_error(body, status, 404)
    actions = [a["action"] for a in owner.audit("ai_studio_session", sid)]
    assert sorted(actions) == ["create", "delete", "update", "update", "update"]


def test_writes_need_flows_write(viewer: Api, owner: Api):
    status, body = viewer.call("POST", "/ai-studio/sessions", {"title": "x"})
    assert_error(body, status, 403)
    sid = new_session(owner)["session_id"]
    status, body = viewer.call("POST", f"/ai-studio/sessions/{sid}/messages", {"message": "hi"})
    assert_error(body, status, 403)


def test_bad_message_bodies_are_400(owner: Api):
    sid = new_session(owner)["session_id"]
    for body, field in [
        ({"message": "x" * 8001}, "message"),
        ({"message": ""}, "message"),
        ({}, "message"),
        ({"message": "hi", "intent": "destroy"}, "intent"),
        ({"message": "hi", "turn_id": 5}, "turn_id"),
        ({"message": "hi", "colour": "red"}, "colour"),
    ]:
        status, answer = send(owner, sid, body)
        assert_error(answer, status, 400, field)
    status, answer = send(owner, "ss_missing", {"message": "hi"})
    assert_error(answer, status, 404)
    assert owner.ok("GET", f"/ai-studio/sessions/{sid}")["turn_count"] == 0


# -- turns ------------------------------------------------------------------------------------------


def test_the_spec_request_builds_a_validated_s3_pipeline(owner: Api):
    sid = new_session(owner, title="S3 clean-up")["session_id"]
    before = balance(owner)
    status, turn = send(
        owner,
        sid,
        {"message": SPEC_MESSAGE, "intent": "build", "turn_id": "turn_123"},
        {"X-Idempotency-Key": "req-123"},
    )
    assert status == 200, turn
    assert chain(turn["canvas_state"]) == SPEC_TYPES
    assert turn["workflow_status"] == "generated" and turn["workflow_errors"] == []
    assert turn["validation"] == {"valid": True, "errors": [], "warnings": []}
    assert turn["credits_used"] == 1.0 and balance(owner) == before - 1.0
    assert turn["session"]["session_id"] == sid and turn["session"]["turn_count"] == 1
    assert isinstance(turn["research_sources"], list) and turn["response"]

    pipeline = yaml_format.parse_pipeline(turn["pipeline_yaml"])
    assert check.check_pipeline(pipeline) == []
    assert [s.node for s in pipeline.steps] == SPEC_TYPES
    assert "@flow" in turn["pipeline_python"] and "@task" in turn["pipeline_python"]
    compile(turn["pipeline_python"], "generated.py", "exec")

    session = owner.ok("GET", f"/ai-studio/sessions/{sid}")
    assert session["canvas_state"] == turn["canvas_state"]
    from_canvas = yaml_format.parse_pipeline(session["pipeline_yaml"])  # the canvas as of now
    assert [(s.id, s.node, s.config) for s in from_canvas.steps] == [
        (s.id, s.node, s.config) for s in pipeline.steps
    ]
    assert [h["role"] for h in session["history"]] == ["user", "assistant"]
    assert session["history"][0]["content"] == SPEC_MESSAGE
    assert [a["kind"] for a in session["artifacts"]] == ["pipeline"]
    audit = owner.audit("ai_studio_session", sid)
    assert any(a["action"] == "execute" for a in audit)


def test_a_modify_turn_adds_a_webhook_to_the_current_canvas(owner: Api):
    sid = new_session(owner)["session_id"]
    status, built = send(owner, sid, {"message": SPEC_MESSAGE, "intent": "build"})
    assert status == 200, built
    status, turn = send(
        owner,
        sid,
        {"message": "Also post the result to a webhook at https://hooks.example.com/in",
         "intent": "modify"},
    )  # fmt: skip
    assert status == 200, turn
    assert turn["workflow_status"] == "modified"
    assert chain(turn["canvas_state"]) == [*SPEC_TYPES, "webhook_post"]
    before = {n["id"]: n for n in built["canvas_state"]["nodes"]}
    after = {n["id"]: n for n in turn["canvas_state"]["nodes"]}
    assert set(before) < set(after)  # the same steps, one more
    hook = next(n for n in turn["canvas_state"]["nodes"] if n["type"] == "webhook_post")
    assert hook["data"]["url"] == "https://hooks.example.com/in"
    assert "webhook_post" in turn["pipeline_yaml"]


def test_an_advisory_turn_answers_without_changing_the_canvas(owner: Api):
    sid = new_session(owner)["session_id"]
    status, turn = send(owner, sid, {"message": "What does the deduplicator do?",
                                     "intent": "advisory"})  # fmt: skip
    assert status == 200, turn
    assert turn["workflow_status"] == "advisory" and turn["pipeline_yaml"] is None
    assert turn["response"] and turn["canvas_state"] == {"nodes": [], "edges": []}


def test_the_same_turn_twice_is_409_with_the_stored_result_replayed(owner: Api):
    sid = new_session(owner)["session_id"]
    body = {"message": "Build an S3 validation workflow", "intent": "build", "turn_id": "turn-123"}
    status, first = send(owner, sid, body, {"X-Idempotency-Key": "req-123"})
    assert status == 200, first
    spent = balance(owner)
    status, again = send(owner, sid, body)
    assert status == 409, again
    assert again["error"] == "duplicate_turn" and again["message"]
    assert again["replay"]["pipeline_yaml"] == first["pipeline_yaml"]
    assert again["replay"]["response"] == first["response"]
    assert again["replay"]["status_code"] == 200
    # the idempotency key alone identifies the turn too
    status, keyed = send(owner, sid, {"message": "anything"}, {"X-Idempotency-Key": "req-123"})
    assert status == 409 and keyed["replay"]["canvas_state"] == first["canvas_state"]
    assert balance(owner) == spent  # nothing charged twice
    assert owner.ok("GET", f"/ai-studio/sessions/{sid}")["turn_count"] == 1


def test_an_unbuildable_request_is_422_and_leaves_the_canvas(owner: Api):
    sid = new_session(owner)["session_id"]
    status, built = send(owner, sid, {"message": SPEC_MESSAGE, "intent": "build"})
    assert status == 200
    spent = balance(owner)
    status, turn = send(
        owner,
        sid,
        {"message": "Build a workflow that paints my kitchen walls blue", "intent": "build",
         "turn_id": "walls"},
    )  # fmt: skip
    assert status == 422, turn
    assert turn["error"] == "workflow_invalid" and turn["workflow_status"] == "invalid"
    assert turn["workflow_errors"] and turn["validation"]["valid"] is False
    assert turn["details"]["errors"] == turn["workflow_errors"]
    assert turn["credits_used"] == 0.0 and balance(owner) == spent
    session = owner.ok("GET", f"/ai-studio/sessions/{sid}")
    assert session["canvas_state"] == built["canvas_state"]
    status, again = send(owner, sid, {"message": "again", "turn_id": "walls"})
    assert status == 409 and again["replay"]["status_code"] == 422


def test_credits_run_out_402_and_two_turns_at_the_last_credits_cannot_both_pass(
    server: ServerProcess,
):
    api = new_org(server)  # 100 credits; the "half" tier costs 50 a turn
    sessions = [new_session(api, tier="half")["session_id"] for _ in range(3)]
    status, _ = send(api, sessions[0], {"message": SPEC_MESSAGE})
    assert status == 200 and balance(api) == 50.0

    results: list[tuple[int, Any]] = []
    start = threading.Barrier(2)

    def race(sid: str) -> None:
        start.wait()
        results.append(send(api, sid, {"message": SPEC_MESSAGE}))

    threads = [threading.Thread(target=race, args=(sid,)) for sid in sessions[1:]]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(s for s, _ in results) == [200, 402], results
    refused = next(body for s, body in results if s == 402)
    assert_error(refused, 402, 402)
    assert refused["error"] == "insufficient_credits"
    assert balance(api) == 0.0

    status, body = send(api, sessions[2], {"message": SPEC_MESSAGE, "turn_id": "broke"})
    assert_error(body, status, 402)
    status, body = send(api, sessions[2], {"message": SPEC_MESSAGE, "turn_id": "broke"})
    assert status == 402  # a refused turn was not recorded: the same turn_id is not a 409


def test_a_sessions_turn_limit_is_429(owner: Api):
    sid = new_session(owner, tier="tiny")["session_id"]
    for n in range(2):
        status, _ = send(owner, sid, {"message": f"What is node {n}?", "intent": "advisory"})
        assert status == 200
    status, body = send(owner, sid, {"message": "one more", "intent": "advisory"})
    assert status == 429, body
    assert body["error"] == "limit_reached" and body["limit"] == 2
    assert body["current_usage"] == 2


def test_canvas_edits_are_checked_for_shape_and_persisted(owner: Api):
    sid = new_session(owner)["session_id"]
    canvas = {
        "nodes": [{"id": "fetch", "type": "http_fetch", "data": {"url": "https://x.test/a"}}],
        "edges": [],
    }
    saved = owner.ok("PATCH", f"/ai-studio/sessions/{sid}/canvas", {"canvas_state": canvas})
    assert saved["canvas_state"] == canvas and saved["validation"]["valid"] is True
    assert "http_fetch" in saved["pipeline_yaml"]
    status, body = owner.call(
        "PATCH", f"/ai-studio/sessions/{sid}/canvas",
        {"canvas_state": {"nodes": [{"id": 1}], "edges": "no"}},
    )  # fmt: skip
    assert status == 400 and body["details"]["errors"], body
    assert owner.ok("GET", f"/ai-studio/sessions/{sid}")["canvas_state"] == canvas


# -- SSE --------------------------------------------------------------------------------------------


def test_a_turn_streams_progress_then_the_result_as_sse(owner: Api):
    sid = new_session(owner)["session_id"]
    status, headers, events, _ = stream(
        owner, sid, {"message": SPEC_MESSAGE, "intent": "build", "turn_id": "s1"}
    )
    assert status == 200
    assert headers["content-type"].startswith("text/event-stream")
    kinds = [e for e, _ in events]
    assert kinds[0] == "progress" and kinds[-1] == "result"
    assert set(kinds) <= {"progress", "delta", "result"}
    result = events[-1][1]
    assert chain(result["canvas_state"]) == SPEC_TYPES and result["credits_used"] == 1.0
    assert owner.ok("GET", f"/ai-studio/sessions/{sid}")["canvas_state"] == result["canvas_state"]

    # an unbuildable request ends with an error event carrying the 422 answer
    status, _, events, _ = stream(
        owner, sid, {"message": "Build a workflow that paints my kitchen walls", "intent": "build"}
    )
    assert status == 200 and events[-1][0] == "error"
    assert events[-1][1]["status_code"] == 422 and events[-1][1]["workflow_errors"]
    # refusals found before the turn starts are plain JSON with their status
    status, _, events, _ = stream(owner, sid, {"message": "x" * 8001})
    assert status == 400 and events[0][1]["error"] == "validation_error"
    status, _, events, _ = stream(owner, sid, {"message": "again", "turn_id": "s1"})
    assert status == 409 and events[0][1]["replay"]["credits_used"] == 1.0


# -- attachments ------------------------------------------------------------------------------------

FILES = [
    ("spec.pdf", "application/pdf", "pdf"),
    ("spec.docx",
     "application/vnd.openxmlformats-officedocument.wordprocessingml.document", "docx"),
    ("deck.pptx",
     "application/vnd.openxmlformats-officedocument.presentationml.presentation", "pptx"),
    ("orders.csv", "text/csv", "csv"),
    ("notes.txt", "text/plain", "txt"),
    ("README.md", "text/markdown", "md"),
    ("schema.json", "application/json", "json"),
    ("config.yaml", "application/yaml", "yaml"),
]  # fmt: skip


def _content(kind: str, marker: str) -> bytes:
    if kind == "pdf":
        return pdf_bytes(f"Orders {marker}")
    if kind == "docx":
        return docx_bytes(f"Orders {marker}")
    if kind == "pptx":
        return pptx_bytes(f"Orders {marker}")
    if kind == "csv":
        return f"order_id,note\n1,Orders {marker}\n".encode()
    if kind == "json":
        return json.dumps({"note": f"Orders {marker}"}).encode()
    if kind == "yaml":
        return yaml.safe_dump({"note": f"Orders {marker}"}).encode()
    return f"# Orders {marker}\n".encode()


def _attach(api: Api, sid: str, name: str, ctype: str, data: bytes) -> tuple[int, Any, str]:
    started = api.ok(
        "POST", f"/ai-studio/sessions/{sid}/attachments/initiate",
        {"file_name": name, "content_type": ctype, "size_bytes": len(data)},
    )  # fmt: skip
    assert started["method"] == "PUT" and started["upload_url"].startswith(api.server.api_url)
    assert upload(started["upload_url"], data, ctype) == 200
    status, body = api.call(
        "POST", f"/ai-studio/sessions/{sid}/attachments/complete",
        {"attachment_id": started["attachment_id"]},
    )  # fmt: skip
    return status, body, started["attachment_id"]


def test_attachments_of_each_type_are_parsed_into_text(owner: Api, server: ServerProcess):
    sid = new_session(owner)["session_id"]
    for name, ctype, kind in FILES:
        status, body, att = _attach(owner, sid, name, ctype, _content(kind, f"marker-{kind}"))
        assert status == 200, (name, body)
        assert body["status"] == "ready" and body["kind"] == kind, body
        assert f"marker-{kind}" in body["preview"], (kind, body)
    session = owner.ok("GET", f"/ai-studio/sessions/{sid}")
    assert [a["kind"] for a in session["attachments"]] == [k for _, _, k in FILES]

    # delete removes the row and the stored file
    first = session["attachments"][0]["attachment_id"]
    stored = server.home / "studio" / "attachments" / sid / first
    assert stored.exists()
    owner.ok("DELETE", f"/ai-studio/sessions/{sid}/attachments/{first}", status=204)
    assert not stored.exists()
    status, body = owner.call("DELETE", f"/ai-studio/sessions/{sid}/attachments/{first}")
    assert_error(body, status, 404)


def test_attachments_refuse_images_large_files_bad_content_and_bad_signatures(
    owner: Api, server: ServerProcess
):
    sid = new_session(owner, tier="tiny")["session_id"]
    path = f"/ai-studio/sessions/{sid}/attachments/initiate"
    status, body = owner.call("POST", path, {"file_name": "scan.png", "content_type": "image/png"})
    assert_error(body, status, 400)
    status, body = owner.call(
        "POST", path, {"file_name": "photo.pdf", "content_type": "image/jpeg"}
    )
    assert_error(body, status, 400)
    status, body = owner.call(
        "POST", path, {"file_name": "big.csv", "content_type": "text/csv",
                       "size_bytes": 25 * 1024 * 1024 + 1},
    )  # fmt: skip
    assert_error(body, status, 400, "size_bytes")
    status, body = owner.call("POST", path, {"file_name": "x.exe"})
    assert_error(body, status, 400, "file_name")

    status, body, att = _attach(owner, sid, "broken.json", "application/json", b"{not json")
    assert_error(body, status, 400)
    status, body = owner.call("POST", path, {"file_name": "second.txt"})
    assert status == 429 and body["limit"] == 1, body  # the tiny tier takes one attachment

    other = new_session(owner)["session_id"]
    begun = owner.ok(
        "POST", f"/ai-studio/sessions/{other}/attachments/initiate", {"file_name": "a.txt"}
    )
    assert (
        upload(begun["upload_url"].replace("signature=", "signature=0"), b"x", "text/plain") == 403
    )
    status, body = owner.call(
        "POST", f"/ai-studio/sessions/{other}/attachments/complete",
        {"attachment_id": begun["attachment_id"]},
    )  # fmt: skip
    assert_error(body, status, 400, "attachment_id")  # nothing was uploaded


def test_an_attached_json_schema_reaches_the_planner(owner: Api):
    sid = new_session(owner)["session_id"]
    schema = {"type": "object", "required": ["order_id"],
              "properties": {"order_id": {"type": "integer"}}}  # fmt: skip
    status, body, _ = _attach(
        owner, sid, "orders.schema.json", "application/json", json.dumps(schema).encode()
    )
    assert status == 200, body
    status, turn = send(owner, sid, {"message": SPEC_MESSAGE, "intent": "build"})
    assert status == 200, turn
    validator = next(n for n in turn["canvas_state"]["nodes"] if n["type"] == "schema_validator")
    assert validator["data"]["schema"] == schema


# -- bind a flow ------------------------------------------------------------------------------------


def test_bind_flow_saves_a_draft_and_by_flow_finds_the_session(owner: Api):
    sid = new_session(owner)["session_id"]
    status, body = owner.call(
        "POST", f"/ai-studio/sessions/{sid}/bind-flow", {"save": True, "flow_name": "orders"}
    )
    assert_error(body, status, 400, "canvas_state")  # nothing to save yet; nothing bound
    assert owner.ok("GET", f"/ai-studio/sessions/{sid}")["flow_name"] is None
    bound = owner.ok("POST", f"/ai-studio/sessions/{sid}/bind-flow", {"flow_name": "orders"})
    assert bound["session"]["flow_name"] == "orders" and bound["draft"] is None
    assert owner.ok("GET", "/ai-studio/sessions/by-flow/orders")["session_id"] == sid
    status, body = owner.call("GET", "/ai-studio/sessions/by-flow/nothing-here")
    assert_error(body, status, 404)

    status, _ = send(owner, sid, {"message": SPEC_MESSAGE, "intent": "build"})
    assert status == 200
    saved = owner.ok(
        "POST", f"/ai-studio/sessions/{sid}/bind-flow", {"flow_name": "orders", "save": True}
    )
    draft = owner.ok("GET", f"/dag-drafts/{saved['draft']['draft_id']}")
    assert draft["flow_name"] == "orders" and node_types(draft["canvas_json"]) == node_types(
        owner.ok("GET", f"/ai-studio/sessions/{sid}")["canvas_state"]
    )
    assert draft["validation"]["valid"] is True
    again = owner.ok(
        "POST", f"/ai-studio/sessions/{sid}/bind-flow", {"flow_name": "orders", "save": True}
    )
    assert again["draft"]["draft_id"] == saved["draft"]["draft_id"]  # the session's one draft

    other = new_session(owner)["session_id"]  # binding moves the flow to the other session
    owner.ok("POST", f"/ai-studio/sessions/{other}/bind-flow", {"flow_name": "orders"})
    assert owner.ok("GET", "/ai-studio/sessions/by-flow/orders")["session_id"] == other
    assert owner.ok("GET", f"/ai-studio/sessions/{sid}")["flow_name"] is None


def test_sessions_stay_in_their_org(server: ServerProcess, owner: Api):
    sid = new_session(owner)["session_id"]
    stranger = new_org(server)
    status, body = stranger.call("GET", f"/ai-studio/sessions/{sid}")
    assert_error(body, status, 404)
    status, body = stranger.call("DELETE", f"/ai-studio/sessions/{sid}")
    assert_error(body, status, 404)

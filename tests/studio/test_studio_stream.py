"""Provider plugins (registered in ``dagy.ai_providers`` by a dist-info on the server's
PYTHONPATH) through the studio: a slow one streams deltas until ``emit`` raises — a streaming
client that goes away stops its turn (no turn stored, no credits spent), and the same turn_id sent
while it runs is a 409 without a replay; a rogue one emits a node type off the allowlist (422)."""

from __future__ import annotations

import http.client
import json
import os
import textwrap
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ServerProcess, start_server
from tests.server.flows_support import Api, add_user
from tests.studio.studio_support import new_session, stream

PROVIDER = """
import pathlib
import time

from dagy.studio_providers import TurnOutput


class Slow:
    name = "slow"

    def __init__(self, marker_dir, deltas=3000):
        self.marker = pathlib.Path(marker_dir)
        self.deltas = deltas

    def turn(self, turn, *, emit):
        emit("progress", {"stage": "thinking"})
        try:
            for n in range(self.deltas):
                emit("delta", {"text": f"{n} "})
                time.sleep(0.01)
        except BaseException:
            (self.marker / "stopped").write_text("emit raised")
            raise
        return TurnOutput("advisory", "done", None)


class Rogue:
    name = "rogue"

    def turn(self, turn, *, emit):
        from dagy.pipelines.model import Pipeline, Step

        step = Step(id="read", kind="node", node="file_ingest", config={"uri": "/etc/hosts"})
        return TurnOutput("build", "I read a local file", Pipeline("rogue", steps=[step]))
"""


@pytest.fixture(scope="module")
def owner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Api, Path]]:
    plugins = tmp_path_factory.mktemp("plugins")
    (plugins / "slow_provider.py").write_text(textwrap.dedent(PROVIDER))
    info = plugins / "slow_provider-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: slow-provider\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[dagy.ai_providers]\nslow = slow_provider:Slow\nrogue = slow_provider:Rogue\n"
    )
    markers = tmp_path_factory.mktemp("markers")
    tiers = {
        "slow": {"provider": "slow", "settings": {"marker_dir": str(markers)}},
        "short": {"provider": "slow", "settings": {"marker_dir": str(markers), "deltas": 3}},
        "rogue": {"provider": "rogue"},
    }
    path = os.pathsep.join(p for p in (str(plugins), os.environ.get("PYTHONPATH")) if p)
    env = {
        "PYTHONPATH": path,
        "DAGY_RATE_LIMIT_PER_MINUTE": "0",
        "DAGY_STUDIO_TIERS": json.dumps(tiers),
    }
    server: ServerProcess = start_server(tmp_path_factory.mktemp("stream") / "home", env=env)
    add_user(server, "owner@example.com", "owner")
    yield Api(server, server.login("owner@example.com", "password-123")), markers
    server.stop()


def _balance(api: Api) -> float:
    return float(api.ok("GET", "/ai-studio/tiers")["credits_balance"])


def test_a_plugin_providers_deltas_stream_to_the_result(owner: tuple[Api, Path]):
    api, _ = owner
    sid = new_session(api, tier="short")["session_id"]
    status, _, events, _ = stream(api, sid, {"message": "tell me", "intent": "advisory"})
    assert status == 200
    assert [e for e, _ in events] == [
        "progress", "progress", "progress", "delta", "delta", "delta", "progress", "result",
    ]  # fmt: skip
    assert [d["text"] for e, d in events if e == "delta"] == ["0 ", "1 ", "2 "]
    assert events[-1][1]["response"] == "done" and events[-1][1]["credits_used"] == 1.0


def test_a_client_that_disconnects_stops_the_turn(owner: tuple[Api, Path]):
    api, markers = owner
    sid = new_session(api, tier="slow")["session_id"]
    before = _balance(api)
    url = urllib.parse.urlsplit(api.server.api_url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    conn.request(
        "POST",
        f"{url.path}/ai-studio/sessions/{sid}/messages/stream",
        json.dumps({"message": "take your time", "intent": "advisory", "turn_id": "gone"}),
        {"Authorization": f"Bearer {api.token}", "Content-Type": "application/json"},
    )
    resp = conn.getresponse()
    assert resp.status == 200
    while b"event: delta" not in resp.fp.readline():  # the provider is streaming
        pass
    status, _, body = api.server.request(
        "POST", f"/ai-studio/sessions/{sid}/messages", token=api.token,
        body={"message": "same turn", "turn_id": "gone"},
    )  # fmt: skip
    assert status == 409 and body["replay"] is None, body  # still running: nothing to replay
    resp.close()
    conn.close()  # the socket goes: the server sees the client disconnect

    deadline = time.monotonic() + 30
    while not (markers / "stopped").exists():
        assert time.monotonic() < deadline, "the provider was not stopped"
        time.sleep(0.05)
    while api.ok("GET", f"/ai-studio/sessions/{sid}")["turn_count"] != 0:
        assert time.monotonic() < deadline, "the stopped turn's row stayed"
        time.sleep(0.05)
    session = api.ok("GET", f"/ai-studio/sessions/{sid}")
    assert session["history"] == []
    assert _balance(api) == before
    # the same turn_id is free again: the turn never happened
    api.ok("PATCH", f"/ai-studio/sessions/{sid}/tier", {"tier": "short"})
    status, _, events, _ = stream(
        api, sid, {"message": "again", "intent": "advisory", "turn_id": "gone"}
    )
    assert status == 200 and events[-1][0] == "result"
    assert api.ok("GET", f"/ai-studio/sessions/{sid}")["turn_count"] == 1


def test_a_node_type_off_the_allowlist_is_refused_422(owner: tuple[Api, Path]):
    api, _ = owner
    sid = new_session(api, tier="rogue")["session_id"]
    before = _balance(api)
    status, _, body = api.server.request(
        "POST", f"/ai-studio/sessions/{sid}/messages", token=api.token,
        body={"message": "read /etc/hosts", "intent": "build"},
    )  # fmt: skip
    assert status == 422, body
    assert body["error"] == "workflow_invalid"
    assert "not an allowlisted node type" in body["workflow_errors"][0]["message"]
    assert body["workflow_errors"][0]["node"] == "read"
    assert _balance(api) == before
    session = api.ok("GET", f"/ai-studio/sessions/{sid}")
    assert session["canvas_state"] == {"nodes": [], "edges": []}

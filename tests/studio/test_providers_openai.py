"""The `openai` provider against an OpenAI-compatible server started here on 127.0.0.1 that
answers scripted completions (it stands in for a real model): a valid pipeline, an invalid one
repaired on retry, one never valid giving up after N retries, advisory answers, streaming chunks,
errors of the endpoint; and provider plugins loaded through the `dagy.ai_providers` entry points."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from dagy.pipelines.check import check_pipeline
from dagy.studio_providers import (
    ProviderError,
    TurnInput,
    UnbuildableError,
    UnknownProviderError,
    load,
    noop_emit,
)
from dagy.studio_providers.base import Attachment

KEY = "sk-test-not-a-real-key-123"
GOOD = {
    "name": "orders",
    "params": {"input_uri": ""},
    "steps": [
        {"id": "read", "node": "s3_ingest", "config": {"uri": "${params.input_uri}"}},
        {"id": "dedupe", "node": "deduplicator", "config": {"keys": ["id"]},
         "with": {"data_in": "${read}"}},
    ],
}  # fmt: skip
BAD = {  # a node outside the allowlist, and a dedupe whose keys are not a list
    "name": "orders",
    "steps": [
        {"id": "read", "node": "s3_ingest", "config": {"uri": "s3://b/k.json"}},
        {"id": "mail", "node": "email_send", "config": {}, "with": {"data_in": "${read}"}},
    ],
}
WRONG_CONFIG = {
    "name": "orders",
    "steps": [
        {"id": "read", "node": "s3_ingest", "config": {"uri": "s3://b/k.json"}},
        {"id": "dedupe", "node": "deduplicator", "config": {"keys": "id"},
         "with": {"data_in": "${read}"}},
    ],
}  # fmt: skip


def answer(pipeline: Any, intent: str = "build", response: str = "Here it is.") -> str:
    return json.dumps({"intent": intent, "response": response, "pipeline": pipeline})


class _Model(BaseHTTPRequestHandler):
    """POST /v1/chat/completions: pops the next scripted answer (a string: the content; a
    dict with "status": an HTTP error). Streams it in 3 chunks when the request asks."""

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        server: Any = self.server
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        server.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
        script = server.script.pop(0) if server.script else answer(None, "advisory", "?")
        if isinstance(script, dict):
            self.send_response(script["status"])
            self.end_headers()
            self.wfile.write(script.get("body", "").encode())
            return
        if body.get("stream"):
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            third = max(1, len(script) // 3)
            pieces = [script[:third], script[third : 2 * third], script[2 * third :]]
            for piece in pieces:
                chunk = {"choices": [{"index": 0, "delta": {"content": piece}}]}
                self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                self.wfile.flush()
            self.wfile.write(b": keep-alive comment\n\ndata: [DONE]\n\n")
            return
        message: dict[str, Any] = {"role": "assistant", "content": script}
        if server.tool_calls:
            message = {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": "c1", "type": "function",
                     "function": {"name": "answer", "arguments": script}}
                ],
            }  # fmt: skip
        out = {
            "id": "cmpl-1",
            "object": "chat.completion",
            "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120},
        }
        data = json.dumps(out).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def model_server() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Model)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def model(model_server: Any) -> Any:
    model_server.requests, model_server.script, model_server.tool_calls = [], [], False
    return model_server


def provider(model: Any, **settings: Any) -> Any:
    base = f"http://127.0.0.1:{model.server_address[1]}/v1"
    return load("openai", {"base_url": base, "model": "test-model", "api_key": KEY, **settings})


def build_turn(message: str = "read orders from S3 and dedupe by id", **kw: Any) -> TurnInput:
    return TurnInput(message=message, intent=kw.pop("intent", "build"), pipeline=None, **kw)


def test_a_valid_answer_is_the_turn(model: Any) -> None:
    model.script = [answer(GOOD, response="Reads and dedupes.")]
    events: list[tuple[str, dict[str, Any]]] = []
    out = provider(model).turn(build_turn(), emit=lambda e, d: events.append((e, d)))
    assert out.intent == "build" and out.response == "Reads and dedupes."
    assert out.pipeline is not None and check_pipeline(out.pipeline) == []
    assert [s.node for s in out.pipeline.steps] == ["s3_ingest", "deduplicator"]
    assert out.usage["attempts"] == 1 and out.usage["total_tokens"] == 120
    request = model.requests[0]
    assert request["path"] == "/v1/chat/completions"
    assert request["headers"]["Authorization"] == f"Bearer {KEY}"
    body = request["body"]
    assert body["model"] == "test-model" and body["response_format"] == {"type": "json_object"}
    assert "deduplicator" in body["messages"][0]["content"]  # the catalog is in the prompt
    assert "email_send" not in body["messages"][0]["content"]  # only the allowlist
    assert ("delta", {"text": "Reads and dedupes."}) in events


def test_an_invalid_pipeline_is_repaired_with_its_errors(model: Any) -> None:
    model.script = [answer(WRONG_CONFIG), answer(GOOD)]
    events: list[tuple[str, dict[str, Any]]] = []
    out = provider(model).turn(build_turn(), emit=lambda e, d: events.append((e, d)))
    assert out.pipeline is not None and out.usage["attempts"] == 2
    repair = model.requests[1]["body"]["messages"]
    assert repair[-2] == {"role": "assistant", "content": answer(WRONG_CONFIG)}
    assert "pipeline.steps[1].config.keys: must be a list" in repair[-1]["content"]
    stages = [d["stage"] for e, d in events if e == "progress"]
    assert stages == ["calling", "validating", "repairing", "calling", "validating"]


def test_a_never_valid_answer_gives_up_after_the_retries(model: Any) -> None:
    model.script = [answer(BAD), "not json at all", answer(BAD), answer(GOOD)]
    with pytest.raises(UnbuildableError) as caught:
        provider(model).turn(build_turn(), emit=noop_emit)
    assert len(model.requests) == 3  # the first try and N=2 repairs; GOOD is never asked for
    error = caught.value
    assert error.status == 422 and "3 attempts" in error.message
    assert any("email_send is not allowed" in e["message"] for e in error.details["errors"])
    assert "not JSON" in model.requests[2]["body"]["messages"][-1]["content"]


def test_max_retries_is_a_setting(model: Any) -> None:
    model.script = [answer(BAD), answer(GOOD)]
    with pytest.raises(UnbuildableError):
        provider(model, max_retries=0).turn(build_turn(), emit=noop_emit)
    assert len(model.requests) == 1


def test_streaming_passes_the_chunks_through(model: Any) -> None:
    text = answer(GOOD)
    model.script = [text]
    deltas: list[str] = []
    out = provider(model, stream=True).turn(
        build_turn(), emit=lambda e, d: deltas.append(d["text"]) if e == "delta" else None
    )
    assert model.requests[0]["body"]["stream"] is True
    assert len(deltas) == 3 and "".join(deltas) == text
    assert out.pipeline is not None


def test_a_client_gone_mid_stream_stops_the_turn(model: Any) -> None:
    model.script = [answer(WRONG_CONFIG), answer(GOOD)]

    class Gone(Exception):
        pass

    def emit(event: str, data: dict[str, Any]) -> None:
        if event == "delta":
            raise Gone

    with pytest.raises(Gone):
        provider(model, stream=True).turn(build_turn(), emit=emit)
    assert len(model.requests) == 1  # no repair was asked for


def test_tool_call_arguments_are_read_as_the_answer(model: Any) -> None:
    model.tool_calls = True
    model.script = [answer(GOOD)]
    out = provider(model, tools=True).turn(build_turn(), emit=noop_emit)
    assert out.pipeline is not None
    body = model.requests[0]["body"]
    assert body["tools"][0]["function"]["name"] == "answer"
    assert body["tool_choice"] == {"type": "function", "function": {"name": "answer"}}
    assert "response_format" not in body


def test_advisory_modify_history_and_attachments_reach_the_model(model: Any) -> None:
    from dagy.pipelines.yaml_format import from_data

    current, _ = from_data(GOOD)
    model.script = [
        json.dumps(
            {
                "intent": "advisory",
                "response": "It reads then dedupes.",
                "pipeline": None,
                "research_sources": [{"title": "S3", "url": "https://docs.aws.amazon.com/s3"}],
            }
        )
    ]
    out = provider(model).turn(
        TurnInput(
            message="what does it do?",
            intent="auto",
            pipeline=current,
            attachments=[Attachment("notes.md", "text/markdown", "orders have ids")],
            history=[{"role": "user", "content": "earlier"}, {"role": "tool", "content": "x"}],
        ),
        emit=noop_emit,
    )
    assert out.intent == "advisory" and out.pipeline is None
    assert out.research_sources == [{"title": "S3", "url": "https://docs.aws.amazon.com/s3"}]
    messages = model.requests[0]["body"]["messages"]
    assert [m["role"] for m in messages] == ["system", "user", "user"]
    assert "orders have ids" in messages[-1]["content"]
    assert '"dedupe"' in messages[-1]["content"]  # the current pipeline


def test_an_advisory_answer_to_a_build_request_is_sent_back(model: Any) -> None:
    model.script = [answer(None, "advisory"), answer(GOOD)]
    out = provider(model).turn(build_turn(intent="build"), emit=noop_emit)
    assert out.pipeline is not None and out.usage["attempts"] == 2


def test_endpoint_errors_are_provider_errors_without_the_key(model: Any) -> None:
    model.script = [{"status": 401, "body": f'{{"error": "Incorrect API key provided: {KEY}"}}'}]
    with pytest.raises(ProviderError) as caught:
        provider(model).turn(build_turn(), emit=noop_emit)
    assert caught.value.status == 502 and "answered 401" in caught.value.message
    assert "Incorrect API key provided: ***" in caught.value.message
    assert KEY not in caught.value.message and KEY not in repr(provider(model))
    unreachable = load("openai", {"base_url": "http://127.0.0.1:9/v1", "api_key": KEY})
    with pytest.raises(ProviderError, match="cannot reach"):
        unreachable.turn(build_turn(), emit=noop_emit)


def test_settings_fall_back_to_the_dagy_ai_openai_variables(
    monkeypatch: pytest.MonkeyPatch, model: Any
) -> None:
    monkeypatch.setenv("DAGY_AI_OPENAI_BASE_URL", f"http://127.0.0.1:{model.server_address[1]}/v1/")
    monkeypatch.setenv("DAGY_AI_OPENAI_MODEL", "from-env")
    monkeypatch.setenv("DAGY_AI_OPENAI_API_KEY", KEY)
    model.script = [answer(GOOD)]
    load("openai").turn(build_turn(), emit=noop_emit)
    assert model.requests[0]["body"]["model"] == "from-env"
    assert model.requests[0]["headers"]["Authorization"] == f"Bearer {KEY}"


# -- plugins ------------------------------------------------------------------------------------


def test_an_unknown_provider_is_a_clear_error() -> None:
    with pytest.raises(UnknownProviderError) as caught:
        load("nope", {})
    assert caught.value.status == 503
    assert "Unknown AI provider 'nope'" in caught.value.message
    assert "offline" in caught.value.message and "openai" in caught.value.message


def test_a_plugin_provider_is_loaded_through_the_entry_point_group(tmp_path: Path) -> None:
    """A package that registers `echo` in dagy.ai_providers (a dist-info on sys.path)."""
    (tmp_path / "echo_provider.py").write_text(
        textwrap.dedent(
            """
            from dagy.studio_providers import TurnOutput

            class Echo:
                name = "echo"

                def __init__(self, prefix="echo: "):
                    self.prefix = prefix

                def turn(self, turn, *, emit):
                    return TurnOutput("advisory", self.prefix + turn.message, None)

            class NotAProvider:
                pass
            """
        )
    )
    info = tmp_path / "echo_provider-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: echo-provider\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[dagy.ai_providers]\necho = echo_provider:Echo\nbroken = echo_provider:NotAProvider\n"
    )
    code = textwrap.dedent(
        """
        import sys
        from dagy.studio_providers import load, provider_names, TurnInput, noop_emit
        from dagy.studio_providers import UnknownProviderError
        p = load("echo", {"prefix": ">> "})
        print(p.turn(TurnInput("hi", "auto", None), emit=noop_emit).response)
        print(",".join(provider_names()))
        try:
            load("broken", {})
        except UnknownProviderError as exc:
            print(exc.message)
        """
    )
    import os

    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path])}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    lines = done.stdout.splitlines()
    assert lines[0] == ">> hi"
    assert lines[1] == "broken,echo,offline,openai"
    assert "is not a provider" in lines[2]

"""``openai``: any OpenAI-compatible chat-completions endpoint (OpenAI, Ollama, vLLM, llama.cpp).

The model is shown the allowlisted nodes, the pipeline format and the session's pipeline, and asked
for one JSON object ``{"intent", "response", "pipeline"}`` (``response_format: json_object``, or
with ``tools`` the arguments of a call to an ``answer`` function). The pipeline is checked as STUDIO will check it (shape,
registry, canvas round trip, allowlist); its problems go back to the model, at most ``max_retries``
times, then the turn gives up with UnbuildableError. ``stream`` passes the model's deltas to
``emit("delta", ...)`` as they arrive. The API key is sent, never logged or put in an error.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

from dagy.nodes.model import NodeDef
from dagy.pipelines import canvas
from dagy.pipelines.check import check_pipeline
from dagy.pipelines.model import Pipeline
from dagy.pipelines.problems import Problem
from dagy.pipelines.yaml_format import from_data, to_data
from dagy.studio_providers.base import (
    ALLOWLIST,
    Emit,
    ProviderError,
    TurnInput,
    TurnOutput,
    UnbuildableError,
)

log = logging.getLogger(__name__)
MAX_ATTACHMENT_CHARS = 20_000
INTENTS = ("build", "modify", "advisory")

_FORMAT = """\
A pipeline is JSON: {"name": "<letters, digits, _ - .>", "version": "1.0.0", "params":
{"<name>": <default>}, "steps": [{"id": "<step id>", "node": "<node type>", "config": {...},
"with": {"data_in": "${<upstream step id>}"}}]}. Steps run in dependency order; a step's data
comes from the step named in "with": {"data_in": "${step}"} (sources such as s3_ingest and
http_fetch take none). A value the user did not give is a parameter: declare it in "params" with a
default and use "${params.<name>}" in config. Use only these node types, and only their config
fields; required fields must be set."""


ANSWER_TOOL: dict[str, Any] = {
    "name": "answer",
    "description": "Answer the user: the intent, the answer in words, and the pipeline.",
    "parameters": {
        "type": "object",
        "properties": {
            "intent": {"type": "string", "enum": list(INTENTS)},
            "response": {"type": "string"},
            "pipeline": {"type": ["object", "null"]},
            "research_sources": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"title": {"type": "string"}, "url": {"type": "string"}},
                },
            },
        },
        "required": ["intent", "response", "pipeline"],
    },
}


def _node_text(node: NodeDef) -> dict[str, Any]:
    return {
        "node_type": node.node_type,
        "label": node.label,
        "description": node.description,
        "config": [
            {k: v for k, v in f.to_api().items() if k != "label"} for f in node.config_schema
        ],
        "inputs": [c.id for c in node.connectors if c.direction == "inbound"],
    }


def system_prompt(nodes: dict[str, NodeDef]) -> str:
    catalog = json.dumps([_node_text(n) for n in nodes.values()], indent=1)
    return (
        "You are Dagy's workflow assistant. You turn a user's request into a Dagy pipeline, "
        "edit their current pipeline, or answer a question about it.\n"
        'Answer with ONE JSON object: {"intent": "build" | "modify" | "advisory", '
        '"response": "<your answer in words; ask for what is missing>", "pipeline": <the '
        'complete pipeline, or null for advisory>, "research_sources": [{"title", "url"}]}.\n'
        f"{_FORMAT}\nNode types:\n{catalog}"
    )


def user_prompt(turn: TurnInput) -> str:
    parts = []
    if turn.pipeline is not None:
        parts.append("Current pipeline:\n" + json.dumps(to_data(turn.pipeline), default=str))
    for a in turn.attachments:
        parts.append(f"Attached {a.name} ({a.media_type}):\n{a.text[:MAX_ATTACHMENT_CHARS]}")
    if turn.intent != "auto":
        parts.append(f"Intent: {turn.intent}")
    parts.append(f"Request: {turn.message}")
    return "\n\n".join(parts)


def problems_of(data: Any, nodes: dict[str, NodeDef], turn: TurnInput) -> list[Problem]:
    """What STUDIO would refuse in the model's answer, as the problems sent back for repair."""
    if not isinstance(data, dict):
        return [Problem("", "the answer must be one JSON object")]
    intent = data.get("intent")
    if intent not in INTENTS:
        return [Problem("intent", f"must be one of {', '.join(INTENTS)}, got {intent!r}")]
    if not isinstance(data.get("response"), str):
        return [Problem("response", "must be a string")]
    raw = data.get("pipeline")
    if turn.intent in ("build", "modify") and (intent == "advisory" or raw is None):
        return [Problem("intent", f"the user asked to {turn.intent}: give a pipeline")]
    if intent == "advisory" and raw is None:
        return []
    pipeline, out = from_data(raw)
    out = [Problem(f"pipeline.{p.path}" if p.path else "pipeline", p.message) for p in out]
    if pipeline is None:
        return out or [Problem("pipeline", "required")]
    for i, step in enumerate(pipeline.steps):
        if step.kind != "node" or step.node not in ALLOWLIST or step.node not in nodes:
            what = step.node if step.kind == "node" else f"a {step.kind} step"
            out.append(
                Problem(
                    f"pipeline.steps[{i}].node",
                    f"{what} is not allowed (use one of {', '.join(nodes)})",
                    node=step.id,
                )
            )
    if out:
        return out
    lookup = nodes.get
    out += [
        Problem(f"pipeline.{p.path}", p.message, p.node, p.field)
        for p in check_pipeline(pipeline, lookup)
    ]
    if not out:
        _, drawn = canvas.to_pipeline(pipeline.name, canvas.from_pipeline(pipeline), lookup)
        out += drawn
    return out


def _content(body: dict[str, Any]) -> str:
    """The assistant's text: the message content, else the first tool call's arguments."""
    try:
        message = body["choices"][0]["message"]
    except (KeyError, IndexError, TypeError):
        raise ProviderError("the model's answer has no choices[0].message") from None
    content = message.get("content")
    if not content:
        calls = message.get("tool_calls") or []
        if calls:
            content = (calls[0].get("function") or {}).get("arguments")
    return str(content or "")


class OpenAIProvider:
    """Settings: ``base_url``, ``model``, ``api_key`` (else the DAGY_AI_OPENAI_* settings),
    ``timeout_seconds`` (60), ``max_retries`` (2 repairs), ``stream`` (false), ``temperature`` (0),
    ``json_mode`` (true: ``response_format`` json_object), ``tools`` (false: true asks for the
    answer as a call of an ``answer`` function instead)."""

    name = "openai"

    def __init__(
        self,
        base_url: str | None = None,
        model: str | None = None,
        api_key: str | None = None,
        *,
        timeout_seconds: float = 60.0,
        max_retries: int = 2,
        stream: bool = False,
        temperature: float = 0.0,
        json_mode: bool = True,
        tools: bool = False,
    ) -> None:
        from dagy.config import settings

        self.base_url = (base_url or settings.AI_OPENAI_BASE_URL.get()).rstrip("/")
        self.model = model or settings.AI_OPENAI_MODEL.get()
        self._api_key = api_key if api_key is not None else settings.AI_OPENAI_API_KEY.get()
        self.timeout_seconds = float(timeout_seconds)
        self.max_retries = max(0, int(max_retries))
        self.stream = bool(stream)
        self.temperature = float(temperature)
        self.json_mode = bool(json_mode)
        self.tools = bool(tools)

    def __repr__(self) -> str:  # never the key
        return f"<OpenAIProvider {self.model} at {self.base_url}>"

    # -- HTTP ---------------------------------------------------------------------------------

    def _request(self, messages: list[dict[str, str]]) -> urllib.request.Request:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "temperature": self.temperature,
            "stream": self.stream,
        }
        if self.tools:  # the answer as the arguments of a call to one function
            body["tools"] = [{"type": "function", "function": ANSWER_TOOL}]
            body["tool_choice"] = {"type": "function", "function": {"name": "answer"}}
        elif self.json_mode:
            body["response_format"] = {"type": "json_object"}
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        return urllib.request.Request(
            f"{self.base_url}/chat/completions",
            data=json.dumps(body).encode(),
            headers=headers,
            method="POST",
        )

    def _complete(self, messages: list[dict[str, str]], emit: Emit) -> tuple[str, dict[str, Any]]:
        """The assistant's text and the usage counts of one completion."""
        where = f"{self.base_url}/chat/completions"
        try:
            with urllib.request.urlopen(  # noqa: S310 - the configured endpoint
                self._request(messages), timeout=self.timeout_seconds
            ) as resp:
                if self.stream:
                    return self._read_stream(resp, emit)
                body = json.loads(resp.read().decode("utf-8"))
        except urllib.error.HTTPError as exc:
            detail = exc.read(500).decode("utf-8", "replace").strip()
            if self._api_key:  # some servers echo the key they refused
                detail = detail.replace(self._api_key, "***")
            raise ProviderError(
                f"{where} answered {exc.code}: {detail or exc.reason}", {"status": exc.code}
            ) from None
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            why = getattr(exc, "reason", exc)
            raise ProviderError(f"cannot reach {where}: {why}") from None
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise ProviderError(f"{where} did not answer JSON") from None
        if not isinstance(body, dict):
            raise ProviderError(f"{where} did not answer a completion object")
        return _content(body), dict(body.get("usage") or {})

    def _read_stream(self, resp: Any, emit: Emit) -> tuple[str, dict[str, Any]]:
        parts: list[str] = []
        usage: dict[str, Any] = {}
        for chunk in _sse_chunks(resp):
            usage = dict(chunk.get("usage") or usage)
            for choice in chunk.get("choices") or []:
                delta = choice.get("delta") or {}
                piece = delta.get("content")
                if not piece:
                    calls = delta.get("tool_calls") or []
                    piece = "".join((c.get("function") or {}).get("arguments") or "" for c in calls)
                if piece:
                    parts.append(piece)
                    emit("delta", {"text": piece})  # raises when the client is gone
        return "".join(parts), usage

    # -- a turn -------------------------------------------------------------------------------

    def turn(self, turn: TurnInput, *, emit: Emit) -> TurnOutput:
        nodes = _allowed(turn)
        messages = [{"role": "system", "content": system_prompt(nodes)}]
        for item in turn.history:
            if item.get("role") in ("user", "assistant") and isinstance(item.get("content"), str):
                messages.append({"role": item["role"], "content": item["content"]})
        messages.append({"role": "user", "content": user_prompt(turn)})
        usage: dict[str, Any] = {"provider": "openai", "model": self.model, "attempts": 0}
        problems: list[Problem] = []
        for attempt in range(1, self.max_retries + 2):
            emit("progress", {"stage": "calling", "attempt": attempt, "model": self.model})
            text, used = self._complete(messages, emit)
            usage["attempts"] = attempt
            for key, value in used.items():
                if isinstance(value, int):
                    usage[key] = usage.get(key, 0) + value
            emit("progress", {"stage": "validating", "attempt": attempt})
            try:
                data: Any = json.loads(text)
            except json.JSONDecodeError as exc:
                data = None
                problems = [Problem("", f"the answer is not JSON: {exc.msg} at {exc.pos}")]
            else:
                problems = problems_of(data, nodes, turn)
            if not problems:
                out = _output(data, usage)
                if not self.stream:  # a streamed answer went out as it came
                    emit("delta", {"text": out.response})
                return out
            log.info("openai provider: attempt %d had %d problems", attempt, len(problems))
            if attempt <= self.max_retries:
                emit("progress", {"stage": "repairing", "problems": [p.line() for p in problems]})
                messages.append({"role": "assistant", "content": text})
                messages.append({"role": "user", "content": _repair(problems)})
        raise UnbuildableError(
            f"The model did not produce a valid pipeline in {self.max_retries + 1} attempts",
            problems,
        )


def _repair(problems: list[Problem]) -> str:
    lines = "\n".join(f"- {p.line()}" for p in problems)
    return f"Your answer has these problems:\n{lines}\nAnswer again with the whole corrected JSON object."


def _allowed(turn: TurnInput) -> dict[str, NodeDef]:
    nodes = turn.nodes
    if not nodes:
        from dagy.nodes import registry

        nodes = registry.builtins()
    return {t: nodes[t] for t in ALLOWLIST if t in nodes}


def _output(data: dict[str, Any], usage: dict[str, Any]) -> TurnOutput:
    pipeline: Pipeline | None = None
    if data.get("pipeline") is not None:
        pipeline, _ = from_data(data["pipeline"])
    sources = [
        {"title": str(s.get("title", "")), "url": str(s.get("url", ""))}
        for s in data.get("research_sources") or []
        if isinstance(s, dict) and s.get("url")
    ]
    intent = data["intent"] if pipeline is not None else "advisory"
    return TurnOutput(
        intent=intent,
        response=data["response"],
        pipeline=pipeline,
        research_sources=sources,
        usage=usage,
    )


def _sse_chunks(resp: Any) -> Iterator[dict[str, Any]]:
    """The JSON chunks of a chat-completion stream: ``data: {...}`` lines up to ``data: [DONE]``."""
    for raw in resp:
        line = raw.decode("utf-8", "replace").strip()
        if not line.startswith("data:"):
            continue
        payload = line[5:].strip()
        if payload == "[DONE]":
            return
        try:
            chunk = json.loads(payload)
        except json.JSONDecodeError:
            raise ProviderError("the model's stream sent a chunk that is not JSON") from None
        if isinstance(chunk, dict):
            yield chunk

"""``offline``: the embedded provider, a deterministic planner that needs no network and no model.

It reads a request as clauses ("reads JSON from S3", "validates schema", ...), maps each onto the
allowlisted registry node whose words it shares most (label, description, tags, data types and a few
synonyms), keeps them in the order the request names them (sources first), wires each to the one
before it, and fills config from what the request writes (s3:// URIs, URLs, buckets, ``by
order_id``, ``required fields a, b``, formats). What it does not find becomes a parameter the user
sets at run time (``${params.input_uri}``) and a question in its answer. Same input, same output.

An attached JSON or YAML document that is a JSON Schema becomes the schema validator's schema;
other attachments and the turn history are not read.

What it cannot do (an LLM provider does better): branches, loops, joins of two sources, any node
outside the allowlist, values it is not told in one of those forms, and words it has no synonym for.
"""

from __future__ import annotations

import re
from typing import Any

from dagy.nodes.model import NodeDef
from dagy.pipelines.model import Pipeline, Step
from dagy.studio_providers import _words
from dagy.studio_providers._config import (
    Plan,
    attached_schema,
    configure,
    data_input,
    http_url,
    new_step_id,
    s3_uri,
)
from dagy.studio_providers._edit import apply_edits
from dagy.studio_providers.base import (
    ALLOWLIST,
    Emit,
    TurnInput,
    TurnOutput,
    UnbuildableError,
)

DEFAULT_NAME = "generated_pipeline"
_QUESTION_START = re.compile(
    r"^\s*(what|how|why|which|when|where|who|can|could|does|do|is|are|should|explain|tell me|"
    r"describe|help)\b",
    re.I,
)
_MODIFY_WORDS = re.compile(
    r"\b(add|also|append|insert|include|remove|delete|drop|without|get rid of|change|set|"
    r"replace|instead|rename|switch|update|use|dedupe by|deduplicate by|after|before)\b",
    re.I,
)
# "Can you also send it to a webhook?" asks for a change, not for advice
_POLITE = re.compile(r"^\s*(?:(?:can|could|would|will)\s+you|please)\b", re.I)
_BUILD_WORDS = re.compile(r"\b(build|create|make|generate|new (?:workflow|pipeline))\b", re.I)


def allowed_nodes(turn: TurnInput) -> dict[str, NodeDef]:
    """The allowlisted node types the org's registry has (the built-ins when none is given)."""
    nodes = turn.nodes
    if not nodes:
        from dagy.nodes import registry

        nodes = registry.builtins()
    return {t: nodes[t] for t in ALLOWLIST if t in nodes}


def choose_intent(turn: TurnInput) -> str:
    """auto: a question is advisory; with a pipeline, a request to change it is modify; else build."""
    if turn.intent in ("build", "modify", "advisory"):
        if turn.intent == "modify" and turn.pipeline is None:
            return "build"
        return turn.intent
    text = turn.message.strip()
    polite = _POLITE.match(text) and (_MODIFY_WORDS.search(text) or _BUILD_WORDS.search(text))
    if (text.endswith("?") or _QUESTION_START.match(text)) and not polite:
        return "advisory"
    if turn.pipeline is None:
        return "build"
    if _BUILD_WORDS.search(text) and not _MODIFY_WORDS.search(text):
        return "build"
    return "modify"


# -- the three intents -------------------------------------------------------------------------------


def _name_in(message: str) -> str:
    m = re.search(r"\b(?:called|named)\s+[`'\"]?([A-Za-z0-9_][A-Za-z0-9_.\-]{0,127})", message)
    return m.group(1) if m else DEFAULT_NAME


def build(turn: TurnInput, emit: Emit) -> tuple[Pipeline, str]:
    nodes = allowed_nodes(turn)
    found, unread = _words.mentions(turn.message, nodes)
    emit("progress", {"stage": "mapping", "message": f"{len(found)} steps named"})
    # each node type once, in the order named; sources first (they take no data)
    seen: list[str] = []
    ordered: list[_words.Mention] = []
    for m in found:
        if m.node_type not in seen:
            seen.append(m.node_type)
            ordered.append(m)
    # sources first (they take no data), sinks last (they send it out), else as named
    sources = [m for m in ordered if _words.is_source(nodes[m.node_type])]
    rest = [m for m in ordered if not _words.is_source(nodes[m.node_type])]
    rest.sort(key=lambda m: _words.is_sink(nodes[m.node_type]))
    plan = Plan(bucket=_words.bucket_in(turn.message))
    found_schema = attached_schema(turn.attachments)
    if found_schema is not None:
        plan.schema, plan.schema_from = found_schema
    if not ordered:
        raise UnbuildableError(
            "I could not map this request onto any step I can build ("
            + ", ".join(nodes[t].label for t in nodes)
            + "). Say what to read, what to do with it and where to send it, e.g. "
            "'read JSON from S3, deduplicate by id and write it back to S3'."
        )
    if len(sources) > 1:
        plan.notes.append(
            "I can follow one source only, so I used "
            f"{nodes[sources[0].node_type].label} and left out "
            + ", ".join(nodes[m.node_type].label for m in sources[1:])
        )
    chain = sources[:1] + rest
    needs_data = any(
        c.required for m in rest for c in nodes[m.node_type].connectors if c.id == "data_in"
    )
    if not sources and needs_data and "s3_ingest" in nodes:
        plan.notes.append("You did not say where the data comes from, so I started from S3")
        chain = [_words.Mention("s3_ingest", 0, "")] + chain
    # values the request gives without naming a step: s3 URIs to the S3 steps, in order
    spare = [u.rstrip(".") for u in _words.URI.findall(turn.message)]
    for m in chain:
        m.uris = [u for u in m.uris if _uses(m.node_type, u)]
        spare = [u for u in spare if u not in m.uris]
    for m in chain:
        wants_s3 = m.node_type in ("s3_ingest", "s3_write") and not s3_uri(m.uris)
        wants_url = m.node_type in ("http_fetch", "webhook_post") and not http_url(m.uris)
        pick = next(
            (
                u
                for u in spare
                if (wants_s3 and u.lower().startswith(("s3://", "file://")))
                or (wants_url and u.lower().startswith("http"))
            ),
            None,
        )
        if pick:
            m.uris.append(pick.rstrip("."))
            spare.remove(pick)
    steps: list[Step] = []
    for m in chain:
        node = nodes[m.node_type]
        sid = new_step_id(m.node_type, [s.id for s in steps])
        upstream = steps[-1].id if steps else None
        steps.append(
            Step(
                id=sid,
                kind="node",
                node=m.node_type,
                config=configure(m.node_type, m.text, m.uris, plan),
                with_=data_input(node, upstream),
                label=node.label,
            )
        )
    emit("progress", {"stage": "configuring", "steps": [s.id for s in steps]})
    problems = _connection_problems(steps, nodes)
    pipeline = Pipeline(
        name=_name_in(turn.message),
        description=turn.message.strip()[:500],
        params=plan.params,
        steps=steps,
    )
    arrow = " → ".join(f"{nodes[s.node or ''].label} ({s.id})" for s in steps)
    text = f"I built a pipeline of {len(steps)} steps: {arrow}."
    return pipeline, _answer(text, plan, unread, problems)


def _uses(node_type: str, uri: str) -> bool:
    """Whether a step of ``node_type`` takes ``uri`` (S3 steps s3:// and file://, HTTP ones URLs)."""
    if node_type in ("s3_ingest", "s3_write"):
        return uri.lower().startswith(("s3://", "file://"))
    if node_type in ("http_fetch", "webhook_post"):
        return uri.lower().startswith(("http://", "https://"))
    return False


def _connection_problems(steps: list[Step], nodes: dict[str, NodeDef]) -> list[str]:
    from dagy.nodes.connections import validate_connection

    out: list[str] = []
    for a, b in zip(steps, steps[1:], strict=False):
        if not b.with_:
            continue
        result = validate_connection(
            nodes[a.node or ""], "data_out", nodes[b.node or ""], "data_in"
        )
        out += result["errors"]
    return out


def _answer(text: str, plan: Plan, unread: list[str], problems: list[str]) -> str:
    parts = [text]
    parts += [f"{n}." for n in plan.notes]
    if problems:
        parts.append("These connections may not fit: " + "; ".join(problems) + ".")
    if unread:
        shown = "; ".join(f"'{u[:80]}'" for u in unread[:5])
        more = f" and {len(unread) - 5} more" if len(unread) > 5 else ""
        parts.append(f"I did not understand: {shown}{more} (I left it out).")
    if plan.params:
        parts.append(
            "Set these parameters when you run it: "
            + ", ".join(sorted(plan.params))
            + " (or tell me the values)."
        )
    parts += [f"Tell me {ask}." for ask in plan.asks]
    return " ".join(parts)


def modify(turn: TurnInput, emit: Emit) -> tuple[Pipeline, str]:
    assert turn.pipeline is not None
    nodes = allowed_nodes(turn)
    emit("progress", {"stage": "editing", "message": "reading the change"})
    plan = Plan(bucket=_words.bucket_in(turn.message))  # params: the ones an edit adds
    pipeline, done = apply_edits(turn.pipeline, turn.message, nodes, plan)
    emit("progress", {"stage": "configuring", "steps": [s.id for s in pipeline.steps]})
    if not done:
        return pipeline, (
            "I could not tell what to change; the pipeline is as it was. Say 'add a webhook "
            "after the last step', 'remove the dedupe step' or 'dedupe by customer_id'."
        )
    return pipeline, _answer("I " + "; ".join(done) + ".", plan, [], [])


def advise(turn: TurnInput) -> str:
    """An answer in words: the nodes a question names, the current pipeline, or what it can do."""
    nodes = allowed_nodes(turn)
    vocabs = {t: _words.vocabulary(n) for t, n in nodes.items()}
    named: list[str] = []
    for clause in _words.clauses(turn.message):
        node_type, _ = _words.best_node(clause.text, nodes, vocabs)
        if node_type and node_type not in named:
            named.append(node_type)
    parts: list[str] = []
    for node_type in named:
        node = nodes[node_type]
        fields = ", ".join(
            f"{f.name}{' (required)' if f.required else ''}" for f in node.config_schema
        )
        parts.append(f"{node.label} ({node_type}): {node.description}. Its settings: {fields}.")
    if turn.pipeline is not None and re.search(r"\b(pipeline|workflow|it|this)\b", turn.message):
        order = " → ".join(f"{s.id} ({s.node or s.kind})" for s in turn.pipeline.steps)
        parts.append(f"Your pipeline '{turn.pipeline.name}' runs {order}.")
        if turn.pipeline.params:
            parts.append(
                "Its parameters: "
                + ", ".join(f"{k} (default {v!r})" for k, v in turn.pipeline.params.items())
                + "."
            )
    if re.search(r"\b(run|deploy|execute|schedule)\b", turn.message, re.I):
        parts.append(
            "To run it, save the session as a draft and deploy it, then start a run with "
            "POST /runs (or `dagy run`) giving its parameters."
        )
    if not parts:
        parts.append(
            "I build pipelines from these steps: "
            + ", ".join(f"{n.label} ({t})" for t, n in nodes.items())
            + ". Ask me to 'build a workflow that reads JSON from S3, validates it, "
            "deduplicates by id and writes it back to S3'."
        )
    parts.append(
        "(I am the offline planner: I match words to steps; an LLM provider answers open "
        "questions better.)"
    )
    return " ".join(parts)


class OfflineProvider:
    """The ``offline`` provider (no settings)."""

    name = "offline"

    def __init__(self, **settings: Any) -> None:
        self.settings = settings

    def turn(self, turn: TurnInput, *, emit: Emit) -> TurnOutput:
        emit("progress", {"stage": "understanding", "message": "reading the request"})
        intent = choose_intent(turn)
        pipeline: Pipeline | None = None
        if intent == "advisory":
            response = advise(turn)
        elif intent == "modify":
            pipeline, response = modify(turn, emit)
        else:
            pipeline, response = build(turn, emit)
        for sentence in re.split(r"(?<=[.?!])\s+", response):
            emit("delta", {"text": sentence + " "})
        emit("progress", {"stage": "done", "message": intent})
        return TurnOutput(
            intent=intent,
            response=response,
            pipeline=pipeline,
            research_sources=[],
            usage={"provider": "offline", "words": len(turn.message.split())},
        )

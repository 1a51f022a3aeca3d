"""The offline planner's modify: edit a pipeline as a request says, rather than start over.

Each clause of the request is one edit: a removal ("remove the dedupe step"), a new step
("also post the result to a webhook", after the last step unless it says "before/after X"), or
new settings for a step already there ("dedupe by customer_id"). Steps that used a removed step's
result take what it took instead.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from dagy.nodes.model import NodeDef
from dagy.pipelines import refs
from dagy.pipelines.model import Pipeline, Step
from dagy.studio_providers import _words
from dagy.studio_providers._config import (
    DATA_IN,
    Plan,
    configure,
    data_input,
    data_key,
    new_step_id,
)

_REMOVE = re.compile(
    r"\b(remove|delete|get rid of|without|take out|drop (?:the\s+)?\w+\s+(?:step|node))\b", re.I
)
_ADD = re.compile(r"\b(add|also|append|insert|include|plus|another|extra)\b", re.I)
_PLACE = re.compile(r"\b(before|after)\s+(?:the\s+)?([A-Za-z_][\w-]*)(?:\s+(?:step|node))?", re.I)
_START = re.compile(r"\b(at the (?:start|beginning)|first)\b", re.I)


def _step_named(pipeline: Pipeline, text: str, nodes: dict[str, NodeDef]) -> Step | None:
    """The step ``text`` names: by its id written out, else by the node its words name."""
    for w in re.findall(r"[A-Za-z_][\w-]*", text):
        found = pipeline.step(w)
        if found is not None:
            return found
    present = {s.node: nodes[s.node] for s in pipeline.steps if s.node in nodes}
    vocabs = {t: _words.vocabulary(n) for t, n in present.items() if t}
    node_type, _ = _words.best_node(text, present, vocabs)  # type: ignore[arg-type]
    if node_type is None:
        # "remove the last step"
        if re.search(r"\blast\b", text, re.I) and pipeline.steps:
            return pipeline.steps[-1]
        return None
    return next(s for s in pipeline.steps if s.node == node_type)


def _replace_ref(value: Any, old: str, new: Any) -> Any:
    """``value`` with every whole ``${old}`` replaced by ``new`` (None: dropped)."""
    if isinstance(value, dict):
        out = {k: _replace_ref(v, old, new) for k, v in value.items()}
        return {k: v for k, v in out.items() if v is not _DROP}
    if isinstance(value, list):
        return [v for v in (_replace_ref(v, old, new) for v in value) if v is not _DROP]
    if isinstance(value, str) and value.strip() == f"${{{old}}}":
        return _DROP if new is None else new
    return value


_DROP = object()


def _params_used(pipeline: Pipeline) -> set[str]:
    used: set[str] = set()
    for s in pipeline.steps:
        for value in (s.config, s.with_, s.for_each, s.command):
            found, _ = refs.find_refs(value, "")
            used.update(f.ref.name for f in found if f.ref.kind == "param")
    return used


def remove_step(pipeline: Pipeline, step: Step) -> None:
    """Take ``step`` out; what used its result takes its data input instead."""
    feed = step.with_.get(data_key(step.with_))
    pipeline.steps.remove(step)
    for s in pipeline.steps:
        s.with_ = _replace_ref(s.with_, step.id, feed)
        s.depends = [d for d in s.depends if d != step.id]


def _ref_name(value: Any) -> str | None:
    if isinstance(value, str) and value.startswith("${") and value.endswith("}"):
        return value[2:-1]
    return None


def add_step(
    pipeline: Pipeline,
    node: NodeDef,
    config: dict[str, Any],
    *,
    after: Step | None = None,
    before: Step | None = None,
) -> Step:
    """Insert a step of ``node``: after ``after`` (its result feeds the new step, and the new
    step's result feeds what ``after`` fed), or before ``before`` (taking its data)."""
    sid = new_step_id(node.node_type, [s.id for s in pipeline.steps])
    step = Step(id=sid, kind="node", node=node.node_type, config=config, label=node.label)
    if before is not None:
        feed = before.with_.get(data_key(before.with_))
        upstream = _ref_name(feed) if feed is not None else None
        step.with_ = data_input(node, upstream)
        if not _words.is_source(node):
            before.with_[data_key(before.with_)] = f"${{{sid}}}"
        pipeline.steps.insert(pipeline.steps.index(before), step)
        return step
    if after is None:
        step.with_ = data_input(node, None)
        pipeline.steps.insert(0, step)
        return step
    step.with_ = data_input(node, after.id)
    after_node = after.node or ""
    if node.node_type == "s3_write" and after_node in ("s3_write", "webhook_post"):
        # a second write takes the data the first one wrote, not its receipt
        feed = after.with_.get(data_key(after.with_))
        step.with_ = {DATA_IN: feed} if feed is not None else {}
    if _words.is_sink(node):  # a write or a notification branches off; the data goes on as before
        pipeline.steps.insert(pipeline.steps.index(after) + 1, step)
        return step
    for s in pipeline.steps:
        key = data_key(s.with_)
        if s is not after and s.with_.get(key) == f"${{{after.id}}}":
            s.with_[key] = f"${{{sid}}}"
    pipeline.steps.insert(pipeline.steps.index(after) + 1, step)
    return step


def found_config(node_type: str, text: str, uris: list[str], plan: Plan) -> dict[str, Any]:
    """Only the settings ``text`` actually gives (what differs from saying nothing)."""
    said = configure(node_type, text, uris, Plan(bucket=plan.bucket))
    nothing = configure(node_type, "", [], Plan(bucket=plan.bucket))
    return {k: v for k, v in said.items() if nothing.get(k) != v}


def _edit_clauses(message: str, nodes: dict[str, NodeDef]) -> list[str]:
    """The request's clauses, a clause that only goes on with the one before ("..., email")
    joined to it."""
    vocabs = {t: _words.vocabulary(n) for t, n in nodes.items()}
    out: list[str] = []
    for clause in _words.clauses(message):
        named, _ = _words.best_node(clause.text, nodes, vocabs)
        if out and named is None and _words.continues(clause.text):
            out[-1] += " " + clause.text
        else:
            out.append(clause.text)
    return out


def replace_step(pipeline: Pipeline, old: Step, node: NodeDef, config: dict[str, Any]) -> Step:
    """A step of ``node`` in ``old``'s place: it takes what ``old`` took, and feeds what it fed."""
    sid = new_step_id(node.node_type, [s.id for s in pipeline.steps])
    feed = old.with_.get(data_key(old.with_))
    upstream = _ref_name(feed) if feed is not None else None
    step = Step(id=sid, kind="node", node=node.node_type, config=config, label=node.label)
    step.with_ = data_input(node, upstream)
    pipeline.steps[pipeline.steps.index(old)] = step
    for s in pipeline.steps:
        s.with_ = _replace_ref(s.with_, old.id, f"${{{sid}}}")
        s.depends = [sid if d == old.id else d for d in s.depends]
    return step


def apply_edits(
    original: Pipeline, message: str, nodes: dict[str, NodeDef], plan: Plan
) -> tuple[Pipeline, list[str]]:
    """The edited copy of ``original`` and what was done, one phrase per edit."""
    pipeline = copy.deepcopy(original)
    done: list[str] = []
    vocabs = {t: _words.vocabulary(n) for t, n in nodes.items()}
    before_params = _params_used(pipeline)
    removing = False  # "remove validation and normalization": the verb carries over
    for text in _edit_clauses(message, nodes):
        uris = [u.rstrip(".") for u in _words.URI.findall(text)]
        adding = bool(_ADD.search(text))
        if _REMOVE.search(text) or (removing and not adding):
            target = _step_named(pipeline, _REMOVE.sub(" ", text), nodes)
            if target is not None:
                remove_step(pipeline, target)
                done.append(f"removed step {target.id} ({target.node or target.kind})")
                removing = True
                continue
        removing = False
        place = _PLACE.search(text)
        head = text[: place.start()] if place else text
        node_type, _ = _words.best_node(head, nodes, vocabs)
        if node_type is None:
            continue
        node = nodes[node_type]
        present = next((s for s in pipeline.steps if s.node == node_type), None)
        settings = found_config(node_type, text, uris, plan)
        # a new write or notification when asked for ("also write a copy to ..."); else the
        # step there gets the settings named ("dedupe by customer_id")
        wants_new = adding and (not settings or _words.is_sink(node))
        if present is not None and not wants_new:
            if settings:
                present.config.update(settings)
                said = ", ".join(f"{k}={v!r}" for k, v in settings.items())
                done.append(f"set {said} on step {present.id}")
            continue
        config = configure(node_type, text, uris, plan)
        source = next((s for s in pipeline.steps if s.node and _is_source(s.node, nodes)), None)
        if _words.is_source(node) and source is not None:
            # one source feeds the chain: a new one takes the old one's place
            step = replace_step(pipeline, source, node, config)
            done.append(f"replaced step {source.id} ({source.node}) with {step.id} ({node_type})")
            continue
        after: Step | None = pipeline.steps[-1] if pipeline.steps else None
        before: Step | None = None
        if place is not None:
            target = _step_named(pipeline, place.group(2) + " " + text[place.end() :], nodes)
            if target is not None and place.group(1).lower() == "before":
                before, after = target, None
            elif target is not None:
                after = target
        elif _START.search(text) or _words.is_source(node):
            before = pipeline.steps[0] if pipeline.steps else None
            after = None
        step = add_step(pipeline, node, config, after=after, before=before)
        where = (
            f"before {before.id}"
            if before is not None
            else (f"after {after.id}" if after else "first")
        )
        done.append(f"added step {step.id} ({node_type}) {where}")
    # parameters only the removed steps used go with them; new ones come from plan
    used = _params_used(pipeline)
    for name in sorted(before_params - used):
        pipeline.params.pop(name, None)
    for name, default in plan.params.items():
        if name in used:
            pipeline.params.setdefault(name, default)
    for name in [n for n in plan.params if n not in used]:
        plan.params.pop(name)
    return pipeline, done


def _is_source(node_type: str, nodes: dict[str, NodeDef]) -> bool:
    return node_type in nodes and _words.is_source(nodes[node_type])

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
from dagy.studio_providers._config import Plan, configure, data_input, data_key, new_step_id

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


def apply_edits(
    original: Pipeline, message: str, nodes: dict[str, NodeDef], plan: Plan
) -> tuple[Pipeline, list[str]]:
    """The edited copy of ``original`` and what was done, one phrase per edit."""
    pipeline = copy.deepcopy(original)
    done: list[str] = []
    vocabs = {t: _words.vocabulary(n) for t, n in nodes.items()}
    before_params = _params_used(pipeline)
    for clause in _words.clauses(message):
        text = clause.text
        uris = [u.rstrip(".") for u in _words.URI.findall(text)]
        if _REMOVE.search(text):
            target = _step_named(pipeline, _REMOVE.sub(" ", text), nodes)
            if target is not None:
                remove_step(pipeline, target)
                done.append(f"removed step {target.id} ({target.node or target.kind})")
            continue
        place = _PLACE.search(text)
        head = text[: place.start()] if place else text
        node_type, _ = _words.best_node(head, nodes, vocabs)
        if node_type is None:
            continue
        present = next((s for s in pipeline.steps if s.node == node_type), None)
        settings = found_config(node_type, text, uris, plan)
        if present is not None and not (_ADD.search(text) and not settings):
            if settings:
                present.config.update(settings)
                said = ", ".join(f"{k}={v!r}" for k, v in settings.items())
                done.append(f"set {said} on step {present.id}")
            continue
        node = nodes[node_type]
        config = configure(node_type, text, uris, plan)
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
    return pipeline, done

"""The AI studio's provider interface: what a turn gives a provider and what it answers.

A provider turns one message (with the session's current pipeline, attachments and history) into
an answer in words and, for build and modify, a Pipeline. Providers are plugins: the entry-point
group ``dagy.ai_providers`` names a class (or factory) called with the settings STUDIO passes;
``offline`` and ``openai`` are registered by Dagy itself. STUDIO validates every returned pipeline
(dagy.pipelines.check) before it reaches a canvas.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from dagy.errors import RequestError, ServiceUnavailableError

if TYPE_CHECKING:
    from dagy.nodes.model import NodeDef
    from dagy.pipelines.model import Pipeline
    from dagy.pipelines.problems import Problem

ENTRY_POINT_GROUP = "dagy.ai_providers"
# The node types a provider may emit (the spec's "Executable Node Allowlist").
ALLOWLIST = (
    "s3_ingest",
    "s3_write",
    "http_fetch",
    "schema_validator",
    "data_normalizer",
    "deduplicator",
    "python_function",
    "webhook_post",
)
INTENTS = ("auto", "build", "modify", "advisory")

# emit(event, data): "progress" {"stage", "message"} and "delta" {"text"} as the turn goes.
Emit = Callable[[str, dict[str, Any]], None]


@dataclass(frozen=True)
class Attachment:
    name: str
    media_type: str
    text: str  # the parsed text STUDIO extracted


@dataclass(frozen=True)
class TurnInput:
    message: str  # <= 8000 chars (STUDIO checks)
    intent: str  # auto | build | modify | advisory
    pipeline: Pipeline | None  # the session's current pipeline (from its canvas), for modify
    attachments: list[Attachment] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)  # {"role", "content"}
    nodes: dict[str, NodeDef] = field(default_factory=dict)  # the registry as the org sees it
    tier: str = "standard"


@dataclass
class TurnOutput:
    intent: str  # what it did: build | modify | advisory
    response: str  # the answer in words (asks for what is missing)
    pipeline: Pipeline | None  # None for advisory
    research_sources: list[dict[str, Any]] = field(default_factory=list)
    usage: dict[str, Any] = field(default_factory=dict)  # tokens etc., informative


@runtime_checkable
class Provider(Protocol):
    name: str

    def turn(self, turn: TurnInput, *, emit: Emit) -> TurnOutput:
        """Answer one turn; call ``emit`` as it goes and stop (let it raise) when ``emit`` raises."""
        ...


class UnknownProviderError(ServiceUnavailableError):
    """A tier names a provider that no installed package registers (a server configuration error)."""


class ProviderError(RequestError):
    """The provider could not answer: its endpoint is unreachable or answered nonsense."""

    status, error = 502, "provider_error"


class UnbuildableError(RequestError):
    """A build or modify request did not produce a valid pipeline; ``details["errors"]`` lists
    the problems (the Problem.to_api() shape) when there are any."""

    status, error = 422, "workflow_invalid"

    def __init__(self, message: str, problems: list[Problem] | None = None) -> None:
        super().__init__(message, {"errors": [p.to_api() for p in problems or []]})
        self.problems = list(problems or [])


def noop_emit(event: str, data: dict[str, Any]) -> None:
    """An ``emit`` that drops everything (a synchronous turn)."""


# Dagy's own providers, found even when the installed metadata predates their entry points.
BUILTIN = {
    "offline": "dagy.studio_providers.offline:OfflineProvider",
    "openai": "dagy.studio_providers.openai:OpenAIProvider",
}


def provider_names() -> list[str]:
    """The names registered in the entry-point group (and the built-in ones), sorted."""
    from importlib.metadata import entry_points

    return sorted({ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)} | set(BUILTIN))


def _factory(name: str) -> tuple[Any, str]:
    from importlib import import_module
    from importlib.metadata import entry_points

    found = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == name]
    if found:
        return found[0].load(), found[0].value
    if name in BUILTIN:
        module, _, attr = BUILTIN[name].partition(":")
        return getattr(import_module(module), attr), BUILTIN[name]
    raise UnknownProviderError(
        f"Unknown AI provider '{name}' (installed: {', '.join(provider_names())})",
        {"provider": name},
    )


def load(name: str, settings: dict[str, Any] | None = None) -> Provider:
    """The provider registered as ``name`` in the entry-point group ``dagy.ai_providers``, built
    with ``settings`` (the provider's own keys, e.g. ``base_url``, ``model``, ``api_key`` for
    openai). UnknownProviderError (503) names the installed ones when there is no such provider."""
    factory, where = _factory(name)
    try:
        provider = factory(**dict(settings or {}))
    except TypeError as exc:
        raise UnknownProviderError(
            f"AI provider '{name}' ({where}) refused its settings: {exc}", {"provider": name}
        ) from None
    if not isinstance(provider, Provider):
        raise UnknownProviderError(
            f"AI provider '{name}' ({where}) is not a provider: it has no turn()",
            {"provider": name},
        )
    return provider

"""The AI studio's model providers, as plugins (entry-point group ``dagy.ai_providers``).

``offline`` is the embedded deterministic planner; ``openai`` talks to any OpenAI-compatible
chat-completions endpoint. ``pipeline_python`` writes a pipeline as a runnable @flow module.
"""

from __future__ import annotations

from dagy.studio_providers.base import (
    ALLOWLIST,
    ENTRY_POINT_GROUP,
    Attachment,
    Emit,
    Provider,
    ProviderError,
    TurnInput,
    TurnOutput,
    UnbuildableError,
    UnknownProviderError,
    load,
    noop_emit,
    provider_names,
)
from dagy.studio_providers.python_code import pipeline_python

__all__ = [
    "ALLOWLIST",
    "ENTRY_POINT_GROUP",
    "Attachment",
    "Emit",
    "Provider",
    "ProviderError",
    "TurnInput",
    "TurnOutput",
    "UnbuildableError",
    "UnknownProviderError",
    "load",
    "noop_emit",
    "pipeline_python",
    "provider_names",
]

"""Execution tiers (``execution_mode``) as Lambda sizes, and dependency-package slugs as layers."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Tier:
    memory_mb: int
    timeout_seconds: int


TIERS = {
    "nano": Tier(128, 60),
    "micro": Tier(256, 300),
    "small": Tier(512, 900),
    "medium": Tier(1024, 900),
    "large": Tier(3008, 900),
    "xlarge": Tier(10240, 900),
}
DEFAULT_TIER = "micro"
MODES = ("in-process", "task-isolated")  # one invocation per run, or one per task


def tier(name: str | None) -> Tier:
    """The Lambda size of an execution tier; ValueError naming the known ones."""
    chosen = name or DEFAULT_TIER
    if chosen not in TIERS:
        raise ValueError(f"Unknown execution tier {chosen!r} (one of {', '.join(TIERS)})")
    return TIERS[chosen]


def layer_arns(slugs: list[str], environ: Mapping[str, str] | None = None) -> list[str]:
    """The layer ARN of each dependency-package slug, from ``DAGY_LAMBDA_LAYERS`` (a JSON object
    ``{"pandas-layer": "arn:aws:lambda:...:layer:pandas-layer:3"}``); ValueError for a slug it
    does not name. Lambda takes at most 5 layers."""
    from dagy.config import settings

    try:
        known = json.loads(settings.LAMBDA_LAYERS.get(environ))
    except ValueError:
        raise ValueError("DAGY_LAMBDA_LAYERS must be a JSON object of slug: layer ARN") from None
    missing = [s for s in slugs if s not in known]
    if missing:
        raise ValueError(
            f"Unknown dependency package {missing[0]!r}: DAGY_LAMBDA_LAYERS names "
            f"{', '.join(sorted(known)) or 'none'}"
        )
    if len(slugs) > 5:
        raise ValueError(f"A Lambda function takes at most 5 layers, got {len(slugs)}")
    return [str(known[s]) for s in slugs]

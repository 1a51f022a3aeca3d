"""The AI studio's tiers: which provider answers a session's turns, what a turn costs in credits,
and a session's limits. Defaults here; ``DAGY_STUDIO_TIERS`` (JSON, or ``@path`` to a JSON file)
changes them: ``{"advanced": {"provider": "openai", "settings": {"base_url": ..., "model": ...},
"credits_per_turn": 4}}`` merges onto the tier of that name (a new name adds a tier)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dagy.config import settings
from dagy.errors import ConfigError, InvalidInputError

MAX_MESSAGE_CHARS = 8000
MAX_ATTACHMENT_BYTES = 25 * 1024 * 1024
DEFAULT_TIER = "standard"

DEFAULTS: dict[str, dict[str, Any]] = {
    "standard": {
        "label": "Standard",
        "description": "The offline planner: deterministic, no network, no model",
        "provider": "offline",
        "settings": {},
        "credits_per_turn": 1.0,
        "max_turns_per_session": 100,
        "max_attachments_per_session": 10,
    },
    "advanced": {
        "label": "Advanced",
        "description": "An LLM provider when one is configured (DAGY_STUDIO_TIERS), else offline",
        "provider": "offline",
        "settings": {},
        "credits_per_turn": 4.0,
        "max_turns_per_session": 200,
        "max_attachments_per_session": 20,
    },
}


@dataclass(frozen=True)
class Tier:
    name: str
    label: str
    description: str
    provider: str
    credits_per_turn: float
    max_turns_per_session: int
    max_attachments_per_session: int
    settings: dict[str, Any] = field(default_factory=dict)

    def to_api(self) -> dict[str, Any]:
        return {
            "tier": self.name,
            "label": self.label,
            "description": self.description,
            "provider": self.provider,
            "credits_per_turn": self.credits_per_turn,
            "default": self.name == DEFAULT_TIER,
            "limits": {
                "max_turns_per_session": self.max_turns_per_session,
                "max_attachments_per_session": self.max_attachments_per_session,
                "max_message_chars": MAX_MESSAGE_CHARS,
                "max_attachment_bytes": MAX_ATTACHMENT_BYTES,
            },
        }


def _overrides() -> dict[str, Any]:
    raw = settings.STUDIO_TIERS.get()
    if not raw:
        return {}
    name = settings.STUDIO_TIERS.name
    try:
        text = Path(raw[1:]).expanduser().read_text(encoding="utf-8") if raw[0] == "@" else raw
        data = json.loads(text)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{name} must be JSON (or @file of JSON): {exc}") from None
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise ConfigError(f"{name} must be an object of tier name -> object")
    return data


def tiers() -> dict[str, Tier]:
    """Every tier, defaults changed by DAGY_STUDIO_TIERS (read at call time)."""
    merged = {k: dict(v) for k, v in DEFAULTS.items()}
    for name, change in _overrides().items():
        merged[name] = {**merged.get(name, DEFAULTS[DEFAULT_TIER]), **change}
    out = {}
    for name, t in merged.items():
        try:
            out[name] = Tier(
                name=name,
                label=str(t.get("label") or name),
                description=str(t.get("description") or ""),
                provider=str(t["provider"]),
                credits_per_turn=float(t["credits_per_turn"]),
                max_turns_per_session=int(t["max_turns_per_session"]),
                max_attachments_per_session=int(t["max_attachments_per_session"]),
                settings=dict(t.get("settings") or {}),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"{settings.STUDIO_TIERS.name}: tier {name!r}: {exc}") from None
        bad = out[name].credits_per_turn < 0 or out[name].max_turns_per_session < 0
        if bad or out[name].max_attachments_per_session < 0:
            raise ConfigError(
                f"{settings.STUDIO_TIERS.name}: tier {name!r}: credits and limits must be >= 0"
            )
    return out


def tier(name: Any) -> Tier:
    """The tier called ``name``; a 400 naming the known ones otherwise."""
    found = tiers()
    if not isinstance(name, str) or name not in found:
        raise InvalidInputError(
            f"Unknown tier: {name!r}", {"tier": f"one of {', '.join(sorted(found))}"}
        )
    return found[name]

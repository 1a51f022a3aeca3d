"""The one check for the name a person gives a resource (a sensor, an API key, a channel, an alert
rule, a draft, a studio session's title, an org...): what lists, logs and audit rows show.

Trimmed; 1..max_length characters; no control characters (NUL, newlines, tabs, DEL, C1) and no
bidirectional controls (U+202A-U+202E overrides and embeddings, U+2066-U+2069 isolates, the
LRM/RLM/ALM marks) nor line/paragraph separators: each can hide or reorder what a reader sees
in a terminal, a log line or a page. Slug-like names (deployments, secrets, environments, flows)
have stricter patterns of their own.
"""

from __future__ import annotations

import re
from typing import Any

from dagy.errors import InvalidInputError

MAX_NAME = 200
_FORBIDDEN = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]"
)


def check_display_name(
    value: Any, field: str = "name", *, max_length: int = MAX_NAME, message: str | None = None
) -> str:
    """``value`` trimmed, or InvalidInputError (400) whose details name ``field``."""
    text = value.strip() if isinstance(value, str) else None
    if not text or len(text) > max_length or _FORBIDDEN.search(text):
        raise InvalidInputError(
            message or f"Invalid {field}",
            {field: f"1 to {max_length} characters, no control or bidi-override characters"},
        )
    return text

"""What every sender shares: its config fields, the outcome of one attempt, and what it is given."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

Kind = Literal["url", "text", "port", "bool", "email", "emails", "secret_name", "choice"]


@dataclass(frozen=True)
class Field:
    """One key of a channel's ``config_json``. A ``secret`` field is stored sealed and shown
    masked; ``default`` fills an absent optional field."""

    name: str
    kind: Kind
    required: bool = False
    secret: bool = False
    default: Any = None
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class Outcome:
    """One delivery attempt: ``status_code`` is the receiver's (HTTP status or SMTP reply)."""

    success: bool
    status_code: int | None = None
    error: str | None = None


@dataclass(frozen=True)
class Context:
    """What a send needs besides the channel's config and the notification."""

    timeout: float = 10.0
    delivery_id: str = "test"  # the job id, or "test" for POST /alert-rules/{id}/test
    # A Dagy secret's value by name (the email password); raises when there is none.
    secret: Callable[[str], str] = field(default=lambda name: "")


def summary(notification: dict[str, Any]) -> str:
    return str(notification.get("summary") or notification.get("event") or "Dagy notification")

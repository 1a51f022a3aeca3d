"""The AI studio's refusals, as the server reports them (the spec's error shape, plus fields)."""

from __future__ import annotations

from typing import Any

from dagy.errors import ConflictError, PermissionDeniedError, QuotaExceededError, RequestError


class TurnInvalidError(RequestError):
    """A build or modify turn did not produce a valid workflow (422): the body carries the turn's
    answer (``response``, ``validation``, ``workflow_errors`` ...) beside the error."""

    status, error = 422, "workflow_invalid"

    def __init__(self, message: str, fields: dict[str, Any]) -> None:
        errors = fields.get("workflow_errors") or []
        super().__init__(message, {"errors": errors})
        self.fields = fields


class DuplicateTurnError(ConflictError):
    """The same turn_id / X-Idempotency-Key again (409); ``replay`` is the stored answer of the
    earlier turn when it has finished."""

    error = "duplicate_turn"

    def __init__(self, message: str, details: dict[str, Any], replay: Any = None) -> None:
        super().__init__(message, details)
        self.fields = {"replay": replay}


class FeatureDisabledError(PermissionDeniedError):
    error = "feature_disabled"


class StudioLimitError(QuotaExceededError):
    """A session's turn or attachment limit (429)."""

    error = "limit_reached"

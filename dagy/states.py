"""Run and task-run states, in the one vocabulary every front end shows, and the API's words.

The CLI, the TUI and the store speak the CLI spec's words (``SUCCEEDED``, ``FAILED``, ...); the REST
API speaks its own (``completed``, ``failed``, ...). ``to_api`` and ``from_api`` are the only
translation between them, used where JSON is shaped (the server) or read (the HTTP backend).
"""

from __future__ import annotations

PENDING = "PENDING"
RUNNING = "RUNNING"
SUCCEEDED = "SUCCEEDED"
FAILED = "FAILED"
CANCELLED = "CANCELLED"
# Task-run-only states.
RETRYING = "RETRYING"
UPSTREAM_FAILED = "UPSTREAM_FAILED"
SKIPPED = "SKIPPED"  # a pipeline step on a branch its condition did not take

RUN_STATUSES = (PENDING, RUNNING, SUCCEEDED, FAILED, CANCELLED)
ACTIVE_STATUSES = (PENDING, RUNNING)
FINAL_STATUSES = (SUCCEEDED, FAILED, CANCELLED)
TASK_STATUSES = (
    PENDING,
    RUNNING,
    RETRYING,
    SUCCEEDED,
    FAILED,
    CANCELLED,
    UPSTREAM_FAILED,
    SKIPPED,
)

# Run states as the API names them (GET /runs, ...).
API_STATUS = {
    PENDING: "queued",
    RUNNING: "running",
    SUCCEEDED: "completed",
    FAILED: "failed",
    CANCELLED: "cancelled",
}
_FROM_API = {api: state for state, api in API_STATUS.items()}


def to_api(state: str) -> str:
    """A run state as the API names it (task-run states are the lower-case word)."""
    return API_STATUS.get(state, state.lower())


def from_api(word: str | None) -> str:
    """An API state word (run or task run) in the CLI's vocabulary; ``queued`` is ``PENDING``."""
    if not word:
        return PENDING
    return _FROM_API.get(word, word.upper())


def api_words() -> tuple[str, ...]:
    return tuple(_FROM_API)

"""Calls into the data source off the UI thread; a known error becomes a notice, never a crash."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from textual.dom import DOMNode
from textual.worker import get_current_worker

from dagy.errors import DagyError

T = TypeVar("T")
# What a source raises for a problem a user can act on: the server unreachable (APIError), the
# file busy (StoreBusyError), a refused action (InvalidInputError, PermissionDeniedError, ...),
# permission denied on the home (PermissionError), a bad filter (ValueError).
KNOWN_ERRORS = (DagyError, OSError, ValueError)


def in_background(
    node: DOMNode,
    call: Callable[[], T],
    done: Callable[[T], Any],
    *,
    group: str,
    failed: Callable[[str], Any] | None = None,
) -> None:
    """Run ``call()`` in a thread worker of ``group`` (a newer call replaces an older one's
    result), then ``done(result)`` on the UI thread; a known error shows as a notice."""
    app = node.app

    def job() -> None:
        worker = get_current_worker()
        try:
            result = call()
        except KNOWN_ERRORS as exc:
            if not worker.is_cancelled:
                app.call_from_thread(_report, app, str(exc) or type(exc).__name__, failed)
            return
        except Exception as exc:  # a bug or an unexpected store error: say so, keep the app up
            message = f"Internal error: {type(exc).__name__}: {exc}"
            app.call_from_thread(_report, app, message, failed)
            return
        if not worker.is_cancelled:
            app.call_from_thread(done, result)

    node.run_worker(job, thread=True, group=group, exclusive=True, exit_on_error=False)


def _report(app: Any, message: str, failed: Callable[[str], Any] | None) -> None:
    app.notify(message, title="Dagy", severity="error", timeout=8)
    if failed is not None:
        failed(message)

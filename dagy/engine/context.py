"""What a running task can know about itself: its run, task run, attempt and folders.

The executors bind a ``TaskContext`` around the task call (the thread executor in its worker
thread, ``_child.run_payload`` in a child process or a dask worker); ``current()`` answers it, or
None outside a task (a task function called directly, a test). Node implementations write their
dataframes into ``artifact_dir`` and resolve ``path.py:function`` against ``base_dir``.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class TaskContext:
    run_id: str
    task_run_id: str
    attempt: int
    artifact_dir: Path  # artifacts/<run_id>/<task_run_id>/: result.json and the task's own files
    task_dir: Path  # runs/<run_id>/tasks/<task_run_id>/: task.log, metadata.json
    entrypoint: str | None = None  # "/abs/flows.py:etl" or "/abs/pipeline.yaml:orders_etl"

    @property
    def base_dir(self) -> Path | None:
        """The folder of the flow or pipeline file, when the run has one."""
        if not self.entrypoint:
            return None
        file = self.entrypoint
        # "path:name", but a Windows drive letter ("C:\\...") is not a separator.
        head, sep, tail = file.rpartition(":")
        if sep and head and ("/" not in tail and "\\" not in tail):
            file = head
        return Path(file).resolve().parent


_current: contextvars.ContextVar[TaskContext | None] = contextvars.ContextVar(
    "dagy_task_context", default=None
)


def current() -> TaskContext | None:
    """The context of the task running in this thread, or None outside a task."""
    return _current.get()


@contextlib.contextmanager
def bound(context: TaskContext) -> Iterator[TaskContext]:
    """Make ``context`` the current one for the duration of the ``with`` block."""
    token = _current.set(context)
    try:
        yield context
    finally:
        _current.reset(token)

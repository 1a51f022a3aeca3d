"""Seams for testing flows: a temporary Dagy home, so tests never touch ``~/.dagy``."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from dagy.config import settings
from dagy.config.paths import DagyPaths


@contextlib.contextmanager
def temporary_home(path: str | Path | None = None) -> Iterator[DagyPaths]:
    """Point ``DAGY_LOCAL_DIR`` at a fresh directory for the duration of the block.

    >>> with temporary_home() as paths:
    ...     my_flow(date="2026-03-04")   # runs, store and artifacts live under paths.home
    """
    name = settings.LOCAL_DIR.name
    saved = os.environ.get(name)  # restored as it was, unset or not
    with contextlib.ExitStack() as stack:
        home = (
            Path(path)
            if path is not None
            else Path(stack.enter_context(tempfile.TemporaryDirectory()))
        )
        os.environ[name] = str(home)
        try:
            yield DagyPaths(home.resolve())
        finally:
            if saved is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = saved

"""The logger a task uses: its records land in the task's own ``task.log``."""

from __future__ import annotations

import logging


def get_run_logger() -> logging.Logger:
    """A logger at INFO whose records the engine routes to the current task's log."""
    logger = logging.getLogger("dagy.task")
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.INFO)
    return logger

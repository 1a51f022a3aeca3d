"""Dagy's ``dask`` executor: task attempts run on the workers of a dask.distributed scheduler."""

from __future__ import annotations

__all__ = ["SCHEDULER_ENV"]

SCHEDULER_ENV = "DAGY_DASK_SCHEDULER"  # declared in dagy.config.settings (DASK_SCHEDULER)

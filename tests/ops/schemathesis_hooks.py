"""Hooks for the whole-API schemathesis run (tests/ops/test_schemathesis_api.py), loaded by
schemathesis from this file's path, never imported by pytest.

``next_token`` is an opaque cursor a previous page hands out: a generated one is a malformed
cursor, and the 400 it gets is right (tests/server cover it). Generated requests leave it out so
``positive_data_acceptance`` judges the parameters that are described by their schema."""

from __future__ import annotations

from typing import Any

import schemathesis


@schemathesis.hook
def before_call(ctx: Any, case: Any, **kwargs: Any) -> None:
    if isinstance(case.query, dict):
        case.query.pop("next_token", None)

"""Hooks for the whole-API schemathesis run (tests/ops/test_schemathesis_api.py), loaded by
schemathesis from this file's path, never imported by pytest.

``next_token`` is an opaque cursor a previous page hands out: a generated one is a malformed
cursor, and the 400 it gets is right (tests/server cover it). Generated requests leave it out so
``positive_data_acceptance`` judges the parameters that are described by their schema.

A path parameter named like a resource the test made (DAGY_FUZZ_IDS) takes that resource's id
about every other time, so requests reach real runs, secrets, drafts... and not only 404s."""

from __future__ import annotations

import json
import os
from typing import Any

import schemathesis

# Ids of resources the test made before the run (DAGY_FUZZ_IDS: {"run_id": ..., ...}).
KNOWN: dict[str, str] = json.loads(os.environ.get("DAGY_FUZZ_IDS") or "{}")


@schemathesis.hook
def before_call(ctx: Any, case: Any, **kwargs: Any) -> None:
    if isinstance(case.query, dict):
        case.query.pop("next_token", None)
    params = case.path_parameters
    if isinstance(params, dict):
        for name, value in params.items():
            # a real id about every other time (decided by the generated value: reproducible)
            if name in KNOWN and len(str(value)) % 2 == 0:
                params[name] = KNOWN[name]

"""``dagy.secret(name)``: a secret's value inside a task, redacted from its logs from then on.

A run the server executes gets its secrets injected: ``DAGY_SECRETS_FILE`` names a 0600 JSON file
(``{"environment": ..., "secrets": {name: value}}``) written for the run and deleted after it.
Without one (a local `dagy run`), the value comes from where the CLI's backend looks (the
``secret_value`` hook: a remote API, this home's live server, or the file with the master key). ``DAGY_ENVIRONMENT`` (set by
`dagy run --env`) picks that environment's secret over the one of no environment.
"""

from __future__ import annotations

import json
from typing import Any

from dagy.config import settings

FILE_VAR = settings.SECRETS_FILE.name
ENVIRONMENT_VAR = settings.ENVIRONMENT.name


def secret(name: str, *, environment: str | None = None) -> str:
    """The value of secret ``name``. What the task prints or logs shows it as ``****``."""
    from dagy.engine import _capture

    injected = settings.SECRETS_FILE.get()
    if injected:
        value = _from_file(injected, name)
    else:
        from dagy.config.paths import DagyPaths
        from dagy.sdk import hooks

        scope = environment or settings.ENVIRONMENT.get()
        value = hooks.get("secret_value")(DagyPaths.from_env(), name, scope)
    _capture.register_secret(value)
    return value


def _from_file(path: str, name: str) -> str:
    from dagy.engine import _capture
    from dagy.errors import NotFoundError

    try:
        with open(path, encoding="utf-8") as fh:
            data: Any = json.load(fh)
        values = data["secrets"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise NotFoundError(
            f"The run's secrets file ({FILE_VAR}) cannot be read: {type(exc).__name__}"
        ) from None
    for value in values.values():  # all of them: a task may print one it got another way
        _capture.register_secret(str(value))
    if name not in values:
        raise NotFoundError(f"Secret not found: {name} (not among this run's secrets)")
    return str(values[name])

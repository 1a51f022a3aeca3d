"""Polling sensors: look at an HTTP URL or call a ``module:function`` every ``interval_seconds``.

Each look gives an *observation*, or None when the condition does not hold:

- ``url``: a GET; the condition holds when the status is ``expect_status`` (default 200). The
  observation is the value at ``json_field`` (a dotted path into the JSON body; None when it is
  missing or null), or without ``json_field`` the SHA-256 of the body.
- ``check``: ``"package.module:function"`` or ``"/path/file.py:function"``, called with no
  arguments in a child process (user code never runs in the server) within ``timeout_seconds``;
  a truthy JSON-able return value is the observation.

The service fires once per observation that differs from the last one that fired (its
fingerprint is stored), so a condition that stays true fires once, and a changed one once more.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import re
import subprocess
import sys
import urllib.error
import urllib.request
from typing import Any

from dagy import egress
from dagy.sensors import _config

KEYS = frozenset(
    {"url", "check", "interval_seconds", "expect_status", "json_field", "timeout_seconds"}
)
DEFAULT_TIMEOUT = 10.0
MAX_TIMEOUT = 300.0
MAX_BODY = 1024 * 1024  # bytes of a response looked at
_CHECK = re.compile(r"^[^:\s][^:]*:[A-Za-z_][A-Za-z0-9_]*$")
_FIELD = re.compile(r"^[^.\s]+(\.[^.\s]+)*$")


class CheckError(Exception):
    """The look itself failed (unreachable URL, a check that raised or timed out)."""


def check_config(config: dict[str, Any]) -> dict[str, Any]:
    _config.known_keys(config, KEYS)
    _config.payload_param(config)
    _config.interval(config)
    _config.number(config, "timeout_seconds", DEFAULT_TIMEOUT, 0.1, MAX_TIMEOUT)
    url = _config.string(config, "url")
    check = _config.string(config, "check")
    if (url is None) == (check is None):
        raise _config.invalid("url", "or check is required (exactly one of them)")
    if url is not None:
        if not url.startswith(("http://", "https://")):
            raise _config.invalid("url", "must be an http:// or https:// URL")
        status = config.get("expect_status", 200)
        if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
            raise _config.invalid("expect_status", "must be an HTTP status (100-599)")
        field = _config.string(config, "json_field")
        if field is not None and not _FIELD.match(field):
            raise _config.invalid("json_field", "must be a dotted path (data.version)")
    else:
        for key in ("expect_status", "json_field"):
            if key in config:
                raise _config.invalid(key, "applies to url polling only")
        if not _CHECK.match(check or ""):
            raise _config.invalid("check", "must be 'module:function' or 'file.py:function'")
    return config


def observe(config: dict[str, Any]) -> Any:
    """The observation now (None: the condition does not hold); CheckError when looking failed."""
    timeout = float(config.get("timeout_seconds", DEFAULT_TIMEOUT))
    if config.get("url"):
        return _observe_url(config, timeout)
    return call_check(str(config["check"]), timeout)


def fingerprint(observation: Any) -> str:
    text = json.dumps(observation, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _observe_url(config: dict[str, Any], timeout: float) -> Any:
    request = urllib.request.Request(str(config["url"]), headers={"User-Agent": "dagy-sensor"})
    try:
        with egress.urlopen(request, timeout=timeout) as resp:
            status, body = resp.status, resp.read(MAX_BODY)
    except urllib.error.HTTPError as exc:
        status, body = exc.code, b""
    except (OSError, ValueError, http.client.HTTPException) as exc:
        raise CheckError(f"GET failed: {type(exc).__name__}: {exc}") from None
    if status != config.get("expect_status", 200):
        return None
    field = config.get("json_field")
    if not field:
        return hashlib.sha256(body).hexdigest()
    try:
        value: Any = json.loads(body)
    except ValueError:
        return None
    for part in str(field).split("."):
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


_CALL = """
import json, sys
from dagy.sensors.polling import _call_in_child
sys.stdout.write(json.dumps(_call_in_child(sys.argv[1]), default=str))
"""


def call_check(target: str, timeout: float) -> Any:
    """Call ``target`` in a child process; its truthy return value, else None."""
    try:
        done = subprocess.run(
            [sys.executable, "-c", _CALL, target],
            capture_output=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        raise CheckError(f"check {target} took longer than {timeout:g}s") from None
    if done.returncode != 0:
        last = (done.stderr.decode("utf-8", "replace").strip().splitlines() or ["no output"])[-1]
        raise CheckError(f"check {target} failed: {last[:500]}")
    try:
        value = json.loads(done.stdout or b"null")
    except ValueError:
        raise CheckError(f"check {target} printed something else than its result") from None
    return value or None


def _call_in_child(target: str) -> Any:
    import contextlib
    import importlib
    import io

    where, _, name = target.rpartition(":")
    with contextlib.redirect_stdout(io.StringIO()):  # what the check prints is not its result
        if where.endswith(".py"):
            from dagy.sdk.loader import load_module

            module = load_module(where)
        else:
            module = importlib.import_module(where)
        return getattr(module, name)()

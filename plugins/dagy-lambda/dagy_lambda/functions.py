"""The Lambda function Dagy runs on: created or brought up to date for a tier and its layers, and
invoked with a handler event (dagy_lambda/handler.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

from dagy.config import settings
from dagy.errors import DagyError
from dagy_lambda.tiers import layer_arns, tier

DEFAULT_FUNCTION = settings.LAMBDA_FUNCTION.default
HANDLER = "dagy_lambda.handler.handler"
RUNTIME = "python3.11"


class LambdaError(DagyError):
    """Lambda refused the request, or the function failed before the handler answered."""


def function_name(environ: Any = None) -> str:
    return settings.LAMBDA_FUNCTION.get(environ)


def config_for(execution_mode: str | None, dep_package_slugs: list[str]) -> dict[str, Any]:
    """MemorySize, Timeout and Layers of a tier and its dependency packages."""
    size = tier(execution_mode)
    return {
        "MemorySize": size.memory_mb,
        "Timeout": size.timeout_seconds,
        "Layers": layer_arns(dep_package_slugs),
    }


def ensure_function(
    client: Any,
    name: str,
    *,
    role_arn: str,
    code_zip: bytes,
    execution_mode: str | None = None,
    dep_package_slugs: list[str] | None = None,
) -> dict[str, Any]:
    """Create the function, or update its size and layers; the function's configuration."""
    config = config_for(execution_mode, dep_package_slugs or [])
    try:
        client.get_function(FunctionName=name)
    except client.exceptions.ResourceNotFoundException:
        created: dict[str, Any] = client.create_function(
            FunctionName=name,
            Runtime=RUNTIME,
            Role=role_arn,
            Handler=HANDLER,
            Code={"ZipFile": code_zip},
            **config,
        )
        return created
    updated: dict[str, Any] = client.update_function_configuration(FunctionName=name, **config)
    return updated


def invoke(event: dict[str, Any], *, client: Any = None, name: str | None = None) -> dict[str, Any]:
    """The handler's answer to ``event``; LambdaError when the function itself failed.

    ``DAGY_LAMBDA_INVOKE=subprocess`` runs the handler in a fresh Python process of this machine
    instead of calling Lambda: the same event, code and S3 round trips, for tests and for trying
    a deployment without an AWS account (moto's Lambda cannot run code without Docker)."""
    if settings.LAMBDA_INVOKE.get() == "subprocess":
        return _invoke_here(event)
    if client is None:
        import boto3

        client = boto3.client("lambda")
    answer = client.invoke(
        FunctionName=name or function_name(),
        InvocationType="RequestResponse",
        Payload=json.dumps(event).encode(),
    )
    payload = answer["Payload"].read().decode("utf-8", "replace")
    if answer.get("FunctionError"):
        raise LambdaError(f"Lambda function failed ({answer['FunctionError']}): {payload[:500]}")
    try:
        body: dict[str, Any] = json.loads(payload)
    except ValueError:
        raise LambdaError(f"Lambda function answered no JSON: {payload[:500]}") from None
    return body


def _invoke_here(event: dict[str, Any]) -> dict[str, Any]:
    code = (
        "import json, sys; from dagy_lambda.handler import handler; "
        "print(json.dumps(handler(json.load(sys.stdin), None)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        input=json.dumps(event),
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, settings.LOCAL_DIR.name: settings.LAMBDA_HOME.get()},
    )
    if done.returncode != 0:
        raise LambdaError(f"Lambda function failed (Unhandled): {done.stderr.strip()[-500:]}")
    answer: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return answer

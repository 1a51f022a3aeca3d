"""Which bucket artifacts go to, as `dagy deploy` resolves it: ``--bucket``, else
``DAGY_ARTIFACT_BUCKET``, else ``dagy-artifacts-<account_id>-<region>`` from STS, else
``dagy-artifacts``."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

log = logging.getLogger("dagy.s3")
FALLBACK = "dagy-artifacts"


def region_of(session: Any) -> str:
    return str(session.region_name or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1")


def resolve_bucket(
    explicit: str | None,
    *,
    session: Any = None,
    environ: Mapping[str, str] | None = None,
) -> str:
    """The bucket name; STS is asked only when neither a flag nor the variable names one."""
    from dagy.config import settings

    if explicit:
        return explicit
    from_env = settings.ARTIFACT_BUCKET.get(environ)
    if from_env:
        return from_env
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    session = session or boto3.session.Session()
    try:
        account = session.client("sts").get_caller_identity()["Account"]
    except (BotoCoreError, ClientError, KeyError) as exc:
        log.info("STS is unavailable (%s): using the bucket %s", type(exc).__name__, FALLBACK)
        return FALLBACK
    # The spec's example bucket spells the region without dashes: dagy-artifacts-<id>-useast1.
    return f"dagy-artifacts-{account}-{region_of(session).replace('-', '')}"

"""moto's S3 server on 127.0.0.1 (a real HTTP endpoint, in its own process), reached with boto3
through AWS_ENDPOINT_URL; and the core's fixtures for a temporary Dagy home and the real command."""

from __future__ import annotations

import pytest

pytest.importorskip("dagy_s3", reason="the dagy-s3 plugin is not installed")
pytest.importorskip("moto", reason="moto is not installed (pip install -e '.[dev]')")

from dagy_s3.testing import aws, bucket, moto_endpoint, s3  # noqa: E402, F401 - fixtures

from tests.conftest import dagy_home, run_dagy, write_flow  # noqa: E402, F401 - fixtures

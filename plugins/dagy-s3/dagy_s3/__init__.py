"""Dagy's artifact store on S3: ``pip install ./plugins/dagy-s3``, then ``DAGY_ARTIFACT_STORE=s3``."""

from dagy_s3.bucket import resolve_bucket
from dagy_s3.store import S3ArtifactStore

__all__ = ["S3ArtifactStore", "resolve_bucket"]

"""A deploy's multipart upload through the API (POST /artifacts/initiate, /abort): started and
dropped with their audit rows (``artifact_upload``). Completing it is deploy.register's."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dagy.services.accounts import audit
from dagy.services.catalog import deploy

if TYPE_CHECKING:
    from dagy.artifacts.base import ArtifactStore, Upload
    from dagy.services.accounts.audit import Actor
    from dagy.store.duckdb_store import DuckDBStore


def start(
    store: DuckDBStore,
    artifacts: ArtifactStore,
    actor: Actor,
    request: deploy.DeployRequest,
    *,
    prefix: str | None,
    file_size: int,
    part_size: int,
    expires_in: int,
) -> tuple[Upload, str]:
    """Refuse what the deploy would refuse, then start the upload at the flow version's key;
    returns (upload, artifact_key)."""
    deploy.check_request(store, actor.org_id, request)
    key = deploy.artifact_key(prefix, actor.org_id, request.flow_name, request.flow_version)
    upload = artifacts.initiate(key, file_size, part_size, expires_in)
    with store.transaction():
        audit.write(
            store,
            actor,
            "create",
            "artifact_upload",
            upload.upload_id,
            resource_name=f"{request.flow_name}:{request.flow_version}",
            changes={"artifact_key": [None, key], "file_size": [None, file_size]},
            org_id=actor.org_id,
        )
    return upload, key


def abort(
    store: DuckDBStore, artifacts: ArtifactStore, actor: Actor, key: str, upload_id: str
) -> None:
    """Drop an upload and its parts (NotFoundError for an unknown one), and say so in the audit."""
    artifacts.abort(key, upload_id)
    with store.transaction():
        audit.write(
            store,
            actor,
            "delete",
            "artifact_upload",
            upload_id,
            resource_name=key,
            org_id=actor.org_id,
        )

"""Artifacts: the multipart upload `dagy deploy` drives — initiate, parts, complete, abort.

The store is the configured one (``DAGY_ARTIFACT_STORE``, default ``local``). With the local
store the part URLs point back here, at ``PUT /artifacts/uploads/{id}/parts/{n}``: public, because
the URL's signature and expiry are the credential, as an S3 presigned URL's are. See docs/deploy.md.
"""

from __future__ import annotations

from typing import Any

import anyio.to_thread
from litestar import Request, Response, post, put

from dagy.artifacts import ArtifactStore, get_store
from dagy.artifacts.base import DEFAULT_PART_SIZE, MAX_PART_SIZE
from dagy.artifacts.local import LocalArtifactStore
from dagy.auth import rbac
from dagy.config import settings
from dagy.errors import InvalidInputError, NotFoundError
from dagy.server.openapi import Body
from dagy.server.security import actor_of, identity_of, state_of
from dagy.services.catalog import deploy, uploads
from dagy.store.records import iso_z

# Bytes of a part handed to a worker thread at once: what a part upload holds in memory.
WRITE_BATCH = 1024 * 1024


class InitiateBody(Body):
    flow_name: str
    flow_version: str | int
    deployment_name: str
    file_size: int
    part_size: int | None = None
    prefix: str | None = None  # the key's first segments; `dagy deploy --prefix`


class PartETag(Body):
    part_number: int
    etag: str


class CompleteBody(Body):
    upload_id: str
    artifact_key: str
    parts: list[PartETag]
    deployment_name: str
    flow_name: str
    flow_version: str | int
    status: str | None = None
    schedule: str | None = None
    timezone: str | None = None
    default_executor: str | None = None
    tags: dict[str, Any] | None = None
    namespace: str | None = None
    environment: str | None = None
    execution_mode: str | None = None
    flow_spec: dict[str, Any] | None = None
    code_hash: str | None = None
    dep_package_slugs: list[str] | None = None


# CompleteBody's fields that DeployRequest takes as they are (None: the default)
OPTIONAL = (
    "status",
    "schedule",
    "timezone",
    "default_executor",
    "execution_mode",
    "environment",
    "namespace",
    "tags",
    "dep_package_slugs",
    "code_hash",
)


class AbortBody(Body):
    upload_id: str
    artifact_key: str


def _store(request: Request[Any, Any, Any]) -> ArtifactStore:
    """The app's artifact store, built once; part URLs name this server's public API URL."""
    app_state = request.app.state
    store: ArtifactStore | None = getattr(app_state, "artifact_store", None)
    if store is None:
        state = state_of(request)
        api_url = settings.PUBLIC_API_URL.get() or state.api_url
        store = get_store(paths=state.paths, api_url=api_url.rstrip("/"))
        app_state.artifact_store = store
    return store


def _key_of(data: CompleteBody | AbortBody, org_id: str) -> str:
    """The body's artifact_key, when it is one of the caller's org (else the upload is not found)."""
    if deploy.key_flow(data.artifact_key, org_id) is None:
        raise NotFoundError(f"Upload not found: {data.upload_id}")
    return data.artifact_key


def _request(data: InitiateBody | CompleteBody) -> deploy.DeployRequest:
    given = {} if isinstance(data, InitiateBody) else {k: getattr(data, k) for k in OPTIONAL}
    if not data.flow_name or data.flow_version in ("", None):
        raise InvalidInputError("flow_name and flow_version are required", {"flow_name": "empty"})
    return deploy.DeployRequest(
        deployment_name=data.deployment_name,
        flow_name=data.flow_name,
        flow_version=str(data.flow_version),
        **{k: v for k, v in given.items() if v is not None},
    )


@post(
    "/artifacts/initiate", status_code=200, sync_to_thread=True, opt={"permission": "flows.write"}
)
def initiate(request: Request[Any, Any, Any], data: InitiateBody) -> dict[str, Any]:
    actor = actor_of(request)
    ttl = max(1, settings.ARTIFACT_URL_TTL.get())
    upload, key = uploads.start(
        state_of(request).store,
        _store(request),
        actor,
        _request(data),
        prefix=data.prefix,
        file_size=data.file_size,
        part_size=DEFAULT_PART_SIZE if data.part_size is None else data.part_size,
        expires_in=ttl,
    )
    return {
        "upload_id": upload.upload_id,
        "artifact_key": key,
        "parts": [
            {"part_number": p.part_number, "url": p.url, "size": p.size} for p in upload.parts
        ],
        "expires_at": iso_z(upload.expires_at),
    }


@put(
    "/artifacts/uploads/{upload_id:str}/parts/{part_number:int}",
    status_code=200,
    request_max_body_size=MAX_PART_SIZE,
    opt={"permission": rbac.PUBLIC, "errors": [403, 413]},  # the signed URL is the credential
)
async def upload_part(
    request: Request[Any, Any, Any],
    upload_id: str,
    part_number: int,
    expires: str = "",
    signature: str = "",
) -> Response[None]:
    """Receive one part of a local-store upload, streamed to disk; its ETag (quoted md5 hex)."""
    store = _store(request)
    if not isinstance(store, LocalArtifactStore):
        raise NotFoundError(f"Upload not found: {upload_id}")
    await anyio.to_thread.run_sync(
        store.verify_part_url, upload_id, part_number, expires, signature
    )
    writer = await anyio.to_thread.run_sync(store.part_writer, upload_id, part_number)
    try:
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) != writer.size:
            raise writer.wrong_size(declared)
        batch = bytearray()
        async for chunk in request.stream():
            batch += chunk
            if len(batch) >= WRITE_BATCH:
                await anyio.to_thread.run_sync(writer.write, batch)
                batch = bytearray()
        await anyio.to_thread.run_sync(writer.write, batch)
        etag = await anyio.to_thread.run_sync(writer.finish)
    except BaseException:
        writer.discard()
        raise
    return Response(None, status_code=200, headers={"ETag": etag})


@post(
    "/artifacts/complete",
    status_code=200,
    sync_to_thread=True,
    opt={"permission": "flows.write", "errors": [404, 409]},
)
def complete(request: Request[Any, Any, Any], data: CompleteBody) -> dict[str, Any]:
    identity, state = identity_of(request), state_of(request)
    key = _key_of(data, identity.org_id)
    wanted = _request(data)
    deploy.check_upload(key, identity.org_id, wanted, flow_spec=data.flow_spec)
    deploy.check_request(state.store, identity.org_id, wanted)
    verified: list[deploy.ArtifactContents] = []

    def check(path: Any) -> None:  # before the artifact replaces what is at its key
        contents = deploy.read_artifact(path)
        deploy.check_artifact(contents, wanted)
        verified.append(contents)

    parts = [(p.part_number, p.etag) for p in data.parts]
    uri = _store(request).complete(key, data.upload_id, parts, check=check)
    done = deploy.register(
        state.store, identity.org_id, actor_of(request), verified[0], uri, wanted
    )
    return done.to_json()


@post(
    "/artifacts/abort",
    status_code=204,
    sync_to_thread=True,
    opt={"permission": "flows.write", "errors": [404]},
)
def abort(request: Request[Any, Any, Any], data: AbortBody) -> Response[None]:
    actor = actor_of(request)
    key = _key_of(data, actor.org_id)
    uploads.abort(state_of(request).store, _store(request), actor, key, data.upload_id)
    return Response(None, status_code=204)


ROUTES = [initiate, upload_part, complete, abort]

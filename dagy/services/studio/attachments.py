"""AI studio attachments: initiate (a signed, short-lived single-part PUT URL on this server),
the upload itself, complete (size and type checked, parsed to the text the provider sees) and
delete (the stored file too). Files live under ``<home>/studio/attachments/<session_id>/``."""

from __future__ import annotations

import datetime as _dt
import hashlib
import hmac
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from dagy.artifacts.local import signing_key
from dagy.auth import secrets as ids
from dagy.config import settings
from dagy.config.paths import DagyPaths
from dagy.errors import InvalidInputError, NotFoundError, PermissionDeniedError
from dagy.services.accounts.audit import Actor
from dagy.services.studio import parse, sessions, tiers
from dagy.services.studio.errors import StudioLimitError
from dagy.store import studio as sql
from dagy.store.duckdb_store import DuckDBStore
from dagy.store.records import iso_z, utcnow
from dagy.store.studio import AttachmentRow

RESOURCE = "ai_studio_attachment"
UPLOAD_PATH = "/ai-studio/uploads/{attachment_id}"


def file_path(paths: DagyPaths, row: AttachmentRow) -> Path:
    return sessions.attachment_dir(paths, row.session_id) / row.attachment_id


def _sign(paths: DagyPaths, attachment_id: str, expires: int | str) -> str:
    message = f"studio-attachment|{attachment_id}|{expires}".encode()
    return hmac.new(signing_key(paths), message, hashlib.sha256).hexdigest()


def verify(paths: DagyPaths, attachment_id: str, expires: str, signature: str) -> None:
    """403 unless the URL was signed here for this attachment and has not expired."""
    given = str(signature or "").encode()  # bytes: compare_digest refuses non-ASCII str (a 500)
    if not hmac.compare_digest(_sign(paths, attachment_id, expires).encode(), given):
        raise PermissionDeniedError("Invalid upload URL signature")
    if not expires.isdigit() or int(expires) < time.time():
        raise PermissionDeniedError("Upload URL expired")


def _audit(store: DuckDBStore, actor: Actor, action: str, row: AttachmentRow) -> None:
    from dagy.services.accounts import audit

    audit.write(
        store, actor, action, RESOURCE, row.attachment_id, resource_name=row.file_name,
        changes={"session_id": row.session_id, "status": row.status, "kind": row.kind},
        org_id=row.org_id,
    )  # fmt: skip


def initiate(
    store: DuckDBStore,
    paths: DagyPaths,
    actor: Actor,
    session_id: str,
    body: Any,
    api_url: str,
) -> dict[str, Any]:
    """POST .../attachments/initiate: ``file_name``, ``content_type``, ``size_bytes``. The
    answer's ``upload_url`` takes one PUT of the whole file before ``expires_at``."""
    if not isinstance(body, dict):
        raise InvalidInputError("The body must be a JSON object", {"body": "an object"})
    unknown = sorted(set(body) - {"file_name", "content_type", "size_bytes"})
    if unknown:
        raise InvalidInputError(
            f"Unknown field: {unknown[0]}", dict.fromkeys(unknown, "unknown field")
        )
    name = body.get("file_name")
    if not isinstance(name, str) or not name.strip() or len(name) > 255 or "/" in name:
        raise InvalidInputError("Invalid file_name", {"file_name": "a file name, at most 255"})
    ctype = body.get("content_type") or "application/octet-stream"
    if not isinstance(ctype, str):
        raise InvalidInputError("Invalid content_type", {"content_type": "a string"})
    kind = parse.kind_of(name, ctype)
    size = body.get("size_bytes")
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 0):
        raise InvalidInputError("Invalid size_bytes", {"size_bytes": "a non-negative integer"})
    if size is not None and size > tiers.MAX_ATTACHMENT_BYTES:
        raise InvalidInputError(
            f"The file is too large: at most {tiers.MAX_ATTACHMENT_BYTES} bytes (25 MB)",
            {"size_bytes": f"at most {tiers.MAX_ATTACHMENT_BYTES}"},
        )
    with store.transaction():
        session = sessions.get(store, actor, session_id)
        tier = tiers.tier(session.tier)
        count = sql.attachment_count(store, session_id)
        if count >= tier.max_attachments_per_session:
            raise StudioLimitError(
                f"This session reached its limit of {tier.max_attachments_per_session} attachments",
                {"limit": "max_attachments_per_session"},
                fields={"limit": tier.max_attachments_per_session, "current_usage": count},
            )
        row = AttachmentRow(
            attachment_id=ids.new_id("att"),
            session_id=session_id,
            org_id=session.org_id,
            file_name=name.strip(),
            content_type=ctype,
            kind=kind,
            size_bytes=size,
            status="pending",
            text=None,
            created_by=actor.email,
            created_at=utcnow(),
        )
        sql.insert(store, row)
        _audit(store, actor, "create", row)
    ttl = max(1, settings.ARTIFACT_URL_TTL.get())
    expires = int(time.time()) + ttl
    query = urlencode({"expires": expires, "signature": _sign(paths, row.attachment_id, expires)})
    url = api_url.rstrip("/") + UPLOAD_PATH.format(attachment_id=row.attachment_id)
    return {
        "attachment_id": row.attachment_id,
        "upload_url": f"{url}?{query}",
        "method": "PUT",
        "headers": {"Content-Type": ctype},
        "expires_at": iso_z(
            _dt.datetime.fromtimestamp(expires, _dt.timezone.utc).replace(tzinfo=None)
        ),
        "max_size_bytes": tiers.MAX_ATTACHMENT_BYTES,
    }


def pending(store: DuckDBStore, attachment_id: str) -> AttachmentRow:
    row = sql.get_attachment(store, attachment_id)
    if row is None:
        raise NotFoundError(f"Attachment not found: {attachment_id}")
    return row


def complete(
    store: DuckDBStore, paths: DagyPaths, actor: Actor, session_id: str, body: Any
) -> dict[str, Any]:
    """POST .../attachments/complete: ``attachment_id``. The uploaded file must be there, at most
    25 MB and of its kind; its text is stored for the provider. A file that fails is a 400 and
    the attachment stays pending (upload again through the same URL while it is valid)."""
    if not isinstance(body, dict) or not isinstance(body.get("attachment_id"), str):
        raise InvalidInputError("attachment_id is required", {"attachment_id": "required"})
    unknown = sorted(set(body) - {"attachment_id"})
    if unknown:
        raise InvalidInputError(
            f"Unknown field: {unknown[0]}", dict.fromkeys(unknown, "unknown field")
        )
    sessions.get(store, actor, session_id)
    row = _of_session(store, session_id, body["attachment_id"])
    path = file_path(paths, row)
    if not path.exists():
        raise InvalidInputError(
            "Nothing was uploaded for this attachment yet: PUT the file to its upload_url",
            {"attachment_id": "not uploaded"},
        )
    size = path.stat().st_size
    if size > tiers.MAX_ATTACHMENT_BYTES:
        path.unlink(missing_ok=True)
        raise InvalidInputError(
            "The file is larger than 25 MB", {"size_bytes": f"at most {tiers.MAX_ATTACHMENT_BYTES}"}
        )
    text = parse.text_of(row.kind, path.read_bytes())
    with store.transaction():
        sql.update_attachment(
            store, row.attachment_id, status="ready", text=text, size_bytes=size,
            completed_at=utcnow(),
        )  # fmt: skip
        done = pending(store, row.attachment_id)
        _audit(store, actor, "update", done)
    return sessions.attachment_to_api(done)


def _of_session(store: DuckDBStore, session_id: str, attachment_id: str) -> AttachmentRow:
    row = sql.get_attachment(store, attachment_id)
    if row is None or row.session_id != session_id:
        raise NotFoundError(
            f"Attachment not found: {attachment_id}", {"attachment_id": attachment_id}
        )
    return row


def delete(
    store: DuckDBStore, paths: DagyPaths, actor: Actor, session_id: str, attachment_id: str
) -> None:
    with store.transaction():
        sessions.get(store, actor, session_id)
        row = _of_session(store, session_id, attachment_id)
        sql.delete_attachment(store, attachment_id)
        _audit(store, actor, "delete", row)
    file_path(paths, row).unlink(missing_ok=True)

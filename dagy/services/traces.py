"""Exception traces: what an unhandled server error or an engine/executor fault leaves behind for a
super admin — one JSON object per fault, under ``exceptions/`` in the artifact store.

With the local store the traces are files in ``<home>/exceptions/``; with a plugin's store
(``DAGY_ARTIFACT_STORE=s3``) objects under ``exceptions/`` in its bucket. A trace holds the time,
the org, the request's method and path (never its headers, query or body) or the run and task
run, the exception's type, message and stack, and the Dagy version — with every secret value this
process knows masked (dagy/engine/_capture.py's registry, the caller's credential, secret-looking
environment variables, and text shaped like a credential).

Capturing never raises: a fault while recording a fault is logged and dropped.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import hmac
import json
import logging
import os
import platform
import re
import secrets as _secrets
import tempfile
import time
import traceback
import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dagy import __version__
from dagy.artifacts import ArtifactStore, get_store
from dagy.config import settings
from dagy.config.paths import DagyPaths
from dagy.engine._capture import MASK, MIN_SECRET_CHARS
from dagy.engine._capture import redact as redact_registered
from dagy.errors import InvalidInputError, NotFoundError, PermissionDeniedError

if TYPE_CHECKING:  # the engine's run child captures traces without loading the store
    from dagy.services.accounts.audit import Actor
    from dagy.store.duckdb_store import DuckDBStore

log = logging.getLogger("dagy.traces")

PREFIX = "exceptions/"
KINDS = ("server", "engine", "executor")
DEFAULT_LIMIT, MAX_LIMIT = 100, 1000
MAX_STACK_CHARS = 64_000
_KEY = re.compile(r"^exceptions/\d{8}T\d{6}\d{6}Z-(?:server|engine|executor)-[0-9a-f]{12}\.json$")
# Environment variables whose value is a credential: masked wherever it shows up in a trace.
_SECRET_ENV = re.compile(r"(KEY|SECRET|TOKEN|PASSWORD|PASSWD|CREDENTIAL|DSN)", re.I)
# Text shaped like a credential, whoever's it is, and what it becomes.
_PATTERNS = (
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}"), rf"\1 {MASK}"),
    (re.compile(r"\bdagy_[A-Za-z0-9_-]{8,}"), MASK),
    (re.compile(r"\b(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{8,}"), MASK),
    (re.compile(r"\bwhsec_[A-Za-z0-9]{8,}"), MASK),
    (re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"), MASK),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"), MASK),  # a JWT
    (re.compile(r"://[^/\s:@]+:[^/\s@]+@"), f"://{MASK}@"),  # user:password@ in a URL
    (re.compile(r"/webhooks/[^/\s?]+"), f"/webhooks/{MASK}"),  # a webhook sensor's token
)
_ASSIGNED = re.compile(
    r"(?i)\b([A-Za-z0-9_]*(?:password|passwd|secret|token|api_key|apikey|access_key|"
    r"authorization)[A-Za-z0-9_]*)(\s*[=:]\s*|['\"]\s*:\s*['\"]?)([^\s'\",;&}]+)"
)


# -- masking --------------------------------------------------------------------------------------


def _env_secrets(environ: Mapping[str, str] | None = None) -> list[str]:
    env = os.environ if environ is None else environ
    # Numbers (DAGY_TOKEN_TTL_SECONDS=43200) and short words are settings, not credentials.
    return [
        value
        for name, value in env.items()
        if _SECRET_ENV.search(name) and len(value.strip()) >= 8 and not value.strip().isdigit()
    ]


def mask(text: str, extra: Iterable[str] = ()) -> str:
    """``text`` with every secret value it holds as ``****``."""
    text = redact_registered(text)
    for value in sorted({v for v in (*extra, *_env_secrets()) if v}, key=len, reverse=True):
        if len(value) >= MIN_SECRET_CHARS:
            text = text.replace(value, MASK)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return _ASSIGNED.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", text)


# -- where traces live ----------------------------------------------------------------------------


def trace_store(paths: DagyPaths) -> ArtifactStore:
    """The configured artifact store; the local one rooted at the home (``~/.dagy/exceptions``),
    also when the configured one is not installed (its faults must still leave a trace)."""
    from dagy.artifacts import ArtifactStoreNotConfigured
    from dagy.artifacts.local import LocalArtifactStore

    name = settings.ARTIFACT_STORE.get() or "local"
    if name != "local":
        try:
            return get_store(name, paths=paths)
        except ArtifactStoreNotConfigured:  # a store that is not installed is itself a fault
            log.warning("artifact store %r is not installed: exception traces stay local", name)
    local: Any = LocalArtifactStore(paths, root=paths.home)
    return local  # type: ignore[no-any-return]


def check_key(key: Any) -> str:
    """A trace key as listed (``exceptions/<time>-<kind>-<id>.json``); 400 for anything else
    (``../``, absolute paths, other prefixes)."""
    if not isinstance(key, str) or not _KEY.match(key):
        raise InvalidInputError(f"Not an exception trace key: {key!r}", {"key": "invalid"})
    return key


def _new_key(now: _dt.datetime, kind: str) -> str:
    return f"{PREFIX}{now:%Y%m%dT%H%M%S%f}Z-{kind}-{_secrets.token_hex(6)}.json"


# -- capture --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Where:
    """What was going on: a request (method, path) or a run (run id, task run id)."""

    org_id: str | None = None
    method: str | None = None
    path: str | None = None
    run_id: str | None = None
    task_run_id: str | None = None
    flow_name: str | None = None
    executor: str | None = None


def build(
    kind: str,
    where: Where,
    *,
    exc: BaseException | None = None,
    error_type: str | None = None,
    message: str | None = None,
    stack: str | None = None,
    secrets: Iterable[str] = (),
    now: _dt.datetime | None = None,
) -> dict[str, Any]:
    """The trace's JSON, masked (``exc``, or a fault known only as type, message and stack)."""
    now = now or _dt.datetime.now(_dt.timezone.utc).replace(tzinfo=None)
    extra = list(secrets)
    if exc is not None:
        error_type = error_type or type(exc).__name__
        message = str(exc) if message is None else message
        stack = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    request = None
    if where.method or where.path:
        request = {"method": where.method, "path": mask(where.path or "", extra)}
    run = None
    if where.run_id:
        run = {
            "run_id": where.run_id,
            "task_run_id": where.task_run_id,
            "flow_name": where.flow_name,
            "executor": where.executor,
        }
    return {
        "key": _new_key(now, kind),
        "time": now.isoformat(timespec="milliseconds") + "Z",
        "kind": kind,
        "org_id": where.org_id,
        "request": request,
        "run": run,
        "exception": {
            "type": error_type or "Exception",
            "message": mask(message or "", extra),
        },
        "stack": mask((stack or "")[-MAX_STACK_CHARS:], extra),
        "dagy_version": __version__,
        "python_version": platform.python_version(),
        "host": platform.node(),
        "pid": os.getpid(),
    }


def save(paths: DagyPaths, trace: dict[str, Any]) -> str | None:
    """Store a built trace; its key, or None when it could not be stored (logged, not raised)."""
    try:
        store = trace_store(paths)
        data = json.dumps(trace, indent=2).encode()
        writer = getattr(store, "write", None)  # the S3 store writes bytes in one call
        if writer is not None:
            writer(store.uri(trace["key"]), data)
        else:
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / "trace.json"
                path.write_bytes(data)
                store.put_file(trace["key"], path)
        return str(trace["key"])
    except Exception:  # noqa: BLE001 - a trace that cannot be stored must not add a fault
        log.exception("could not store an exception trace")
        return None


def capture(paths: DagyPaths, kind: str, where: Where, **fault: Any) -> str | None:
    """Build and store a trace (see ``build``); its key or None. Never raises."""
    try:
        return save(paths, build(kind, where, **fault))
    except Exception:  # noqa: BLE001 - see save
        log.exception("could not build an exception trace")
        return None


# -- reading (super admin) ------------------------------------------------------------------------


def _read(store: ArtifactStore, key: str) -> bytes:
    reader = getattr(store, "read", None)
    if reader is not None:
        return bytes(reader(store.uri(key)))
    with tempfile.TemporaryDirectory() as tmp:
        return store.fetch(store.uri(key), Path(tmp)).read_bytes()


def _summary(key: str, trace: dict[str, Any] | None) -> dict[str, Any]:
    trace = trace or {}
    found = trace.get("exception")
    exception: dict[str, Any] = found if isinstance(found, dict) else {}
    return {
        "key": key,
        "time": trace.get("time"),
        "kind": trace.get("kind"),
        "org_id": trace.get("org_id"),
        "request": trace.get("request"),
        "run": trace.get("run"),
        "exception_type": exception.get("type"),
        "message": exception.get("message"),
        "dagy_version": trace.get("dagy_version"),
    }


def list_traces(paths: DagyPaths, limit: Any = DEFAULT_LIMIT) -> dict[str, Any]:
    """GET /admin/exceptions: the newest ``limit`` traces, newest first, summarised."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise InvalidInputError(
            f"limit must be between 1 and {MAX_LIMIT}", {"limit": f"1..{MAX_LIMIT}"}
        )
    store = trace_store(paths)
    keys = sorted((k for k in store.list_keys(PREFIX) if _KEY.match(k)), reverse=True)
    items = []
    for key in keys[:limit]:
        try:
            trace = json.loads(_read(store, key))
        except (NotFoundError, ValueError, OSError):
            trace = None  # deleted meanwhile, or not ours to parse: listed by its key
        items.append(_summary(key, trace if isinstance(trace, dict) else None))
    return {"items": items, "total": len(keys)}


def content(paths: DagyPaths, key: Any) -> dict[str, Any]:
    """GET /admin/exceptions/content: the whole trace; 404 when there is none at ``key``."""
    key = check_key(key)
    store = trace_store(paths)
    if not store.exists(key):
        raise NotFoundError(f"Exception trace not found: {key}", {"key": key})
    try:
        data = json.loads(_read(store, key))
    except ValueError:
        raise NotFoundError(f"Exception trace not readable: {key}", {"key": key}) from None
    return data if isinstance(data, dict) else {"content": data}


def delete(paths: DagyPaths, keys: Any, store: DuckDBStore, actor: Actor) -> int:
    """DELETE /admin/exceptions: remove the traces at ``keys``; how many there were. Every key is
    checked before anything is removed (one bad key: 400, nothing deleted)."""
    if not isinstance(keys, list) or not keys:
        raise InvalidInputError("keys must be a non-empty list of trace keys", {"keys": "required"})
    checked = sorted({check_key(k) for k in keys})
    objects = trace_store(paths)
    deleted = 0
    for key in checked:
        if objects.exists(key):
            objects.delete(key)
            deleted += 1
    from dagy.services.accounts import audit

    with store.transaction():
        audit.write(
            store, actor, "delete", "exception_trace", checked[0] if len(checked) == 1 else "*",
            changes={"keys": checked, "deleted": deleted},
        )  # fmt: skip
    return deleted


# -- download URLs --------------------------------------------------------------------------------


def _signature(paths: DagyPaths, key: str, expires: int | str) -> str:
    from dagy.artifacts.local import signing_key

    message = f"exceptions|{key}|{expires}".encode()
    return hmac.new(signing_key(paths), message, hashlib.sha256).hexdigest()


def download_url(paths: DagyPaths, key: Any, api_url: str) -> dict[str, Any]:
    """GET /admin/exceptions/download: a URL that serves the trace for a few minutes — S3's own
    presigned URL with the S3 store, else one signed here that ``dagy serve`` honours
    (``GET /admin/exceptions/file``)."""
    key = check_key(key)
    ttl = settings.EXCEPTION_URL_TTL.get()
    store = trace_store(paths)
    if not store.exists(key):
        raise NotFoundError(f"Exception trace not found: {key}", {"key": key})
    expires = int(time.time()) + ttl
    presign = getattr(store, "download_url", None)
    if presign is not None:
        url = str(presign(key, ttl))
    else:
        query = urllib.parse.urlencode(
            {"key": key, "expires": expires, "signature": _signature(paths, key, expires)}
        )
        url = f"{api_url.rstrip('/')}/admin/exceptions/file?{query}"
    stamp = _dt.datetime.fromtimestamp(expires, _dt.timezone.utc).replace(tzinfo=None)
    return {"download_url": url, "expires_at": stamp.isoformat() + "Z"}


def signed_file(paths: DagyPaths, key: Any, expires: str, signature: str) -> bytes:
    """The trace's bytes for a URL signed by ``download_url``; 403 when the signature is wrong or
    the URL expired."""
    key = check_key(key)
    wanted = _signature(paths, key, expires)
    # bytes: compare_digest refuses a str with non-ASCII characters (a 500, not the 403)
    if not hmac.compare_digest(wanted.encode(), str(signature or "").encode()):
        raise PermissionDeniedError("Invalid download URL signature")
    if not str(expires).isdigit() or int(expires) < time.time():
        raise PermissionDeniedError("Download URL expired")
    store = trace_store(paths)
    if not store.exists(key):
        raise NotFoundError(f"Exception trace not found: {key}", {"key": key})
    return _read(store, key)

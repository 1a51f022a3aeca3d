"""Every error leaves the server in the spec's shape: error, message, details, and detail.

``detail`` repeats ``message``: the API overview shows ``{"detail": ...}``, the reference
``{"error", "message", "details"}``; clients of either page find what they look for.
"""

from __future__ import annotations

import logging
import re
import traceback
from typing import Any

from litestar import MediaType, Request, Response
from litestar.exceptions import (
    HTTPException,
    MethodNotAllowedException,
    NotFoundException,
    ValidationException,
)

from dagy.errors import QuotaExceededError, RequestError

log = logging.getLogger("dagy.server")
_MISSING = re.compile(r"missing required field `([^`]+)`")
_UNKNOWN = re.compile(r"unknown field `([^`]+)`")

_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
    500: "internal_error",
    503: "service_unavailable",
}


def error_body(status: int, message: str, details: Any = None, code: str | None = None) -> dict:
    return {
        "error": code or _CODES.get(status, "error"),
        "message": message,
        "details": details or {},
        "detail": message,
    }


def error_response(
    status: int,
    message: str,
    details: Any = None,
    code: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response[Any]:
    return Response(
        error_body(status, message, details, code),
        status_code=status,
        media_type=MediaType.JSON,
        headers=headers,
    )


def _request_error(request: Request, exc: RequestError) -> Response[Any]:
    if exc.status >= 500 and exc.status != 503:  # a store or S3 that failed; 503 is "not set up"
        _trace(request, exc)
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    if isinstance(exc, QuotaExceededError):
        body = {**error_body(exc.status, exc.message, exc.details, exc.error), **exc.fields}
        retry = {"Retry-After": str(exc.retry_after)} if exc.retry_after else None
        return Response(body, status_code=429, media_type=MediaType.JSON, headers=retry)
    extra = getattr(exc, "fields", None)  # top-level fields beside the error (AI studio 409/422)
    if isinstance(extra, dict) and extra:
        body = {**error_body(exc.status, exc.message, exc.details, exc.error), **extra}
        return Response(body, status_code=exc.status, media_type=MediaType.JSON, headers=headers)
    return error_response(exc.status, exc.message, exc.details, exc.error, headers)


def _validation(_: Request, exc: ValidationException) -> Response[Any]:
    details: dict[str, Any] = {}
    for item in exc.extra if isinstance(exc.extra, list) else []:
        if isinstance(item, dict):
            text = str(item.get("message") or "invalid")
            key = str(item.get("key") or item.get("source") or "body")
            unknown = _UNKNOWN.search(text)
            if unknown:  # one answer for every body: "Unknown field: x", {"x": "unknown field"}
                at = key if key not in ("data", "body") else ""
                details[f"{at}.{unknown.group(1)}" if at else unknown.group(1)] = "unknown field"
                continue
            if key == "data":  # msgspec: "Object missing required field `email`" names it
                named = _MISSING.search(text)
                key = named.group(1) if named else "body"
            details[key] = text
    message = exc.detail or "Validation failed"
    if details and set(details.values()) == {"unknown field"}:
        message = f"Unknown field: {next(iter(details))}"
    elif details:
        message = "Invalid request: " + "; ".join(
            f"{k}: {v}" if k != "body" else str(v) for k, v in details.items()
        )
    return error_response(400, message, details, "validation_error")


def _http(request: Request, exc: HTTPException) -> Response[Any]:
    status = exc.status_code
    if isinstance(exc, NotFoundException) and exc.detail in ("", "Not Found"):
        message = f"Not found: {request.url.path}"
    elif isinstance(exc, MethodNotAllowedException):
        message = f"Method {request.method} not allowed on {request.url.path}"
    else:
        message = exc.detail or _CODES.get(status, "Error")
    if status == 500:  # Litestar's own internal errors are unhandled faults too
        log.error("internal error on %s %s: %s", request.method, request.url.path, exc)
        _trace(request, exc)
    headers = dict(exc.headers or {})
    return error_response(
        status, message, exc.extra if isinstance(exc.extra, dict) else None, headers=headers or None
    )


def _unexpected(request: Request, exc: Exception) -> Response[Any]:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    _trace(request, exc)
    return error_response(500, "Internal server error")


def _trace(request: Request, exc: BaseException) -> None:
    """Leave an exception trace for super admins (dagy/services/traces.py); never raises."""
    from dagy.server.security import bearer_of
    from dagy.services import traces

    try:
        state = request.app.state.dagy
        identity = getattr(request.state, "identity", None)
        where = traces.Where(
            org_id=getattr(identity, "org_id", None),
            method=request.method,
            path=request.url.path,
        )
        bearer = bearer_of(request)
        traces.capture(state.paths, "server", where, exc=exc, secrets=[bearer] if bearer else [])
    except Exception:  # noqa: BLE001 - the 500 is answered whatever happens here
        log.exception("could not capture an exception trace")


def _too_deep(request: Request, exc: RecursionError) -> Response[Any]:
    """msgspec gives up on JSON nested ~1000 levels deep with a RecursionError: bad input, a 400."""
    if any(frame.name == "decode_json" for frame in traceback.extract_tb(exc.__traceback__)):
        return error_response(400, "JSON is malformed: nested too deeply", code="bad_request")
    return _unexpected(request, exc)


HANDLERS: dict[Any, Any] = {
    RequestError: _request_error,
    RecursionError: _too_deep,
    ValidationException: _validation,
    HTTPException: _http,
    Exception: _unexpected,
}

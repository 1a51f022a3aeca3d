"""The OpenAPI document as the server really behaves (issue 21): one place that finishes what
Litestar generates from the route signatures.

What a route declares, and what this module makes of it:

- A request body is a ``Body`` subclass (a msgspec struct that refuses unknown fields: 400
  ``Unknown field: <name>``). Fields the service checks itself stay optional in the struct, so the
  service's message (``secret_name is required``) is what a caller reads; ``doc`` tells the
  document what the service accepts::

      class SecretBody(Body):
          secret_name: str | None = None
          value: str | None = None
          environment: str | None = None
          doc = {"secret_name": required(NAME), "value": required()}

  ``required(...)`` lists the field as required and drops ``null`` from its type; any other keys
  are JSON schema merged into the field's (``{"enum": [...]}``, ``{"minLength": 1}``); key ``"*"``
  is merged into the body's own schema (``{"minProperties": 1}``). A value may be a function
  returning the schema, called when the document is built (e.g. tiers the server's settings name).
- Query parameters are typed in the signature (``limit: int | None = None``); a query or path
  parameter the service checks further is described with ``opt={"params": {"status": {"enum":
  [...]}}}`` (``limit`` is ``minimum: 1`` unless said otherwise).
- Error responses, all in the spec's shape ``{error, message, details, detail}`` (``Error``):
  400 when the route takes a body or parameters, 413 when it takes a body, 401 and 403 unless
  the route is public, 404 when its path names something, 429 everywhere (the rate limiter wraps
  the app); anything else a route can answer is named in its opt: ``opt={"permission": ...,
  "errors": [409, 402]}``.
- ``opt={"permission": rbac.PUBLIC}`` makes the operation ``security: []``.
- A handler that reads the raw body (to check a signature over its bytes) names its schema:
  ``opt={..., "body": {"type": "object"}}``.
- Response content types come from the handler (``media_type=...``; server-sent events are
  ``text/event-stream``); ``opt={"produces": "application/zip"}`` names a download's real type.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import msgspec
from litestar import Litestar
from litestar._openapi.plugin import OpenAPIPlugin
from litestar.routes import HTTPRoute

from dagy.auth import rbac

ERROR_REF = {"$ref": "#/components/schemas/Error"}
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Every error the API answers: the spec's shape; `detail` repeats `message`.",
    "required": ["error", "message", "details", "detail"],
    "properties": {
        "error": {"type": "string", "description": "A short code, e.g. `validation_error`."},
        "message": {"type": "string"},
        "details": {"description": "What was wrong, by field where one is to blame."},
        "detail": {"type": "string"},
    },
}
DESCRIPTIONS = {
    400: "Bad request: a body, parameter or value the route refuses",
    401: "Missing or invalid token",
    402: "Payment required: the plan does not allow this",
    403: "Forbidden: the caller's role lacks the permission, or the org is suspended",
    404: "Not found",
    409: "Conflict with the current state",
    413: "Payload too large",
    415: "Unsupported media type",
    422: "Unprocessable: the request is well formed but cannot be carried out",
    429: "Too many requests (rate limit or quota); Retry-After says when to come back",
    500: "Internal server error",
    502: "An upstream service failed",
    503: "Not configured on this server, or an upstream service is unavailable",
}


def required(schema: dict[str, Any] | None = None, **more: Any) -> dict[str, Any]:
    """A ``Body.doc`` entry: the field is required (and not null) in the document."""
    return {**(schema or {}), **more, "required": True}


LIMIT: dict[str, Any] = {"minimum": 1}
_FORBIDDEN = r"\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069"


def display_name(max_length: int = 200) -> dict[str, Any]:
    """What dagy.names.check_display_name accepts: something besides spaces, no control or bidi
    characters, at most ``max_length`` characters once trimmed."""
    return {
        "maxLength": max_length,
        "pattern": f"^[^{_FORBIDDEN}]*[^\\s{_FORBIDDEN}][^{_FORBIDDEN}]*$",
    }


# An http(s) URL a service accepts (a host, maybe a port and a path).
HTTP_URL: dict[str, Any] = {"pattern": "^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[^\\s]*)?$"}
# What the accounts service takes for an email (dagy/services/accounts/users.py).
EMAIL: dict[str, Any] = {
    "maxLength": 254,
    "pattern": "^[^@\\s\\x00-\\x1f\\x7f]+@[^@\\s\\x00-\\x1f\\x7f]+$",
}
# ISO 8601 date or time, as the list filters take it (a date-time in the document).
WHEN: dict[str, Any] = {"format": "date-time"}
# Names the catalog and the vault accept (dagy/services/catalog/checks.py, vault/secrets.py).
NAME: dict[str, Any] = {"pattern": "^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"}


class Body(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Base of every request body: unknown fields refused, fields by keyword; ``doc`` describes,
    for the document only, what the service requires of a field (see the module's docstring)."""

    doc: ClassVar[dict[str, dict[str, Any] | Callable[[], dict[str, Any]]]] = {}


class _TruthfulOpenAPIPlugin(OpenAPIPlugin):
    __slots__ = ()

    def provide_openapi_schema(self) -> dict[str, Any]:
        if not self._openapi_schema:
            self._openapi_schema = finish(self.provide_openapi().to_schema(), self.app)
        return self._openapi_schema


def given(body: Body) -> dict[str, Any]:
    """The fields the caller sent (``msgspec.UNSET`` ones left out), for services that apply a
    partial dict (PATCH)."""
    values = ((f, getattr(body, f)) for f in body.__struct_fields__)
    return {f: v for f, v in values if v is not msgspec.UNSET}


def _body_classes() -> dict[str, list[type[Body]]]:
    found: dict[str, list[type[Body]]] = {}
    todo: list[type[Body]] = [Body]
    while todo:
        cls = todo.pop()
        found.setdefault(cls.__name__, []).append(cls)
        todo.extend(cls.__subclasses__())
    return found


def install(app: Litestar) -> None:
    """Serve the finished document at /docs/openapi.json and <base>/openapi.json (``document``)."""
    plugin = app.plugins.get(OpenAPIPlugin)
    plugin.__class__ = _TruthfulOpenAPIPlugin  # same slots; only the document it serves differs


def document(app: Litestar) -> dict[str, Any]:
    return app.plugins.get(OpenAPIPlugin).provide_openapi_schema()


def finish(doc: dict[str, Any], app: Litestar) -> dict[str, Any]:
    components = doc.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas["Error"] = ERROR_SCHEMA
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for method, (handler, _) in route.route_handler_map.items():
            operation = doc.get("paths", {}).get(route.path_format or "/", {}).get(method.lower())
            if operation is None or method == "OPTIONS":
                continue
            _operation(operation, handler, route, schemas)
    bodies = _body_classes()
    for schema in schemas.values():  # every Body, nested ones too, refuses unknown fields
        if schema.get("title") in bodies and schema.get("type") == "object":
            schema["additionalProperties"] = False
    return doc


def _operation(operation: dict[str, Any], handler: Any, route: HTTPRoute, schemas: dict) -> None:
    opt = handler.opt
    public = opt.get("permission") == rbac.PUBLIC
    if public:
        operation["security"] = []
    parameters = operation.get("parameters") or []
    for parameter in parameters:
        name, where = parameter.get("name"), parameter.get("in")
        extra = (opt.get("params") or {}).get(name)
        extra = extra() if callable(extra) else extra
        if extra is None and name == "limit" and where == "query":
            extra = LIMIT  # services.pagination.clamp_limit: at least 1, larger is clamped
        if extra and where in ("query", "path"):
            extra = dict(extra)
            if extra.pop("required", False):  # the service answers 400 without it
                parameter["required"] = True
                parameter["schema"] = _not_null(parameter.get("schema", {}))
            parameter["schema"] = _merge(parameter.get("schema", {}), extra)
    body = _body_class(handler)
    if body is not None and "requestBody" in operation:
        _document_body(operation["requestBody"], body, schemas)
    raw = opt.get("body")  # a handler that reads the raw body (a signature covers its bytes)
    if raw is not None and "requestBody" not in operation:
        operation["requestBody"] = {"content": {"application/json": {"schema": raw}}}
    codes = {429}
    if parameters or "requestBody" in operation:
        codes.add(400)
    if "requestBody" in operation:
        codes.add(413)  # past the route's (or Litestar's 10 MB) request_max_body_size
    if not public:
        codes |= {401, 403}
    if route.path_parameters:
        codes.add(404)
    codes |= set(opt.get("errors") or ())
    responses = operation.setdefault("responses", {})
    for code in sorted(codes):
        responses[str(code)] = {
            "description": DESCRIPTIONS.get(code, "Error"),
            "content": {"application/json": {"schema": ERROR_REF}},
        }
    for status, response in responses.items():
        if status in ("204", "304"):  # no body, so no content type either
            response.pop("content", None)
    produces = opt.get("produces")
    if produces:
        for status, response in responses.items():
            if status.startswith("2") and status != "204":
                response["content"] = {produces: {"schema": {}}}


def _body_class(handler: Any) -> type[Body] | None:
    field = handler.parsed_fn_signature.parameters.get("data")
    if field is None:
        return None
    for candidate in (field.annotation, *getattr(field, "inner_types", ())):
        kind = getattr(candidate, "annotation", candidate)
        if isinstance(kind, type) and issubclass(kind, Body):
            return kind
    return None


def _document_body(request_body: dict[str, Any], body: type[Body], schemas: dict) -> None:
    if not body.doc:
        return
    # a value may be a function: what only the running server knows (its settings)
    doc = {name: extra() if callable(extra) else extra for name, extra in body.doc.items()}
    needs_one = any(extra.get("required") for extra in doc.values())
    if needs_one:  # a body the route takes as optional, but whose fields the service requires
        request_body["required"] = True
    for media in request_body.get("content", {}).values():
        schema = media.get("schema", {})
        ref = schema.get("$ref", "")
        if not ref and "oneOf" in schema:  # Optional body: oneOf [ref, null]
            ref = next((s["$ref"] for s in schema["oneOf"] if "$ref" in s), "")
            if needs_one and ref:
                media["schema"] = {"$ref": ref}
        target = schemas.get(ref.rsplit("/", 1)[-1]) if ref else None
        if target is None:
            continue
        properties = target.setdefault("properties", {})
        for name, extra in doc.items():
            if name == "*":  # about the whole body, e.g. {"minProperties": 1}
                target.update(extra)
                continue
            extra = dict(extra)
            if extra.pop("required", False):
                target["required"] = sorted({*target.get("required", []), name})
                properties[name] = _not_null(properties.get(name, {}))
            properties[name] = _merge(properties.get(name, {}), extra)


def _not_null(schema: dict[str, Any]) -> dict[str, Any]:
    for key in ("oneOf", "anyOf"):
        if key in schema:
            kept = [s for s in schema[key] if s.get("type") != "null"]
            rest = {k: v for k, v in schema.items() if k != key}
            return {**rest, **kept[0]} if len(kept) == 1 else {**rest, key: kept}
    kind = schema.get("type")
    if isinstance(kind, list):
        kept_types = [t for t in kind if t != "null"]
        return {**schema, "type": kept_types[0] if len(kept_types) == 1 else kept_types}
    return schema


def _merge(schema: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    if not extra:
        return schema
    if "oneOf" in schema or "anyOf" in schema:  # nullable: constrain the non-null branch
        key = "oneOf" if "oneOf" in schema else "anyOf"
        return {
            **schema,
            key: [s if s.get("type") == "null" else {**s, **extra} for s in schema[key]],
        }
    return {**schema, **extra}

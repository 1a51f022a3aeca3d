"""The API's answers to bad input, an unknown name and a conflict, raised as the errors the
services raise, so a command prints the same line and exits the same way in every mode."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from dagy.errors import APIError, ConflictError, InvalidInputError, NotFoundError

_AS_SERVICE = {400: InvalidInputError, 404: NotFoundError, 409: ConflictError}


@contextlib.contextmanager
def as_service_errors() -> Iterator[None]:
    """400 → InvalidInputError, 404 → NotFoundError, 409 → ConflictError; others stay APIError."""
    try:
        yield
    except APIError as exc:
        kind = _AS_SERVICE.get(exc.status_code)
        if kind is None:
            raise
        raise kind(exc.message) from None


def call(client: Any, method: str, path: str, body: Any = None) -> Any:
    """One API call with the API's refusals raised as the services' errors (as_service_errors)."""
    with as_service_errors():
        if method == "GET":
            return client.get(path)
        if method == "DELETE":
            return client.delete(path)
        return client.request(method, path, json_body=body if body is not None else {})

"""Members of a real server's org, made through the local route as `dagy users create` does with a
live server, and the spec's error shape."""

from __future__ import annotations

from tests.conftest import ServerProcess

PASSWORD = "password-123"
ERROR_KEYS = {"error", "message", "details", "detail"}


def add_user(srv: ServerProcess, email: str, role: str) -> str:
    """Create the account as a member of the personal org; returns its access token."""
    status, _, body = srv.request(
        "POST",
        "/_local/users",
        token=srv.local_token,
        body={"email": email, "password": PASSWORD, "role": role},
    )
    assert status == 201, body
    return srv.login(email, PASSWORD)


def assert_error(body: object, code: str | None = None) -> dict:
    assert isinstance(body, dict) and set(body) == ERROR_KEYS, body
    assert body["detail"] == body["message"]
    if code is not None:
        assert body["error"] == code, body
    return body

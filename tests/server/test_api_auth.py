"""Login, logout, token expiry, GET /me and GET /users/me against a real `dagy serve`."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator

import pytest

from tests.conftest import ServerProcess, start_server

PASSWORD = "password-123"
ERROR_KEYS = {"error", "message", "details", "detail"}
NO_LIMIT = {"DAGY_RATE_LIMIT_PER_MINUTE": "0"}


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = start_server(tmp_path_factory.mktemp("auth") / "home", env=NO_LIMIT)
    for email, role in (("owner@example.com", "owner"), ("dev@example.com", "developer")):
        status, _, body = server.request(
            "POST",
            "/_local/users",
            token=server.local_token,
            body={"email": email, "password": PASSWORD, "role": role},
        )
        assert status == 201, body
    yield server
    server.stop()


@pytest.fixture(scope="module")
def local_srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = start_server(
        tmp_path_factory.mktemp("auth-local") / "home",
        "--local",
        "--email",
        "me@example.com",
        env=NO_LIMIT,
    )
    yield server
    server.stop()


def parse_z(stamp: str) -> dt.datetime:
    assert stamp.endswith("Z"), stamp
    return dt.datetime.fromisoformat(stamp[:-1]).replace(tzinfo=dt.timezone.utc)


def assert_error(body: object, code: str) -> dict:
    assert isinstance(body, dict) and set(body) == ERROR_KEYS, body
    assert body["error"] == code and body["detail"] == body["message"]
    return body


# -- POST /auth/login -------------------------------------------------------------------------------


def test_login_returns_a_bearer_token_with_its_expiry(srv):
    before = dt.datetime.now(dt.timezone.utc)
    status, _, body = srv.request(
        "POST", "/auth/login", body={"email": "owner@example.com", "password": PASSWORD}
    )
    assert status == 200, body
    assert set(body) == {"access_token", "token_type", "expires_at"}
    assert body["token_type"] == "Bearer"
    assert len(body["access_token"]) >= 32
    lifetime = parse_z(body["expires_at"]) - before
    assert dt.timedelta(hours=11) < lifetime <= dt.timedelta(hours=12, seconds=5)


def test_login_email_is_case_insensitive(srv):
    status, _, body = srv.request(
        "POST", "/auth/login", body={"email": "  Owner@Example.COM ", "password": PASSWORD}
    )
    assert status == 200, body
    me = srv.request("GET", "/me", token=body["access_token"])[2]
    assert me["user_email"] == "owner@example.com"


@pytest.mark.parametrize("email", ["not-an-email", "", "a@", "@b.example", "a b@example.com"])
def test_login_with_an_invalid_email_is_400(srv, email):
    status, _, body = srv.request("POST", "/auth/login", body={"email": email, "password": "x"})
    assert status == 400, body
    assert assert_error(body, "validation_error")["details"] == {
        "email": "must be an email address"
    }


@pytest.mark.parametrize(
    "email, password",
    [("owner@example.com", "wrong-password"), ("nobody@example.com", PASSWORD)],
)
def test_login_with_a_wrong_password_or_unknown_email_is_the_same_401(srv, email, password):
    status, headers, body = srv.request(
        "POST", "/auth/login", body={"email": email, "password": password}
    )
    assert status == 401, body
    assert assert_error(body, "unauthorized")["message"] == "Email not found or unauthorized"
    assert headers["www-authenticate"] == "Bearer"


def test_login_into_an_org_the_user_is_not_in_is_401(srv):
    status, _, body = srv.request(
        "POST",
        "/auth/login",
        body={"email": "owner@example.com", "password": PASSWORD, "org_id": "org_nope"},
    )
    assert status == 401, body


@pytest.mark.parametrize(
    "payload",
    [
        {"email": "owner@example.com"},
        {"email": "owner@example.com", "password": ""},
        {"email": "owner@example.com", "password": None},
    ],
)
def test_login_requires_a_password_in_multi_user_mode(srv, payload):
    status, _, body = srv.request("POST", "/auth/login", body=payload)
    assert status == 400, body
    assert assert_error(body, "validation_error")["details"] == {"password": "required"}


def test_login_without_email_is_400_naming_the_field(srv):
    status, _, body = srv.request("POST", "/auth/login", body={"password": PASSWORD})
    assert status == 400, body
    assert "email" in assert_error(body, "validation_error")["details"]


def test_local_mode_logs_in_with_the_email_alone(local_srv):
    status, _, body = local_srv.request("POST", "/auth/login", body={"email": "me@example.com"})
    assert status == 200, body
    status, _, me = local_srv.request("GET", "/me", token=body["access_token"])
    assert (status, me) == (
        200,
        {"user_email": "me@example.com", "org_id": "personal", "role": "owner"},
    )


def test_local_mode_still_refuses_unknown_emails(local_srv):
    status, _, body = local_srv.request("POST", "/auth/login", body={"email": "x@example.com"})
    assert status == 401, body
    status, _, body = local_srv.request("POST", "/auth/login", body={"email": "nope"})
    assert status == 400, body


# -- POST /auth/logout ------------------------------------------------------------------------------


def test_logout_revokes_the_token(srv):
    token = srv.login("dev@example.com")
    other = srv.login("dev@example.com")
    assert srv.request("GET", "/me", token=token)[0] == 200
    status, _, body = srv.request("POST", "/auth/logout", token=token)
    assert (status, body) == (204, None)
    for path in ("/me", "/users/me"):
        status, _, body = srv.request("GET", path, token=token)
        assert status == 401, body
        assert_error(body, "unauthorized")
    status, _, body = srv.request("POST", "/auth/logout", token=token)
    assert status == 401, body
    # Only that token: the user's other sessions go on.
    assert srv.request("GET", "/me", token=other)[0] == 200


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Basic b3duZXI6cHc="},
        {"Authorization": "Bearer dat_not-a-token"},
    ],
)
def test_logout_without_a_valid_token_is_401(srv, headers):
    status, _, body = srv.request("POST", "/auth/logout", headers=headers)
    assert status == 401, body
    assert_error(body, "unauthorized")


# -- GET /me and GET /users/me ----------------------------------------------------------------------


def test_me_is_the_callers_identity(srv):
    status, _, body = srv.request("GET", "/me", token=srv.login("dev@example.com"))
    assert status == 200
    assert body == {"user_email": "dev@example.com", "org_id": "personal", "role": "developer"}


def test_users_me_is_the_callers_profile(srv):
    status, _, body = srv.request("GET", "/users/me", token=srv.login("owner@example.com"))
    assert status == 200
    assert body == {
        "user_email": "owner@example.com",
        "super_admin": False,
        "org_id": "personal",
        "org_name": "Personal",
        "role": "owner",
    }


@pytest.mark.parametrize("path", ["/me", "/users/me"])
@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer "},
        {"Authorization": "Token abc"},
        {"Authorization": "Bearer garbage"},
        {"Authorization": "Bearer dagy_sk_not-a-key"},
        {"Authorization": "Bearer eyJhbGciOiJub25lIn0.eyJlbWFpbCI6Im93bmVyQGV4YW1wbGUuY29tIn0."},
    ],
)
def test_me_without_a_valid_credential_is_401(srv, path, headers):
    status, response_headers, body = srv.request("GET", path, headers=headers)
    assert status == 401, body
    assert_error(body, "unauthorized")
    assert response_headers["www-authenticate"] == "Bearer"


def test_x_dagy_org_of_an_org_the_user_is_not_in_is_403_in_the_error_shape(srv):
    token = srv.login("dev@example.com")
    status, _, body = srv.request("GET", "/me", token=token, headers={"X-Dagy-Org": "org_other"})
    assert status == 403, body  # the caller is known (not 401), just not a member there
    assert_error(body, "forbidden")
    assert body["details"] == {"org_id": "not a member"}


# -- expiry -----------------------------------------------------------------------------------------


def test_an_expired_token_is_401(tmp_path):
    server = start_server(tmp_path / "home", env={"DAGY_TOKEN_TTL_SECONDS": "2", **NO_LIMIT})
    try:
        server.request(
            "POST",
            "/_local/users",
            token=server.local_token,
            body={"email": "brief@example.com", "password": PASSWORD, "role": "viewer"},
        )
        issued = dt.datetime.now(dt.timezone.utc)
        status, _, body = server.request(
            "POST", "/auth/login", body={"email": "brief@example.com", "password": PASSWORD}
        )
        assert status == 200, body
        expires = parse_z(body["expires_at"])
        assert expires - issued <= dt.timedelta(seconds=3)
        token = body["access_token"]
        if dt.datetime.now(dt.timezone.utc) < expires - dt.timedelta(seconds=1):
            assert server.request("GET", "/me", token=token)[0] == 200
        time.sleep(max(0.0, (expires - dt.datetime.now(dt.timezone.utc)).total_seconds()) + 1.1)
        status, _, body = server.request("GET", "/me", token=token)
        assert status == 401, body
        assert assert_error(body, "unauthorized")["message"] == "Token expired"
    finally:
        server.stop()

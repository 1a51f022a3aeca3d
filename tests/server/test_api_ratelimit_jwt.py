"""The token-bucket rate limit, and DAGY_JWT_REQUIRED mode against a JWKS served by the test."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.conftest import ServerProcess, start_server

PASSWORD = "password-123"
ERROR_KEYS = {"error", "message", "details", "detail"}
# A refill of one token per 10 s: no test here runs long enough to earn one back by accident.
LIMITED = {"DAGY_RATE_LIMIT_BURST": "5", "DAGY_RATE_LIMIT_PER_MINUTE": "6"}


def add_user(srv: ServerProcess, email: str, role: str = "owner") -> None:
    status, _, body = srv.request(
        "POST",
        "/_local/users",
        token=srv.local_token,
        body={"email": email, "password": PASSWORD, "role": role},
    )
    assert status == 201, body


# -- rate limit -------------------------------------------------------------------------------------


def assert_limited(status: int, headers: dict[str, str], body: object) -> int:
    assert status == 429, body
    assert isinstance(body, dict) and set(body) == ERROR_KEYS
    assert body["error"] == "rate_limited"
    retry = int(headers["retry-after"])
    assert 1 <= retry <= 10
    assert body["details"] == {"retry_after": retry}
    assert headers["x-ratelimit-remaining"] == "0"
    return retry


@pytest.fixture
def limited(tmp_path: Path) -> Iterator[ServerProcess]:
    server = start_server(tmp_path / "home", env=LIMITED)
    yield server
    server.stop()


def test_the_sixth_quick_request_is_429_with_retry_after(limited):
    remaining = []
    for _ in range(5):
        status, headers, _ = limited.request("GET", "/me")
        assert status == 401  # counted whether or not the caller is known
        assert headers["x-ratelimit-limit"] == "6"
        remaining.append(int(headers["x-ratelimit-remaining"]))
        assert int(headers["x-ratelimit-reset"]) > time.time()
    assert remaining == [4, 3, 2, 1, 0]
    assert_limited(*limited.request("GET", "/me"))
    # The budget is the client's, whatever the route (it was once one budget per route).
    assert_limited(*limited.request("POST", "/auth/login", body={"email": "a@example.com"}))
    assert_limited(*limited.request("GET", "/orgs"))


def test_health_openapi_and_the_local_token_are_not_limited(limited):
    for _ in range(6):
        limited.request("GET", "/me")
    assert limited.request("GET", "/me")[0] == 429
    for _ in range(3):
        for path in ("/health", "/openapi.json"):
            status, headers, _ = limited.request("GET", path)
            assert status == 200, path
            assert "x-ratelimit-limit" not in headers
        # The server's own CLI traffic (the local token of server.json) is not throttled.
        assert limited.request("GET", "/me", token=limited.local_token)[0] == 200


def test_each_api_key_has_its_own_bucket_apart_from_the_ip(limited):
    add_user(limited, "owner@example.com")  # the local token: not counted
    token = limited.login("owner@example.com")  # ip bucket: 4 left
    keys = []
    for name in ("one", "two"):  # 3, then 2 left
        status, _, body = limited.request(
            "POST", "/api-keys", token=token, body={"name": name, "scopes": ["runs.read"]}
        )
        assert status == 201, body
        keys.append(body["key"])
    one, two = keys

    for expected in (4, 3, 2, 1, 0):
        status, headers, _ = limited.request("GET", "/me", token=one)
        assert (status, headers["x-ratelimit-remaining"]) == (200, str(expected))
    assert_limited(*limited.request("GET", "/me", token=one))

    # The other key, and the IP, still have their own budgets.
    status, headers, _ = limited.request("GET", "/me", token=two)
    assert (status, headers["x-ratelimit-remaining"]) == (200, "4")
    status, headers, _ = limited.request("GET", "/me", token=token)
    assert (status, headers["x-ratelimit-remaining"]) == (200, "1")
    assert limited.request("GET", "/me", token=token)[0] == 200
    assert_limited(*limited.request("GET", "/me", token=token))
    assert_limited(*limited.request("GET", "/me"))  # the same IP, without a token
    assert limited.request("GET", "/me", token=two)[0] == 200


# -- JWT mode ---------------------------------------------------------------------------------------

AUDIENCE = "dagy-tests"
ISSUER = "https://issuer.example.test"


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass
class JwtWorld:
    srv: ServerProcess
    key: rsa.RSAPrivateKey
    kid: str
    opaque_token: str  # issued by the same store before JWTs were required
    api_key: str
    org_b: str

    def token(self, key: rsa.RSAPrivateKey | None = None, kid: str | None = None, **claims) -> str:
        now = int(time.time())
        payload = {
            "email": "member@example.com",
            "aud": AUDIENCE,
            "iss": ISSUER,
            "iat": now,
            "exp": now + 300,
            **claims,
        }
        payload = {k: v for k, v in payload.items() if v is not None}
        return jwt.encode(
            payload, key or self.key, algorithm="RS256", headers={"kid": kid or self.kid}
        )


def serve_jwks(jwks: dict) -> ThreadingHTTPServer:
    body = json.dumps(jwks).encode()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            found = self.path == "/jwks.json"
            self.send_response(200 if found else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body) if found else 0))
            self.end_headers()
            if found:
                self.wfile.write(body)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True, name="jwks").start()
    return httpd


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JwtWorld]:
    home = tmp_path_factory.mktemp("jwt") / "home"
    no_limit = {"DAGY_RATE_LIMIT_PER_MINUTE": "0"}
    # First without JWTs: an account, an opaque access token and an API key in the store.
    plain = start_server(home, env=no_limit)
    try:
        add_user(plain, "member@example.com")
        opaque = plain.login("member@example.com")
        assert plain.request("GET", "/me", token=opaque)[0] == 200
        api_key = plain.request(
            "POST", "/api-keys", token=opaque, body={"name": "ci", "scopes": ["runs.read"]}
        )[2]["key"]
        org_b = plain.request("POST", "/orgs", token=opaque, body={"org_name": "B"})[2]["org_id"]
    finally:
        assert plain.stop() == 0

    key, kid = new_key(), "test-key-1"
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    httpd = serve_jwks({"keys": [{**public, "kid": kid, "alg": "RS256", "use": "sig"}]})
    env = {
        **no_limit,
        "DAGY_JWT_REQUIRED": "true",
        "DAGY_JWKS_URL": f"http://127.0.0.1:{httpd.server_address[1]}/jwks.json",
        "DAGY_JWT_AUDIENCE": AUDIENCE,
        "DAGY_JWT_ISSUER": ISSUER,
    }
    srv = start_server(home, env=env)
    yield JwtWorld(srv, key, kid, opaque, api_key, org_b)
    srv.stop()
    httpd.shutdown()


def assert_unauthorized(status: int, headers: dict[str, str], body: object) -> str:
    assert status == 401, body
    assert isinstance(body, dict) and set(body) == ERROR_KEYS and body["error"] == "unauthorized"
    return str(body["message"])


def test_a_valid_jwt_of_a_member_is_accepted(world):
    status, _, me = world.srv.request("GET", "/me", token=world.token())
    assert status == 200, me
    assert me == {"user_email": "member@example.com", "org_id": "personal", "role": "owner"}
    status, _, profile = world.srv.request("GET", "/users/me", token=world.token())
    assert (status, profile["org_name"]) == (200, "Personal")


def test_a_jwt_picks_its_org_by_claim_or_header(world):
    me = world.srv.request("GET", "/me", token=world.token(org_id=world.org_b))[2]
    assert me["org_id"] == world.org_b
    me = world.srv.request("GET", "/me", token=world.token(), headers={"X-Dagy-Org": world.org_b})[
        2
    ]
    assert me["org_id"] == world.org_b


def test_an_expired_jwt_is_401(world):
    now = int(time.time())
    token = world.token(iat=now - 3600, exp=now - 600)
    assert assert_unauthorized(*world.srv.request("GET", "/me", token=token)) == "Token expired"


def test_a_jwt_without_exp_is_401(world):
    assert_unauthorized(*world.srv.request("GET", "/me", token=world.token(exp=None)))


def test_a_jwt_signed_by_another_key_is_401(world):
    forged = world.token(key=new_key())  # same kid, wrong key
    assert_unauthorized(*world.srv.request("GET", "/me", token=forged))


def test_a_jwt_with_an_unknown_kid_is_401(world):
    assert_unauthorized(*world.srv.request("GET", "/me", token=world.token(kid="other")))


@pytest.mark.parametrize("claims", [{"aud": "someone-else"}, {"iss": "https://evil.example"}])
def test_a_jwt_for_another_audience_or_issuer_is_401(world, claims):
    assert_unauthorized(*world.srv.request("GET", "/me", token=world.token(**claims)))


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def test_algorithm_confusion_and_none_are_401(world):
    """HS256 keyed with the public key (what a naive verifier accepts), and alg "none"."""
    pem = world.key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    claims = b64(
        json.dumps(
            {
                "email": "member@example.com",
                "aud": AUDIENCE,
                "iss": ISSUER,
                "exp": int(time.time()) + 300,
            }
        ).encode()
    )
    for alg in ("HS256", "none"):
        header = b64(json.dumps({"alg": alg, "typ": "JWT", "kid": world.kid}).encode())
        signing_input = f"{header}.{claims}".encode()
        signature = (
            b64(hmac.new(pem, signing_input, hashlib.sha256).digest()) if alg == "HS256" else ""
        )
        token = f"{header}.{claims}.{signature}"
        assert_unauthorized(*world.srv.request("GET", "/me", token=token))


@pytest.mark.parametrize("email", ["stranger@example.com", None, "not-an-email"])
def test_a_jwt_of_a_non_member_or_without_email_is_401(world, email):
    assert_unauthorized(*world.srv.request("GET", "/me", token=world.token(email=email)))


def test_opaque_access_tokens_are_refused_when_jwts_are_required(world):
    message = assert_unauthorized(*world.srv.request("GET", "/me", token=world.opaque_token))
    assert "JWT" in message
    status, _, body = world.srv.request(
        "POST", "/auth/login", body={"email": "member@example.com", "password": PASSWORD}
    )
    assert status == 400, body


def test_api_keys_still_work_when_jwts_are_required(world):
    status, _, me = world.srv.request("GET", "/me", token=world.api_key)
    assert (status, me["user_email"]) == (200, "member@example.com")
    assert world.srv.request("GET", "/api-keys", token=world.api_key)[0] == 403  # its scopes hold

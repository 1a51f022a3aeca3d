"""One-time codes of the browser login (authorization code + PKCE, RFC 7636 S256).

The sign-in page issues a code bound to the PKCE challenge and the CLI's loopback callback; the CLI
redeems it once, with the verifier, within CODE_TTL seconds. Codes live in the server's memory
only: a restart in the middle of a login just means logging in again. Issuing a code and trading
it for a token each write their audit row (``create login_code``, then ``login session``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import secrets
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from dagy.errors import InvalidInputError
from dagy.services.accounts import audit, users
from dagy.services.accounts.audit import Actor, Origin
from dagy.store.accounts import Membership
from dagy.store.duckdb_store import DuckDBStore

CODE_TTL = 60.0
_CHALLENGE_LEN = 43  # base64url of a SHA-256 digest, unpadded


class InvalidGrant(InvalidInputError):
    error = "invalid_grant"


@dataclass
class Grant:
    email: str
    org_id: str
    challenge: str
    redirect_uri: str
    expires: float


@dataclass
class CodeBook:
    grants: dict[str, Grant] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


def check_callback(url: str) -> str:
    """Only ``http://<loopback>:<port>/...`` is a valid CLI callback: never send a code elsewhere."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        port = None
        parts = None  # type: ignore[assignment]
    host = parts.hostname if parts else None
    loopback = host == "localhost"
    if host and not loopback:
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
    if not parts or parts.scheme != "http" or not loopback or not port or parts.username:
        raise InvalidInputError(
            "cli_callback must be an http:// URL on a loopback address (127.0.0.1, ::1, localhost)",
            {"cli_callback": "not a loopback URL"},
        )
    return url


def check_challenge(challenge: str, method: str) -> str:
    if method != "S256":
        raise InvalidInputError(
            "code_challenge_method must be S256", {"code_challenge_method": method}
        )
    if len(challenge) != _CHALLENGE_LEN or not all(c.isalnum() or c in "-_" for c in challenge):
        raise InvalidInputError("Invalid code_challenge", {"code_challenge": "malformed"})
    return challenge


def issue(book: CodeBook, email: str, org_id: str, challenge: str, redirect_uri: str) -> str:
    code = secrets.token_urlsafe(32)
    now = time.monotonic()
    with book.lock:
        for stale in [c for c, g in book.grants.items() if g.expires < now]:
            del book.grants[stale]
        book.grants[code] = Grant(email, org_id, challenge, redirect_uri, now + CODE_TTL)
    return code


def sign_in(
    store: DuckDBStore,
    book: CodeBook,
    membership: Membership,
    challenge: str,
    redirect_uri: str,
    *,
    origin: Origin,
) -> str:
    """A code for the member who just signed in on the page, audited as them."""
    with store.transaction():
        identity = users.member_identity(store, membership.email, membership.org_id, kind="token")
        audit.write(
            store,
            Actor(identity, origin),
            "create",
            "login_code",
            None,
            resource_name=membership.email,
            changes={"method": "browser"},
        )
    return issue(book, membership.email, membership.org_id, challenge, redirect_uri)


def exchange(
    store: DuckDBStore,
    book: CodeBook,
    code: str,
    verifier: str,
    redirect_uri: str,
    *,
    origin: Origin,
) -> users.IssuedToken:
    """Trade a code and its PKCE verifier for an access token: the browser login's session."""
    grant = redeem(book, code, verifier, redirect_uri)
    return users.open_session(
        store, grant.email, grant.org_id, origin=origin, changes={"method": "browser"}
    )


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")


def redeem(book: CodeBook, code: str, verifier: str, redirect_uri: str) -> Grant:
    with book.lock:
        grant = book.grants.pop(code, None)  # one use, whatever the outcome
    if grant is None or grant.expires < time.monotonic():
        raise InvalidGrant("Invalid or expired code")
    if grant.redirect_uri != redirect_uri:
        raise InvalidGrant("redirect_uri does not match the sign-in request")
    if not hmac.compare_digest(s256(verifier), grant.challenge):
        raise InvalidGrant("code_verifier does not match the code_challenge")
    return grant

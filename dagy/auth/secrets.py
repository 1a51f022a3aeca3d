"""Hashing: scrypt for passwords (slow on purpose), SHA-256 for high-entropy tokens and keys."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

# scrypt cost: about 50 ms per check on this class of machine; n, r, p are stored with each hash
# so they can be raised later without invalidating old passwords.
_N, _R, _P = 2**14, 8, 1
_MAXMEM = 64 * 1024 * 1024


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, maxmem=_MAXMEM)
    return f"scrypt${_N}${_R}${_P}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def verify_password(password: str, stored: str | None) -> bool:
    if not stored:
        # Spend the same time as a real check so an unknown account is not cheaper to probe.
        hashlib.scrypt(b"x", salt=b"0" * 16, n=_N, r=_R, p=_P, maxmem=_MAXMEM)
        return False
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(
            password.encode(),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            maxmem=_MAXMEM,
            dklen=len(expected),
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


def token_hash(token: str) -> str:
    """Tokens and API keys carry 256 bits of randomness: a plain SHA-256 is the right hash."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_access_token() -> str:
    return "dat_" + secrets.token_urlsafe(32)


def new_api_key() -> str:
    return "dagy_sk_" + secrets.token_urlsafe(32)


def key_prefix(key: str) -> str:
    return key[:12] + "***"


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(6)}"

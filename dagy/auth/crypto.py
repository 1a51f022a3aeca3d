"""The master key, and sealing secret values with it (AES-256-GCM).

Each value is sealed with a fresh 96-bit nonce, and with associated data naming its row, so a
ciphertext copied to another row (org, environment or name) no longer opens.

The master key comes from exactly one place, the first that has one: ``DAGY_MASTER_KEY`` (base64
of 32 bytes), the OS keyring (service ``dagy``, username ``master-key:<home>``; ``DAGY_KEYRING=0``
skips it), or ``<home>/master.key`` (0600). The first secret creates one (keyring when it round-trips,
else the file). Keyring entry and file hold one base64 key per line, the current key first: during
a rotation the previous key stays listed until every secret is re-encrypted. A ciphertext records
its key's id (``key_id``), so one sealed by another key is recognised as such, never mis-opened.

``cryptography`` is imported by the functions that seal and open: `dagy --help` must start fast.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from dagy.config import settings

# The login's keyring access (service "dagy", a real backend only, a write counts when it reads
# back, DAGY_KEYRING=0 honoured), shared so the master key and the token behave alike.
from dagy.config.credentials import _keyring_get, _keyring_set
from dagy.config.files import write_private
from dagy.config.paths import DagyPaths
from dagy.errors import ConfigError, DagyError

KEY_BYTES = 32
NONCE_BYTES = 12
ENV_VAR = settings.MASTER_KEY.name
KEY_FILE = "master.key"

Source = Literal["env", "keyring", "file"]


class MasterKeyError(ConfigError):
    """The master key is malformed, or cannot be stored where it belongs."""


class SealError(DagyError):
    """A ciphertext does not open: its key is not available, or it was altered or moved."""


@dataclass(frozen=True)
class MasterKey:
    key: bytes = field(repr=False)
    source: Source

    @property
    def key_id(self) -> str:
        return key_id(self.key)


@dataclass(frozen=True)
class KeyChain:
    """The keys of the one place the master key lives: the current key first, then older ones."""

    keys: tuple[MasterKey, ...] = ()

    @property
    def current(self) -> MasterKey | None:
        return self.keys[0] if self.keys else None

    def find(self, wanted: str) -> MasterKey | None:
        return next((k for k in self.keys if hmac.compare_digest(k.key_id, wanted)), None)


def key_id(key: bytes) -> str:
    """A short public name for a key (an HMAC of a constant under it: it reveals nothing)."""
    return "mk_" + hmac.new(key, b"dagy master key id", hashlib.sha256).hexdigest()[:16]


def generate_key() -> bytes:
    return os.urandom(KEY_BYTES)


def encode_key(key: bytes) -> str:
    return base64.b64encode(key).decode("ascii")


def decode_key(text: str, where: str) -> bytes:
    """A key from its base64 text; the error names ``where`` it came from, never the text."""
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise MasterKeyError(f"{where} is not valid base64 (expected 32 random bytes)") from None
    if len(key) != KEY_BYTES:
        raise MasterKeyError(
            f"{where} must be base64 of {KEY_BYTES} bytes, got {len(key)} bytes "
            '(make one with: python -c "import os,base64;print(base64.b64encode(os.urandom(32)).decode())")'
        )
    return key


def key_file(paths: DagyPaths) -> str:
    return str(paths.home / KEY_FILE)


def keyring_username(paths: DagyPaths) -> str:
    return f"master-key:{paths.home}"


# -- where the key lives -----------------------------------------------------------------------------


def load(paths: DagyPaths, environ: Mapping[str, str] | None = None) -> KeyChain:
    """The key chain of the first place that has a key; empty when none has."""
    raw = settings.MASTER_KEY.get(environ)
    if raw:
        return KeyChain((MasterKey(decode_key(raw, ENV_VAR), "env"),))
    text = _keyring_get(keyring_username(paths), environ)
    if text:
        return _chain(text, "keyring", f"the keyring entry {keyring_username(paths)}")
    try:
        text = (paths.home / KEY_FILE).read_text(encoding="ascii")
    except FileNotFoundError:
        return KeyChain()
    except (OSError, UnicodeDecodeError) as exc:
        raise MasterKeyError(f"Cannot read {key_file(paths)}: {exc}") from None
    return _chain(text, "file", key_file(paths))


def create(paths: DagyPaths, environ: Mapping[str, str] | None = None) -> KeyChain:
    """Make the first master key and store it: in the keyring when it round-trips, else the file."""
    key = generate_key()
    stored = _keyring_set(keyring_username(paths), encode_key(key) + "\n", environ)
    source: Source = "keyring" if stored else "file"
    if source == "file":
        save(paths, [key], "file", environ)
    return KeyChain((MasterKey(key, source),))


def save(
    paths: DagyPaths, keys: list[bytes], source: Source, environ: Mapping[str, str] | None = None
) -> None:
    """Store ``keys`` (current first) where the master key lives; ``env`` is the operator's job."""
    text = "".join(encode_key(k) + "\n" for k in keys)
    if source == "keyring":
        if not _keyring_set(keyring_username(paths), text, environ):
            raise MasterKeyError(
                f"The keyring did not store {keyring_username(paths)}; nothing was changed"
            )
    elif source == "file":
        paths.ensure_home()
        write_private(paths.home / KEY_FILE, text)


def _chain(text: str, source: Source, where: str) -> KeyChain:
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise MasterKeyError(f"{where} holds no key")
    return KeyChain(tuple(MasterKey(decode_key(line, where), source) for line in lines))


# -- sealing ----------------------------------------------------------------------------------------


def seal(key: MasterKey, plaintext: bytes, associated: bytes) -> bytes:
    """``nonce || AES-256-GCM(plaintext) || tag``, bound to ``associated``."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(key.key).encrypt(nonce, plaintext, associated)


def unseal(chain: KeyChain, sealed_by: str, blob: bytes, associated: bytes) -> bytes:
    """The plaintext of ``blob``; SealError (saying which key, never what) when it won't open."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    key = chain.find(sealed_by)
    if key is None:
        current = chain.current.key_id if chain.current else "none"
        raise SealError(
            f"sealed by master key {sealed_by}, which is not available (current key: {current})"
        )
    try:
        return AESGCM(key.key).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], associated)
    except (InvalidTag, ValueError):
        raise SealError(f"does not open with master key {sealed_by} (altered or moved)") from None

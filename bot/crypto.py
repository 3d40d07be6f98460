"""Encryption at rest: per-user AES-GCM data keys, wrapped by one master key.

Every text a worker wrote (and every question that quotes them) is sealed with the worker's own
data key before it reaches SQLite. The data key is stored only wrapped by the master key, which
lives outside the database (an environment variable or a 0600 key file). Erasing a user deletes
their wrapped key, so any copy of their rows left anywhere can no longer be opened.
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_BYTES = 32
NONCE_BYTES = 12
_VERSION = b"\x01"


class CryptoError(Exception):
    """A key is missing or malformed, or sealed data does not open with it."""


def _seal(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    nonce = secrets.token_bytes(NONCE_BYTES)
    return _VERSION + nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def _open(key: bytes, blob: bytes, aad: bytes) -> bytes:
    if len(blob) < 1 + NONCE_BYTES + 16 or blob[:1] != _VERSION:
        raise CryptoError("sealed value has an unknown format")
    nonce, body = blob[1 : 1 + NONCE_BYTES], blob[1 + NONCE_BYTES :]
    try:
        return AESGCM(key).decrypt(nonce, body, aad)
    except InvalidTag as exc:
        raise CryptoError("sealed value does not open with this key") from exc


class MasterKey:
    """Wraps and unwraps per-user data keys; never stored in the database."""

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise CryptoError(f"master key must be {KEY_BYTES} bytes")
        self._key = key

    @classmethod
    def from_text(cls, text: str) -> MasterKey:
        """A key written as url-safe base64 (what `generate` prints and key files hold)."""
        try:
            raw = base64.urlsafe_b64decode(text.strip().encode("ascii"))
        except (binascii.Error, UnicodeEncodeError, ValueError) as exc:
            raise CryptoError("master key is not valid base64") from exc
        return cls(raw)

    @classmethod
    def from_settings(cls, text: str | None, path: Path) -> tuple[MasterKey, bool]:
        """The key given as text (environment), else the key file; True if a file was made."""
        if text:
            return cls.from_text(text), False
        return cls.load_or_create(path)

    @classmethod
    def load_or_create(cls, path: Path) -> tuple[MasterKey, bool]:
        """Read the key file, or create one readable by the owner only. True if created."""
        if path.exists():
            mode = path.stat().st_mode & 0o777
            if mode & 0o077:
                raise CryptoError(
                    f"{path}: key file is readable by others (mode {mode:o}); run chmod 600"
                )
            return cls.from_text(path.read_text(encoding="ascii")), False
        path.parent.mkdir(parents=True, exist_ok=True)
        text = generate()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(text + "\n")
        return cls.from_text(text), True

    def wrap(self, user_id: int, data_key: bytes) -> bytes:
        return _seal(self._key, data_key, f"user-key:{user_id}".encode())

    def unwrap(self, user_id: int, wrapped: bytes) -> bytes:
        key = _open(self._key, wrapped, f"user-key:{user_id}".encode())
        if len(key) != KEY_BYTES:
            raise CryptoError("unwrapped data key has the wrong length")
        return key


class Sealer:
    """Seals and opens one user's texts; the context binds a value to its row and column."""

    def __init__(self, user_id: int, data_key: bytes) -> None:
        self.user_id = user_id
        self._key = data_key

    def seal(self, text: str, context: str) -> bytes:
        return _seal(self._key, text.encode("utf-8"), self._aad(context))

    def open(self, blob: bytes, context: str) -> str:
        return _open(self._key, blob, self._aad(context)).decode("utf-8")

    def _aad(self, context: str) -> bytes:
        return f"{self.user_id}:{context}".encode()


def new_data_key() -> bytes:
    return AESGCM.generate_key(bit_length=KEY_BYTES * 8)


def generate() -> str:
    """A fresh master key as url-safe base64 text."""
    return base64.urlsafe_b64encode(secrets.token_bytes(KEY_BYTES)).decode("ascii")

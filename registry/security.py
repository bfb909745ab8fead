"""Secrets at rest: staff password hashes and the protected copy of personal ID numbers."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from dataclasses import dataclass

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM


class PasswordPolicyError(ValueError):
    """A new password does not meet the minimum the registry asks of staff accounts."""


MIN_PASSWORD_LENGTH = 12
TOO_SHORT = f"a staff password needs at least {MIN_PASSWORD_LENGTH} characters"


class Passwords:
    """Argon2id (memory-hard) hashing of staff passwords, with parameters from configuration."""

    def __init__(self, *, time_cost: int, memory_kib: int) -> None:
        self._hasher = PasswordHasher(
            time_cost=time_cost, memory_cost=memory_kib, parallelism=1, type=Type.ID
        )

    def hash(self, password: str) -> str:
        """Hash a new password.

        :raises PasswordPolicyError: if the password is shorter than 12 characters.
        """
        if len(password) < MIN_PASSWORD_LENGTH:
            raise PasswordPolicyError(TOO_SHORT)
        return self._hasher.hash(password)

    def verify(self, stored_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(stored_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored_hash: str) -> bool:
        return self._hasher.check_needs_rehash(stored_hash)


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class ProtectedIdNumber:
    keyed_hash: str
    ciphertext: str


class IdentityVault:
    """Keeps personal ID numbers out of sight.

    Matching uses a keyed hash (HMAC-SHA256): equal numbers give equal hashes, but the hash
    cannot be reversed by enumerating the small space of valid ID numbers without the key.
    The encrypted copy (AES-256-GCM, random nonce) lets an authorised report show the number.
    """

    HASH_PREFIX = "h1:"
    CIPHER_PREFIX = "v1:"

    def __init__(self, *, hash_key: str, encryption_key: str) -> None:
        self._hash_key = hash_key.encode()
        self._aead = AESGCM(_b64decode(encryption_key))

    def keyed_hash(self, normalised_number: str) -> str:
        digest = hmac.new(self._hash_key, normalised_number.encode(), hashlib.sha256).hexdigest()
        return self.HASH_PREFIX + digest

    def encrypt(self, normalised_number: str) -> str:
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, normalised_number.encode(), b"id_number")
        return self.CIPHER_PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode()

    def decrypt(self, ciphertext: str) -> str:
        """Recover the number.

        :raises ValueError: if the text was not produced with this vault's key.
        """
        if not ciphertext.startswith(self.CIPHER_PREFIX):
            raise ValueError("unknown ciphertext version")
        raw = _b64decode(ciphertext[len(self.CIPHER_PREFIX) :])
        try:
            return self._aead.decrypt(raw[:12], raw[12:], b"id_number").decode()
        except InvalidTag:
            raise ValueError("ciphertext does not decrypt with the configured key") from None

    # Other secrets the registry must read back (a staff user's TOTP seed) use the same key
    # with their own associated data, so a sealed value cannot be passed off as another kind.
    def seal(self, secret: str, purpose: str) -> str:
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, secret.encode(), purpose.encode())
        return self.CIPHER_PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode()

    def unseal(self, ciphertext: str, purpose: str) -> str:
        """:raises ValueError: if the text was not sealed with this key for this purpose."""
        if not ciphertext.startswith(self.CIPHER_PREFIX):
            raise ValueError("unknown ciphertext version")
        raw = _b64decode(ciphertext[len(self.CIPHER_PREFIX) :])
        try:
            return self._aead.decrypt(raw[:12], raw[12:], purpose.encode()).decode()
        except InvalidTag:
            raise ValueError("ciphertext does not decrypt with the configured key") from None

    def protect(self, normalised_number: str) -> ProtectedIdNumber:
        return ProtectedIdNumber(
            keyed_hash=self.keyed_hash(normalised_number),
            ciphertext=self.encrypt(normalised_number),
        )

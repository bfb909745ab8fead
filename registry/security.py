"""Secrets at rest: staff password hashes, the protected copy of personal ID numbers and the
sealed bodies of signed requests."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from config.settings import KEY_ID, KEY_ID_RULE
from registry.errors import RegistryError


class PasswordPolicyError(ValueError):
    """A new password does not meet the minimum the registry asks of staff accounts."""


MIN_PASSWORD_LENGTH = 12
TOO_SHORT = f"a staff password needs at least {MIN_PASSWORD_LENGTH} characters"


class HashingBusy(RegistryError):
    """No password-hashing slot of this process came free in time; nothing was hashed."""

    code = "hashing-busy"


class Passwords:
    """Argon2id (memory-hard) hashing of staff passwords, with parameters from configuration.

    Each hash or check holds one of ``concurrency`` slots while it runs. A check costs a core
    and ``memory_kib`` of memory for its whole duration, so without a bound a flood of sign-in
    attempts takes every core from the requests that hash nothing (signed lookups slowed from
    milliseconds to seconds). The bound is per process by nature: it guards the process's own
    cores and memory. A call that finds every slot taken for ``wait_seconds`` raises
    :class:`HashingBusy` instead of queueing, so waiting request threads do not pile up either.
    """

    def __init__(
        self,
        *,
        time_cost: int,
        memory_kib: int,
        concurrency: int = 2,
        wait_seconds: float = 1.0,
    ) -> None:
        self._hasher = PasswordHasher(
            time_cost=time_cost, memory_cost=memory_kib, parallelism=1, type=Type.ID
        )
        self._slots = threading.BoundedSemaphore(concurrency)
        self._wait_seconds = wait_seconds

    @contextmanager
    def _slot(self) -> Iterator[None]:
        if not self._slots.acquire(timeout=self._wait_seconds):
            raise HashingBusy("password checks are busy; try again in a moment")
        try:
            yield
        finally:
            self._slots.release()

    def hash(self, password: str) -> str:
        """Hash a new password.

        :raises PasswordPolicyError: if the password is shorter than 12 characters.
        :raises HashingBusy: if no hashing slot came free in time.
        """
        if len(password) < MIN_PASSWORD_LENGTH:
            raise PasswordPolicyError(TOO_SHORT)
        with self._slot():
            return self._hasher.hash(password)

    def verify(self, stored_hash: str, password: str) -> bool:
        """:raises HashingBusy: if no hashing slot came free in time."""
        with self._slot():
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

    # Other text kept only as a keyed hash (a name typed at the console's sign-in form, which
    # may be a password typed into the wrong field) is hashed together with its purpose, so
    # that none of its hashes can stand for an ID number's.
    def keyed_tag(self, text: str, purpose: str) -> str:
        message = purpose.encode() + b"\0" + text.encode()
        return hmac.new(self._hash_key, message, hashlib.sha256).hexdigest()

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


class EvidenceCipher:
    """Seals the stored body of every signed request (AES-256-GCM, random nonce).

    A body is the non-repudiation evidence of a submission or a seller-rating batch and holds
    the ID numbers of the persons it names, so it is kept only sealed and opened only to be
    verified again. A sealed body is ``ev1:<key id>:`` followed by the nonce and the
    ciphertext; the header is the associated data, so a body cannot be relabelled with another
    key id. New bodies are sealed under the current key; older keys are kept to open what
    they sealed, so keys rotate without re-encrypting anything.
    """

    PREFIX = b"ev1:"

    def __init__(
        self, *, key_id: str, key: str, older_keys: Mapping[str, str] | None = None
    ) -> None:
        keys = {**(older_keys or {}), key_id: key}
        for name in keys:
            if not KEY_ID.fullmatch(name):
                raise ValueError(f"a key id is {KEY_ID_RULE}")
        self._header = self.PREFIX + key_id.encode() + b":"
        self._aeads = {name.encode(): AESGCM(_b64decode(text)) for name, text in keys.items()}
        self._current = self._aeads[key_id.encode()]

    @classmethod
    def is_sealed(cls, stored: bytes) -> bool:
        return stored.startswith(cls.PREFIX)

    def seal(self, body: bytes) -> bytes:
        nonce = os.urandom(12)
        return self._header + nonce + self._current.encrypt(nonce, body, self._header)

    def open(self, sealed: bytes) -> bytes:
        """The body as received.

        :raises ValueError: if the bytes are not a sealed body, name a key id that is not
            configured, or were altered or sealed under another key with that id.
        """
        if not self.is_sealed(sealed):
            raise ValueError("the stored body is not sealed")
        key_id, separator, rest = sealed[len(self.PREFIX) :].partition(b":")
        aead = self._aeads.get(key_id) if separator else None
        if aead is None:
            shown = key_id[:32].decode("ascii", "replace")
            raise ValueError(f"the stored body is sealed under key id {shown!r}, not configured")
        header = sealed[: len(sealed) - len(rest)]
        try:
            return aead.decrypt(rest[:12], rest[12:], header)
        except InvalidTag:
            raise ValueError(
                "the stored body does not decrypt: altered, or sealed under another key"
            ) from None

"""The registry's own signing key and the receipts it signs.

A receipt is signed with Ed25519 over its RFC 8785 (JSON Canonicalization Scheme) form, so
anyone holding the registry's public key (published as a JWKS) can check it with any JCS
implementation, without trusting the registry's code.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ed25519

from registry.members import jwk_thumbprint, public_jwk


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def canonical_json(document: Any) -> bytes:
    """RFC 8785 canonical bytes (integers above 2^53 are refused: send them as strings).

    Receipts hold only strings, safe integers, booleans, null, lists and objects with ASCII
    keys. For those, JCS is exactly Python's sorted, compact ``json.dumps`` without ASCII
    escaping (the two escape the same characters the same way), which is many times faster
    than the general implementation; anything else (floats, non-ASCII keys) goes through it.
    """
    if _simple(document):
        return json.dumps(
            document, ensure_ascii=False, sort_keys=True, separators=(",", ":")
        ).encode()
    return rfc8785.dumps(document)


_SAFE_INTEGER = 2**53 - 1


def _simple(value: Any) -> bool:
    if value is None or isinstance(value, bool | str):
        return True
    if isinstance(value, int):
        return -_SAFE_INTEGER <= value <= _SAFE_INTEGER
    if isinstance(value, list):
        return all(_simple(item) for item in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and k.isascii() and _simple(v) for k, v in value.items())
    return False


class RegistrySigner:
    """Signs receipts (and, later, log checkpoints and webhook calls) as the registry."""

    def __init__(self, private_seed_b64url: str) -> None:
        seed = _b64url_decode(private_seed_b64url)
        if len(seed) != 32:
            raise ValueError("the registry signing key is the base64url of a 32-byte seed")
        self._private = ed25519.Ed25519PrivateKey.from_private_bytes(seed)
        self.public_key = self._private.public_key()
        self.jwk = public_jwk(self.public_key)
        self.key_id = jwk_thumbprint(self.jwk)

    def sign(self, document: Any) -> str:
        return _b64url(self._private.sign(canonical_json(document)))

    def sign_bytes(self, data: bytes) -> bytes:
        return self._private.sign(data)

    @property
    def private_key(self) -> ed25519.Ed25519PrivateKey:
        """For RFC 9421 signatures of the registry's webhook calls (``api.webhooks``)."""
        return self._private

    def jwks(self) -> dict[str, Any]:
        return {"keys": [{**self.jwk, "kid": self.key_id, "alg": "EdDSA", "use": "sig"}]}


def verify_signed_document(
    document: Any, signature_b64url: str, public_key: ed25519.Ed25519PublicKey
) -> bool:
    """Check a registry signature over ``document`` (what a member's verifier does)."""
    try:
        public_key.verify(_b64url_decode(signature_b64url), canonical_json(document))
    except (InvalidSignature, ValueError):
        return False
    return True

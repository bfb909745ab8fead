"""Time-based one-time passwords (RFC 6238, HOTP of RFC 4226 with SHA-1, 6 digits, 30 s).

A few lines of ``hmac`` rather than a dependency: the algorithm is fixed by the RFCs and
what every authenticator app speaks. The secret is shown once, as an ``otpauth://`` URI,
and kept encrypted by the identity vault (``registry.security``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import struct
from urllib.parse import quote, urlencode

STEP_SECONDS = 30
DIGITS = 6
# One step either side absorbs the drift of a phone's clock; more would lengthen the life of
# an observed code for nothing.
DRIFT_STEPS = 1


def new_secret() -> str:
    """A fresh 160-bit secret in base32 (the form authenticator apps take)."""
    return base64.b32encode(os.urandom(20)).decode().rstrip("=")


def _key(secret: str) -> bytes:
    text = secret.strip().replace(" ", "").upper()
    return base64.b32decode(text + "=" * (-len(text) % 8))


def hotp(secret: str, counter: int) -> str:
    digest = hmac.new(_key(secret), struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    number = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(number % 10**DIGITS).zfill(DIGITS)


def step_at(unix_seconds: float) -> int:
    return int(unix_seconds // STEP_SECONDS)


def code_at(secret: str, unix_seconds: float) -> str:
    return hotp(secret, step_at(unix_seconds))


def matching_step(secret: str, code: str, unix_seconds: float) -> int | None:
    """The time step ``code`` belongs to (within the allowed drift), or None."""
    code = (code or "").strip().replace(" ", "")
    if len(code) != DIGITS or not code.isdigit():
        return None
    now = step_at(unix_seconds)
    for step in range(now - DRIFT_STEPS, now + DRIFT_STEPS + 1):
        if hmac.compare_digest(hotp(secret, step), code):
            return step
    return None


def provisioning_uri(secret: str, account: str, issuer: str = "creditreg") -> str:
    label = quote(f"{issuer}:{account}")
    query = urlencode(
        {"secret": secret, "issuer": issuer, "digits": DIGITS, "period": STEP_SECONDS}
    )
    return f"otpauth://totp/{label}?{query}"

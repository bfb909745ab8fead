"""HTTP Message Signatures (RFC 9421) and Content-Digest (RFC 9530), for both sides.

The registry verifies member requests with it, members' clients sign with it, and the
registry signs its webhook calls with it. It knows nothing of Flask or of the database:
requests come in as :class:`HttpRequest`, keys through a lookup function.

Only what the registry needs is implemented: derived components ``@method``,
``@authority``, ``@path``, ``@query``, ``@target-uri``, ``@scheme``, ``@request-target``
and plain header fields; algorithms ``ed25519`` and ``ecdsa-p256-sha256``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import urlsplit

import http_sf
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

ED25519 = "ed25519"
ECDSA_P256_SHA256 = "ecdsa-p256-sha256"
ALGORITHMS = (ED25519, ECDSA_P256_SHA256)

PublicKey = ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey
PrivateKey = ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey


class SignatureError(Exception):
    """A request's signature is refused; ``reason`` is a stable slug naming why."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


@dataclass
class HttpRequest:
    """What a signature can cover, independent of any web framework."""

    method: str
    scheme: str
    authority: str
    path: str
    query: str | None  # without the leading "?"; None when the URL has no "?"
    headers: Mapping[str, str]  # names in any case; one value per name
    body: bytes = b""

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        for key, value in self.headers.items():
            if key.lower() == lowered:
                return value
        return None

    @classmethod
    def from_url(
        cls, method: str, url: str, headers: Mapping[str, str], body: bytes = b""
    ) -> HttpRequest:
        parts = urlsplit(url)
        query = parts.query if "?" in url else None
        return cls(
            method=method.upper(),
            scheme=parts.scheme,
            authority=parts.netloc,
            path=parts.path or "/",
            query=query,
            headers=dict(headers),
            body=body,
        )


def _parse_dictionary(raw: str) -> dict[str, Any]:
    """An RFC 8941 dictionary; raises whatever the parser raises on malformed input."""
    parsed: Any = http_sf.parse(raw.encode(), tltype="dictionary")
    if not isinstance(parsed, dict):
        raise ValueError("not a dictionary")
    return parsed


def _serialize_dictionary(value: dict[str, Any]) -> str:
    serialized: str = http_sf.ser(cast(Any, value))
    return serialized


def content_digest(body: bytes) -> str:
    """The RFC 9530 ``Content-Digest`` value for ``body``, with SHA-256."""
    return "sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()).decode() + ":"


def check_content_digest(header_value: str, body: bytes) -> None:
    """:raises SignatureError: ``digest-mismatch`` unless a sha-256 digest matches ``body``."""
    try:
        parsed = _parse_dictionary(header_value)
    except Exception:  # noqa: BLE001 - any parse failure is a malformed header
        raise SignatureError("digest-mismatch", "Content-Digest is not a valid header") from None
    entry = parsed.get("sha-256") if isinstance(parsed, dict) else None
    if entry is None or not isinstance(entry[0], bytes):
        raise SignatureError("digest-mismatch", "Content-Digest carries no sha-256 digest")
    if not hmac.compare_digest(entry[0], hashlib.sha256(body).digest()):
        raise SignatureError("digest-mismatch", "the body does not match its Content-Digest")


def _authority(request: HttpRequest) -> str:
    authority = request.authority.lower()
    default_port = {"http": ":80", "https": ":443"}.get(request.scheme.lower())
    if default_port and authority.endswith(default_port):
        authority = authority[: -len(default_port)]
    return authority


def component_value(name: str, request: HttpRequest) -> str:
    """The value of one covered component (RFC 9421 section 2).

    :raises SignatureError: ``signature-malformed`` for a component the request lacks.
    """
    if name == "@method":
        return request.method.upper()
    if name == "@authority":
        return _authority(request)
    if name == "@scheme":
        return request.scheme.lower()
    if name == "@path":
        return request.path
    if name == "@query":
        return "?" + (request.query or "")
    if name == "@request-target":
        return request.path + ("?" + request.query if request.query is not None else "")
    if name == "@target-uri":
        target = f"{request.scheme.lower()}://{_authority(request)}{request.path}"
        return target + ("?" + request.query if request.query is not None else "")
    if name.startswith("@"):
        raise SignatureError("signature-malformed", f"unsupported derived component {name}")
    value = request.header(name)
    if value is None:
        raise SignatureError("signature-malformed", f"covered header {name} is missing")
    return " ".join(value.strip().split("\n"))


def _serialize_params(components: list[str], params: dict[str, Any]) -> str:
    inner = _serialize_dictionary({"sig": ([(c, {}) for c in components], params)})
    return inner[len("sig=") :]


def signature_base(components: list[str], params: dict[str, Any], request: HttpRequest) -> str:
    """The exact text that is signed (RFC 9421 section 2.5)."""
    lines = [f'"{name}": {component_value(name, request)}' for name in components]
    lines.append(f'"@signature-params": {_serialize_params(components, params)}')
    return "\n".join(lines)


def _sign_bytes(private_key: PrivateKey, data: bytes) -> bytes:
    if isinstance(private_key, ed25519.Ed25519PrivateKey):
        return private_key.sign(data)
    der = private_key.sign(data, ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def verify_bytes(public_key: PublicKey, signature: bytes, data: bytes) -> bool:
    try:
        if isinstance(public_key, ed25519.Ed25519PublicKey):
            public_key.verify(signature, data)
        else:
            if len(signature) != 64:
                return False
            der = encode_dss_signature(
                int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
            )
            public_key.verify(der, data, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True


def algorithm_of(key: PrivateKey | PublicKey) -> str:
    if isinstance(key, ed25519.Ed25519PrivateKey | ed25519.Ed25519PublicKey):
        return ED25519
    return ECDSA_P256_SHA256


def default_components(request: HttpRequest) -> list[str]:
    components = ["@method", "@authority", "@path"]
    if request.query is not None:
        components.append("@query")
    if request.body:
        components.append("content-digest")
        # How the body is read (JSON, CSV, a form) is part of what was sent.
        if request.header("content-type") is not None:
            components.append("content-type")
    return components


def sign_request(
    request: HttpRequest,
    *,
    key_id: str,
    private_key: PrivateKey,
    created: int,
    expires_in: int = 300,
    nonce: str | None = None,
    components: Iterable[str] | None = None,
    label: str = "sig1",
) -> dict[str, str]:
    """Sign ``request``; returns the headers to add (Content-Digest when there is a body)."""
    added: dict[str, str] = {}
    if request.body or request.header("content-digest") is not None:
        added["Content-Digest"] = content_digest(request.body)
        request = HttpRequest(
            request.method,
            request.scheme,
            request.authority,
            request.path,
            request.query,
            {**request.headers, **added},
            request.body,
        )
    covered = list(components) if components is not None else default_components(request)
    params: dict[str, Any] = {
        "created": created,
        "expires": created + expires_in,
        "keyid": key_id,
        "nonce": nonce or secrets.token_urlsafe(18),
        "alg": algorithm_of(private_key),
    }
    base = signature_base(covered, params, request)
    signature = _sign_bytes(private_key, base.encode())
    added["Signature-Input"] = f"{label}={_serialize_params(covered, params)}"
    added["Signature"] = _serialize_dictionary({label: (signature, {})})
    return added


@dataclass(frozen=True)
class VerificationPolicy:
    required_components: tuple[str, ...] = ("@method", "@authority", "@path")
    max_validity_seconds: int = 300
    clock_skew_seconds: int = 60


@dataclass
class VerifiedSignature:
    label: str
    key_id: str
    nonce: str
    created: int
    expires: int
    components: list[str]
    signature_input: str
    signature: str
    base: str
    key: Any = field(repr=False)


KeyLookup = Callable[[str], tuple[Any, PublicKey, str]]
"""Given a keyid: (the caller's key record, its public key, its algorithm); raises
SignatureError for unknown, revoked, expired or suspended keys."""


def _parse_signature_headers(request: HttpRequest) -> tuple[str, list[str], dict[str, Any], bytes]:
    raw_input = request.header("signature-input")
    raw_signature = request.header("signature")
    if not raw_input or not raw_signature:
        raise SignatureError(
            "signature-missing", "the request carries no Signature and Signature-Input headers"
        )
    try:
        inputs = _parse_dictionary(raw_input)
        signatures = _parse_dictionary(raw_signature)
    except Exception:  # noqa: BLE001 - any parse failure is a malformed header
        raise SignatureError(
            "signature-malformed", "Signature or Signature-Input is not a structured field"
        ) from None
    if not isinstance(inputs, dict) or len(inputs) != 1:
        raise SignatureError("signature-malformed", "exactly one signature is expected")
    label, value = next(iter(inputs.items()))
    if not isinstance(value, tuple) or not isinstance(value[0], list):
        raise SignatureError("signature-malformed", "Signature-Input is not an inner list")
    entry = signatures.get(label) if isinstance(signatures, dict) else None
    if entry is None or not isinstance(entry[0], bytes):
        raise SignatureError("signature-malformed", f"no signature with label {label}")
    components = []
    for item, item_params in value[0]:
        if not isinstance(item, str) or item_params:
            raise SignatureError(
                "signature-malformed", "component names must be plain strings without parameters"
            )
        components.append(item.lower())
    return label, components, dict(value[1]), entry[0]


def verify_request(
    request: HttpRequest,
    *,
    lookup_key: KeyLookup,
    now: int,
    policy: VerificationPolicy | None = None,
) -> VerifiedSignature:
    """Check a request's signature; every refusal names its reason.

    The nonce is not checked here (it needs storage): the caller records it afterwards.

    :raises SignatureError: with reason ``signature-missing``, ``signature-malformed``,
        ``component-not-covered``, ``key-unknown``/``key-revoked``/``key-expired``/
        ``member-suspended`` (from ``lookup_key``), ``algorithm-mismatch``,
        ``created-in-future``, ``created-too-old``, ``signature-expired``,
        ``validity-too-long``, ``signature-mismatch`` or ``digest-mismatch``.
    """
    policy = policy or VerificationPolicy()
    label, components, params, signature = _parse_signature_headers(request)

    for name in ("keyid", "created", "expires", "nonce"):
        if name not in params:
            raise SignatureError("signature-malformed", f"signature parameter {name} is missing")
    key_id, created, expires, nonce = (
        params["keyid"],
        params["created"],
        params["expires"],
        params["nonce"],
    )
    if not isinstance(key_id, str) or not isinstance(nonce, str):
        raise SignatureError("signature-malformed", "keyid and nonce must be strings")
    if not 8 <= len(nonce) <= 128 or not 1 <= len(key_id) <= 128:
        raise SignatureError(
            "signature-malformed", "nonce must have 8 to 128 characters, keyid 1 to 128"
        )
    if not isinstance(created, int) or not isinstance(expires, int):
        raise SignatureError("signature-malformed", "created and expires must be integers")

    required = list(policy.required_components)
    if request.query is not None:
        required.append("@query")
    if request.body:
        required.append("content-digest")
    missing = [name for name in required if name not in components]
    if missing:
        raise SignatureError(
            "component-not-covered", f"the signature must cover {', '.join(missing)}"
        )

    key_record, public_key, algorithm = lookup_key(key_id)
    if "alg" in params and params["alg"] != algorithm:
        raise SignatureError(
            "algorithm-mismatch", f"the key is registered for {algorithm}, not {params['alg']}"
        )

    skew = policy.clock_skew_seconds
    if created > now + skew:
        raise SignatureError("created-in-future", "the signature was created in the future")
    if expires <= created or expires - created > policy.max_validity_seconds:
        raise SignatureError(
            "validity-too-long",
            f"expires must be within {policy.max_validity_seconds} s of created",
        )
    if now - created > policy.max_validity_seconds + skew:
        raise SignatureError("created-too-old", "the signature was created too long ago")
    if now > expires + skew:
        raise SignatureError("signature-expired", "the signature has expired")

    base = signature_base(components, params, request)
    if not verify_bytes(public_key, signature, base.encode()):
        raise SignatureError("signature-mismatch", "the signature does not verify")
    if request.body or "content-digest" in components:
        digest = request.header("content-digest")
        if digest is None:
            raise SignatureError("digest-mismatch", "Content-Digest is missing")
        check_content_digest(digest, request.body)

    return VerifiedSignature(
        label=label,
        key_id=key_id,
        nonce=nonce,
        created=created,
        expires=expires,
        components=components,
        signature_input=request.header("signature-input") or "",
        signature=request.header("signature") or "",
        base=base,
        key=key_record,
    )


@dataclass(frozen=True)
class EvidenceCheck:
    """One step of re-verifying a stored signed request."""

    name: str
    ok: bool
    detail: str


def verify_stored_request(
    *,
    signature_input: str,
    signature: str,
    signature_base: str,
    body: bytes,
    public_key: PublicKey,
) -> list[EvidenceCheck]:
    """Re-verify a request from what was kept of it: its two signature headers, the signature
    base the registry computed, the body bytes, and the signer's public key.

    Nothing else of the original request is needed. The base is trusted only as far as it
    is proven: its ``@signature-params`` line must be exactly the parameters the member sent
    in Signature-Input, its content-digest line must match the body, and the member's
    signature must verify over it. Each step is reported, so an auditor sees which failed.
    """
    checks: list[EvidenceCheck] = []
    headers = {"Signature-Input": signature_input, "Signature": signature}
    try:
        _, components, params, raw_signature = _parse_signature_headers(
            HttpRequest("POST", "https", "", "/", None, headers)
        )
    except SignatureError as exc:
        return [EvidenceCheck("signature-headers", False, exc.detail)]
    checks.append(EvidenceCheck("signature-headers", True, f"covers {', '.join(components)}"))

    lines = signature_base.split("\n")
    expected_params = f'"@signature-params": {_serialize_params(components, params)}'
    checks.append(
        EvidenceCheck(
            "signature-params",
            lines[-1] == expected_params,
            "the base ends with the parameters of Signature-Input"
            if lines[-1] == expected_params
            else "the base's @signature-params line differs from Signature-Input",
        )
    )
    named = [line.split('": ', 1)[0].lstrip('"') for line in lines[:-1]]
    checks.append(
        EvidenceCheck(
            "covered-components",
            named == components,
            "the base has one line per covered component, in order"
            if named == components
            else f"the base names {named}, Signature-Input covers {components}",
        )
    )

    digest_lines = [line for line in lines[:-1] if line.startswith('"content-digest": ')]
    if digest_lines:
        try:
            check_content_digest(digest_lines[0].split(": ", 1)[1], body)
            checks.append(EvidenceCheck("body-digest", True, "the body matches the signed digest"))
        except SignatureError as exc:
            checks.append(EvidenceCheck("body-digest", False, exc.detail))
    else:
        checks.append(
            EvidenceCheck(
                "body-digest", not body, "a body without a signed digest" if body else "no body"
            )
        )

    verified = verify_bytes(public_key, raw_signature, signature_base.encode())
    checks.append(
        EvidenceCheck(
            "signature",
            verified,
            "the member's key signed this base" if verified else "the signature does not verify",
        )
    )
    return checks

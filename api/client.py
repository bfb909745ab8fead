"""A member's client: signs requests (RFC 9421) and talks to the registry over HTTP.

Importable on its own by members::

    from api.client import RegistryClient, RequestSigner
    signer = RequestSigner.from_pem_file("member.key", key_id="...")
    client = RegistryClient("https://registry.example", signer)
    receipt = client.submit("2026-11-25-batch-1", records)

It uses only the standard library for HTTP, so it runs wherever the registry's package does.
"""

from __future__ import annotations

import base64
import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from api.httpsig import HttpRequest, PrivateKey, sign_request
from registry.members import jwk_thumbprint, public_jwk


def write_private_key(path: Path, private_key: PrivateKey, *, replace: bool = False) -> None:
    """Write ``private_key`` as PEM (PKCS#8), created owner-only from the first byte, never
    readable by others for a moment. An existing file is refused unless ``replace``."""
    pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if replace else os.O_EXCL)
    with os.fdopen(os.open(path, flags, 0o600), "wb") as handle:
        handle.write(pem)


class RequestSigner:
    """Adds Signature, Signature-Input and Content-Digest headers to a request."""

    def __init__(
        self,
        key_id: str,
        private_key: PrivateKey,
        *,
        clock: Callable[[], float] = time.time,
        expires_in: int = 300,
    ) -> None:
        self.key_id = key_id
        self.private_key = private_key
        self.clock = clock
        self.expires_in = expires_in

    @classmethod
    def from_pem_file(
        cls, path: str | Path, key_id: str | None = None, **options: Any
    ) -> RequestSigner:
        """Load a PEM private key; ``key_id`` defaults to the public key's RFC 7638
        thumbprint, which is the id the registry gives a key it registers."""
        key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
        if not isinstance(key, ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey):
            raise ValueError("the key must be an Ed25519 or P-256 private key")
        return cls(key_id or jwk_thumbprint(public_jwk(key.public_key())), key, **options)

    def headers_for(
        self,
        method: str,
        url: str,
        body: bytes = b"",
        headers: Mapping[str, str] | None = None,
        components: Iterable[str] | None = None,
        nonce: str | None = None,
    ) -> dict[str, str]:
        """The signature headers for this request (merge them into the request's headers)."""
        request = HttpRequest.from_url(method, url, dict(headers or {}), body)
        return sign_request(
            request,
            key_id=self.key_id,
            private_key=self.private_key,
            created=int(self.clock()),
            expires_in=self.expires_in,
            nonce=nonce,
            components=components,
        )


@dataclass
class ApiResponse:
    status: int
    headers: dict[str, str]
    body: Any  # parsed JSON, else the text
    raw: bytes = b""  # the bytes as received (a PDF, a CSV with its byte-order mark)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


class RegistryError(Exception):
    """The registry answered with a problem document."""

    def __init__(self, response: ApiResponse) -> None:
        problem = response.body if isinstance(response.body, dict) else {}
        super().__init__(f"{response.status} {problem.get('type')}: {problem.get('detail')}")
        self.response = response
        self.problem = problem


class RegistryClient:
    def __init__(self, base_url: str, signer: RequestSigner, *, timeout: float = 60) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError("the registry URL must start with http:// or https://")
        self.base_url = base_url.rstrip("/")
        self.signer = signer
        self.timeout = timeout

    def request(
        self, method: str, path: str, *, body: bytes = b"", content_type: str | None = None
    ) -> ApiResponse:
        url = self.base_url + path
        headers = {"Accept": "application/json"}
        if content_type:
            headers["Content-Type"] = content_type
        headers.update(self.signer.headers_for(method, url, body, headers))
        # The scheme was checked in __init__: only http(s) URLs are ever opened.
        req = urllib.request.Request(url, data=body or None, method=method, headers=headers)  # noqa: S310
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:  # noqa: S310
                return _response(resp.status, dict(resp.headers), resp.read())
        except urllib.error.HTTPError as err:
            return _response(err.code, dict(err.headers), err.read())

    def submit(self, submission_id: str, records: list[dict[str, Any]]) -> dict[str, Any]:
        """Send one submission; returns the signed receipt.

        :raises RegistryError: if the registry refuses it (the problem is attached).
        """
        body = json.dumps(
            {"submission_id": submission_id, "records": records}, ensure_ascii=False
        ).encode()
        response = self.request(
            "POST", "/api/v1/submissions", body=body, content_type="application/json"
        )
        if not response.ok:
            raise RegistryError(response)
        return response.body  # type: ignore[no-any-return]

    def receipt(self, submission_id: str) -> dict[str, Any]:
        response = self.request("GET", f"/api/v1/submissions/{submission_id}")
        if not response.ok:
            raise RegistryError(response)
        return response.body  # type: ignore[no-any-return]


def registry_public_keys(client: RegistryClient) -> dict[str, ed25519.Ed25519PublicKey]:
    """The registry's receipt-signing keys from its JWKS, by key id.

    :raises RegistryError: if the registry does not answer with its key set.
    """
    response = client.request("GET", "/api/v1/registry/keys")
    if not response.ok or not isinstance(response.body, dict):
        raise RegistryError(response)
    keys: dict[str, ed25519.Ed25519PublicKey] = {}
    for jwk in response.body.get("keys", []):
        if jwk.get("kty") == "OKP" and jwk.get("crv") == "Ed25519" and "kid" in jwk:
            raw = base64.urlsafe_b64decode(jwk["x"] + "=" * (-len(jwk["x"]) % 4))
            keys[jwk["kid"]] = ed25519.Ed25519PublicKey.from_public_bytes(raw)
    return keys


def _response(status: int, headers: dict[str, str], raw: bytes) -> ApiResponse:
    try:
        body: Any = json.loads(raw) if raw else None
    except ValueError:
        body = raw.decode("utf-8", "replace")
    return ApiResponse(status, headers, body, raw)

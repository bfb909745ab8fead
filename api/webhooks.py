"""The registry's webhook calls: signed POSTs (RFC 9421) over plain ``http.client``.

Each call is signed with the registry's own Ed25519 key, the one that signs receipts and is
published at ``/api/v1/registry/keys`` (its ``kid`` is the signature's ``keyid``). The
signature covers ``@method``, ``@authority``, ``@path`` (and ``@query`` if the URL has one),
``content-digest``, ``content-type`` and ``webhook-id``, the delivery id a receiver
deduplicates on. Redirects
are never followed: a 3xx is a failed attempt like any other non-2xx answer.
"""

from __future__ import annotations

import http.client
import ssl
import time
from datetime import datetime
from urllib.parse import urlsplit

from api.httpsig import HttpRequest, sign_request
from registry.receipts import RegistrySigner
from registry.webhooks import Outcome

DELIVERY_HEADER = "Webhook-Id"
COVERED = ["@method", "@authority", "@path", "content-digest", "content-type", "webhook-id"]
USER_AGENT = "creditreg-webhooks/1"
MAX_RESPONSE_BYTES = 4096


def signed_headers(
    signer: RegistrySigner, url: str, body: bytes, *, delivery_id: str, created: int
) -> dict[str, str]:
    """Every header of a webhook call, signature included."""
    headers = {
        "Content-Type": "application/json",
        DELIVERY_HEADER: delivery_id,
        "User-Agent": USER_AGENT,
    }
    request = HttpRequest.from_url("POST", url, headers, body)
    components = COVERED + (["@query"] if request.query is not None else [])
    headers.update(
        sign_request(
            request,
            key_id=signer.key_id,
            private_key=signer.private_key,
            created=created,
            components=components,
        )
    )
    return headers


class HttpTransport:
    """Posts a delivery and reports what came back; a receiver's failure is an outcome."""

    def __init__(self, signer: RegistrySigner, *, tls: ssl.SSLContext | None = None) -> None:
        self.signer = signer
        self.tls = tls or ssl.create_default_context()

    def post(
        self, url: str, body: bytes, *, delivery_id: str, now: datetime, timeout: float
    ) -> Outcome:
        started = time.monotonic()
        parts = urlsplit(url)
        headers = signed_headers(
            self.signer, url, body, delivery_id=delivery_id, created=int(now.timestamp())
        )
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        connection: http.client.HTTPConnection
        if parts.scheme == "https":
            connection = http.client.HTTPSConnection(
                parts.hostname or "", parts.port, timeout=timeout, context=self.tls
            )
        else:
            connection = http.client.HTTPConnection(
                parts.hostname or "", parts.port, timeout=timeout
            )
        try:
            # The Host header must be the authority that was signed.
            connection.putrequest("POST", target, skip_host=True, skip_accept_encoding=True)
            connection.putheader("Host", parts.netloc)
            for name, value in headers.items():
                connection.putheader(name, value)
            connection.putheader("Content-Length", str(len(body)))
            connection.endheaders(body)
            response = connection.getresponse()
            response.read(MAX_RESPONSE_BYTES)
            status = response.status
            error = None if 200 <= status < 300 else f"HTTP {status} {response.reason}"[:500]
        except TimeoutError:
            status, error = None, f"no answer within {timeout:g} s"
        except (OSError, http.client.HTTPException) as exc:
            status, error = None, f"{type(exc).__name__}: {exc}"[:500]
        finally:
            connection.close()
        return Outcome(status, error, int((time.monotonic() - started) * 1000))


def transport_from_settings(settings: object) -> HttpTransport:
    return HttpTransport(RegistrySigner(settings.REGISTRY_SIGNING_KEY))  # type: ignore[attr-defined]

"""The registry's webhook calls: signed POSTs (RFC 9421) over plain ``http.client``.

Each call is signed with the registry's own Ed25519 key, the one that signs receipts and is
published at ``/api/v1/registry/keys`` (its ``kid`` is the signature's ``keyid``). The
signature covers ``@method``, ``@authority``, ``@path`` (and ``@query`` if the URL has one),
``content-digest``, ``content-type`` and ``webhook-id``, the delivery id a receiver
deduplicates on. Redirects are never followed: a 3xx is a failed attempt like any other
non-2xx answer.

In production a receiver must be on the internet (:class:`AddressPolicy`): its host is
resolved once per attempt, every address checked, and the connection made to a checked
address. The member is told an HTTP status, or that no answer came; the reason (refused,
reset, timed out, address refused) is kept in the attempt, for the operator.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import SplitResult, urlsplit

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


# --- which addresses a receiver may have -----------------------------------------------------

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
NAT64 = ipaddress.ip_network("64:ff9b::/96")
REFUSED_HOST = "the host must resolve to public internet addresses only"


class AddressRefused(Exception):
    """A receiver's host does not resolve, or resolves to an address the policy refuses."""


def resolve_host(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to, in the order to try them.

    :raises OSError: the name does not resolve.
    """
    found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in found))


def is_public(address: IPAddress) -> bool:
    """Reachable on the internet, and not a way around that written in IPv6."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        elif address in NAT64:  # the local NAT64 gateway reaches the IPv4 inside
            address = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address.is_global and not address.is_multicast


@dataclass(frozen=True)
class AddressPolicy:
    """Where webhooks may go: with ``public_only``, to public addresses and the
    ``allowed`` networks only, so that a member's URL never reaches the registry's own
    host, its network or a cloud metadata service."""

    public_only: bool
    allowed: tuple[IPNetwork, ...] = ()
    resolve: Callable[[str, int], list[str]] = resolve_host

    @classmethod
    def from_settings(cls, settings: Any) -> AddressPolicy:
        return cls(
            public_only=settings.MONITORING_WEBHOOK_PUBLIC_ONLY,
            allowed=tuple(settings.MONITORING_WEBHOOK_ALLOWED_NETWORKS),
        )

    def allows(self, address: IPAddress) -> bool:
        if not self.public_only or is_public(address):
            return True
        return any(address.version == n.version and address in n for n in self.allowed)

    def addresses(self, host: str, port: int) -> list[str]:
        """The addresses to connect to for ``host``, every one of them allowed.

        :raises AddressRefused: the host does not resolve, or one of its addresses is
            refused (a name with a public and a private address is refused as a whole).
        """
        try:
            found = self.resolve(host, port)
        except (OSError, UnicodeError):
            raise AddressRefused(f"{host} does not resolve") from None
        refused = [a for a in found if not self.allows(ipaddress.ip_address(a.split("%")[0]))]
        if not found or refused:
            raise AddressRefused(f"{host} resolves to {', '.join(refused) or 'nothing'}")
        return found


def default_port(parts: SplitResult) -> int:
    return parts.port or (443 if parts.scheme == "https" else 80)


# --- the transport -----------------------------------------------------------------------------

# What a member is told when no HTTP answer came back, whatever the reason: telling apart a
# refused connection, a closed one and a timeout would let a URL scan ports.
NOT_REACHED = (
    "the receiver could not be reached (no connection, no answer in time, or an address "
    "webhooks are not sent to)"
)


def _connect(addresses: list[str], port: int, timeout: float | None) -> socket.socket:
    """A connection to the first of ``addresses`` that takes one: the addresses checked,
    never a second answer of the name server."""
    error: OSError = OSError("no address")
    for address in addresses:
        try:
            return socket.create_connection((address, port), timeout)
        except OSError as exc:
            error = exc
    raise error


class _CheckedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, addresses: list[str], timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self.addresses = addresses

    def connect(self) -> None:
        self.sock = _connect(self.addresses, self.port, self.timeout)


class _CheckedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(
        self, host: str, port: int, addresses: list[str], timeout: float, tls: ssl.SSLContext
    ) -> None:
        super().__init__(host, port, timeout=timeout, context=tls)
        self.addresses = addresses
        self.tls = tls

    def connect(self) -> None:
        # The certificate is checked against the URL's host name, as without pinning.
        raw = _connect(self.addresses, self.port, self.timeout)
        self.sock = self.tls.wrap_socket(raw, server_hostname=self.host)


class HttpTransport:
    """Posts a delivery and reports what came back; a receiver's failure is an outcome."""

    def __init__(
        self,
        signer: RegistrySigner,
        *,
        addresses: AddressPolicy,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.signer = signer
        self.addresses = addresses
        self.tls = tls or ssl.create_default_context()

    def post(
        self, url: str, body: bytes, *, delivery_id: str, now: datetime, timeout: float
    ) -> Outcome:
        started = time.monotonic()

        def outcome(status: int | None, error: str | None, detail: str | None) -> Outcome:
            return Outcome(status, error, int((time.monotonic() - started) * 1000), detail)

        parts = urlsplit(url)
        host, port = parts.hostname or "", default_port(parts)
        try:
            # Resolved once, here: the connection goes to these addresses, so a name server
            # that answers differently the second time (DNS rebinding) changes nothing.
            addresses = self.addresses.addresses(host, port)
        except AddressRefused as exc:
            return outcome(None, NOT_REACHED, f"address refused: {exc}"[:500])
        headers = signed_headers(
            self.signer, url, body, delivery_id=delivery_id, created=int(now.timestamp())
        )
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        connection: http.client.HTTPConnection
        if parts.scheme == "https":
            connection = _CheckedHTTPSConnection(host, port, addresses, timeout, self.tls)
        else:
            connection = _CheckedHTTPConnection(host, port, addresses, timeout)
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
        except TimeoutError:
            return outcome(None, NOT_REACHED, f"no answer within {timeout:g} s")
        except (OSError, http.client.HTTPException) as exc:
            return outcome(None, NOT_REACHED, f"{type(exc).__name__}: {exc}"[:500])
        finally:
            connection.close()
        if 200 <= response.status < 300:
            return outcome(response.status, None, None)
        return outcome(
            response.status,
            f"HTTP {response.status}",
            f"HTTP {response.status} {response.reason}"[:500],
        )


def transport_from_settings(settings: Any) -> HttpTransport:
    return HttpTransport(
        RegistrySigner(settings.REGISTRY_SIGNING_KEY),
        addresses=AddressPolicy.from_settings(settings),
    )

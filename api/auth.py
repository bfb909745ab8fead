"""Member authentication: every member request is signed (RFC 9421) with a registered key.

The nonce, the key's grant and the rate-limit count are one statement in the request's own
transaction (a key met for the first time is read once before it): the nonce commits with
the request's effects. When the request fails, its nonce is spent again
in a transaction of its own, so a captured request can never be replayed either way.
"""

from __future__ import annotations

import functools
import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import quote, unquote, urlsplit

from flask import Flask, Response, current_app, g, request
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import joinedload, lazyload

from api import problems
from api.httpsig import HttpRequest, SignatureError, VerificationPolicy, verify_request
from registry.access import (
    NonceUse,
    claim_nonce,
    spend_nonce,
    spent_at_commit,
)
from registry.db import db
from registry.intake import Evidence
from registry.members import (
    KeyAlgorithm,
    KeyGrant,
    KeyStatus,
    Member,
    MemberOfRequest,
    MemberRole,
    MemberStatus,
    load_key_grant,
    load_public_key,
)
from registry.runtime import current_runtime

F = TypeVar("F", bound=Callable[..., Any])
log = logging.getLogger(__name__)

# The header a 401 carries to say how to sign (RFC 9421 section 5.1).
ACCEPT_SIGNATURE = (
    'sig1=("@method" "@authority" "@path" "@query" "content-digest" "content-type")'
    ";created;expires;nonce;keyid"
)

SIGNATURE_PROBLEMS = {
    "signature-missing": "The request is not signed.",
    "signature-malformed": "Signature or Signature-Input cannot be read, or lacks a parameter "
    "(keyid, created, expires, nonce).",
    "component-not-covered": "The signature does not cover a component the registry requires: "
    "@method, @authority, @path, @query when there is a query, and "
    "content-digest when there is a body.",
    "key-unknown": "No key is registered under this keyid.",
    "key-revoked": "The key was revoked.",
    "key-expired": "The key is outside its validity period.",
    "member-suspended": "The member that owns the key is suspended.",
    "algorithm-mismatch": "The alg parameter differs from the key's registered algorithm.",
    "created-in-future": "The signature's created time lies in the future.",
    "created-too-old": "The signature was created too long ago.",
    "signature-expired": "The signature's expires time has passed.",
    "validity-too-long": "expires must follow created by at most the allowed validity.",
    "signature-mismatch": "The signature does not verify against the signature base.",
    "digest-mismatch": "The body does not match its Content-Digest.",
    "nonce-reused": "This key already used this nonce: a request is accepted once.",
}
SIGNATURE_PROBLEM_TYPES = {
    reason: problems.register(reason, 401, "Signature refused", description)
    for reason, description in SIGNATURE_PROBLEMS.items()
}
ROLE_MISSING = problems.register(
    "role-missing", 403, "Role missing", "The member does not hold a role this operation needs."
)
RATE_LIMITED = problems.register(
    "rate-limited",
    429,
    "Too many requests",
    "The member's request rate is above its limit; retry after the delay in Retry-After.",
)


# The member model loads its roles and keys with a statement each; a request that writes
# needs the roles and not the keys, and one statement fewer per signed write counts.
MEMBER_OF_REQUEST = (joinedload(Member.role_rows), lazyload(Member.keys))


@dataclass(frozen=True)
class Caller:
    """The authenticated member behind a request, and the evidence of its signature."""

    member_id: uuid.UUID
    key_id: str
    roles: frozenset[str]
    signature_input: str
    signature: str
    signature_base: str

    def evidence(self, *, content_type: str, body: bytes, body_digest: str) -> Evidence:
        """What the registry keeps of this signed request to prove who sent what, the body
        sealed: it holds ID numbers."""
        return Evidence(
            key_id=self.key_id,
            content_type=content_type,
            body=current_runtime().evidence_cipher.seal(body),
            body_digest=body_digest,
            signature_input=self.signature_input,
            signature=self.signature,
            signature_base=self.signature_base,
        )

    @property
    def acting_member(self) -> MemberOfRequest:
        """The member, as the signature's check read it: for what needs only its id and
        roles (an intake), without loading it."""
        return MemberOfRequest(id=self.member_id, roles=self.roles)

    @property
    def member(self) -> Member:
        """The member, in the request's session (most requests never need it): with its
        roles in the same statement, its keys only if something reads them (the request's
        key was checked already)."""
        member = db.session.get(Member, self.member_id, options=MEMBER_OF_REQUEST)
        assert member is not None  # it existed when the signature was checked
        return member


def http_request_from_flask() -> HttpRequest:
    query = request.query_string.decode("latin-1")
    return HttpRequest(
        method=request.method,
        scheme=request.scheme,
        authority=request.host,
        path=path_as_sent(request.environ, request.script_root + request.path),
        query=query if query else None,
        headers={k: v for k, v in request.headers.items()},
        body=request.get_data(cache=True),
    )


def path_as_sent(environ: Mapping[str, Any], decoded_path: str) -> str:
    """The request target's path exactly as the client sent it: RFC 9421 signs ``@path``
    undecoded, and a client may encode what it need not (``%3A`` for ``:``).

    WSGI decodes PATH_INFO; the servers keep the raw target beside it, gunicorn in RAW_URI,
    waitress in REQUEST_URI, werkzeug in both. It is used when it decodes to the path being
    served (a middleware that rewrote PATH_INFO leaves it stale); otherwise the decoded path
    is encoded again, which matches every client that encodes only what it must.
    """
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw:
        try:
            target = raw.encode("latin-1").decode("utf-8")  # WSGI's bytes-as-latin-1
        except UnicodeError:
            target = ""
        if not target.startswith("/"):
            target = urlsplit(target).path  # the absolute form: scheme and host come first
        path = target.split("?", 1)[0]
        if path.startswith("/") and unquote(path) == decoded_path:
            return path
    return quote(decoded_path, safe="/:@!$&'()*+,;=-._~%")


def _signature_problem(exc: SignatureError) -> Response:
    response = problems.problem_response(SIGNATURE_PROBLEM_TYPES[exc.reason], exc.detail)
    response.headers["Accept-Signature"] = ACCEPT_SIGNATURE
    return response


def authenticate() -> Caller | Response:
    """Verify the current request's signature; a problem response when it is refused."""
    runtime = current_runtime()
    settings = runtime.settings
    policy = VerificationPolicy(
        max_validity_seconds=settings.SIGNATURE_MAX_VALIDITY,
        clock_skew_seconds=settings.SIGNATURE_CLOCK_SKEW,
    )
    return _authenticate(
        db.session.connection(), runtime.clock.transport_now(), policy, runtime.clock.now()
    )


@dataclass(frozen=True)
class KnownKey:
    """What never changes about a key, parsed once: its id is the thumbprint of its public
    key, so the id always names that key, of that member."""

    key_id: str
    member_id: uuid.UUID
    algorithm: str
    public_key_pem: str
    public_key: Any


class KnownKeys:
    """The keys an application has verified signatures with, by id, so that a signed request
    needs no statement of its own to find its key: the key's grant as it stands (status,
    validity, the member's status and roles, any of which may change at any moment) comes
    with the nonce's claim, in the one statement every signed request runs."""

    LIMIT = 10_000  # keys kept at most; past it the memory starts again

    def __init__(self) -> None:
        self._keys: dict[str, KnownKey] = {}

    def get(self, key_id: str) -> KnownKey | None:
        return self._keys.get(key_id)

    def remember(self, grant: KeyGrant) -> KnownKey:
        known = KnownKey(
            key_id=grant.key_id,
            member_id=grant.member_id,
            algorithm=grant.algorithm,
            public_key_pem=grant.public_key_pem,
            public_key=load_public_key(grant.public_key_pem, KeyAlgorithm(grant.algorithm)),
        )
        if len(self._keys) >= self.LIMIT:
            self._keys.clear()
        self._keys[grant.key_id] = known
        return known

    def forget(self, key_id: str) -> None:
        self._keys.pop(key_id, None)


KNOWN_KEYS = "creditreg.known_keys"


def init_app(app: Flask) -> None:
    app.extensions[KNOWN_KEYS] = KnownKeys()


def _refusal(grant: KeyGrant, when: datetime) -> SignatureError | None:
    """Why the key cannot sign at ``when`` (the registry's time), or None."""
    if grant.status == KeyStatus.REVOKED:
        return SignatureError("key-revoked", "the key was revoked")
    if not grant.is_usable_at(when):
        return SignatureError("key-expired", "the key is outside its validity period")
    if grant.member_status != MemberStatus.ACTIVE:
        return SignatureError("member-suspended", "the key's member is suspended")
    return None


def _authenticate(
    connection: Any,
    now: datetime,
    policy: VerificationPolicy,
    registry_now: datetime | None = None,
) -> Caller | Response:
    """``now``: the time the signature and nonce are checked against; ``registry_now``
    (default: the same): the registry's date, which a key's validity period is in.

    The order of refusals: the headers, an unknown key, the signature (times, digest,
    signature itself), then whether the key may sign (revoked, expired, member suspended),
    then the nonce, then the rate."""
    settings = current_runtime().settings
    key_time = registry_now or now
    keys: KnownKeys = current_app.extensions[KNOWN_KEYS]

    def lookup(key_id: str) -> tuple[KnownKey, Any, str]:
        known = keys.get(key_id)
        if known is None:
            # A key this process has not met, read on its own; whether it may sign is read
            # with the nonce's claim, as for every key.
            grant = load_key_grant(connection, key_id)
            if grant is None:
                raise SignatureError("key-unknown", "no key is registered under this keyid")
            known = keys.remember(grant)
        return known, known.public_key, known.algorithm

    try:
        verified = verify_request(
            http_request_from_flask(),
            lookup_key=lookup,
            now=int(now.timestamp()),
            policy=policy,
        )
    except SignatureError as exc:
        return _signature_problem(exc)
    known: KnownKey = verified.key
    limit = settings.RATE_LIMIT_PER_MINUTE
    spent = NonceUse(
        key_id=known.key_id,
        member_id=known.member_id,
        nonce=verified.nonce,
        seen_at=now,
        expires_at=datetime.fromtimestamp(verified.expires, UTC),
    )
    claim = claim_nonce(connection, spent, limit)
    grant = claim.grant
    if grant is None or (grant.public_key_pem, grant.member_id) != (
        known.public_key_pem,
        known.member_id,
    ):
        # Gone, or not the key remembered: neither happens to a registered key (keys are
        # revoked, never deleted, and an id is its key's thumbprint). Read afresh next time.
        keys.forget(known.key_id)
        return _signature_problem(
            SignatureError("key-unknown", "no key is registered under this keyid")
        )
    # The key exists: if the request fails from here on, refused or not, its transaction
    # rolls back with the nonce in it, and the nonce is spent again on its own
    # (spend_nonce_of_failed_request), so that the request can never be replayed.
    g._creditreg_nonce = spent
    refusal = _refusal(grant, key_time)
    if refusal is not None:
        return _signature_problem(refusal)
    if claim.counted is None:
        return _signature_problem(
            SignatureError("nonce-reused", "this nonce was already used with this key")
        )
    count, window_end = claim.counted
    caller = Caller(
        member_id=grant.member_id,
        key_id=grant.key_id,
        roles=grant.roles,
        signature_input=verified.signature_input,
        signature=verified.signature,
        signature_base=verified.base,
    )
    if limit and count > limit:
        retry_after = max(1, int((window_end - now).total_seconds()))
        return problems.problem_response(
            RATE_LIMITED,
            f"at most {limit} requests a minute",
            headers={"Retry-After": str(retry_after)},
        )
    return caller


def spend_nonce_at_commit(session: Any) -> Response | None:
    """On SQLite, write the nonce checked when the request began, in the request's
    transaction, just before it commits. A problem response if a request with the same nonce
    committed meanwhile (a replay raced the original): the caller rolls this one back."""
    spent = g.get("_creditreg_nonce")
    if spent is None or not spent_at_commit(session.connection()):
        return None
    if spend_nonce(session.connection(), spent):
        return None
    g.pop("_creditreg_nonce")  # the other request spent it
    return _signature_problem(
        SignatureError("nonce-reused", "this nonce was already used with this key")
    )


def spend_nonce_of_failed_request() -> None:
    """After a signed request's transaction rolled back, spend its nonce on its own, so
    that a refused or failed request cannot be replayed either."""
    spent = g.pop("_creditreg_nonce", None)
    if spent is None:
        return
    session = db.new_session()
    try:
        spend_nonce(session.connection(), spent)
        session.commit()
    except SQLAlchemyError:
        # The database is away: the signature's short validity still bounds any replay.
        session.rollback()
        log.warning("could not spend the nonce of a failed request")
    finally:
        session.close()


def signed(*roles: MemberRole) -> Callable[[F], F]:
    """Require a valid member signature and, if given, one of ``roles``; sets ``g.caller``."""

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            outcome = authenticate()
            if isinstance(outcome, Response):
                return outcome
            if roles and not outcome.roles & {str(r) for r in roles}:
                return problems.problem_response(
                    ROLE_MISSING, f"this operation needs the role {' or '.join(roles)}"
                )
            g.caller = outcome
            return view(*args, **kwargs)

        wrapper.signed_roles = tuple(str(r) for r in roles)  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorator


def current_caller() -> Caller:
    caller: Caller = g.caller
    return caller

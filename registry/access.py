"""What the registry remembers about signed requests: the nonces it has seen.

A nonce is accepted once per key, enforced by a unique constraint (never a cache, so every
worker process agrees). It is spent in the request's own transaction: a request whose
effects are committed has spent its nonce, and a replay of it is refused. A request that
fails spends its nonce afterwards, in a transaction of its own (see ``api``), so a refused
request cannot be replayed either. On PostgreSQL the nonce is written when the request
begins; on SQLite it is checked then and written just before the request commits
(:func:`claim_nonce`, :func:`spent_at_commit`).

The nonce rows are also the rate limit's count: the requests a member made in the current
one-minute window are its nonces seen since the window began. Counting rows rather than
updating a counter means no row is locked while a request runs, so a member's concurrent
requests never wait on each other; the price is that requests still in flight are not
counted yet, so a burst can pass the limit by the number of requests running at once.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, Session, mapped_column

from registry.db import Base
from registry.members import (
    GRANT_COLUMNS,
    GRANT_FROM,
    KeyGrant,
    grant_from_rows,
    grant_result_columns,
)


class RequestNonce(Base):
    __tablename__ = "request_nonces"
    __table_args__ = (sa.Index("ix_request_nonces_member_seen", "member_id", "seen_at"),)

    key_id: Mapped[str] = mapped_column(sa.ForeignKey("member_keys.id"), primary_key=True)
    nonce: Mapped[str] = mapped_column(sa.String(128), primary_key=True)
    member_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("members.id"), comment="the key's member: rate limits count per member"
    )
    seen_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(
        index=True, comment="after this the signature is refused anyway; the row may go"
    )


NONCES = cast(sa.Table, RequestNonce.__table__)
# Kept well past any signature's validity, and always past the current rate window.
NONCE_RETENTION = timedelta(minutes=10)


def _typed(sql: str) -> sa.TextClause:
    """A statement in SQL text, its parameters typed like the columns they fill."""
    used = [column for column in NONCES.c if f":{column.name}" in sql]
    return sa.text(sql).bindparams(*(sa.bindparam(c.name, type_=c.type) for c in used))


# The nonce statements are written as SQL: SQLAlchemy cannot cache the compiled form of an
# INSERT ... ON CONFLICT, and building and compiling it took four times as long as the
# database took to run it. SPEND writes a nonce checked earlier (SQLite) or of a failed request.
SPEND = _typed(
    "INSERT INTO request_nonces (key_id, nonce, member_id, seen_at, expires_at) "
    "VALUES (:key_id, :nonce, :member_id, :seen_at, :expires_at) "
    "ON CONFLICT (key_id, nonce) DO NOTHING RETURNING nonce"
)
# The key's member's earlier requests in the current window, counted no further than its
# limit (:cap; 0 counts nothing): past it the request is refused whatever the exact number,
# and what a request costs stays bounded by the limit however many a member floods in.
_EARLIER_REQUESTS = (
    "(SELECT count(*) FROM (SELECT 1 FROM request_nonces WHERE member_id = "
    "(SELECT member_id FROM member_keys WHERE id = :key_id) AND seen_at >= :since "
    "LIMIT :cap) AS recent)"
)
_CLAIM_PARAMETERS: tuple[sa.BindParameter[object], ...] = (
    sa.bindparam("key_id", type_=NONCES.c.key_id.type),
    sa.bindparam("nonce", type_=NONCES.c.nonce.type),
    sa.bindparam("since", type_=NONCES.c.seen_at.type),
    sa.bindparam("cap"),
)
# The key's grant (registry.members), then whether the nonce is new and the count.
_CLAIM_COLUMNS = (
    *grant_result_columns(),
    sa.column("fresh", sa.Boolean()),
    sa.column("earlier", sa.Integer()),
)
# PostgreSQL spends the nonce, reads the key and counts in one round trip. The nonce row takes
# its member from the key's row; the count cannot see the row the same statement inserts.
CLAIM_POSTGRESQL = (
    sa.text(
        "WITH spent AS ("  # noqa: S608 - the module's constants only
        "INSERT INTO request_nonces (key_id, nonce, member_id, seen_at, expires_at) "
        "SELECT id, :nonce, member_id, :seen_at, :expires_at FROM member_keys WHERE id = :key_id "
        "ON CONFLICT (key_id, nonce) DO NOTHING RETURNING nonce) "
        f"SELECT {GRANT_COLUMNS}, EXISTS (SELECT 1 FROM spent) AS fresh, "
        f"{_EARLIER_REQUESTS} AS earlier {GRANT_FROM}"
    )
    .bindparams(
        *_CLAIM_PARAMETERS,
        sa.bindparam("seen_at", type_=NONCES.c.seen_at.type),
        sa.bindparam("expires_at", type_=NONCES.c.expires_at.type),
    )
    .columns(*_CLAIM_COLUMNS)
)
# SQLite: whether this key used the nonce, the key and the count, in one read (the nonce is
# written at the request's commit: spent_at_commit).
CLAIM_SQLITE = (
    sa.text(
        f"SELECT {GRANT_COLUMNS}, NOT EXISTS (SELECT 1 FROM request_nonces "  # noqa: S608 - constants
        "WHERE key_id = :key_id AND nonce = :nonce) AS fresh, "
        f"{_EARLIER_REQUESTS} AS earlier {GRANT_FROM}"
    )
    .bindparams(*_CLAIM_PARAMETERS)
    .columns(*_CLAIM_COLUMNS)
)


@dataclass(frozen=True)
class NonceUse:
    """One signed request's nonce: which key used it, for which member, when."""

    key_id: str
    member_id: uuid.UUID
    nonce: str
    seen_at: datetime
    expires_at: datetime

    def values(self) -> dict[str, object]:
        return {
            "key_id": self.key_id,
            "nonce": self.nonce,
            "member_id": self.member_id,
            "seen_at": self.seen_at,
            "expires_at": self.expires_at,
        }


def _rate_window(use: NonceUse) -> tuple[datetime, datetime]:
    """The one-minute rate window the request falls in: (start, end)."""
    start = use.seen_at.replace(second=0, microsecond=0)
    return start, start + timedelta(minutes=1)


@dataclass(frozen=True)
class Claim:
    """What claiming a signed request's nonce found: the key as it stands (None: no such
    key), and the count of the member's requests in the current minute with this one and the
    window's end (None: this key used the nonce before)."""

    grant: KeyGrant | None
    counted: tuple[int, datetime] | None


def claim_nonce(connection: Connection, use: NonceUse, limit: int) -> Claim:
    """Claim the nonce as the request begins, read the key's grant as it stands, and count
    the member's requests in the current minute, this one included, up to one past ``limit``
    (0: no limit, nothing counted): one statement, the one every signed request pays.

    On PostgreSQL the nonce is spent here, in the caller's transaction; the unique key does
    the check: of two concurrent requests with the same nonce, the second waits for the
    first's transaction and passes only if it rolled back. On SQLite it is only checked
    here, and :func:`spend_nonce` writes it when the request commits
    (:func:`spent_at_commit`).
    """
    window_start, window_end = _rate_window(use)
    values = {
        "key_id": use.key_id,
        "nonce": use.nonce,
        "since": window_start,
        "cap": limit,
    }
    if spent_at_commit(connection):
        rows = connection.execute(CLAIM_SQLITE, values).all()
    else:
        values.update(seen_at=use.seen_at, expires_at=use.expires_at)
        rows = connection.execute(CLAIM_POSTGRESQL, values).all()
    if not rows:
        return Claim(grant=None, counted=None)
    grant = grant_from_rows([row[:9] for row in rows])
    fresh, earlier = rows[0][9], rows[0][10]
    if not fresh:
        return Claim(grant=grant, counted=None)
    return Claim(grant=grant, counted=(int(earlier) + 1 if limit else 0, window_end))


def spent_at_commit(connection: Connection) -> bool:
    """Whether a request's nonce waits for its commit to be written: on SQLite, where a
    transaction holds the one write lock from its first write to its end, a nonce written as
    the request begins would hold the database for the whole request (a long screening
    would stall every other member)."""
    return connection.dialect.name == "sqlite"


def spend_nonce(connection: Connection, use: NonceUse) -> bool:
    """Spend the nonce, in the caller's transaction; False if it was spent already.

    Used for a nonce :func:`claim_nonce` let through on SQLite, just before the request
    commits (False: a replay racing the original committed first, and the caller undoes the
    request), and for the nonce of a request that failed."""
    return connection.execute(SPEND, use.values()).first() is not None


def purge_expired(session: Session, now: datetime, *, keep: timedelta = NONCE_RETENTION) -> int:
    """Drop nonces of signatures that have expired (a replay is refused as expired). ``keep``
    must exceed the clock skew tolerated on ``expires``, or a purged nonce's signature could
    still pass."""
    result = session.execute(sa.delete(RequestNonce).where(RequestNonce.expires_at < now - keep))
    return int(getattr(result, "rowcount", 0) or 0)

"""What the registry remembers about signed requests: nonces seen, and requests per window.

A nonce is accepted once per key, enforced by a unique constraint (never a cache, so every
worker process agrees). Rate limits count requests per member in fixed one-minute windows,
also in the database, so the limit holds however many processes serve the API.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import cast

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, Session, mapped_column

from registry.db import Base


class RequestNonce(Base):
    __tablename__ = "request_nonces"

    key_id: Mapped[str] = mapped_column(sa.ForeignKey("member_keys.id"), primary_key=True)
    nonce: Mapped[str] = mapped_column(sa.String(128), primary_key=True)
    seen_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(
        index=True, comment="after this the signature is refused anyway; the row may go"
    )


class RateWindow(Base):
    __tablename__ = "rate_windows"

    member_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("members.id"), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(primary_key=True)
    requests: Mapped[int]


NONCES = cast(sa.Table, RequestNonce.__table__)
RATE_WINDOWS = cast(sa.Table, RateWindow.__table__)


_COLUMN_TYPES = {
    "key_id": NONCES.c.key_id.type,
    "nonce": NONCES.c.nonce.type,
    "seen_at": NONCES.c.seen_at.type,
    "expires_at": NONCES.c.expires_at.type,
    "member_id": RATE_WINDOWS.c.member_id.type,
    "window_start": RATE_WINDOWS.c.window_start.type,
}


def _typed(sql: str) -> sa.TextClause:
    """A statement in SQL text, its parameters typed like the columns they fill."""
    return sa.text(sql).bindparams(
        *(
            sa.bindparam(name, type_=kind)
            for name, kind in _COLUMN_TYPES.items()
            if f":{name}" in sql
        )
    )


# Every signed request runs these, so they are written as SQL: SQLAlchemy cannot cache the
# compiled form of an INSERT ... ON CONFLICT, and building and compiling it took four
# times as long as the database took to run it.
SPEND_SQLITE = _typed(
    "INSERT INTO request_nonces (key_id, nonce, seen_at, expires_at) "
    "VALUES (:key_id, :nonce, :seen_at, :expires_at) "
    "ON CONFLICT (key_id, nonce) DO NOTHING RETURNING nonce"
)
COUNT_SQLITE = _typed(
    "INSERT INTO rate_windows (member_id, window_start, requests) "
    "VALUES (:member_id, :window_start, 1) "
    "ON CONFLICT (member_id, window_start) "
    "DO UPDATE SET requests = rate_windows.requests + 1 RETURNING requests"
)
# PostgreSQL does both in one statement: the count depends on the nonce insert, a
# data-modifying common table expression (SQLite has none, hence two statements there).
SPEND_AND_COUNT_POSTGRESQL = _typed(
    "WITH spent AS ("
    "INSERT INTO request_nonces (key_id, nonce, seen_at, expires_at) "
    "VALUES (:key_id, :nonce, :seen_at, :expires_at) "
    "ON CONFLICT (key_id, nonce) DO NOTHING RETURNING nonce) "
    "INSERT INTO rate_windows (member_id, window_start, requests) "
    "SELECT :member_id, :window_start, 1 WHERE EXISTS (SELECT 1 FROM spent) "
    "ON CONFLICT (member_id, window_start) "
    "DO UPDATE SET requests = rate_windows.requests + 1 RETURNING requests"
)


def spend_nonce_and_count(
    connection: Connection,
    *,
    key_id: str,
    member_id: uuid.UUID,
    nonce: str,
    now: datetime,
    expires_at: datetime,
) -> tuple[int, datetime] | None:
    """Record the nonce and count the request in the member's current minute; returns the
    count and the window's end, or None if this key used the nonce before (nothing counted).

    The unique key does the nonce check, so two concurrent requests with the same nonce
    cannot both pass.
    """
    window_start = now.replace(second=0, microsecond=0)
    window_end = window_start + timedelta(minutes=1)
    values = {
        "key_id": key_id,
        "nonce": nonce,
        "seen_at": now,
        "expires_at": expires_at,
        "member_id": member_id,
        "window_start": window_start,
    }
    if connection.dialect.name == "postgresql":
        count = connection.execute(SPEND_AND_COUNT_POSTGRESQL, values).scalar()
        return None if count is None else (int(count), window_end)
    if connection.execute(SPEND_SQLITE, values).first() is None:
        return None
    return int(connection.execute(COUNT_SQLITE, values).scalar_one()), window_end


def purge_expired(session: Session, now: datetime) -> int:
    """Drop nonces whose signatures have expired and rate windows older than an hour."""
    nonces = session.execute(
        sa.delete(RequestNonce).where(RequestNonce.expires_at < now - timedelta(minutes=10))
    )
    windows = session.execute(
        sa.delete(RateWindow).where(RateWindow.window_start < now - timedelta(hours=1))
    )
    return int(getattr(nonces, "rowcount", 0) or 0) + int(getattr(windows, "rowcount", 0) or 0)

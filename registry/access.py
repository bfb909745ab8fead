"""What the registry remembers about signed requests: nonces seen, and requests per window.

A nonce is accepted once per key, enforced by a unique constraint (never a cache, so every
worker process agrees). Rate limits count requests per member in fixed one-minute windows,
also in the database, so the limit holds however many processes serve the API.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
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


def claim_nonce(
    session: Session, *, key_id: str, nonce: str, seen_at: datetime, expires_at: datetime
) -> bool:
    """Record a nonce; False if this key used it before. One statement: the unique key does
    the check, so two concurrent requests with the same nonce cannot both pass."""
    insert = _dialect_insert(session)
    statement = (
        insert(RequestNonce)
        .values(key_id=key_id, nonce=nonce, seen_at=seen_at, expires_at=expires_at)
        .on_conflict_do_nothing(index_elements=[RequestNonce.key_id, RequestNonce.nonce])
        .returning(RequestNonce.nonce)
    )
    return session.execute(statement).first() is not None


def _dialect_insert(session: Session) -> Any:
    dialect = session.get_bind().dialect.name
    return pg_insert if dialect == "postgresql" else sqlite_insert


def count_request(session: Session, *, member_id: uuid.UUID, now: datetime) -> tuple[int, datetime]:
    """Count one request in the member's current minute; returns the count and window end."""
    window_start = now.replace(second=0, microsecond=0)
    values = {"member_id": member_id, "window_start": window_start, "requests": 1}
    insert = _dialect_insert(session)
    statement = (
        insert(RateWindow)
        .values(**values)
        .on_conflict_do_update(
            index_elements=[RateWindow.member_id, RateWindow.window_start],
            set_={"requests": RateWindow.requests + 1},
        )
        .returning(RateWindow.requests)
    )
    count = session.execute(statement).scalar_one()
    return count, window_start + timedelta(minutes=1)


def purge_expired(session: Session, now: datetime) -> int:
    """Drop nonces whose signatures have expired and rate windows older than an hour."""
    nonces = session.execute(
        sa.delete(RequestNonce).where(RequestNonce.expires_at < now - timedelta(minutes=10))
    )
    windows = session.execute(
        sa.delete(RateWindow).where(RateWindow.window_start < now - timedelta(hours=1))
    )
    return int(getattr(nonces, "rowcount", 0) or 0) + int(getattr(windows, "rowcount", 0) or 0)

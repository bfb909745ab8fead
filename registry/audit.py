"""Audit events: who did what, when, with the state before and after.

Every operation that changes something the registry is accountable for writes one event in
the same transaction as the change, so an event exists exactly when the change does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, Session, mapped_column

from registry.db import Base, add_append_only, one_of, utc_now


class ActorKind(StrEnum):
    STAFF = "staff"
    MEMBER = "member"
    SYSTEM = "system"
    SUBJECT = "subject"


@dataclass(frozen=True)
class Actor:
    """Who performs an operation; every domain operation that changes state takes one."""

    kind: ActorKind
    id: str

    @classmethod
    def system(cls, job: str) -> Actor:
        return cls(ActorKind.SYSTEM, job)


class AuditEvent(Base):
    __tablename__ = "audit_events"
    __table_args__ = (one_of("actor_kind", ActorKind),)

    id: Mapped[int] = mapped_column(
        sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    occurred_at: Mapped[datetime] = mapped_column(default=utc_now, index=True)
    actor_kind: Mapped[str] = mapped_column(sa.String(16))
    actor_id: Mapped[str] = mapped_column(
        sa.String(64), comment="staff user id, member id, or the name of a system job"
    )
    action: Mapped[str] = mapped_column(
        sa.String(64), index=True, comment="dotted verb, e.g. member.created, key.revoked"
    )
    object_type: Mapped[str] = mapped_column(sa.String(32))
    object_id: Mapped[str] = mapped_column(sa.String(64))
    before: Mapped[dict[str, Any] | None]
    after: Mapped[dict[str, Any] | None]
    reason: Mapped[str | None] = mapped_column(sa.Text)


sa.Index("ix_audit_events_object", AuditEvent.object_type, AuditEvent.object_id)


def record_event(
    session: Session,
    *,
    actor: Actor,
    action: str,
    object_type: str,
    object_id: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    reason: str | None = None,
    at: datetime | None = None,
) -> None:
    """Append an audit event to the session (written with the change it describes)."""
    add_append_only(
        session,
        AuditEvent,
        {
            "occurred_at": at or utc_now(),
            "actor_kind": str(actor.kind),
            "actor_id": actor.id,
            "action": action,
            "object_type": object_type,
            "object_id": object_id,
            "before": before,
            "after": after,
            "reason": reason,
        },
    )

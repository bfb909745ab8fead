"""Audit events: who did what, when, with the state before and after.

Every operation that changes something the registry is accountable for writes one event in
the same transaction as the change, so an event exists exactly when the change does. A
signed submission is one operation: its one ``submission.accepted`` event covers the records
and subjects it creates, which have no events of their own (``registry.provenance`` finds it
from either).

Events are hash-chained: each carries its position (``chain_seq``, gap-free), the hash of
the event before it, and its own hash over its fields and that link (:func:`event_hash`).
Editing an event breaks its hash, removing one leaves a gap and a broken link, and removing
the last ones leaves the chain short of the head kept in ``chain_heads``;
:func:`verify_chain` (``creditreg audit verify``) finds the first such break. Events written
before migration 0017 are outside the chain (their ``chain_seq`` is null).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, Session, mapped_column

from registry import chains
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
    chain_seq: Mapped[int | None] = mapped_column(
        sa.BigInteger, unique=True, index=True, comment="position in the hash chain, from 1"
    )
    prev_hash: Mapped[str | None] = mapped_column(
        sa.String(64), comment="hash of the event before in the chain (hex)"
    )
    hash: Mapped[str | None] = mapped_column(
        sa.String(64), comment="SHA-256 of the event's fields and prev_hash (hex)"
    )

    @classmethod
    def prepare_append_only(cls, session: Session, rows: list[dict[str, Any]]) -> None:
        """Chain new events (called by ``registry.db`` just before they are written)."""
        chain_rows(session, rows)


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


# --- the hash chain ------------------------------------------------------------------------

HASHED_FIELDS = (
    "occurred_at",
    "actor_kind",
    "actor_id",
    "action",
    "object_type",
    "object_id",
    "before",
    "after",
    "reason",
)


def _normal(value: Any) -> Any:
    """The value as it reads back from either database: a whole float written with an
    exponent (1e+20) comes back from PostgreSQL's JSONB as an integer, so whole floats are
    hashed as integers."""
    kind = type(value)
    if kind is str or kind is int or value is None or kind is bool:
        return value
    if kind is float:
        return int(value) if value.is_integer() else value
    if kind is dict:
        return {str(k): _normal(v) for k, v in value.items()}
    if kind is list or kind is tuple:
        return [_normal(v) for v in value]
    return value


def event_hash(seq: int, prev_hash: str, fields: dict[str, Any]) -> str:
    """SHA-256 (hex) of the sorted, compact JSON of an event's fields, its position and the
    hash of the event before it."""
    occurred_at = fields.get("occurred_at")
    if isinstance(occurred_at, datetime):
        if occurred_at.tzinfo is not UTC:
            occurred_at = occurred_at.astimezone(UTC)
        occurred_at = occurred_at.isoformat()
    before, after = fields.get("before"), fields.get("after")
    document = {
        "seq": seq,
        "prev_hash": prev_hash,
        "occurred_at": occurred_at,
        "actor_kind": fields.get("actor_kind"),
        "actor_id": fields.get("actor_id"),
        "action": fields.get("action"),
        "object_type": fields.get("object_type"),
        "object_id": fields.get("object_id"),
        "before": None if before is None else _normal(before),
        "after": None if after is None else _normal(after),
        "reason": fields.get("reason"),
    }
    text = json.dumps(document, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def chain_rows(session: Session, rows: list[dict[str, Any]]) -> None:
    """Give ``rows`` (audit event values, in order) their chain positions and hashes."""
    if not rows:
        return
    head = chains.advance(session, audit=len(rows))
    prev = head.audit_hash
    for offset, row in enumerate(rows, start=1):
        if row.get("occurred_at") is None:
            row["occurred_at"] = utc_now()
        seq = head.audit_start + offset
        row["chain_seq"] = seq
        row["prev_hash"] = prev
        row["hash"] = prev = event_hash(seq, prev, row)
    chains.set_audit_hash(session, prev)


@dataclass(frozen=True)
class ChainReport:
    """What a walk of the chain found: ``ok``, how many events it checked, the first
    break (``problem``, ``at_seq``, ``event_id``) and the events outside the chain."""

    ok: bool
    checked: int
    unchained: int
    problem: str | None = None
    at_seq: int | None = None
    event_id: int | None = None


def _events(session: Session, batch: int) -> Iterator[sa.Row[Any]]:
    columns = [
        AuditEvent.id,
        AuditEvent.chain_seq,
        AuditEvent.prev_hash,
        AuditEvent.hash,
        *(getattr(AuditEvent, name) for name in HASHED_FIELDS),
    ]
    last = 0
    while True:
        page = session.execute(
            sa.select(*columns)
            .where(AuditEvent.chain_seq > last)
            .order_by(AuditEvent.chain_seq)
            .limit(batch)
        ).all()
        if not page:
            return
        yield from page
        last = page[-1].chain_seq


def verify_chain(session: Session, batch: int = 5000) -> ChainReport:
    """Walk the chain from its first event and report the first broken link: an edited
    event (its hash no longer matches its fields), a removed one (a gap in the positions,
    or a link to a hash that is not the event before), or removed last events (the chain
    ends short of its head)."""
    head = chains.read_head(session)
    unchained = session.scalar(
        sa.select(sa.func.count()).select_from(AuditEvent).where(AuditEvent.chain_seq.is_(None))
    )
    expected_seq, prev = 1, chains.GENESIS_HASH
    checked = 0

    def broken(problem: str, event: sa.Row[Any] | None, seq: int) -> ChainReport:
        return ChainReport(
            False, checked, unchained or 0, problem, seq, event.id if event is not None else None
        )

    for event in _events(session, batch):
        seq = event.chain_seq
        if seq != expected_seq:
            return broken(
                f"events {expected_seq} to {seq - 1} of the chain are missing (removed)",
                event,
                expected_seq,
            )
        if event.prev_hash != prev:
            return broken(
                f"event {seq} does not link to the event before it (removed or replaced)",
                event,
                seq,
            )
        fields = event._asdict()
        if event.hash != event_hash(seq, prev, fields):
            return broken(f"event {seq} was edited: its hash does not match its fields", event, seq)
        prev = event.hash
        expected_seq += 1
        checked += 1
    if head is not None and (head.audit_size != checked or head.audit_hash != prev):
        return broken(
            f"the chain ends at event {checked} but its head is at {head.audit_size}: "
            "the last events were removed or the head was changed",
            None,
            checked + 1,
        )
    return ChainReport(True, checked, unchained or 0)

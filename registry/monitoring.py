"""Portfolio monitoring: members watch subjects and are told what changed about them.

A member (role ``querier``) keeps a portfolio of subjects. Every change that affects a
subject leaves a row in ``monitoring_outbox``, in the same transaction as the change (see
``registry.outbox``), but a subject's registration: nobody watches it yet. The worker's
``monitoring-changes`` job takes those rows, builds the *watched state* of each subject
someone watches (:func:`watched_state`), compares it with the snapshot it kept, and writes
one event per changed item, with the old and the new value. Each event is copied into the
inbox of every member watching the subject at that moment, so a member's stream never
changes afterwards (adding a subject does not bring back its old events; removing one does
not take them away). Members read their stream by polling, and receive it by webhook
(``registry.webhooks``).

A subject's first snapshot is taken when it is first watched; changes before that moment
belong to the baseline and raise no event.

A member's stream also carries events about its own items that ask something of it, put
there by :func:`notify_members` for that member alone (``record.confirmation_due``: one of
its open records is due for confirmation, registry.open_records).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, Session, mapped_column

from registry.clock import iso
from registry.db import Base
from registry.errors import InvalidInput
from registry.worker import batches_within

BIG_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")
CHUNK = 1000  # ids per IN list: well under every backend's limit on bound parameters
BATCH = 500  # outbox rows per transaction of the change job


class MonitoringOutbox(Base):
    __tablename__ = "monitoring_outbox"

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True, autoincrement=True)
    # No foreign key, like the search outbox: the row must outlive anything it names.
    subject_id: Mapped[uuid.UUID] = mapped_column(index=True)
    enqueued_at: Mapped[datetime] = mapped_column(comment="when the change was made")
    processed_at: Mapped[datetime | None]


sa.Index(
    "ix_monitoring_outbox_pending",
    MonitoringOutbox.id,
    postgresql_where=MonitoringOutbox.processed_at.is_(None),
    sqlite_where=MonitoringOutbox.processed_at.is_(None),
)


class PortfolioItem(Base):
    """A subject a member watches."""

    __tablename__ = "portfolio_items"

    member_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("members.id"), primary_key=True)
    subject_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("subjects.id"), primary_key=True, index=True
    )
    added_at: Mapped[datetime]


class WatchedState(Base):
    """The last watched state of a subject that someone watches (the base of the next diff)."""

    __tablename__ = "watched_states"

    subject_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("subjects.id"), primary_key=True)
    state: Mapped[dict[str, Any]] = mapped_column(comment="see registry.monitoring.watched_state")
    updated_at: Mapped[datetime]


class MonitoringEvent(Base):
    """One change of one watched item of a subject."""

    __tablename__ = "monitoring_events"

    id: Mapped[int] = mapped_column(
        BIG_ID, primary_key=True, autoincrement=True, comment="global, increasing: the cursor"
    )
    subject_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("subjects.id"), index=True)
    type: Mapped[str] = mapped_column(sa.String(40), comment="e.g. record.added, rating.changed")
    item_id: Mapped[str | None] = mapped_column(sa.String(64), comment="the record, entry ...")
    old: Mapped[dict[str, Any] | None] = mapped_column(comment="the item before; null if new")
    new: Mapped[dict[str, Any] | None] = mapped_column(comment="the item after; null if gone")
    at: Mapped[datetime] = mapped_column(comment="when the change was made")
    detected_at: Mapped[datetime]

    def view(self) -> dict[str, Any]:
        # Ids travel as strings: a JSON number loses precision above 2^53.
        return {
            "id": str(self.id),
            "type": self.type,
            "subject_id": str(self.subject_id),
            "item_id": self.item_id,
            "old": self.old,
            "new": self.new,
            "at": iso(self.at),
            "detected_at": iso(self.detected_at),
        }


class MemberEvent(Base):
    """An event in a member's stream (one row per watching member)."""

    __tablename__ = "monitoring_member_events"

    member_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("members.id"), primary_key=True)
    event_id: Mapped[int] = mapped_column(
        BIG_ID, sa.ForeignKey("monitoring_events.id"), primary_key=True
    )


def chunks(items: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# --- the outbox ------------------------------------------------------------------------------


def enqueue_monitoring(session: Session, subject_ids: Iterable[uuid.UUID], *, at: datetime) -> None:
    """Queue subjects whose watched state may have changed (with the change)."""
    rows = [{"subject_id": subject_id, "enqueued_at": at} for subject_id in subject_ids]
    if rows:
        session.execute(sa.insert(cast(sa.Table, MonitoringOutbox.__table__)), rows)


# --- the portfolio ---------------------------------------------------------------------------


class PortfolioTooLarge(InvalidInput):
    """The change would take the member's portfolio past its limit; nothing changed."""

    def __init__(self, total: int, limit: int) -> None:
        super().__init__(
            f"the portfolio would hold {total} subjects; nothing changed",
            {"items": [f"at most {limit} subjects per member"]},
        )


@dataclass(frozen=True)
class PortfolioChange:
    added: int
    removed: int
    total: int


def portfolio_count(session: Session, member_id: uuid.UUID) -> int:
    return int(
        session.scalar(
            sa.select(sa.func.count())
            .select_from(PortfolioItem)
            .where(PortfolioItem.member_id == member_id)
        )
        or 0
    )


def _portfolio_ids(session: Session, member_id: uuid.UUID) -> set[uuid.UUID]:
    return set(
        session.scalars(
            sa.select(PortfolioItem.subject_id).where(PortfolioItem.member_id == member_id)
        )
    )


def add_to_portfolio(
    session: Session,
    member_id: uuid.UUID,
    subject_ids: Iterable[uuid.UUID],
    *,
    at: datetime,
    replace: bool = False,
    limit: int | None = None,
) -> PortfolioChange:
    """Watch these (existing, checked) subjects; with ``replace``, stop watching the others.

    Subjects nobody watched before are queued for their first snapshot.

    :raises PortfolioTooLarge: the portfolio would then hold more than ``limit`` subjects.
    """
    wanted = set(subject_ids)
    current = _portfolio_ids(session, member_id)
    total = len(wanted) if replace else len(current | wanted)
    if limit is not None and total > limit:
        raise PortfolioTooLarge(total, limit)
    removed = 0
    if replace:
        removed = _remove(session, member_id, sorted(current - wanted))
        current &= wanted
    new = sorted(wanted - current)
    if new:
        # Subjects someone else watches already have a snapshot: only the others need one.
        watched: set[uuid.UUID] = set()
        for chunk in chunks(new):
            watched.update(
                session.scalars(
                    sa.select(WatchedState.subject_id).where(WatchedState.subject_id.in_(chunk))
                )
            )
        session.execute(
            sa.insert(cast(sa.Table, PortfolioItem.__table__)),
            [{"member_id": member_id, "subject_id": s, "added_at": at} for s in new],
        )
        enqueue_monitoring(session, [s for s in new if s not in watched], at=at)
    return PortfolioChange(added=len(new), removed=removed, total=len(current) + len(new))


def remove_from_portfolio(
    session: Session, member_id: uuid.UUID, subject_ids: Iterable[uuid.UUID]
) -> int:
    """Stop watching these subjects; returns how many were watched."""
    current = _portfolio_ids(session, member_id)
    return _remove(session, member_id, sorted(set(subject_ids) & current))


def _remove(session: Session, member_id: uuid.UUID, subject_ids: list[uuid.UUID]) -> int:
    table = cast(sa.Table, PortfolioItem.__table__)
    for chunk in chunks(subject_ids):
        session.execute(
            sa.delete(table).where(table.c.member_id == member_id, table.c.subject_id.in_(chunk))
        )
        # A subject nobody watches any more keeps no snapshot: watching it again starts anew.
        still = select_watched(session, chunk)
        orphans = [s for s in chunk if s not in still]
        if orphans:
            session.execute(sa.delete(WatchedState).where(WatchedState.subject_id.in_(orphans)))
    return len(subject_ids)


def select_watched(session: Session, subject_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
    """Which of these subjects at least one member watches."""
    return set(
        session.scalars(
            sa.select(PortfolioItem.subject_id)
            .where(PortfolioItem.subject_id.in_(subject_ids))
            .distinct()
        )
    )


def portfolio_page(
    session: Session, member_id: uuid.UUID, *, after: uuid.UUID | None, limit: int
) -> list[tuple[PortfolioItem, Any]]:
    """The member's portfolio in subject-id order, after ``after`` (keyset paging)."""
    from registry.subjects import Subject

    query = (
        sa.select(PortfolioItem, Subject)
        .join(Subject, Subject.id == PortfolioItem.subject_id)
        .where(PortfolioItem.member_id == member_id)
        .order_by(PortfolioItem.subject_id)
        .limit(limit)
    )
    if after is not None:
        query = query.where(PortfolioItem.subject_id > after)
    return [(row[0], row[1]) for row in session.execute(query)]


# --- the watched state -----------------------------------------------------------------------


def _day(value: date | datetime | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return iso(value)
    return value.isoformat()


def _records_part(session: Session, subject_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Any]:
    from registry.records import CreditRecord, shared_with_members

    found: dict[uuid.UUID, Any] = {s: {} for s in subject_ids}
    for record in session.scalars(
        sa.select(CreditRecord).where(
            CreditRecord.subject_id.in_(subject_ids),
            # Held until a person is told (registry.person_notices): an event when it ends.
            shared_with_members(),
        )
    ):
        item = {
            "category": record.category,
            "polarity": record.polarity,
            "severity": record.severity,
            "status": record.status,
            "version": record.version,
            "date": _day(record.decided_at or record.occurred_at),
            "authority": record.authority,
        }
        found[record.subject_id][str(record.id)] = item
    return found


def _lists_part(session: Session, subject_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Any]:
    from registry.list_kinds import public_codes
    from registry.listings import ListEntry, ListingState

    found: dict[uuid.UUID, Any] = {s: {} for s in subject_ids}
    for entry in session.scalars(
        sa.select(ListEntry).where(
            ListEntry.subject_id.in_(subject_ids),
            # What the public sees: published entries, and those taken down since.
            ListEntry.published_at.is_not(None),
            ListEntry.state.in_([ListingState.PUBLISHED, ListingState.REMOVED]),
            ListEntry.list_kind.in_(public_codes()),
        )
    ):
        item = {
            "list": entry.list_kind,
            "state": entry.state,
            "authority": entry.authority,
            "published_at": iso(entry.published_at),
            "until": iso(entry.publish_until),
        }
        if entry.state == ListingState.REMOVED:
            item["removed_at"] = iso(entry.removed_at)
            item["removal_reason"] = entry.removal_reason
        found[entry.subject_id][str(entry.id)] = item
    return found


def _rating_part(session: Session, subject_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Any]:
    from registry.ratings import published_ratings

    found: dict[uuid.UUID, Any] = {s: None for s in subject_ids}
    for subject_id, rating in published_ratings(session, list(subject_ids)).items():
        found[subject_id] = {
            "rating_id": str(rating.id),
            "grade": rating.final_grade or rating.grade,
            "risk_band": rating.risk_band,
            "published_at": iso(rating.published_at),
        }
    return found


def _objections_part(session: Session, subject_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Any]:
    """Objections (异议) to the subject's records and list entries: filed, escalated,
    answered. The grounds stay out: they are the filer's, not the watcher's."""
    from registry.objections import Objection, not_about_a_held_record

    found: dict[uuid.UUID, Any] = {s: {} for s in subject_ids}
    for objection in session.scalars(
        sa.select(Objection).where(Objection.subject_id.in_(subject_ids), not_about_a_held_record())
    ):
        found[objection.subject_id][str(objection.id)] = {
            "item_kind": objection.item_kind,
            "item_id": str(objection.item_id),
            "status": objection.status,
            "outcome": objection.outcome,
            "filed_at": iso(objection.filed_at),
            "due_at": iso(objection.due_at),
        }
    return found


def _objection_change(old: dict[str, Any] | None, new: dict[str, Any] | None) -> str:
    if old is None:
        return "objection.filed"
    if new is None:
        return "objection.removed"
    return f"objection.{new['status']}" if old["status"] != new["status"] else "objection.changed"


def _record_change(old: dict[str, Any] | None, new: dict[str, Any] | None) -> str:
    if old is None:
        return "record.added"
    if new is None:
        return "record.removed"
    if old["status"] != new["status"] and new["status"] == "revoked":
        return "record.revoked"
    return "record.corrected"


def _list_change(old: dict[str, Any] | None, new: dict[str, Any] | None) -> str:
    if new is not None and new["state"] == "published":
        if old is None or old["state"] != "published":
            return "list.published"
        return "list.extended" if old["until"] != new["until"] else "list.changed"
    if old is not None and old["state"] == "published":
        return "list.removed"
    return "list.changed"


@dataclass(frozen=True)
class WatchedPart:
    """One part of the watched state.

    ``build`` gives each subject's part; ``keyed`` parts are ``{item id: item}`` and
    ``change`` names the event of one item's change (old or new None when it appears or
    goes); other parts are one value, whose change is the event ``change(old, new)``.
    """

    name: str
    build: Callable[[Session, Sequence[uuid.UUID]], dict[uuid.UUID, Any]]
    change: Callable[[Any, Any], str]
    keyed: bool = True


WATCHED_PARTS: list[WatchedPart] = [
    WatchedPart("records", _records_part, _record_change),
    WatchedPart("lists", _lists_part, _list_change),
    WatchedPart("rating", _rating_part, lambda old, new: "rating.changed", keyed=False),
    WatchedPart("objections", _objections_part, _objection_change),
]
"""What monitoring watches; a feature that adds something worth watching appends its part."""


def watched_state(session: Session, subject_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Any]:
    """The watched state of each subject: ``{part name: part}`` (JSON-ready)."""
    states: dict[uuid.UUID, dict[str, Any]] = {s: {} for s in subject_ids}
    for part in WATCHED_PARTS:
        for subject_id, value in part.build(session, subject_ids).items():
            states[subject_id][part.name] = value
    return states


@dataclass(frozen=True)
class Change:
    type: str
    item_id: str | None
    old: Any
    new: Any


def diff(old: dict[str, Any], new: dict[str, Any]) -> list[Change]:
    """The changes from one watched state to the next, one per changed item."""
    changes: list[Change] = []
    for part in WATCHED_PARTS:
        if part.name not in old:
            continue  # a part added since the snapshot: its first value is a baseline
        before, after = old.get(part.name), new.get(part.name)
        if not part.keyed:
            if before != after:
                item = (after or before or {}).get("rating_id") if part.name == "rating" else None
                changes.append(Change(part.change(before, after), item, before, after))
            continue
        before, after = before or {}, after or {}
        for item_id in sorted(set(before) | set(after)):
            was, now = before.get(item_id), after.get(item_id)
            if was != now:
                changes.append(Change(part.change(was, now), item_id, was, now))
    return changes


# --- the change job --------------------------------------------------------------------------


def _serialise_event_writers(session: Session) -> None:
    """Writers of events take turns until they commit, so that event ids become visible in
    increasing order and a reader's ``after`` cursor never skips one committed late.
    SQLite has a single writer already."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.select(sa.func.pg_advisory_xact_lock(0x6D6F6E69746F72)))


def detect_changes(session: Session, now: datetime) -> int:
    """Turn a batch of the monitoring outbox into events; returns the subjects looked at.

    Claims rows with SKIP LOCKED, so several workers share the queue on PostgreSQL.
    """
    table = cast(sa.Table, MonitoringOutbox.__table__)
    claimed = session.execute(
        sa.select(table.c.id, table.c.subject_id, table.c.enqueued_at)
        .where(table.c.processed_at.is_(None))
        .order_by(table.c.id)
        .limit(BATCH)
        .with_for_update(skip_locked=True)
    ).all()
    if not claimed:
        return 0
    changed_at: dict[uuid.UUID, datetime] = {}
    for row in claimed:
        at = row.enqueued_at
        if at.tzinfo is None:  # a Core select of SQLite's naive value
            at = at.replace(tzinfo=now.tzinfo)
        changed_at[row.subject_id] = max(at, changed_at.get(row.subject_id, at))
    subject_ids = sorted(select_watched(session, sorted(changed_at)))
    if subject_ids:
        _serialise_event_writers(session)
        snapshots = {
            s.subject_id: s
            for s in session.scalars(
                sa.select(WatchedState).where(WatchedState.subject_id.in_(subject_ids))
            )
        }
        states = watched_state(session, subject_ids)
        events: list[MonitoringEvent] = []
        for subject_id in subject_ids:
            state = states[subject_id]
            snapshot = snapshots.get(subject_id)
            if snapshot is None:
                session.add(WatchedState(subject_id=subject_id, state=state, updated_at=now))
                continue
            for change in diff(snapshot.state, state):
                events.append(
                    MonitoringEvent(
                        subject_id=subject_id,
                        type=change.type,
                        item_id=change.item_id,
                        old=change.old,
                        new=change.new,
                        at=changed_at[subject_id],
                        detected_at=now,
                    )
                )
            if snapshot.state != state:
                snapshot.state = state
                snapshot.updated_at = now
        if events:
            session.add_all(events)
            session.flush()
            _fan_out(session, [event.id for event in events])
    session.execute(
        sa.update(table).where(table.c.id.in_([row.id for row in claimed])).values(processed_at=now)
    )
    return len(changed_at)


def notify_members(session: Session, events: Sequence[tuple[uuid.UUID, MonitoringEvent]]) -> None:
    """Put events about a member's own items (not watched changes) into that member's
    stream alone: ``(member id, event)`` pairs. Its webhook delivers them like the others."""
    if not events:
        return
    _serialise_event_writers(session)
    session.add_all([event for _, event in events])
    session.flush()
    session.execute(
        sa.insert(cast(sa.Table, MemberEvent.__table__)),
        [{"member_id": member_id, "event_id": event.id} for member_id, event in events],
    )


def _fan_out(session: Session, event_ids: list[int]) -> None:
    """Copy the events into the stream of every member watching their subject, now."""
    inbox = cast(sa.Table, MemberEvent.__table__)
    events = cast(sa.Table, MonitoringEvent.__table__)
    items = cast(sa.Table, PortfolioItem.__table__)
    for chunk in chunks(event_ids):
        session.execute(
            inbox.insert().from_select(
                ["member_id", "event_id"],
                sa.select(items.c.member_id, events.c.id)
                .join(events, events.c.subject_id == items.c.subject_id)
                .where(events.c.id.in_(chunk)),
            )
        )


def change_job(budget_seconds: float = 2.0) -> Callable[[Session, datetime], int]:
    """The worker's job: a batch per transaction, for up to ``budget_seconds`` a round."""

    return batches_within(detect_changes, budget_seconds)


# --- reading the stream ----------------------------------------------------------------------


def events_after(
    session: Session, member_id: uuid.UUID, *, after: int, limit: int
) -> list[MonitoringEvent]:
    """The member's events with an id above ``after``, in id order."""
    return list(
        session.scalars(
            sa.select(MonitoringEvent)
            .join(MemberEvent, MemberEvent.event_id == MonitoringEvent.id)
            .where(MemberEvent.member_id == member_id, MemberEvent.event_id > after)
            .order_by(MemberEvent.event_id)
            .limit(limit)
        )
    )


def pending_count(session: Session) -> int:
    return int(
        session.scalar(
            sa.select(sa.func.count())
            .select_from(MonitoringOutbox)
            .where(MonitoringOutbox.processed_at.is_(None))
        )
        or 0
    )

"""Objections (异议): a subject or a member disputes a credit record or a published list entry.

The item is marked disputed at once wherever it shows (the subject's page, its search
document, hence lookups and screening), and the member that put it there must answer within
``OBJECTION_ANSWER_DAYS`` calendar days: corrected, revoked, or upheld with a written reason.
The subject may attach a statement, shown beside the item. An objection left unanswered past
its due time is escalated by the worker's ``objection-deadlines`` job, and a reviewer decides
it with the same outcomes.

States::

    open --answer (the submitting member)--> answered
    open --deadline passes (the worker)----> escalated --decide (a reviewer)--> decided

Two objections the registry already runs are not duplicated here: an objection to a rating
is its appeal (:func:`registry.ratings.file_appeal`), and an objection to a list entry in its
notice window is the notice objection that suspends publication
(:func:`registry.listings.file_objection`); :func:`object_to` hands those over.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, Session, mapped_column

from registry import listings, ratings
from registry.audit import Actor, ActorKind, record_event
from registry.clock import iso
from registry.db import Base, among, get_by_id, one_of, uuid_pk
from registry.errors import Conflict, Forbidden, InvalidInput
from registry.identifiers import id_number_errors
from registry.members import Member
from registry.monitoring import enqueue_monitoring
from registry.notifications import Notification
from registry.outbox import touch_subjects
from registry.querylog import looked_up
from registry.records import (
    CreditRecord,
    CreditRecordVersion,
    RecordStatus,
    VersionOp,
    apply_revoke,
    revoke_record,
)
from registry.subjects import Subject, SubjectKind

SYSTEM = Actor.system("objection-deadlines")


class ItemKind(StrEnum):
    RECORD = "record"
    LIST_ENTRY = "list_entry"


class ObjectionStatus(StrEnum):
    OPEN = "open"  # waiting for the submitting member's answer
    ANSWERED = "answered"  # the member answered in time (or before the job escalated it)
    ESCALATED = "escalated"  # unanswered past its due time: in the reviewers' queue
    DECIDED = "decided"  # a reviewer decided the escalated objection


# While an objection is in one of these, its item is disputed.
DISPUTING = (ObjectionStatus.OPEN, ObjectionStatus.ESCALATED)
_DISPUTING_SQL = "status IN ('open', 'escalated')"


class Outcome(StrEnum):
    CORRECTED = "corrected"  # the member sent a corrected version of the record
    REVOKED = "revoked"  # the item is taken back
    UPHELD = "upheld"  # the item stands, with a written reason


class ObjectionStateError(Conflict):
    """The objection (or its item) is not in a state that allows this (``current_status``)."""


class NoStandingToObject(Forbidden):
    """The member is neither on the subject's side nor shown by the query log to have an
    interest in the subject."""

    code = "objection-not-allowed"


class AlreadyDisputed(Conflict):
    """The item already has an open objection: one at a time per item."""


class NotCorrected(Conflict):
    """``corrected`` without a corrected version of the record since the objection."""


class OutcomeUnavailable(Conflict):
    """The outcome does not exist for this kind of item."""


class Objection(Base):
    __tablename__ = "objections"
    __table_args__ = (
        one_of("item_kind", ItemKind),
        one_of("status", ObjectionStatus),
        sa.CheckConstraint(
            "outcome IS NULL OR outcome IN ('corrected', 'revoked', 'upheld')",
            name="outcome_allowed",
        ),
        # An outcome exactly when the objection is closed, always with its reason.
        sa.CheckConstraint(f"(outcome IS NULL) = ({_DISPUTING_SQL})", name="outcome_iff_closed"),
        sa.CheckConstraint("outcome IS NULL OR reason IS NOT NULL", name="outcome_has_reason"),
        # Filed by a member, or by staff for a person, with how they checked who asked.
        sa.CheckConstraint(
            "filer_member_id IS NOT NULL OR identity_check IS NOT NULL",
            name="filed_by_member_or_staff",
        ),
        # One open objection per item: a second one would only split the answer.
        sa.Index(
            "uq_objections_open_item",
            "item_kind",
            "item_id",
            unique=True,
            postgresql_where=sa.text(_DISPUTING_SQL),
            sqlite_where=sa.text(_DISPUTING_SQL),
        ),
    )

    id: Mapped[uuid_pk]
    item_kind: Mapped[str] = mapped_column(sa.String(16))
    # No foreign key: the id names a row of credit_records or of list_entries by item_kind.
    item_id: Mapped[uuid.UUID] = mapped_column(comment="credit_records.id or list_entries.id")
    item_version: Mapped[int | None] = mapped_column(
        comment="a record's version when the objection was filed: a correction must come after"
    )
    subject_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("subjects.id"), index=True)
    filed_by: Mapped[str] = mapped_column(sa.String(80), comment="actor kind:id")
    # The filing member; NULL when staff filed it for a person, who has no member.
    filer_member_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("members.id"), index=True
    )
    identity_check: Mapped[str | None] = mapped_column(
        sa.Text, comment="filed by staff for a person: how they checked who asked"
    )
    for_subject: Mapped[bool] = mapped_column(
        comment="filed by the subject, through the member that represents it"
    )
    answering_member_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("members.id"),
        index=True,
        comment="the member that submitted the record or proposed the entry",
    )
    grounds: Mapped[str] = mapped_column(sa.Text)
    statement: Mapped[str | None] = mapped_column(
        sa.Text, comment="the subject's statement, shown beside the item"
    )
    statement_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(sa.String(16), index=True)
    filed_at: Mapped[datetime]
    due_at: Mapped[datetime] = mapped_column(index=True, comment="filed_at + the answer period")
    escalated_at: Mapped[datetime | None]
    answered_at: Mapped[datetime | None]
    answered_by: Mapped[str | None] = mapped_column(sa.String(80), comment="actor kind:id")
    outcome: Mapped[str | None] = mapped_column(sa.String(16))
    reason: Mapped[str | None] = mapped_column(sa.Text)

    @property
    def disputing(self) -> bool:
        return self.status in DISPUTING

    def view(self) -> dict[str, Any]:
        """What the filer, the answering member and the subject's representative see. The
        filing member is not named: the answer is owed to the facts, not to who asked."""
        return {
            "id": str(self.id),
            "item_kind": self.item_kind,
            "item_id": str(self.item_id),
            "subject_id": str(self.subject_id),
            "for_subject": self.for_subject,
            "answering_member_id": str(self.answering_member_id),
            "grounds": self.grounds,
            "statement": self.statement,
            "status": self.status,
            "disputed": self.disputing,
            "filed_at": iso(self.filed_at),
            "due_at": iso(self.due_at),
            "escalated_at": iso(self.escalated_at),
            "answered_at": iso(self.answered_at),
            "answered_late": (
                self.answered_at > self.due_at if self.answered_at is not None else None
            ),
            "outcome": self.outcome,
            "reason": self.reason,
        }


def _who(actor: Actor) -> str:
    return f"{actor.kind}:{actor.id}"


def _text(value: str | None) -> str | None:
    return value.strip() if value and value.strip() else None


# --- the item an objection is about ---------------------------------------------------------


@dataclass(frozen=True)
class Item:
    kind: ItemKind
    id: uuid.UUID
    subject: Subject
    answering_member_id: uuid.UUID
    version: int | None
    record: CreditRecord | None = None
    entry: listings.ListEntry | None = None


def find_item(session: Session, kind: str, item_id: str | uuid.UUID) -> Item:
    """The record or list entry, its subject and the member that must answer for it.

    :raises NotFound: no such item.
    """
    if kind == ItemKind.RECORD:
        record = get_by_id(session, CreditRecord, item_id, what="credit record")
        return Item(
            ItemKind.RECORD,
            record.id,
            record.subject,
            record.member_id,
            record.version,
            record=record,
        )
    if kind == ItemKind.LIST_ENTRY:
        entry = listings.get_entry(session, item_id)
        return Item(
            ItemKind.LIST_ENTRY,
            entry.id,
            entry.subject,
            entry.proposer_member_id,
            None,
            entry=entry,
        )
    raise InvalidInput("unknown item kind", {"item_kind": ["record or list_entry"]})


# --- filing ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filed:
    """What :func:`object_to` did: a general objection, or the workflow it handed over to."""

    delegated_to: str | None  # None, "rating_appeal" or "notice_objection"
    objection: Objection | None = None
    appeal: ratings.RatingAppeal | None = None
    notice_objection: listings.ListObjection | None = None

    def view(self) -> dict[str, Any]:
        if self.objection is not None:
            return {"delegated_to": None, **self.objection.view()}
        if self.appeal is not None:
            return {"delegated_to": self.delegated_to, "appeal": self.appeal.summary()}
        assert self.notice_objection is not None
        return {"delegated_to": self.delegated_to, "objection": self.notice_objection.view()}


def object_to(
    session: Session,
    *,
    member: Member,
    item_kind: str,
    item_id: str,
    grounds: str,
    statement: str | None,
    speaks_for: Callable[[Subject], bool],
    answer_days: int,
    at: datetime,
) -> Filed:
    """A member objects to a record, a list entry or a rating, for itself or for the subject
    it represents (``speaks_for(subject)``).

    A rating's objection is its appeal, which only the subject may make; a list entry still
    in its notice window gets the notice objection, which suspends publication. Neither
    takes a separate statement: the grounds are the subject's word there.

    :raises NotFound: no such item.
    :raises InvalidInput: empty grounds, or a statement where none is taken.
    :raises NoStandingToObject: a record or a published entry objected to by a member
        neither on the subject's side nor with a lookup of the subject in the query log.
    :raises Forbidden: a statement (or a rating appeal) from a member that does not speak
        for the subject; the submitter objecting to its own record.
    :raises Conflict: an item that cannot be objected to in its state, or is already disputed.
    """
    actor = Actor(ActorKind.MEMBER, str(member.id))
    if item_kind == "rating":
        rating = ratings.get_rating(session, item_id)
        subject = session.get(Subject, rating.subject_id)
        if subject is None or not speaks_for(subject):
            raise Forbidden("only the rated subject, or the member that represents it, may appeal")
        _no_statement(statement, "a rating appeal")
        appeal = ratings.file_appeal(session, rating, applicant=actor, grounds=grounds, at=at)
        return Filed("rating_appeal", appeal=appeal)
    item = find_item(session, item_kind, item_id)
    if item.entry is not None and item.entry.state == listings.ListingState.NOTICE:
        _no_statement(statement, "an objection in the notice window")
        notice = listings.file_objection(session, item.entry, actor=actor, statement=grounds, at=at)
        session.flush()
        return Filed("notice_objection", notice_objection=notice)
    # The member that must answer is told below why it does not object to its own item.
    if member.id != item.answering_member_id and not has_standing(
        session, member, item.subject, speaks_for
    ):
        raise NoStandingToObject(
            "an objection is filed by the subject's side, or by a member that has looked the "
            "subject up"
        )
    objection = file_objection(
        session,
        item,
        actor=actor,
        member=member,
        for_subject=speaks_for(item.subject),
        grounds=grounds,
        statement=statement,
        answer_days=answer_days,
        at=at,
    )
    return Filed(None, objection=objection)


def _check_person(subject: Subject) -> None:
    if subject.kind != SubjectKind.PERSON:
        raise Forbidden(
            "staff file objections and statements for persons only; an enterprise or a shop "
            "does it through its member"
        )


def _identity_check(
    text: str | None, *, required: dict[str, str | None], **typed: str | None
) -> str:
    """How staff filing for a person checked who asked: required, kept in the audit log.
    Neither it nor the ``required`` and other ``typed`` texts may hold an ID number (kept as
    typed); every missing or refused text is reported at once."""
    check = _text(text)
    errors = id_number_errors(identity_check=check, **required, **typed)
    if check is None:
        errors["identity_check"] = ["required"]
    for name, value in required.items():
        if not _text(value):
            errors[name] = ["required"]
    if errors:
        raise InvalidInput("the filing for the person cannot be taken", errors)
    assert check is not None
    return check


def object_for_person(
    session: Session,
    *,
    staff: Actor,
    person: Subject,
    item_kind: str,
    item_id: str,
    grounds: str,
    statement: str | None,
    identity_check: str,
    answer_days: int,
    at: datetime,
) -> Filed:
    """A person, who has no member, objects at the registry's counter: staff file it for
    them after checking who they are (``identity_check``, kept with the objection and in the
    audit log). Everything else is as for a subject objecting over the API: a list entry in
    its notice window gets the notice objection, a record or a published entry the general
    objection with the same answer period, and the person's statement is taken.

    :raises InvalidInput: no identity check or no grounds; an unknown item kind.
    :raises Forbidden: ``person`` is no person, or the item is not about them.
    :raises Conflict: as :func:`file_objection`.
    """
    check = _identity_check(identity_check, required={"grounds": grounds}, statement=statement)
    _check_person(person)
    item = find_item(session, item_kind, item_id)
    if item.subject.id != person.id:
        raise Forbidden("the item is not about this person")
    if item.entry is not None and item.entry.state == listings.ListingState.NOTICE:
        _no_statement(statement, "an objection in the notice window")
        notice = listings.file_objection(
            session, item.entry, actor=staff, statement=grounds, at=at, identity_check=check
        )
        session.flush()
        return Filed("notice_objection", notice_objection=notice)
    objection = file_objection(
        session,
        item,
        actor=staff,
        member=None,
        for_subject=True,
        grounds=grounds,
        statement=statement,
        answer_days=answer_days,
        at=at,
        identity_check=check,
    )
    return Filed(None, objection=objection)


def has_standing(
    session: Session, member: Member, subject: Subject, speaks_for: Callable[[Subject], bool]
) -> bool:
    """Whether ``member`` may object to the subject's items: the subject's side (the member
    that is the subject or speaks for it, a shop's platform), or a member whose lookups
    showed the subject, an interest the query log records. Anyone else could dispute, and
    learn the subject and submitter of, any record whose id it came across."""
    return (
        speaks_for(subject)
        or subject.platform_member_id == member.id
        or looked_up(session, member.id, subject.id)
    )


def _no_statement(statement: str | None, what: str) -> None:
    if _text(statement):
        raise InvalidInput(
            f"{what} takes its grounds only", {"statement": [f"not taken by {what}"]}
        )


def file_objection(
    session: Session,
    item: Item,
    *,
    actor: Actor,
    member: Member | None,
    for_subject: bool,
    grounds: str,
    statement: str | None,
    answer_days: int,
    at: datetime,
    identity_check: str | None = None,
) -> Objection:
    """The general objection to an active record or a published list entry, by ``member``
    or (None) by staff for a person, with how they checked who asked.

    The item is disputed from this commit on (its subject's document is queued in the same
    transaction) and the answering member is notified.
    """
    errors: dict[str, list[str]] = {}
    if not _text(grounds):
        errors["grounds"] = ["required"]
    if errors:
        raise InvalidInput("the objection is incomplete", errors)
    if _text(statement) and not for_subject:
        raise Forbidden("only the subject, through the member that represents it, adds a statement")
    if item.record is not None:
        if item.record.status != RecordStatus.ACTIVE:
            raise ObjectionStateError(
                "the record is revoked; there is nothing to object to",
                current_status=item.record.status,
            )
        if member is not None and item.record.member_id == member.id:
            # Its own record is the submitter's to correct or revoke; no objection needed.
            raise Forbidden("the submitting member corrects or revokes its own record directly")
    if item.entry is not None:
        if item.entry.state != listings.ListingState.PUBLISHED:
            raise ObjectionStateError(
                "a list entry is objected to in its notice window or once published",
                current_status=item.entry.state,
            )
        if member is not None and item.entry.proposer_member_id == member.id:
            raise Forbidden("the proposing regulator revokes its own entry directly")
    if session.scalar(
        sa.select(Objection.id).where(
            Objection.item_kind == item.kind,
            Objection.item_id == item.id,
            Objection.status.in_(DISPUTING),
        )
    ):
        raise AlreadyDisputed("the item already has an open objection; it is marked disputed")
    # Calendar days, as DOMAIN.md states it (unlike the list workflow's working days): the
    # answer is due at the same time of day, ``answer_days`` later.
    objection = Objection(
        id=uuid.uuid4(),
        item_kind=str(item.kind),
        item_id=item.id,
        item_version=item.version,
        subject_id=item.subject.id,
        filed_by=_who(actor),
        filer_member_id=member.id if member is not None else None,
        identity_check=identity_check,
        for_subject=for_subject,
        answering_member_id=item.answering_member_id,
        grounds=grounds.strip(),
        statement=_text(statement),
        statement_at=at if _text(statement) else None,
        status=ObjectionStatus.OPEN,
        filed_at=at,
        due_at=at + timedelta(days=answer_days),
    )
    session.add(objection)
    session.flush()
    # The subject before the audit event, which takes the chain head.
    touch_subjects(session, [objection.subject_id], at=at, rescore=False)
    record_event(
        session,
        actor=actor,
        action="objection.filed",
        object_type="objection",
        object_id=str(objection.id),
        after={
            "item_kind": objection.item_kind,
            "item_id": str(objection.item_id),
            "for_subject": for_subject,
            "due_at": iso(objection.due_at),
            **({"identity_check": identity_check} if identity_check else {}),
        },
        at=at,
    )
    _notify(
        session,
        objection,
        "objection.filed",
        f"异议 / Objection to your {_item_name(objection)}",
        f"The {_item_name(objection)} {objection.item_id} about {item.subject.name} is "
        f"disputed{' by the subject' if for_subject else ''}.\n"
        f"Grounds: {objection.grounds}\n\n"
        f"Answer by {iso(objection.due_at)}: corrected (send a corrected version first), "
        "revoked, or upheld with a written reason. Unanswered, it goes to the registry's "
        "reviewers.",
        at,
    )
    return objection


def _item_name(objection: Objection) -> str:
    return "credit record" if objection.item_kind == ItemKind.RECORD else "list entry"


def _notify(
    session: Session, objection: Objection, topic: str, title: str, body: str, at: datetime
) -> None:
    """A notice about the objection. Members have no postal or e-mail address in the registry:
    ``topic`` says whom it is for (``objection.filed`` and ``objection.escalated``: the
    answering member; ``objection.answered`` and ``objection.decided``: the filer), and the
    member reads it with the objection over the API."""
    session.add(
        Notification(
            id=uuid.uuid4(),
            subject_id=objection.subject_id,
            topic=topic,
            object_id=str(objection.id),
            recipient=None,
            title=title,
            body=body,
            created_at=at,
            attempts=0,
        )
    )


# --- reading --------------------------------------------------------------------------------


def get_objection(session: Session, objection_id: str | uuid.UUID) -> Objection:
    return get_by_id(session, Objection, objection_id, what="objection")


def not_about_a_held_record() -> sa.ColumnElement[bool]:
    """The objections members may see: none about a record held until a person is told
    (registry.person_notices) — a person may object to it at the counter, but its mark, its
    statement or its event would tell members the record exists."""
    held = sa.select(CreditRecord.id).where(
        CreditRecord.id == Objection.item_id, CreditRecord.held_for_notice.is_(True)
    )
    return sa.not_(sa.exists(held))


def disputed_items(
    session: Session, subject_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, dict[str, set[str]]]:
    """The items of each subject under an open (or escalated) objection, in one query:
    ``{subject_id: {"records": {record id, ...}, "list_entries": {entry id, ...}}}``.
    Subjects with none are left out."""
    wanted = sorted(set(subject_ids))
    found: dict[uuid.UUID, dict[str, set[str]]] = {}
    if not wanted:
        return found
    for subject_id, kind, item_id in session.execute(
        sa.select(Objection.subject_id, Objection.item_kind, Objection.item_id).where(
            among(session, Objection.subject_id, wanted),
            Objection.status.in_(DISPUTING),
            not_about_a_held_record(),
        )
    ):
        items = found.setdefault(subject_id, {"records": set(), "list_entries": set()})
        items["records" if kind == ItemKind.RECORD else "list_entries"].add(str(item_id))
    return found


def _shown_beside_item() -> sa.ColumnElement[bool]:
    """Objections whose mark shows beside their item: open or escalated ones (the item is
    disputed), and upheld ones with the subject's statement (which stays)."""
    return sa.or_(
        Objection.status.in_(DISPUTING),
        sa.and_(Objection.outcome == Outcome.UPHELD, Objection.statement.is_not(None)),
    )


# What the public sees beside an item nobody objected to.
NO_MARK: dict[str, Any] = {"disputed": False, "subject_statement": None}


def public_marks(
    session: Session, kind: ItemKind, item_ids: Iterable[uuid.UUID]
) -> dict[str, dict[str, Any]]:
    """The mark beside each item wherever the public sees it (list pages, feeds, the
    subject's page), in one query: ``{item id: {"disputed": bool, "subject_statement":
    text or None}}``. Disputed while an objection is open or escalated; the subject's
    statement shows with it, and stays beside an item whose objection was upheld, as on
    the subject's own page (:func:`shown_with_subject`). Items with neither are left out:
    :data:`NO_MARK` is theirs."""
    wanted = sorted(set(item_ids))
    found: dict[str, dict[str, Any]] = {}
    if not wanted:
        return found
    rows = session.execute(
        sa.select(Objection.item_id, Objection.status, Objection.statement)
        .where(
            Objection.item_kind == kind,
            among(session, Objection.item_id, wanted),
            _shown_beside_item(),
        )
        .order_by(Objection.filed_at, Objection.id)
    )
    for item_id, status, statement in rows:
        mark = found.setdefault(str(item_id), dict(NO_MARK))
        mark["disputed"] = mark["disputed"] or status in DISPUTING
        # The latest statement is the subject's word now.
        mark["subject_statement"] = statement or mark["subject_statement"]
    return found


def shown_with_subject(session: Session, subject_id: uuid.UUID) -> list[Objection]:
    """What the subject's page shows beside its items: every open or escalated objection, and
    the subject's statement on an item whose objection was upheld (the item stands, and the
    subject's word stays beside it). Oldest first."""
    return list(
        session.scalars(
            sa.select(Objection)
            .where(
                Objection.subject_id == subject_id,
                _shown_beside_item(),
                not_about_a_held_record(),
            )
            .order_by(Objection.filed_at, Objection.id)
        )
    )


def queue(session: Session) -> list[Objection]:
    """The reviewers' queue: escalated objections, longest overdue first."""
    return list(
        session.scalars(
            sa.select(Objection)
            .where(Objection.status == ObjectionStatus.ESCALATED)
            .order_by(Objection.due_at, Objection.id)
        )
    )


# --- the subject's statement ----------------------------------------------------------------


def attach_statement(
    session: Session,
    objection: Objection,
    *,
    actor: Actor,
    statement: str,
    at: datetime,
    identity_check: str | None = None,
) -> Objection:
    """The subject's statement, added or replaced. It may come after filing and even after an
    ``upheld`` answer (it then stays beside the item); not once the item was corrected or
    revoked, when it would speak of something that no longer shows. Staff adding it for a
    person say how they checked who asked (``identity_check``, audited).

    :raises InvalidInput: an empty statement.
    :raises ObjectionStateError: the item was corrected or revoked.
    """
    text = _text(statement)
    if text is None:
        raise InvalidInput("a statement is required", {"statement": ["required"]})
    if objection.outcome in (Outcome.CORRECTED, Outcome.REVOKED):
        raise ObjectionStateError(
            f"the item was {objection.outcome}; a statement no longer applies",
            current_status=objection.status,
            outcome=objection.outcome,
        )
    before = objection.statement
    objection.statement = text
    objection.statement_at = at
    record_event(
        session,
        actor=actor,
        action="objection.statement",
        object_type="objection",
        object_id=str(objection.id),
        before={"statement": before},
        after={
            "statement": text,
            **({"identity_check": identity_check} if identity_check else {}),
        },
        at=at,
    )
    # The search document shows that an item is disputed, not the statement: nothing to queue.
    return objection


def statement_for_person(
    session: Session,
    objection: Objection,
    *,
    staff: Actor,
    person: Subject,
    statement: str,
    identity_check: str,
    at: datetime,
) -> Objection:
    """A person's statement beside an objection about them, added at the registry's counter
    by staff after checking who they are (see :func:`attach_statement`).

    :raises InvalidInput: no identity check, or an empty statement.
    :raises Forbidden: ``person`` is no person, or the objection is not about them.
    """
    check = _identity_check(identity_check, required={"statement": statement})
    _check_person(person)
    if objection.subject_id != person.id:
        raise Forbidden("the objection is not about this person")
    return attach_statement(
        session, objection, actor=staff, statement=statement, at=at, identity_check=check
    )


# --- answers and decisions ------------------------------------------------------------------


def answer(
    session: Session,
    objection: Objection,
    *,
    member: Member,
    outcome: str,
    reason: str,
    at: datetime,
) -> Objection:
    """The submitting member's answer. Accepted while the objection is open, even a little
    past its due time if the worker has not escalated it yet (the subject loses nothing by a
    late answer, and the view says it was late); once escalated, a reviewer decides.

    :raises Forbidden: the member is not the one that must answer.
    :raises ObjectionStateError: the objection is not open.
    :raises InvalidInput: an unknown outcome, or no reason.
    :raises NotCorrected: ``corrected`` without a corrected version since the objection.
    :raises OutcomeUnavailable: ``corrected`` for a list entry.
    """
    if member.id != objection.answering_member_id:
        raise Forbidden("only the member that submitted the item answers the objection")
    _lock(session, objection)
    if objection.status != ObjectionStatus.OPEN:
        detail = (
            "the objection went unanswered past its due time; a reviewer decides it now"
            if objection.status == ObjectionStatus.ESCALATED
            else f"the objection is already {objection.status}"
        )
        raise ObjectionStateError(detail, current_status=objection.status)
    actor = Actor(ActorKind.MEMBER, str(member.id))
    _close(
        session,
        objection,
        actor=actor,
        member=member,
        outcome=outcome,
        reason=reason,
        status=ObjectionStatus.ANSWERED,
        reviewer_role=False,
        at=at,
    )
    return objection


def decide(
    session: Session,
    objection: Objection,
    *,
    reviewer: Actor,
    reviewer_regulator_id: uuid.UUID | None,
    outcome: str,
    reason: str,
    at: datetime,
) -> Objection:
    """A reviewer decides an escalated objection, with the same outcomes. Staff of the
    regulator that proposed a list entry do not decide objections to it (four eyes).

    :raises ObjectionStateError: the objection is not escalated.
    :raises Forbidden: a reviewer of the proposing regulator.
    :raises InvalidInput, NotCorrected, OutcomeUnavailable: as for :func:`answer`.
    """
    _lock(session, objection)
    if objection.status != ObjectionStatus.ESCALATED:
        raise ObjectionStateError(
            f"a reviewer decides escalated objections; this one is {objection.status}",
            current_status=objection.status,
        )
    if reviewer_regulator_id is not None and reviewer_regulator_id == objection.answering_member_id:
        raise Forbidden("a reviewer of the answering member does not decide its objection")
    _close(
        session,
        objection,
        actor=reviewer,
        member=None,
        outcome=outcome,
        reason=reason,
        status=ObjectionStatus.DECIDED,
        reviewer_role=True,
        at=at,
    )
    return objection


def _lock(session: Session, objection: Objection) -> None:
    """Read the objection again under a row lock (PostgreSQL), so an answer and the
    escalation job cannot both close it."""
    session.execute(sa.select(Objection.id).where(Objection.id == objection.id).with_for_update())
    session.refresh(objection)


def _close(
    session: Session,
    objection: Objection,
    *,
    actor: Actor,
    member: Member | None,
    outcome: str,
    reason: str,
    status: ObjectionStatus,
    reviewer_role: bool,
    at: datetime,
) -> None:
    errors: dict[str, list[str]] = {}
    if outcome not in set(Outcome):
        errors["outcome"] = [f"one of {', '.join(Outcome)}"]
    text = _text(reason)
    if text is None:
        errors["reason"] = [
            "an upheld item needs a written reason" if outcome == Outcome.UPHELD else "required"
        ]
    if errors:
        raise InvalidInput("the answer cannot be given", errors)
    assert text is not None
    # The dispute mark comes off the item (and a revocation changes it anyway). The subject
    # is taken first, before any audit event takes the chain head.
    touch_subjects(session, [objection.subject_id], at=at, rescore=False)
    if objection.item_kind == ItemKind.RECORD:
        _apply_to_record(session, objection, Outcome(outcome), actor, member, text, at)
    else:
        _apply_to_entry(session, objection, Outcome(outcome), actor, reviewer_role, text, at)
    objection.status = status
    objection.outcome = outcome
    objection.reason = text
    objection.answered_at = at
    objection.answered_by = _who(actor)
    verb = "decided" if status == ObjectionStatus.DECIDED else "answered"
    record_event(
        session,
        actor=actor,
        action=f"objection.{verb}",
        object_type="objection",
        object_id=str(objection.id),
        before={"status": ObjectionStatus.ESCALATED if reviewer_role else ObjectionStatus.OPEN},
        after={"status": status, "outcome": outcome, "late": at > objection.due_at},
        reason=text,
        at=at,
    )
    _notify(
        session,
        objection,
        f"objection.{verb}",
        f"异议答复 / Your objection was {verb}: {outcome}",
        f"Your objection to the {_item_name(objection)} {objection.item_id} was {verb}"
        f"{' by a registry reviewer' if reviewer_role else ''}.\n"
        f"Outcome: {outcome}\nReason: {text}",
        at,
    )


def _apply_to_record(
    session: Session,
    objection: Objection,
    outcome: Outcome,
    actor: Actor,
    member: Member | None,
    reason: str,
    at: datetime,
) -> None:
    record = session.get(CreditRecord, objection.item_id)
    assert record is not None  # records are never deleted
    changed_since = record.version > (objection.item_version or 0)
    if outcome == Outcome.CORRECTED:
        corrected = session.scalar(
            sa.select(sa.func.count())
            .select_from(CreditRecordVersion)
            .where(
                CreditRecordVersion.record_id == record.id,
                CreditRecordVersion.version > (objection.item_version or 0),
                CreditRecordVersion.op == VersionOp.CORRECT,
            )
        )
        if record.status == RecordStatus.REVOKED:
            raise NotCorrected(
                "the record was revoked since the objection; answer revoked",
                record_version=record.version,
            )
        if not corrected:
            raise NotCorrected(
                "no corrected version of the record was sent since the objection was filed; "
                "send the correction first (a submission upserting the record), then answer",
                record_version=record.version,
                version_at_objection=objection.item_version,
            )
        return
    if outcome == Outcome.REVOKED:
        if record.status == RecordStatus.REVOKED and changed_since:
            return  # the member already revoked it by a submission since the objection
        note = f"objection {objection.id}: {reason}"
        if member is not None:
            revoke_record(
                session,
                actor=actor,
                member=member,
                member_record_id=record.member_record_id,
                reason=note,
                now=at,
            )
        else:
            apply_revoke(
                session, actor=actor, record=record, reason=note, submission_id=None, at=at
            )
        return
    # UPHELD: the record stands as it is; the reason was checked by the caller.


def _apply_to_entry(
    session: Session,
    objection: Objection,
    outcome: Outcome,
    actor: Actor,
    reviewer_role: bool,
    reason: str,
    at: datetime,
) -> None:
    entry = listings.get_entry(session, objection.item_id)
    if outcome == Outcome.CORRECTED:
        raise OutcomeUnavailable(
            "a list entry is not corrected in place: revoke it (and propose a corrected "
            "entry), or uphold it with a reason",
            allowed_outcomes=[str(Outcome.REVOKED), str(Outcome.UPHELD)],
        )
    if outcome == Outcome.REVOKED:
        if entry.state == listings.ListingState.REMOVED:
            return  # taken down since the objection (revoked, repaired or expired)
        listings.revoke(
            session,
            entry,
            actor=actor,
            role=listings.Role.REVIEWER if reviewer_role else listings.Role.PROPOSER,
            reason=f"objection {objection.id}: {reason}",
            at=at,
        )


# --- the deadline ---------------------------------------------------------------------------


def escalate_due(session: Session, now: datetime, *, batch: int = 500) -> int:
    """The worker's ``objection-deadlines`` job: every open objection past its due time goes
    to the reviewers' queue. Idempotent (an escalated objection is no longer open), and safe
    with several workers (rows are claimed with SKIP LOCKED on PostgreSQL)."""
    due = session.scalars(
        sa.select(Objection)
        .where(Objection.status == ObjectionStatus.OPEN, Objection.due_at < now)
        .order_by(Objection.due_at)
        .limit(batch)
        .with_for_update(skip_locked=True)
    ).all()
    # Its status is part of what a watcher of the subject sees (registry.monitoring); nothing
    # a search document or a rating holds changes.
    enqueue_monitoring(session, sorted({objection.subject_id for objection in due}), at=now)
    for objection in due:
        objection.status = ObjectionStatus.ESCALATED
        objection.escalated_at = now
        record_event(
            session,
            actor=SYSTEM,
            action="objection.escalated",
            object_type="objection",
            object_id=str(objection.id),
            before={"status": ObjectionStatus.OPEN},
            after={"status": ObjectionStatus.ESCALATED, "due_at": iso(objection.due_at)},
            reason="unanswered past its due time",
            at=now,
        )
        _notify(
            session,
            objection,
            "objection.escalated",
            "异议升级 / Unanswered objection sent to reviewers",
            f"The objection to the {_item_name(objection)} {objection.item_id} was due "
            f"{iso(objection.due_at)} and is unanswered; a registry reviewer decides it now.",
            now,
        )
    return len(due)


def answer_days_from_settings(settings: Any) -> int:
    return int(settings.OBJECTION_ANSWER_DAYS)

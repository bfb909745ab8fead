"""Blacklists (严重失信主体名单) and redlists (守信激励名单): from a regulator's proposal to
publication and removal. The blacklists are four kinds, each with its own period, extension,
repair and publicity (registry.list_kinds, config/list_kinds.toml).

The lifecycle (DOMAIN.md): proposed -> under review -> approved -> notice (告知) ->
published -> removed (expired, repaired or revoked), with rejected and withdrawn as ends.

The notice is a recorded act. Approval issues it; it is served on the member that is the
subject (or operates the shop) when the registry hands it to that member in answer to one of
its signed requests (:func:`deliver_notices`), and otherwise by a channel staff record with
its date of service and reference (:func:`record_service`: post, in person, public
announcement, confirmed e-mail). The objection window counts its working days from the day
of service, and an entry whose notice was never served is not published.

Every move is one row of :data:`TRANSITIONS`, which says who may make it; anything else is
refused with the current state and the moves it allows. Every move writes an audit event
(the service of a notice with its channel, date and reference); publication and removal
also queue the subject's search document, so the flag appears and disappears in every
lookup.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from registry import joint_measures, list_kinds, tlog
from registry.audit import Actor, ActorKind, record_event
from registry.calendar import WorkingCalendar, calendar_from_settings, deadline_warning
from registry.clock import iso, local_date
from registry.db import Base, among, get_by_id, one_of, uuid_pk
from registry.errors import Conflict, Forbidden, InvalidInput, NotFound
from registry.identifiers import ID_NUMBER_IN_TEXT, contains_id_number
from registry.joint_measures import Catalogue
from registry.list_kinds import ListKind, ListKinds, Side, side_list, side_of
from registry.list_kinds import from_settings as list_kinds_from_settings
from registry.members import Member
from registry.outbox import touch_subjects
from registry.subjects import Subject, lock_subjects, represented_by


class ListingState(StrEnum):
    PROPOSED = "proposed"
    UNDER_REVIEW = "under_review"
    APPROVED = "approved"
    NOTICE = "notice"
    PUBLISHED = "published"
    REMOVED = "removed"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


class RemovalReason(StrEnum):
    EXPIRED = "expired"
    REPAIRED = "repaired"
    REVOKED = "revoked"


class NoticeChannel(StrEnum):
    """How a prior notice was served."""

    MEMBER = "member"  # handed to the member that is (or operates) the subject, over the API
    POST = "post"  # 邮寄送达: a registered letter; the reference is its tracking number
    IN_PERSON = "in_person"  # 直接送达: against a signed receipt (送达回证)
    ANNOUNCEMENT = "announcement"  # 公告送达: where and when it was announced
    EMAIL = "email"  # 电子送达: an e-mail the subject confirmed receiving


# What staff enter; the member channel is recorded by the delivery itself.
RECORDED_CHANNELS = tuple(c for c in NoticeChannel if c != NoticeChannel.MEMBER)


class Role(StrEnum):
    """Who acts on an entry: the regulator that proposed it (or its authority), registry
    reviewers, the subject, and the registry's own jobs."""

    PROPOSER = "proposer"
    REVIEWER = "reviewer"
    SUBJECT = "subject"
    SYSTEM = "system"


@dataclass(frozen=True)
class Transition:
    to: ListingState
    roles: frozenset[Role]


S = ListingState
TRANSITIONS: dict[tuple[ListingState, str], Transition] = {
    (S.PROPOSED, "approve"): Transition(S.UNDER_REVIEW, frozenset({Role.REVIEWER})),
    (S.UNDER_REVIEW, "approve"): Transition(S.APPROVED, frozenset({Role.REVIEWER})),
    (S.PROPOSED, "reject"): Transition(S.REJECTED, frozenset({Role.REVIEWER})),
    (S.UNDER_REVIEW, "reject"): Transition(S.REJECTED, frozenset({Role.REVIEWER})),
    (S.APPROVED, "notify"): Transition(S.NOTICE, frozenset({Role.SYSTEM})),
    # Service of the notice: delivery to the subject's member, or a channel staff record.
    (S.NOTICE, "serve"): Transition(
        S.NOTICE, frozenset({Role.SUBJECT, Role.REVIEWER, Role.PROPOSER})
    ),
    # The worker publishes when the window has closed; the proposer or a reviewer may do it
    # at once then. Either way only after service (see :func:`publish`).
    (S.NOTICE, "publish"): Transition(
        S.PUBLISHED, frozenset({Role.SYSTEM, Role.PROPOSER, Role.REVIEWER})
    ),
    (S.NOTICE, "uphold_objection"): Transition(S.REJECTED, frozenset({Role.REVIEWER})),
    (S.PUBLISHED, "expire"): Transition(S.REMOVED, frozenset({Role.SYSTEM})),
    (S.PUBLISHED, "repair"): Transition(S.REMOVED, frozenset({Role.PROPOSER})),
    # The registry revokes a redlist entry when the subject is blacklisted (see _publish).
    (S.PUBLISHED, "revoke"): Transition(
        S.REMOVED, frozenset({Role.PROPOSER, Role.REVIEWER, Role.SYSTEM})
    ),
    # Dishonest judgment debtors: 2 years, extendable by 1 to 3 (DOMAIN.md).
    (S.PUBLISHED, "extend"): Transition(S.PUBLISHED, frozenset({Role.PROPOSER})),
    **{
        (state, "withdraw"): Transition(S.WITHDRAWN, frozenset({Role.PROPOSER}))
        for state in (S.PROPOSED, S.UNDER_REVIEW, S.APPROVED, S.NOTICE)
    },
}
"""(state, action) -> the state it leads to and who may take it. ``approve`` from
``under_review`` only reaches ``approved`` once enough distinct reviewers approved."""


class InvalidTransition(Conflict):
    """The move is not allowed from the entry's state, or not to this actor."""


class NoticeNotServed(Conflict):
    """Publication asked for an entry whose notice was never served."""


class NoticeAlreadyServed(Conflict):
    """A second service recorded for a notice already served."""


class ObjectionWindowOpen(Conflict):
    """Publication asked for before the objection window has closed."""


class ObjectionPending(Conflict):
    """Publication asked for while an objection waits for its answer."""


class ListConflict(Conflict):
    """A redlist proposal, or the publication of a redlist entry, for a subject on a
    blacklist of any kind: the conflicting entry is named. (A blacklisting is never held up
    by the redlist: its publication takes the redlist entry down, see :func:`_publish`.)"""


class NotExtendable(Conflict):
    """An extension asked for an entry whose kind is never extended (the redlist)."""


class EntryNotInForce(Conflict):
    """A measure reported applied to an entry that is not published: nothing is in force
    before publication or after removal."""


def allowed_actions(state: str) -> list[str]:
    return sorted(action for (from_state, action) in TRANSITIONS if from_state == state)


@dataclass(frozen=True)
class ListPolicy:
    """The periods and counts of DOMAIN.md, from configuration."""

    calendar: WorkingCalendar
    approvals: dict[str, int]  # per list
    objection_window_days: int = 10  # working days
    repair_ack_days: int = 10  # working days
    repair_decision_days: int = 3  # working days
    kinds: ListKinds | None = None  # None: the kinds in force (registry.list_kinds.in_force)
    catalogue: Catalogue | None = None  # None: the one in force (joint_measures.in_force)

    @property
    def list_kinds(self) -> ListKinds:
        return self.kinds if self.kinds is not None else list_kinds.in_force()

    @property
    def measures(self) -> Catalogue:
        return self.catalogue if self.catalogue is not None else joint_measures.in_force()


class ListEntry(Base):
    __tablename__ = "list_entries"
    __table_args__ = (
        one_of("list_kind", ListKind),
        one_of("state", ListingState),
        one_of("notice_channel", NoticeChannel),
        sa.CheckConstraint("length(legal_basis) > 0", name="legal_basis_given"),
        sa.CheckConstraint("period_months > 0", name="period_positive"),
    )

    id: Mapped[uuid_pk]
    subject_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("subjects.id"), index=True)
    list_kind: Mapped[str] = mapped_column(sa.String(16))
    state: Mapped[str] = mapped_column(sa.String(16), index=True)
    proposer_member_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("members.id"), index=True)
    authority: Mapped[str] = mapped_column(sa.String(200), comment="issuing authority")
    reason: Mapped[str] = mapped_column(sa.Text)
    legal_basis: Mapped[str] = mapped_column(sa.Text)
    document_number: Mapped[str] = mapped_column(sa.String(100), comment="认定文书号")
    # The measures as worded in the decision: the catalogue's texts of the codes named
    # (list_entry_measures), or the free text of an entry proposed before the catalogue.
    measures_text: Mapped[str] = mapped_column(
        "measures",
        sa.Text,
        comment="惩戒措施 / 激励措施 as worded: the named measures' texts, or the free text "
        "of an entry proposed before the catalogue (then no list_entry_measures)",
    )
    period_months: Mapped[int]
    min_repair_months: Mapped[int | None] = mapped_column(
        comment="earliest credit repair after publication; null: the kind has no repair route"
    )
    notice_to: Mapped[str | None] = mapped_column(
        sa.String(200), comment="where the prior notice goes (an e-mail address)"
    )
    proposed_at: Mapped[datetime]
    approved_at: Mapped[datetime | None]
    notice_sent_at: Mapped[datetime | None] = mapped_column(comment="when the notice was issued")
    notice_channel: Mapped[str | None] = mapped_column(
        sa.String(16), comment="how the notice was served; null until it is"
    )
    notice_served_on: Mapped[date | None] = mapped_column(
        comment="the day of service: the objection window counts from it"
    )
    notice_delivered_at: Mapped[datetime | None] = mapped_column(
        comment="member channel: when the notice was handed to the member"
    )
    notice_reference: Mapped[str | None] = mapped_column(
        sa.String(200), comment="tracking number, receipt, announcement, or the delivering request"
    )
    notice_member_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("members.id"), comment="member channel: the member served"
    )
    objection_deadline: Mapped[date | None] = mapped_column(
        comment="last day of the objection window; set at service"
    )
    published_at: Mapped[datetime | None]
    publish_until: Mapped[datetime | None] = mapped_column(index=True)
    removed_at: Mapped[datetime | None]
    removal_reason: Mapped[str | None] = mapped_column(sa.String(16))
    outcome_note: Mapped[str | None] = mapped_column(sa.Text)
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

    subject: Mapped[Subject] = relationship()
    reviews: Mapped[list[ListReview]] = relationship(
        back_populates="entry", order_by="ListReview.at", lazy="selectin"
    )
    objections: Mapped[list[ListObjection]] = relationship(
        back_populates="entry", order_by="ListObjection.filed_at", lazy="selectin"
    )
    measures: Mapped[list[ListEntryMeasure]] = relationship(
        order_by="ListEntryMeasure.position", lazy="selectin"
    )
    # Read only where the proposer's view is shown (one entry at a time).
    applications: Mapped[list[MeasureApplication]] = relationship(
        order_by=lambda: APPLICATION_ORDER
    )

    def measures_view(self) -> dict[str, Any]:
        """The measures the entry names, and their wording as proposed (for an entry made
        before the catalogue, only its free text: ``measures`` is then empty)."""
        return {
            "measures": [m.view() for m in self.measures],
            "measures_text": self.measures_text,
        }

    def public_view(self) -> dict[str, Any]:
        """What the public pages and feeds show of a published entry: its measures, but not
        which authority reported applying which of them (see :meth:`summary`): that is the
        authorities' working record, and would tell of the subject's dealings (the tender it
        bid in, the licence it applied for), which the publicity of the entry does not need."""
        return {
            "id": str(self.id),
            "list": self.list_kind,
            "side": side_list(self.list_kind),
            "subject_id": str(self.subject_id),
            "subject_name": self.subject.name,
            "uscc": self.subject.uscc,
            "region": self.subject.region_code,
            "authority": self.authority,
            "reason": self.reason,
            "legal_basis": self.legal_basis,
            "document_number": self.document_number,
            **self.measures_view(),
            "published_at": iso(self.published_at),
            "until": iso(self.publish_until),
            "how_to_object": "File an objection (异议) with the registry, naming this entry.",
            "how_to_repair": self._how_to_repair(),
        }

    def _how_to_repair(self) -> str | None:
        """What the public view says of credit repair: for kinds with a repair route, and
        from when (an entry not yet published, or with no minimum period, names no date)."""
        if self.min_repair_months is None:
            return None
        since = self.repair_from
        when = f"from {iso(since)} on" if since is not None else "once it is published"
        if since is None and self.published_at is not None:
            when = "at any time"
        return (
            "Apply for credit repair (信用修复) once the conduct is corrected and obligations "
            f"performed, {when}, with a public credit commitment."
        )

    @property
    def repair_from(self) -> datetime | None:
        if self.published_at is None or not self.min_repair_months:
            return None
        return add_months(self.published_at, self.min_repair_months)

    def notice_view(self, calendar: WorkingCalendar) -> dict[str, Any]:
        """The notice: when it was issued, whether and how it was served, and the objection
        window that runs from service (with a warning when its end was counted over a year
        no public-holiday calendar covers)."""
        return {
            "issued_at": iso(self.notice_sent_at),
            "served": self.notice_served_on is not None,
            "channel": self.notice_channel,
            "served_on": iso(self.notice_served_on),
            "delivered_at": iso(self.notice_delivered_at),
            "reference": self.notice_reference,
            "member_id": str(self.notice_member_id) if self.notice_member_id else None,
            "objection_deadline": iso(self.objection_deadline),
            "objection_deadline_warning": self.deadline_warning(calendar),
        }

    def deadline_warning(self, calendar: WorkingCalendar) -> dict[str, Any] | None:
        if self.notice_served_on is None or self.objection_deadline is None:
            return None
        return deadline_warning(calendar, self.notice_served_on, self.objection_deadline)

    def how_to_object(self) -> str:
        """The subject's route to object while the entry is in its notice stage."""
        if self.objection_deadline is not None:
            when = f"until {self.objection_deadline.isoformat()} (inclusive)"
        else:
            when = "within the objection window, which opens when this notice is served"
        return (
            f"Object (异议) {when}: through the member that is or operates the subject "
            f"(POST /api/v1/listings/{self.id}/objections), or in writing to the registry "
            "naming this entry. An objection suspends publication until it is answered."
        )

    def pending_view(self, calendar: WorkingCalendar) -> dict[str, Any]:
        """What the subject sees of its entry in the notice stage: what is proposed, on
        what basis, the notice and its window, how to object, and the objections filed."""
        return {
            "id": str(self.id),
            "list": self.list_kind,
            "state": self.state,
            "subject_id": str(self.subject_id),
            "subject_name": self.subject.name,
            "authority": self.authority,
            "reason": self.reason,
            "legal_basis": self.legal_basis,
            "document_number": self.document_number,
            **self.measures_view(),
            "period_months": self.period_months,
            "notice": self.notice_view(calendar),
            "how_to_object": self.how_to_object(),
            "objections": [o.view() for o in self.objections],
        }

    def summary(self, calendar: WorkingCalendar) -> dict[str, Any]:
        notice = self.notice_view(calendar)
        return {
            **{k: v for k, v in self.public_view().items() if k not in ("how_to_object",)},
            "state": self.state,
            "allowed_actions": allowed_actions(self.state),
            "period_months": self.period_months,
            "proposer_member_id": str(self.proposer_member_id),
            "proposed_at": iso(self.proposed_at),
            "approvals": [
                {"reviewer": r.reviewer_id, "decision": r.decision, "reason": r.reason}
                for r in self.reviews
            ],
            "notice": {k: v for k, v in notice.items() if not k.startswith("objection_")},
            "objection_deadline": notice["objection_deadline"],
            "objection_deadline_warning": notice["objection_deadline_warning"],
            "objections": [o.view() for o in self.objections],
            "removed_at": iso(self.removed_at),
            "removal_reason": self.removal_reason,
            "outcome_note": self.outcome_note,
            "measures_applied": [a.view() for a in self.applications],
        }


class ListEntryMeasure(Base):
    """A measure an entry names, by its catalogue code, with its wording and basis as they
    were when proposed: the entry keeps them if the catalogue later changes or drops it."""

    __tablename__ = "list_entry_measures"

    entry_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("list_entries.id"), primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    position: Mapped[int] = mapped_column(comment="the order the proposal named them in, from 0")
    text: Mapped[str] = mapped_column(sa.Text)
    legal_basis: Mapped[str] = mapped_column(sa.Text)

    def view(self) -> dict[str, Any]:
        return {"code": self.code, "text": self.text, "legal_basis": self.legal_basis}


class MeasureApplication(Base):
    """A member's report that it applied a joint measure to a listed subject: who (the
    signing member), which measure, on which day, with its own reference."""

    __tablename__ = "measure_applications"

    id: Mapped[uuid_pk]
    entry_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("list_entries.id"), index=True)
    code: Mapped[str] = mapped_column(sa.String(64), comment="the measure's catalogue code")
    member_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("members.id"), index=True)
    applied_on: Mapped[date] = mapped_column(comment="the day the member applied it")
    reference: Mapped[str | None] = mapped_column(
        sa.String(200), comment="the member's own reference: a decision, a tender, a file"
    )
    reported_at: Mapped[datetime] = mapped_column(comment="when the registry received the report")

    member: Mapped[Member] = relationship(lazy="joined")

    def view(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "entry_id": str(self.entry_id),
            "code": self.code,
            "text": joint_measures.text_of(self.code),
            "member_id": str(self.member_id),
            "member_name": self.member.name,
            "applied_on": self.applied_on.isoformat(),
            "reference": self.reference,
            "reported_at": iso(self.reported_at),
        }


# Reports of applied measures by the day applied, then received, then measure code: two
# received at the same instant come in one order on every database.
APPLICATION_ORDER: tuple[Any, ...] = (
    MeasureApplication.applied_on,
    MeasureApplication.reported_at,
    MeasureApplication.code,
)


class ListReview(Base):
    __tablename__ = "list_reviews"
    __table_args__ = (sa.UniqueConstraint("entry_id", "reviewer_id"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    entry_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("list_entries.id"), index=True)
    reviewer_id: Mapped[str] = mapped_column(sa.String(64))
    decision: Mapped[str] = mapped_column(sa.String(16))
    reason: Mapped[str] = mapped_column(sa.Text)
    at: Mapped[datetime]

    entry: Mapped[ListEntry] = relationship(back_populates="reviews")


class ListObjection(Base):
    __tablename__ = "list_objections"

    id: Mapped[uuid_pk]
    entry_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("list_entries.id"), index=True)
    filed_by: Mapped[str] = mapped_column(sa.String(80), comment="actor kind:id")
    statement: Mapped[str] = mapped_column(sa.Text)
    filed_at: Mapped[datetime]
    answered_at: Mapped[datetime | None]
    answered_by: Mapped[str | None] = mapped_column(sa.String(80))
    outcome: Mapped[str | None] = mapped_column(sa.String(16), comment="dismissed or upheld")
    answer: Mapped[str | None] = mapped_column(sa.Text)

    entry: Mapped[ListEntry] = relationship(back_populates="objections")

    def view(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "statement": self.statement,
            "filed_at": iso(self.filed_at),
            "outcome": self.outcome,
            "answer": self.answer,
            "answered_at": iso(self.answered_at),
        }


def add_months(when: datetime, months: int) -> datetime:
    """The same day ``months`` later (the last day of a shorter month)."""
    month = when.month - 1 + months
    year, month = when.year + month // 12, month % 12 + 1
    for day in (when.day, 30, 29, 28):
        try:
            return when.replace(year=year, month=month, day=day)
        except ValueError:
            continue
    raise AssertionError("unreachable")  # pragma: no cover


# --- moves ---------------------------------------------------------------------------------


def _move(
    session: Session,
    entry: ListEntry,
    action: str,
    *,
    actor: Actor,
    role: Role,
    at: datetime,
    reason: str | None = None,
    to: ListingState | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    transition = TRANSITIONS.get((ListingState(entry.state), action))
    if transition is None or role not in transition.roles:
        allowed = allowed_actions(entry.state)
        detail = (
            f"a {role} cannot {action} an entry that is {entry.state}"
            if transition is not None
            else f"cannot {action} an entry that is {entry.state}"
        )
        raise InvalidTransition(detail, current_state=entry.state, allowed_actions=allowed)
    before = entry.state
    entry.state = to or transition.to
    record_event(
        session,
        actor=actor,
        action=f"listing.{action}",
        object_type="list_entry",
        object_id=str(entry.id),
        before={"state": before},
        after={"state": entry.state, **(details or {})},
        reason=reason,
        at=at,
    )


def propose_listing(
    session: Session,
    *,
    actor: Actor,
    proposer_member_id: uuid.UUID,
    subject: Subject,
    list_kind: str,
    authority: str,
    reason: str,
    legal_basis: str,
    document_number: str,
    measures: Sequence[str],
    period_months: int | None,
    notice_to: str | None,
    policy: ListPolicy,
    at: datetime,
) -> ListEntry:
    """A regulator's proposal. Every missing piece is reported at once; a listing without
    a legal basis is never created. ``measures`` are codes of the catalogue of joint
    measures, each attached to the entry's kind.

    :raises InvalidInput: a missing field, an impossible period, or measure codes that are
        unknown, not attached to the kind, repeated or none (``measures.<position>``).
    :raises Conflict: the subject already has an open entry on this list.
    """
    errors: dict[str, list[str]] = {}
    for name, value in (
        ("authority", authority),
        ("reason", reason),
        ("legal_basis", legal_basis),
        ("document_number", document_number),
    ):
        if not value or not value.strip():
            errors[name] = ["required"]
    kinds = policy.list_kinds
    kind = kinds.resolve(list_kind)
    period = period_months
    if kind is None:
        errors["list"] = [f"one of {', '.join(ListKind)}"]
    else:
        rules = kinds.of(kind)
        period = period_months or rules.period_months
        if not 1 <= period <= rules.max_period_months:
            errors["period_months"] = [f"between 1 and {rules.max_period_months} months"]
    errors.update(policy.measures.check(measures, kind))
    if errors:
        raise InvalidInput("the listing cannot be proposed", errors)
    assert kind is not None and period is not None
    list_kind = kind
    existing = session.scalar(
        sa.select(ListEntry.id).where(
            ListEntry.subject_id == subject.id,
            ListEntry.list_kind == list_kind,
            ListEntry.state.in_(OPEN_STATES),
        )
    )
    if existing is not None:
        raise Conflict("the subject already has an open entry on this list", entry_id=str(existing))
    if side_of(list_kind) == Side.RED:
        _refuse_if_blacklisted(session, subject.id)
    entry = ListEntry(
        id=uuid.uuid4(),
        subject=subject,
        subject_id=subject.id,
        list_kind=list_kind,
        state=ListingState.PROPOSED,
        proposer_member_id=proposer_member_id,
        authority=authority.strip(),
        reason=reason.strip(),
        legal_basis=legal_basis.strip(),
        document_number=document_number.strip(),
        measures_text="；".join(policy.measures.measures[code].text for code in measures),
        period_months=int(period),
        min_repair_months=kinds.of(list_kind).repair_after_months,
        notice_to=notice_to,
        proposed_at=at,
    )
    session.add(entry)
    for position, code in enumerate(measures):
        measure = policy.measures.measures[code]
        entry.measures.append(
            ListEntryMeasure(
                entry_id=entry.id,
                code=code,
                position=position,
                text=measure.text,
                legal_basis=measure.legal_basis,
            )
        )
    record_event(
        session,
        actor=actor,
        action="listing.proposed",
        object_type="list_entry",
        object_id=str(entry.id),
        after={
            "state": entry.state,
            "list": list_kind,
            "subject_id": str(subject.id),
            "measures": list(measures),
        },
        at=at,
    )
    return entry


OPEN_STATES = [s for s in ListingState if s not in (S.REMOVED, S.REJECTED, S.WITHDRAWN)]
BLACK_KINDS = [k for k in ListKind if side_of(k) == Side.BLACK]


def _published_black_subjects(session: Session, subject_ids: list[uuid.UUID]) -> set[uuid.UUID]:
    if not subject_ids:
        return set()
    return set(
        session.scalars(
            sa.select(ListEntry.subject_id).where(
                ListEntry.subject_id.in_(subject_ids),
                ListEntry.list_kind.in_(BLACK_KINDS),
                ListEntry.state == ListingState.PUBLISHED,
            )
        )
    )


def _refuse_if_blacklisted(
    session: Session, subject_id: uuid.UUID, *, published_only: bool = False
) -> None:
    """A subject on a blacklist of any kind (or on its way there, unless ``published_only``)
    is not put on the redlist (DOMAIN.md): the refusal names the entry in the way."""
    states = [ListingState.PUBLISHED] if published_only else OPEN_STATES
    blocking = session.scalars(
        sa.select(ListEntry)
        .where(
            ListEntry.subject_id == subject_id,
            ListEntry.list_kind.in_(BLACK_KINDS),
            ListEntry.state.in_(states),
        )
        .order_by(ListEntry.proposed_at, ListEntry.id)
        .limit(1)
    ).first()
    if blocking is not None:
        raise ListConflict(
            f"the subject is on the {blocking.list_kind} list (entry {blocking.id}, "
            f"{blocking.state}): it cannot be on the redlist at the same time",
            conflicting_entry={
                "id": str(blocking.id),
                "list": blocking.list_kind,
                "state": blocking.state,
            },
        )


def get_entry(session: Session, entry_id: str | uuid.UUID) -> ListEntry:
    return get_by_id(session, ListEntry, entry_id, what="list entry")


def review(
    session: Session,
    entry: ListEntry,
    *,
    reviewer: Actor,
    approve: bool,
    reason: str,
    policy: ListPolicy,
    at: datetime,
    reviewer_regulator_id: uuid.UUID | None = None,
    notifications: Any = None,
) -> ListEntry:
    """A reviewer's approval or rejection, with a reason (four eyes: never the proposer,
    never twice the same reviewer). Enough approvals move the entry to notice at once.

    ``reviewer_regulator_id`` is the regulator a staff reviewer works for, if any: staff of
    the proposing regulator cannot review its proposals.
    """
    if not reason or not reason.strip():
        raise InvalidInput("a review needs a reason", {"reason": ["required"]})
    proposer = str(entry.proposer_member_id)
    if (reviewer.kind == ActorKind.MEMBER and reviewer.id == proposer) or (
        reviewer_regulator_id is not None and str(reviewer_regulator_id) == proposer
    ):
        raise Forbidden("the proposer cannot review its own proposal")
    if any(r.reviewer_id == reviewer.id for r in entry.reviews):
        raise InvalidTransition(
            "this reviewer has already reviewed the entry",
            current_state=entry.state,
            allowed_actions=allowed_actions(entry.state),
        )
    if approve:
        _check("approve", entry, Role.REVIEWER)
    else:
        _check("reject", entry, Role.REVIEWER)
    entry.reviews.append(
        ListReview(
            reviewer_id=reviewer.id,
            decision="approve" if approve else "reject",
            reason=reason.strip(),
            at=at,
        )
    )
    if not approve:
        _move(session, entry, "reject", actor=reviewer, role=Role.REVIEWER, at=at, reason=reason)
        entry.outcome_note = reason.strip()
        return entry
    approvals = sum(1 for r in entry.reviews if r.decision == "approve")
    needed = policy.approvals.get(entry.list_kind, 1)
    if entry.state == ListingState.PROPOSED:
        _move(session, entry, "approve", actor=reviewer, role=Role.REVIEWER, at=at, reason=reason)
    if approvals >= needed:
        if entry.state == ListingState.UNDER_REVIEW:
            _move(
                session, entry, "approve", actor=reviewer, role=Role.REVIEWER, at=at, reason=reason
            )
        entry.approved_at = at
        send_notice(session, entry, policy=policy, at=at, notifications=notifications)
    return entry


def _check(action: str, entry: ListEntry, role: Role) -> None:
    transition = TRANSITIONS.get((ListingState(entry.state), action))
    if transition is None or role not in transition.roles:
        raise InvalidTransition(
            f"cannot {action} an entry that is {entry.state}",
            current_state=entry.state,
            allowed_actions=allowed_actions(entry.state),
        )


def send_notice(
    session: Session, entry: ListEntry, *, policy: ListPolicy, at: datetime, notifications: Any
) -> None:
    """Prior notice (告知) issued: the reason, basis and rights, for the subject. The
    objection window opens when it is served (:func:`deliver_notices`, :func:`record_service`)."""
    _move(session, entry, "notify", actor=Actor.system("listings"), role=Role.SYSTEM, at=at)
    entry.notice_sent_at = at
    if notifications is not None:
        notifications.notice(session, entry, at=at, window_days=policy.objection_window_days)


def _serve(
    session: Session,
    entry: ListEntry,
    *,
    actor: Actor,
    role: Role,
    channel: NoticeChannel,
    served_on: date,
    reference: str,
    policy: ListPolicy,
    at: datetime,
    member_id: uuid.UUID | None = None,
) -> None:
    """Record the service and open the objection window: ``objection_window_days`` working
    days after the day of service, that day not counted."""
    if entry.notice_served_on is not None:
        raise NoticeAlreadyServed(
            "the notice was already served",
            served_on=iso(entry.notice_served_on),
            channel=entry.notice_channel,
        )
    entry.notice_channel = channel
    entry.notice_served_on = served_on
    entry.notice_reference = reference
    entry.notice_member_id = member_id
    entry.notice_delivered_at = at if channel == NoticeChannel.MEMBER else None
    entry.objection_deadline = policy.calendar.add_working_days(
        served_on, policy.objection_window_days
    )
    details: dict[str, Any] = {
        "channel": str(channel),
        "served_on": served_on.isoformat(),
        "reference": reference,
        "objection_deadline": entry.objection_deadline.isoformat(),
    }
    if member_id is not None:
        details["member_id"] = str(member_id)
    warning = entry.deadline_warning(policy.calendar)
    if warning is not None:
        details["objection_deadline_warning"] = warning["detail"]
    _move(session, entry, "serve", actor=actor, role=role, at=at, details=details)


def record_service(
    session: Session,
    entry: ListEntry,
    *,
    actor: Actor,
    role: Role,
    channel: str,
    served_on: date | None,
    reference: str,
    policy: ListPolicy,
    at: datetime,
    acting_for: uuid.UUID | None = None,
) -> ListEntry:
    """Staff record that the notice was served by post, in person, by public announcement or
    by e-mail, with the date of service and its reference. A reviewer records it for any
    entry; regulator staff (``role`` proposer, ``acting_for`` their regulator) for their own.

    :raises InvalidTransition: the entry is not in its notice stage.
    :raises Forbidden: regulator staff of another regulator.
    :raises InvalidInput: every field error at once: the channel, a date missing, in the
        future or before the notice was issued, a missing reference.
    :raises NoticeAlreadyServed: it was served before.
    """
    _check("serve", entry, role)
    if role == Role.PROPOSER:
        _proposer_only(entry, actor, acting_for)
    errors: dict[str, list[str]] = {}
    if channel not in RECORDED_CHANNELS:
        errors["channel"] = [f"one of {', '.join(RECORDED_CHANNELS)}"]
    today = local_date(at)
    issued = local_date(entry.notice_sent_at) if entry.notice_sent_at else None
    if served_on is None:
        errors["served_on"] = ["required: the date of service"]
    elif served_on > today:
        errors["served_on"] = [f"not after today ({today.isoformat()})"]
    elif issued is not None and served_on < issued:
        errors["served_on"] = [f"not before the notice was issued ({issued.isoformat()})"]
    reference = (reference or "").strip()
    if not reference:
        errors["reference"] = ["required: the tracking number, receipt or announcement"]
    elif len(reference) > 200:
        errors["reference"] = ["at most 200 characters"]
    elif contains_id_number(reference):
        # A receipt for a person may name its holder: never the number, in clear, at rest.
        errors["reference"] = [ID_NUMBER_IN_TEXT]
    if errors:
        raise InvalidInput("the service cannot be recorded", errors)
    assert served_on is not None
    _serve(
        session,
        entry,
        actor=actor,
        role=role,
        channel=NoticeChannel(channel),
        served_on=served_on,
        reference=reference,
        policy=policy,
        at=at,
    )
    return entry


def deliver_notices(
    session: Session,
    member: Member,
    *,
    via: str,
    policy: ListPolicy,
    at: datetime,
    subject_ids: list[uuid.UUID] | None = None,
) -> list[ListEntry]:
    """The entries in their notice stage about subjects ``member`` is or operates (of
    ``subject_ids`` only, if given), oldest first. Each notice not served yet is served on
    the member now: the registry hands it over in answer to the member's signed request
    (``via`` names the request), the delivery time is recorded, and its window opens."""
    if member.uscc is None:
        return []
    query = (
        sa.select(ListEntry)
        .join(Subject, Subject.id == ListEntry.subject_id)
        .where(ListEntry.state == ListingState.NOTICE, represented_by(member))
        .order_by(ListEntry.notice_sent_at, ListEntry.id)
    )
    if subject_ids is not None:
        query = query.where(ListEntry.subject_id.in_(subject_ids))
    entries = list(session.scalars(query))
    unserved = [e.id for e in entries if e.notice_served_on is None]
    if unserved and session.get_bind().dialect.name != "sqlite":
        # Two reads at once serve a notice once: the second waits, then finds it served.
        session.execute(
            sa.select(ListEntry.id)
            .where(ListEntry.id.in_(unserved))
            .order_by(ListEntry.id)
            .with_for_update()
        )
        for entry in entries:
            session.refresh(entry)
    for entry in entries:
        if entry.notice_served_on is None:
            _serve(
                session,
                entry,
                actor=Actor(ActorKind.MEMBER, str(member.id)),
                role=Role.SUBJECT,
                channel=NoticeChannel.MEMBER,
                served_on=local_date(at),
                reference=via,
                policy=policy,
                at=at,
                member_id=member.id,
            )
    return entries


def withdraw(
    session: Session,
    entry: ListEntry,
    *,
    actor: Actor,
    reason: str,
    at: datetime,
    acting_for: uuid.UUID | None = None,
) -> ListEntry:
    """The proposer takes back an entry before publication. ``acting_for``: for a staff
    actor, the regulator member the account acts for (as for :func:`decide_repair`).

    :raises InvalidInput: no reason. :raises Forbidden: not the proposer.
    """
    if not reason or not reason.strip():
        raise InvalidInput("a withdrawal needs a reason", {"reason": ["required"]})
    _proposer_only(entry, actor, acting_for)
    _move(session, entry, "withdraw", actor=actor, role=Role.PROPOSER, at=at, reason=reason)
    entry.outcome_note = reason.strip()
    return entry


def _proposer_only(entry: ListEntry, actor: Actor, acting_for: uuid.UUID | None = None) -> None:
    """The proposing regulator itself (a member over the API), or a staff user of the console
    who acts for it (``acting_for``: the staff account's regulator member)."""
    proposer = str(entry.proposer_member_id)
    if actor.kind == ActorKind.MEMBER and actor.id == proposer:
        return
    if actor.kind == ActorKind.STAFF and acting_for is not None and str(acting_for) == proposer:
        return
    raise Forbidden("only the regulator that proposed the entry may do this")


def file_objection(
    session: Session,
    entry: ListEntry,
    *,
    actor: Actor,
    statement: str,
    at: datetime,
    identity_check: str | None = None,
) -> ListObjection:
    """An objection during the notice window suspends publication until answered. Staff
    filing it for a person say how they checked who asked (``identity_check``, audited)."""
    if entry.state != ListingState.NOTICE:
        raise InvalidTransition(
            "objections to a listing are filed while its notice is open",
            current_state=entry.state,
            allowed_actions=allowed_actions(entry.state),
        )
    if not statement or not statement.strip():
        raise InvalidInput("an objection needs a statement", {"statement": ["required"]})
    objection = ListObjection(
        id=uuid.uuid4(),
        filed_by=f"{actor.kind}:{actor.id}",
        statement=statement.strip(),
        filed_at=at,
    )
    entry.objections.append(objection)
    record_event(
        session,
        actor=actor,
        action="listing.objected",
        object_type="list_entry",
        object_id=str(entry.id),
        after={
            "objection_id": str(objection.id),
            **({"identity_check": identity_check} if identity_check else {}),
        },
        at=at,
    )
    return objection


def answer_objection(
    session: Session,
    entry: ListEntry,
    objection_id: str,
    *,
    reviewer: Actor,
    upheld: bool,
    answer: str,
    at: datetime,
) -> ListEntry:
    """A reviewer answers: dismissed, publication may go on; upheld, the entry is rejected."""
    objection = next((o for o in entry.objections if str(o.id) == str(objection_id)), None)
    if objection is None:
        raise NotFound("no such objection on this entry")
    if objection.outcome is not None:
        raise Conflict("the objection was already answered")
    if not answer or not answer.strip():
        raise InvalidInput("an answer needs a reason", {"answer": ["required"]})
    if upheld:
        _check("uphold_objection", entry, Role.REVIEWER)
    objection.outcome = "upheld" if upheld else "dismissed"
    objection.answer = answer.strip()
    objection.answered_at = at
    objection.answered_by = f"{reviewer.kind}:{reviewer.id}"
    record_event(
        session,
        actor=reviewer,
        action="listing.objection_answered",
        object_type="list_entry",
        object_id=str(entry.id),
        after={"objection_id": objection_id, "outcome": objection.outcome},
        reason=answer,
        at=at,
    )
    if upheld:
        _move(
            session,
            entry,
            "uphold_objection",
            actor=reviewer,
            role=Role.REVIEWER,
            at=at,
            reason=answer,
        )
        entry.outcome_note = answer.strip()
    return entry


def _remove(
    session: Session,
    entry: ListEntry,
    action: str,
    reason: RemovalReason,
    *,
    actor: Actor,
    role: Role,
    note: str | None,
    at: datetime,
) -> None:
    touch_subjects(session, [entry.subject_id], at=at)  # the subject before the audit chain
    _move(session, entry, action, actor=actor, role=role, at=at, reason=note)
    entry.removed_at = at
    entry.removal_reason = reason
    entry.outcome_note = note
    tlog.append(session, tlog.EntryKind.LIST, tlog.list_entry(entry, "removed", at), at)


def revoke(
    session: Session,
    entry: ListEntry,
    *,
    actor: Actor,
    role: Role,
    reason: str,
    at: datetime,
    acting_for: uuid.UUID | None = None,
) -> ListEntry:
    if not reason or not reason.strip():
        raise InvalidInput("a revocation needs a reason", {"reason": ["required"]})
    if role == Role.PROPOSER:
        _proposer_only(entry, actor, acting_for)
    _remove(
        session, entry, "revoke", RemovalReason.REVOKED, actor=actor, role=role, note=reason, at=at
    )
    return entry


def extend(
    session: Session,
    entry: ListEntry,
    *,
    actor: Actor,
    months: int,
    reason: str,
    policy: ListPolicy,
    at: datetime,
    acting_for: uuid.UUID | None = None,
) -> ListEntry:
    """The authority extends a published entry's period, within its kind's bounds for one
    extension and its cap on the whole period (config/list_kinds.toml). A kind with no
    extension (the redlist) is refused whatever the months.

    :raises NotExtendable: the kind is never extended.
    :raises InvalidInput: the months out of bounds or past the cap; no reason.
    """
    rules = policy.list_kinds.of(entry.list_kind)
    _proposer_only(entry, actor, acting_for)
    if not rules.extendable:
        raise NotExtendable(
            f"entries on the {entry.list_kind} list are not extended", list=entry.list_kind
        )
    errors: dict[str, list[str]] = {}
    low, high = rules.extension_min_months, rules.extension_max_months
    room = rules.max_period_months - entry.period_months
    if not low <= months <= high:
        errors["months"] = [f"between {low} and {high}"]
    elif months > room:
        errors["months"] = [
            f"at most {room}: the {entry.list_kind} list runs {rules.max_period_months} "
            f"months at the longest and this entry runs {entry.period_months}"
        ]
    if not reason or not reason.strip():
        errors["reason"] = ["required"]
    if errors:
        raise InvalidInput("the extension cannot be made", errors)
    _check("extend", entry, Role.PROPOSER)
    touch_subjects(session, [entry.subject_id], at=at)  # the subject before the audit chain
    _move(session, entry, "extend", actor=actor, role=Role.PROPOSER, at=at, reason=reason)
    assert entry.publish_until is not None
    entry.publish_until = add_months(entry.publish_until, months)
    entry.period_months += months
    tlog.append(session, tlog.EntryKind.LIST, tlog.list_entry(entry, "extended", at), at)
    return entry


def awaiting_service(session: Session) -> list[ListEntry]:
    """Entries in their notice stage whose notice is not served yet, oldest notice first."""
    return list(
        session.scalars(
            sa.select(ListEntry)
            .where(ListEntry.state == ListingState.NOTICE, ListEntry.notice_served_on.is_(None))
            .order_by(ListEntry.notice_sent_at, ListEntry.id)
        )
    )


def publish(
    session: Session,
    entry: ListEntry,
    *,
    actor: Actor,
    role: Role,
    at: datetime,
    acting_for: uuid.UUID | None = None,
) -> ListEntry:
    """Publish an entry whose objection window has closed: the proposer or a reviewer, at
    once rather than at the worker's next round.

    :raises InvalidTransition: not in its notice stage. :raises Forbidden: not the proposer.
    :raises NoticeNotServed: the notice was never served.
    :raises ObjectionWindowOpen: the window has not closed.
    :raises ObjectionPending: an objection waits for its answer.
    """
    _check("publish", entry, role)
    if role == Role.PROPOSER:
        _proposer_only(entry, actor, acting_for)
    if entry.notice_served_on is None or entry.objection_deadline is None:
        raise NoticeNotServed(
            "the notice has not been served: an entry is published only after its notice "
            "was served and the objection window that follows has closed",
            notice_issued_at=iso(entry.notice_sent_at),
        )
    if entry.objection_deadline >= local_date(at):
        raise ObjectionWindowOpen(
            "the objection window is open", objection_deadline=iso(entry.objection_deadline)
        )
    waiting = [str(o.id) for o in entry.objections if o.outcome is None]
    if waiting:
        raise ObjectionPending("an objection waits for its answer", objections=waiting)
    if side_of(entry.list_kind) == Side.RED:
        _refuse_if_blacklisted(session, entry.subject_id, published_only=True)
    touch_subjects(session, [entry.subject_id], at=at)  # the subject before the audit chain
    _publish(session, entry, actor=actor, role=role, at=at)
    return entry


def _publish(session: Session, entry: ListEntry, *, actor: Actor, role: Role, at: datetime) -> None:
    _move(session, entry, "publish", actor=actor, role=role, at=at)
    entry.published_at = at
    entry.publish_until = add_months(at, entry.period_months)
    tlog.append(session, tlog.EntryKind.LIST, tlog.list_entry(entry, "published", at), at)
    if side_of(entry.list_kind) == Side.BLACK:
        # Never on both sides at once: the redlist entry a blacklisting overtakes comes down.
        for red in session.scalars(
            sa.select(ListEntry).where(
                ListEntry.subject_id == entry.subject_id,
                ListEntry.list_kind == ListKind.REDLIST,
                ListEntry.state == ListingState.PUBLISHED,
            )
        ):
            _remove(
                session,
                red,
                "revoke",
                RemovalReason.REVOKED,
                actor=Actor.system("listings"),
                role=Role.SYSTEM,
                note=f"the subject was put on the {entry.list_kind} list (entry {entry.id})",
                at=at,
            )


def publish_due(session: Session, now: datetime) -> int:
    """Publish every entry whose notice was served and whose objection window has closed
    with no open objection. Idempotent: an entry is published once. An entry whose notice
    was never served has no window, and waits."""
    due = session.scalars(
        sa.select(ListEntry).where(
            ListEntry.state == ListingState.NOTICE,
            ListEntry.notice_served_on.is_not(None),
            ListEntry.objection_deadline < local_date(now),
        )
    ).all()
    # Suspended while an objection waits for a reviewer's answer, and a redlist entry while
    # its subject is on a blacklist that is published, or published in this round (it waits
    # for that entry to end or for its proposer to withdraw it).
    unopposed = [e for e in due if not any(o.outcome is None for o in e.objections)]
    blacklisted = {e.subject_id for e in unopposed if side_of(e.list_kind) == Side.BLACK}
    blacklisted |= _published_black_subjects(
        session, [e.subject_id for e in unopposed if side_of(e.list_kind) == Side.RED]
    )
    ready = [
        e
        for e in unopposed
        if not (side_of(e.list_kind) == Side.RED and e.subject_id in blacklisted)
    ]
    # Every subject before the first audit event, which takes the chain head.
    touch_subjects(session, [e.subject_id for e in ready], at=now)
    for entry in ready:
        _publish(session, entry, actor=Actor.system("listings"), role=Role.SYSTEM, at=now)
    return len(ready)


def expire_due(session: Session, now: datetime) -> int:
    """Remove every published entry whose period has ended. Idempotent."""
    due = session.scalars(
        sa.select(ListEntry).where(
            ListEntry.state == ListingState.PUBLISHED, ListEntry.publish_until <= now
        )
    ).all()
    lock_subjects(session, [e.subject_id for e in due])  # all before the first audit event
    for entry in due:
        _remove(
            session,
            entry,
            "expire",
            RemovalReason.EXPIRED,
            actor=Actor.system("listings"),
            role=Role.SYSTEM,
            note="the publication period ended",
            at=now,
        )
    return len(due)


def run_list_jobs(session: Session, now: datetime) -> int:
    """The worker's list job: publications and expiries that are due, at most a round late."""
    return publish_due(session, now) + expire_due(session, now)


def published_entries_of(
    session: Session, subject_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[ListEntry]]:
    """The published entries of public kinds: what lookups, reports, ratings and the search
    documents show. A kind that is not public (the watch list) never reaches them."""
    found: dict[uuid.UUID, list[ListEntry]] = {}
    for entry in session.scalars(
        sa.select(ListEntry).where(
            among(session, ListEntry.subject_id, subject_ids),
            ListEntry.state == ListingState.PUBLISHED,
            ListEntry.list_kind.in_(list_kinds.public_codes()),
        )
    ):
        found.setdefault(entry.subject_id, []).append(entry)
    return found


# --- joint measures applied (联合奖惩) -----------------------------------------------------


def report_measure(
    session: Session,
    entry: ListEntry,
    *,
    actor: Actor,
    member: Member,
    code: str,
    applied_on: date,
    reference: str | None,
    policy: ListPolicy,
    at: datetime,
) -> tuple[MeasureApplication, bool]:
    """``member`` reports that it applied the joint measure ``code`` to the subject of a
    published entry on ``applied_on``. Repeating the same report (member, measure, day and
    reference) returns the first one and records nothing: a client may retry safely.

    The measure must attach to the entry's kind; it need not be one the entry names (an
    entry proposed before the catalogue names none).

    :returns: the report, and whether it is new.
    :raises NotFound: ``member`` did not propose the entry and the public never saw it
        (see :func:`known_to`).
    :raises EntryNotInForce: the entry is not published.
    :raises InvalidInput: an unknown or unattached code (``code``), a day in the future or
        before the entry's publication (``applied_on``), every one at once.
    """
    if not known_to(entry, member.id, policy):
        raise NotFound("no list entry with this id")  # never reveal others' entries
    if entry.state != ListingState.PUBLISHED or entry.published_at is None:
        raise EntryNotInForce(
            "measures are reported for a published entry", current_state=entry.state
        )
    errors: dict[str, list[str]] = {}
    problem = policy.measures.problem(code, entry.list_kind)
    if problem is not None:
        errors["code"] = [problem]
    published_on, today = local_date(entry.published_at), local_date(at)
    if applied_on > today:
        errors["applied_on"] = [f"not after today ({today.isoformat()})"]
    elif applied_on < published_on:
        errors["applied_on"] = [f"not before the entry was published ({published_on.isoformat()})"]
    if errors:
        raise InvalidInput("the measure cannot be reported", errors)
    reference = reference.strip() if reference and reference.strip() else None
    earlier = session.scalar(
        sa.select(MeasureApplication).where(
            MeasureApplication.entry_id == entry.id,
            MeasureApplication.member_id == member.id,
            MeasureApplication.code == code,
            MeasureApplication.applied_on == applied_on,
            MeasureApplication.reference.is_(None)
            if reference is None
            else MeasureApplication.reference == reference,
        )
    )
    if earlier is not None:
        return earlier, False
    application = MeasureApplication(
        id=uuid.uuid4(),
        entry_id=entry.id,
        code=code,
        member_id=member.id,
        member=member,
        applied_on=applied_on,
        reference=reference,
        reported_at=at,
    )
    entry.applications.append(application)  # the entry read again in this session shows it
    record_event(
        session,
        actor=actor,
        action="listing.measure_applied",
        object_type="list_entry",
        object_id=str(entry.id),
        after={
            "application_id": str(application.id),
            "code": code,
            "member_id": str(member.id),
            "applied_on": applied_on.isoformat(),
            "reference": reference,
        },
        at=at,
    )
    return application, True


def known_to(entry: ListEntry, member_id: uuid.UUID, policy: ListPolicy) -> bool:
    """Whether a member may act on the entry's measures: its proposer, or anyone once it was
    published on a public list (its publication and removal are public); any other entry
    does not exist for the member."""
    if entry.proposer_member_id == member_id:
        return True
    return entry.published_at is not None and policy.list_kinds.of(entry.list_kind).public


def applications_seen_by(
    session: Session, entry: ListEntry, member_id: uuid.UUID
) -> list[MeasureApplication]:
    """The reports of measures applied to ``entry`` that a member reads: every one for the
    entry's proposer, its own for any other member."""
    query = sa.select(MeasureApplication).where(MeasureApplication.entry_id == entry.id)
    if entry.proposer_member_id != member_id:
        query = query.where(MeasureApplication.member_id == member_id)
    return list(session.scalars(query.order_by(*APPLICATION_ORDER)))


# --- credit repair (信用修复) ---------------------------------------------------------------


class RepairApplication(Base):
    """An application for credit repair (信用修复): of a published list entry, or of an
    administrative penalty whose publication is to end early (registry.repairs)."""

    __tablename__ = "repair_applications"
    __table_args__ = (
        one_of("status", ["filed", "acknowledged", "granted", "refused"]),
        sa.CheckConstraint("(entry_id IS NULL) <> (record_id IS NULL)", name="one_item"),
    )

    id: Mapped[uuid_pk]
    entry_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("list_entries.id"), index=True)
    record_id: Mapped[uuid.UUID | None] = mapped_column(
        index=True,
        comment="an administrative penalty whose publication is to end early (no foreign "
        "key: the record may move to the sealed archive)",
    )
    applicant: Mapped[str] = mapped_column(sa.String(80), comment="actor kind:id")
    identity_check: Mapped[str | None] = mapped_column(
        sa.Text, comment="filed by staff for a person: how they checked who asked"
    )
    correction_evidence: Mapped[str] = mapped_column(sa.Text)
    credit_commitment: Mapped[str] = mapped_column(sa.Text, comment="公开信用承诺")
    status: Mapped[str] = mapped_column(sa.String(16))
    filed_at: Mapped[datetime]
    acknowledge_by: Mapped[date]
    acknowledged_at: Mapped[datetime | None]
    decide_by: Mapped[date | None]
    decided_at: Mapped[datetime | None]
    decision_reason: Mapped[str | None] = mapped_column(sa.Text)
    escalated_at: Mapped[datetime | None] = mapped_column(
        comment="when it went past the deadline of its current stage"
    )

    @property
    def item_type(self) -> str:
        """What the application is about, as the audit log names it."""
        return "list_entry" if self.entry_id is not None else "credit_record"

    @property
    def item_id(self) -> str:
        return str(self.entry_id if self.entry_id is not None else self.record_id)

    @property
    def due_on(self) -> date | None:
        """The last working day of the current stage: acknowledgement, then decision."""
        if self.status == "filed":
            return self.acknowledge_by
        if self.status == "acknowledged":
            return self.decide_by
        return None

    def is_late(self, today: date) -> bool:
        due = self.due_on
        return due is not None and today > due

    def view(self, today: date | None = None) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "entry_id": str(self.entry_id) if self.entry_id else None,
            "record_id": str(self.record_id) if self.record_id else None,
            "status": self.status,
            "filed_at": iso(self.filed_at),
            "acknowledge_by": self.acknowledge_by.isoformat(),
            "acknowledged_at": iso(self.acknowledged_at),
            "decide_by": self.decide_by.isoformat() if self.decide_by else None,
            "decided_at": iso(self.decided_at),
            "decision_reason": self.decision_reason,
            "late": self.escalated_at is not None or (today is not None and self.is_late(today)),
            "escalated_at": iso(self.escalated_at),
        }


def apply_for_repair(
    session: Session,
    entry: ListEntry,
    *,
    actor: Actor,
    member: Member | None,
    correction_evidence: str,
    credit_commitment: str,
    policy: ListPolicy,
    at: datetime,
    identity_check: str | None = None,
) -> RepairApplication:
    """The subject's side applies (registry.repairs.check_subject_side): after the minimum
    period, with the evidence of correction and a public credit commitment."""
    from registry.repairs import (
        check_subject_side,
        file_application,
        has_open_application,
        require_complete,
    )

    subject = session.get(Subject, entry.subject_id)
    assert subject is not None
    check_subject_side(subject, actor, member=member, identity_check=identity_check)
    require_complete(correction_evidence, credit_commitment)
    if entry.state != ListingState.PUBLISHED or entry.min_repair_months is None:
        raise InvalidTransition(
            "credit repair applies to a published entry of a kind that can be repaired",
            current_state=entry.state,
            allowed_actions=allowed_actions(entry.state),
        )
    earliest = entry.repair_from
    if earliest is not None and at < earliest:
        raise Conflict(
            "credit repair is possible after the minimum period",
            repair_from=iso(earliest),
        )
    if has_open_application(session, RepairApplication.entry_id == entry.id):
        raise Conflict("an application for this entry is already open")
    return file_application(
        session,
        actor=actor,
        identity_check=identity_check,
        correction_evidence=correction_evidence,
        credit_commitment=credit_commitment,
        policy=policy,
        at=at,
        entry_id=entry.id,
    )


def acknowledge_repair(
    session: Session,
    application: RepairApplication,
    *,
    actor: Actor,
    policy: ListPolicy,
    at: datetime,
) -> RepairApplication:
    """The registry acknowledges; the authority's decision deadline starts."""
    if application.status != "filed":
        raise Conflict(f"the application is {application.status}")
    application.status = "acknowledged"
    application.acknowledged_at = at
    application.decide_by = policy.calendar.add_working_days(
        local_date(at), policy.repair_decision_days
    )
    # The decision is a new stage with its own deadline: late again only past that.
    application.escalated_at = None
    record_event(
        session,
        actor=actor,
        action="repair.acknowledged",
        object_type=application.item_type,
        object_id=application.item_id,
        after={"application_id": str(application.id), "decide_by": str(application.decide_by)},
        at=at,
    )
    return application


def decide_repair(
    session: Session,
    application: RepairApplication,
    *,
    actor: Actor,
    grant: bool,
    reason: str,
    at: datetime,
    acting_for: uuid.UUID | None = None,
) -> RepairApplication:
    """The authority decides with a reason; a granted repair takes the entry down at once.

    ``acting_for``: for a staff actor, the regulator member the account acts for.
    """
    if application.status != "acknowledged":
        raise Conflict("an application is decided after it is acknowledged")
    if not reason or not reason.strip():
        raise InvalidInput("a decision needs a reason", {"reason": ["required"]})
    if application.record_id is not None:
        from registry.repairs import decide_penalty_repair

        return decide_penalty_repair(
            session,
            application,
            actor=actor,
            grant=grant,
            reason=reason,
            at=at,
            acting_for=acting_for,
        )
    entry = session.get(ListEntry, application.entry_id)
    assert entry is not None
    _proposer_only(entry, actor, acting_for)
    application.status = "granted" if grant else "refused"
    application.decided_at = at
    application.decision_reason = reason.strip()
    application.escalated_at = None
    record_event(
        session,
        actor=actor,
        action=f"repair.{application.status}",
        object_type="list_entry",
        object_id=str(entry.id),
        after={"application_id": str(application.id)},
        reason=reason,
        at=at,
    )
    if grant:
        _remove(
            session,
            entry,
            "repair",
            RemovalReason.REPAIRED,
            actor=actor,
            role=Role.PROPOSER,
            note=reason.strip(),
            at=at,
        )
    return application


def policy_from_settings(settings: Any) -> ListPolicy:
    return ListPolicy(
        calendar=calendar_from_settings(settings),
        approvals={
            kind: (
                settings.LIST_APPROVALS_REDLIST
                if side_of(kind) == Side.RED
                else settings.LIST_APPROVALS_BLACKLIST
            )
            for kind in ListKind
        },
        objection_window_days=settings.OBJECTION_WINDOW_WORKING_DAYS,
        repair_ack_days=settings.REPAIR_ACK_WORKING_DAYS,
        repair_decision_days=settings.REPAIR_DECISION_WORKING_DAYS,
        kinds=list_kinds_from_settings(settings),
        catalogue=joint_measures.from_settings(settings),
    )

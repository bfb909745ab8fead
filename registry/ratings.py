"""Subject credit ratings: proposed by the scorecard, approved or overridden by reviewers,
published, appealed.

A change to a subject's records leaves a row in ``rating_outbox`` (written with the change,
see ``registry.outbox``); the worker's ``rating-proposals`` job scores the subject again and,
when the inputs differ from those of its last rating, stores a new proposal. A reviewer
approves a proposal as it is, or overrides its grade with a written reason; an override waits
for a second reviewer (four eyes on any change of the model's grade; the distance from which
it does is the ``RATING_SECOND_REVIEW_FROM_GRADES`` setting, 1 by default). Publication
replaces the subject's previous rating (which stays in the history) and updates its search
document. A published
rating may be appealed; the appeal is decided by a reviewer who took no part in approving
the rating.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, Session, mapped_column

from registry import paging
from registry.audit import Actor, ActorKind, record_event
from registry.clock import iso, local_date, start_of_day
from registry.db import Base, among, get_by_id, one_of, uuid_pk
from registry.errors import Conflict, Forbidden, InvalidInput, NotFound, Worded
from registry.identifiers import id_number_errors
from registry.scorecard import (
    ListFacts,
    Rating,
    RecordFacts,
    Scorecard,
    load_scorecard,
    score,
)
from registry.subjects import Subject, lock_subjects
from registry.worker import batches_within

SYSTEM = Actor.system("rating-proposals")
BATCH = 200


class RatingStatus(StrEnum):
    PROPOSED = "proposed"  # waiting for a reviewer
    AWAITING_SECOND = "awaiting_second"  # an override, until a second reviewer confirms it
    PUBLISHED = "published"  # the subject's current rating
    REPLACED = "replaced"  # was published; a newer rating took its place
    SUPERSEDED = "superseded"  # never published; a newer proposal took its place


OPEN = (RatingStatus.PROPOSED, RatingStatus.AWAITING_SECOND)


class AppealStatus(StrEnum):
    OPEN = "open"
    UPHELD = "upheld"  # the rating stands
    AMENDED = "amended"  # a new grade was decided


class RatingOutbox(Base):
    __tablename__ = "rating_outbox"

    id: Mapped[int] = mapped_column(
        sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    subject_id: Mapped[uuid.UUID] = mapped_column(index=True)
    enqueued_at: Mapped[datetime]
    processed_at: Mapped[datetime | None]


sa.Index(
    "ix_rating_outbox_pending",
    RatingOutbox.id,
    postgresql_where=RatingOutbox.processed_at.is_(None),
    sqlite_where=RatingOutbox.processed_at.is_(None),
)


class SubjectRating(Base):
    __tablename__ = "subject_ratings"
    __table_args__ = (
        one_of("status", RatingStatus),
        # At most one published rating per subject, whatever races the code misses.
        sa.Index(
            "uq_subject_ratings_published",
            "subject_id",
            unique=True,
            postgresql_where=sa.text("status = 'published'"),
            sqlite_where=sa.text("status = 'published'"),
        ),
    )

    id: Mapped[uuid_pk]
    subject_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("subjects.id"), index=True)
    status: Mapped[str] = mapped_column(sa.String(16), index=True)
    scorecard: Mapped[str] = mapped_column(sa.String(32), comment="scorecard version used")
    score: Mapped[int] = mapped_column(comment="0-100, as the scorecard computed it")
    grade: Mapped[str] = mapped_column(sa.String(8), comment="the scorecard's grade")
    risk_band: Mapped[str] = mapped_column(sa.String(16))
    explanation: Mapped[list[Any]] = mapped_column(comment="every point, adding up to score")
    basis: Mapped[str] = mapped_column(sa.String(64), comment="digest of the inputs scored")
    proposed_at: Mapped[datetime]
    final_grade: Mapped[str | None] = mapped_column(
        sa.String(8), comment="the grade reviewers decided (differs from grade if overridden)"
    )
    override_reason: Mapped[str | None] = mapped_column(sa.Text)
    approved_by: Mapped[str | None] = mapped_column(sa.String(80), comment="actor kind:id")
    second_reviewer: Mapped[str | None] = mapped_column(sa.String(80))
    auto_approved: Mapped[bool] = mapped_column(default=False)
    published_at: Mapped[datetime | None]
    replaced_at: Mapped[datetime | None]

    def summary(self, *, explanation: bool = True) -> dict[str, Any]:
        view: dict[str, Any] = {
            "id": str(self.id),
            "status": self.status,
            "grade": self.final_grade or self.grade,
            "model_grade": self.grade,
            "score": self.score,
            "risk_band": self.risk_band,
            "scorecard": self.scorecard,
            "overridden": bool(self.final_grade and self.final_grade != self.grade),
            "override_reason": self.override_reason,
            "auto_approved": self.auto_approved,
            "proposed_at": iso(self.proposed_at),
            "published_at": iso(self.published_at),
            "replaced_at": iso(self.replaced_at),
        }
        if explanation:
            view["explanation"] = self.explanation
        return view


class RatingAppeal(Base):
    __tablename__ = "rating_appeals"
    __table_args__ = (
        one_of("status", AppealStatus),
        sa.Index(
            "uq_rating_appeals_open",
            "rating_id",
            unique=True,
            postgresql_where=sa.text("status = 'open'"),
            sqlite_where=sa.text("status = 'open'"),
        ),
    )

    id: Mapped[uuid_pk]
    rating_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("subject_ratings.id"), index=True)
    applicant: Mapped[str] = mapped_column(sa.String(80), comment="actor kind:id")
    grounds: Mapped[str] = mapped_column(sa.Text)
    status: Mapped[str] = mapped_column(sa.String(16), index=True)
    filed_at: Mapped[datetime]
    decided_by: Mapped[str | None] = mapped_column(sa.String(80))
    decision_reason: Mapped[str | None] = mapped_column(sa.Text)
    decided_at: Mapped[datetime | None]
    amended_rating_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("subject_ratings.id"))

    def summary(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "rating_id": str(self.rating_id),
            "status": self.status,
            "grounds": self.grounds,
            "filed_at": iso(self.filed_at),
            "decision_reason": self.decision_reason,
            "decided_at": iso(self.decided_at),
            "amended_rating_id": str(self.amended_rating_id) if self.amended_rating_id else None,
        }


def _who(actor: Actor) -> str:
    return f"{actor.kind}:{actor.id}"


# --- proposals -----------------------------------------------------------------------------


def enqueue_ratings(session: Session, subject_ids: list[uuid.UUID], *, at: datetime) -> None:
    """Queue subjects to be scored again (with the change that calls for it)."""
    if subject_ids:
        session.execute(
            sa.insert(cast(sa.Table, RatingOutbox.__table__)),
            [{"subject_id": subject_id, "enqueued_at": at} for subject_id in subject_ids],
        )


def inputs_of(
    session: Session, subject_ids: list[uuid.UUID]
) -> dict[uuid.UUID, tuple[list[RecordFacts], list[ListFacts]]]:
    """The active records and published list entries the scorecard reads, per subject."""
    from registry.list_kinds import in_force
    from registry.listings import published_entries_of
    from registry.records import CreditRecord, RecordStatus, shared_with_members

    found: dict[uuid.UUID, tuple[list[RecordFacts], list[ListFacts]]] = {
        subject_id: ([], []) for subject_id in subject_ids
    }
    for record in session.scalars(
        sa.select(CreditRecord).where(
            CreditRecord.subject_id.in_(subject_ids),
            CreditRecord.status == RecordStatus.ACTIVE,
            # A grade must not show what is held until a person is told.
            shared_with_members(),
        )
    ):
        found[record.subject_id][0].append(
            RecordFacts(
                id=str(record.id),
                version=record.version,
                category=record.category,
                polarity=record.polarity,
                severity=record.severity,
                on=record.decided_at or record.occurred_at,
                # The scorecard weighs CNY amounts only (see the scorecard file).
                amount=record.amount_value if (record.amount_currency or "CNY") == "CNY" else None,
            )
        )
    for subject_id, entries in published_entries_of(session, subject_ids).items():
        # The scorecard's list rules know a kind by its scorecard_list (config/list_kinds.toml):
        # every blacklist kind that counts as "blacklist"; a kind with none does not count.
        kinds = in_force()
        found[subject_id][1].extend(
            ListFacts(str(e.id), scored)
            for e in entries
            if (scored := kinds.of(e.list_kind).scorecard_list) is not None
        )
    return found


def propose_due(
    session: Session, now: datetime, *, scorecard: Scorecard, auto_approve_unchanged: bool
) -> int:
    """Score the subjects queued in the rating outbox; returns how many were looked at.

    Claims rows with SKIP LOCKED, so several workers share the queue on PostgreSQL.
    """
    table = cast(sa.Table, RatingOutbox.__table__)
    claimed = session.execute(
        sa.select(table.c.id, table.c.subject_id)
        .where(table.c.processed_at.is_(None))
        .order_by(table.c.id)
        .limit(BATCH)
        .with_for_update(skip_locked=True)
    ).all()
    if not claimed:
        return 0
    subject_ids = sorted({row.subject_id for row in claimed})
    # Two outbox rows of one subject may reach two workers, and reviewers act meanwhile:
    # everything that changes a subject's ratings holds the subject's row first.
    lock_subjects(session, subject_ids)
    inputs = inputs_of(session, subject_ids)
    latest_bases = _latest_bases(session, subject_ids)
    published = published_ratings(session, subject_ids)
    still_open = _open_proposals(session, subject_ids)
    for subject_id in subject_ids:
        records, entries = inputs[subject_id]
        if not records and not entries and subject_id not in published:
            continue  # never rated and nothing to rate
        # A rated subject whose records were all revoked gets a proposal too (the base
        # score): its published rating must not outlive the records it came from.
        rating = score(scorecard, records, entries, as_of=local_date(now))
        if subject_id in latest_bases and latest_bases[subject_id] == rating.basis:
            continue  # scored on these very inputs already
        for open_proposal in still_open.get(subject_id, []):
            _close_proposal(session, open_proposal, RatingStatus.SUPERSEDED)
        proposal = _new_proposal(session, subject_id, rating, now)
        record_event(
            session,
            actor=SYSTEM,
            action="rating.proposed",
            object_type="subject_rating",
            object_id=str(proposal.id),
            after={"subject_id": str(subject_id), "score": rating.score, "grade": rating.grade},
            at=now,
        )
        current = published.get(subject_id)
        if auto_approve_unchanged and current is not None and current.final_grade == rating.grade:
            proposal.auto_approved = True
            proposal.final_grade = rating.grade
            proposal.approved_by = _who(SYSTEM)
            _publish(session, proposal, SYSTEM, now, reason="grade unchanged")
    session.execute(
        sa.update(table).where(table.c.id.in_([row.id for row in claimed])).values(processed_at=now)
    )
    return len(subject_ids)


def _open_proposals(
    session: Session, subject_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[SubjectRating]]:
    found: dict[uuid.UUID, list[SubjectRating]] = {}
    for rating in session.scalars(
        sa.select(SubjectRating).where(
            SubjectRating.subject_id.in_(subject_ids), SubjectRating.status.in_(OPEN)
        )
    ):
        found.setdefault(rating.subject_id, []).append(rating)
    return found


def _close_proposal(session: Session, proposal: SubjectRating, status: RatingStatus) -> None:
    """Take a proposal out of the queue; an appeal waiting on it as its amendment goes back
    to the reviewers undecided."""
    proposal.status = status
    for appeal in session.scalars(
        sa.select(RatingAppeal).where(
            RatingAppeal.amended_rating_id == proposal.id,
            RatingAppeal.status == AppealStatus.OPEN,
        )
    ):
        appeal.amended_rating_id = None
        appeal.decided_by = appeal.decision_reason = None
        appeal.decided_at = None
    session.flush()


def _new_proposal(
    session: Session, subject_id: uuid.UUID, scored: Rating | SubjectRating, at: datetime
) -> SubjectRating:
    """A proposal carrying ``scored``'s score, grade and explanation."""
    proposal = SubjectRating(
        subject_id=subject_id,
        status=RatingStatus.PROPOSED,
        scorecard=scored.scorecard,
        score=scored.score,
        grade=scored.grade,
        risk_band=scored.risk_band,
        explanation=scored.explanation,
        basis=scored.basis,
        proposed_at=at,
    )
    session.add(proposal)
    session.flush()
    return proposal


def _latest_bases(session: Session, subject_ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    """What each subject's most recent rating was scored on (its ``basis``): one row per
    subject and one column, not the whole rating history with its explanations."""
    ranked = (
        sa.select(
            SubjectRating.subject_id,
            SubjectRating.basis,
            sa.func.row_number()
            .over(
                partition_by=SubjectRating.subject_id,
                order_by=(SubjectRating.proposed_at.desc(), SubjectRating.id.desc()),
            )
            .label("newest"),
        )
        .where(SubjectRating.subject_id.in_(subject_ids))
        .subquery()
    )
    rows = session.execute(
        sa.select(ranked.c.subject_id, ranked.c.basis).where(ranked.c.newest == 1)
    )
    return {subject_id: basis for subject_id, basis in rows}


def published_ratings(
    session: Session, subject_ids: list[uuid.UUID]
) -> dict[uuid.UUID, SubjectRating]:
    """Each subject's current rating, for those that have one."""
    if not subject_ids:
        return {}
    return {
        rating.subject_id: rating
        for rating in session.scalars(
            sa.select(SubjectRating).where(
                among(session, SubjectRating.subject_id, subject_ids),
                SubjectRating.status == RatingStatus.PUBLISHED,
            )
        )
    }


def history(session: Session, subject_id: uuid.UUID, *, limit: int = 20) -> list[SubjectRating]:
    """The ratings the subject has had published, newest first (the latest ``limit``)."""
    return list(
        session.scalars(
            sa.select(SubjectRating)
            .where(
                SubjectRating.subject_id == subject_id,
                SubjectRating.status.in_([RatingStatus.PUBLISHED, RatingStatus.REPLACED]),
            )
            # Published the same moment (an appeal decided at once): the current one first.
            .order_by(
                SubjectRating.published_at.desc(), SubjectRating.replaced_at.desc().nulls_first()
            )
            .limit(limit)
        )
    )


def queue(session: Session) -> list[SubjectRating]:
    """Proposals waiting for a reviewer, oldest first."""
    return list(
        session.scalars(
            sa.select(SubjectRating)
            .where(SubjectRating.status.in_(OPEN))
            .order_by(SubjectRating.proposed_at)
        )
    )


class GradeChange(StrEnum):
    """How an open proposal's grade stands against the subject's published rating."""

    UNCHANGED = "unchanged"  # the grade published now
    CHANGED = "changed"  # another grade than the published one
    NEW = "new"  # the subject has no published rating


@dataclass(frozen=True)
class QueueFilter:
    """What a reviewer narrows the queue to; None is any."""

    grade: str | None = None  # the proposal's grade (the override's, when overridden)
    change: GradeChange | None = None
    kind: str | None = None  # the subject's kind
    region: str | None = None  # a GB/T 2260 code or its first digits (a province: "11")
    name: str | None = None  # text the subject's name contains
    status: RatingStatus | None = None  # proposed, or awaiting a second reviewer


# Oldest first, as the queue has always been read; the id settles ties.
QUEUE_ORDER = (paging.Key(SubjectRating.proposed_at), paging.Key(SubjectRating.id))


def _queue_query(wanted: QueueFilter) -> sa.Select[Any]:
    # The subject's published rating beside each proposal (at most one: a unique index).
    # Made here, not when the module loads: an alias configures every mapper, and the module
    # loads before all of them are defined.
    published = sa.orm.aliased(SubjectRating, name="published")
    proposed_grade = sa.func.coalesce(SubjectRating.final_grade, SubjectRating.grade)
    query = (
        sa.select(SubjectRating)
        .join(Subject, Subject.id == SubjectRating.subject_id)
        .outerjoin(
            published,
            sa.and_(
                published.subject_id == SubjectRating.subject_id,
                published.status == RatingStatus.PUBLISHED,
            ),
        )
        .where(SubjectRating.status.in_([wanted.status] if wanted.status else OPEN))
    )
    if wanted.grade:
        query = query.where(proposed_grade == wanted.grade)
    if wanted.change == GradeChange.UNCHANGED:
        query = query.where(published.final_grade == proposed_grade)
    elif wanted.change == GradeChange.CHANGED:
        query = query.where(published.id.is_not(None), published.final_grade != proposed_grade)
    elif wanted.change == GradeChange.NEW:
        query = query.where(published.id.is_(None))
    if wanted.kind:
        query = query.where(Subject.kind == wanted.kind)
    if wanted.region:
        query = query.where(Subject.region_code.startswith(wanted.region, autoescape=True))
    if wanted.name:
        query = query.where(Subject.name.contains(wanted.name, autoescape=True))
    return query


def queue_page(
    session: Session, wanted: QueueFilter, *, after: str | None, size: int
) -> tuple[paging.Page, int]:
    """A page of the open proposals that match ``wanted``, oldest first, and how many match.

    :raises ValueError: ``after`` is not a page token of the queue.
    """
    query = _queue_query(wanted)
    total = session.scalar(sa.select(sa.func.count()).select_from(query.subquery())) or 0
    return paging.keyset_page(session, query, QUEUE_ORDER, after=after, size=size), int(total)


def published_grades(session: Session, subject_ids: list[uuid.UUID]) -> dict[uuid.UUID, str | None]:
    """The grade each subject has published now (subjects without one are left out)."""
    return dict(
        session.execute(
            sa.select(SubjectRating.subject_id, SubjectRating.final_grade).where(
                SubjectRating.subject_id.in_(subject_ids),
                SubjectRating.status == RatingStatus.PUBLISHED,
            )
        )
        .tuples()
        .all()
    )


def get_rating(session: Session, rating_id: str | uuid.UUID) -> SubjectRating:
    return get_by_id(session, SubjectRating, rating_id, what="rating")


# --- review --------------------------------------------------------------------------------


def _publish(
    session: Session, rating: SubjectRating, actor: Actor, at: datetime, *, reason: str | None
) -> None:
    from registry.outbox import touch_subjects

    replaced = list(
        session.scalars(
            sa.select(SubjectRating).where(
                SubjectRating.subject_id == rating.subject_id,
                SubjectRating.status == RatingStatus.PUBLISHED,
                SubjectRating.id != rating.id,
            )
        )
    )
    for previous in replaced:
        previous.status = RatingStatus.REPLACED
        previous.replaced_at = at
    # One published rating per subject is a unique index: the old one goes first.
    session.flush()
    rating.status = RatingStatus.PUBLISHED
    rating.published_at = at
    session.flush()
    for appeal in session.scalars(
        sa.select(RatingAppeal).where(
            RatingAppeal.status == AppealStatus.OPEN,
            sa.or_(
                RatingAppeal.amended_rating_id == rating.id,
                RatingAppeal.rating_id.in_([previous.id for previous in replaced]),
            ),
        )
    ):
        if appeal.amended_rating_id == rating.id:
            appeal.status = AppealStatus.AMENDED  # its amendment is now the rating
        else:
            # The rating appealed against was replaced: the appeal carries over to the
            # new one, where its grounds may still hold.
            appeal.rating_id = rating.id
    record_event(
        session,
        actor=actor,
        action="rating.published",
        object_type="subject_rating",
        object_id=str(rating.id),
        after={"grade": rating.final_grade, "model_grade": rating.grade, "score": rating.score},
        reason=reason,
        at=at,
    )
    # The grade shows in lookups: the subject's search document must follow.
    touch_subjects(session, [rating.subject_id], at=at, rescore=False)


def _require(rating: SubjectRating, *states: RatingStatus) -> None:
    """Check the rating's state under the subject's lock (a worker or another reviewer may
    have moved it since it was read)."""
    session = sa.inspect(rating).session
    if session is not None:
        session.flush()  # a refresh must not drop this transaction's own changes
        lock_subjects(session, [rating.subject_id])
        session.refresh(rating)
    if rating.status not in states:
        raise Conflict(
            f"the rating is {rating.status}",
            state=rating.status,
            allowed=[str(s) for s in states],
        )


def _reason(reason: str | None) -> str:
    """A reviewer's reason, kept as typed (the console and the commands reach here without
    the API's schemas): required, and never holding an ID number."""
    if not reason or not reason.strip():
        raise InvalidInput("a written reason is required", {"reason": ["required"]})
    if errors := id_number_errors(reason=reason):
        raise InvalidInput("the reason is kept as typed", errors)
    return reason.strip()


def _one_of_the_grades(scorecard: Scorecard) -> Worded:
    """The field error for a grade the scorecard does not give."""
    return Worded("one of %(grades)s", grades=", ".join(scorecard.grade_order))


def approve(
    session: Session,
    rating: SubjectRating,
    *,
    reviewer: Actor,
    at: datetime,
    reason: str | None = None,
) -> None:
    """Publish a proposal with the scorecard's grade."""
    _require(rating, RatingStatus.PROPOSED)
    rating.final_grade = rating.grade
    rating.approved_by = _who(reviewer)
    _publish(session, rating, reviewer, at, reason=reason)


BULK_MAX = 500


def approve_unchanged(
    session: Session,
    rating_ids: list[str],
    *,
    reviewer: Actor,
    reason: str,
    at: datetime,
) -> tuple[list[SubjectRating], list[str]]:
    """Approve, with one written reason, the proposals among ``rating_ids`` whose grade is
    the one their subject has published now: each exactly as :func:`approve` does, each
    with its own audit event. A grade that would change still needs its own review (and an
    override its second reviewer), so anything else is left in the queue: a proposal whose
    grade differs, a subject with no published rating, an override, one already decided.

    Returns the approved proposals and the ids left out.

    :raises InvalidInput: no reason, no proposal named, or more than ``BULK_MAX``.
    """
    reason = _reason(reason)
    if not rating_ids:
        raise InvalidInput("no proposal was chosen", {"rating_id": ["required"]})
    if len(rating_ids) > BULK_MAX:
        at_most = Worded("at most %(count)d", count=BULK_MAX)
        raise InvalidInput("too many proposals", {"rating_id": [at_most]})
    found: list[SubjectRating] = []
    left: list[str] = []
    for rating_id in dict.fromkeys(rating_ids):  # each once, in the order given
        try:
            found.append(get_rating(session, rating_id))
        except NotFound:
            left.append(rating_id)
    # Every subject locked at once, before the first audit event: the audit chain's head
    # must be the last lock a transaction takes (registry.subjects.lock_subjects).
    lock_subjects(session, [rating.subject_id for rating in found])
    published = published_grades(session, [rating.subject_id for rating in found])
    approved: list[SubjectRating] = []
    for rating in found:
        # Read again under the locks: a worker may have proposed anew, or another reviewer
        # decided, since the reviewer's page was drawn.
        session.refresh(rating)
        if rating.status != RatingStatus.PROPOSED or published.get(rating.subject_id) != (
            rating.grade
        ):
            left.append(str(rating.id))
            continue
        approve(session, rating, reviewer=reviewer, at=at, reason=reason)
        approved.append(rating)
    return approved, left


def override(
    session: Session,
    rating: SubjectRating,
    *,
    reviewer: Actor,
    grade: str,
    reason: str,
    scorecard: Scorecard,
    at: datetime,
    second_review_from: int = 1,
) -> None:
    """Decide another grade than the scorecard's. An override ``second_review_from`` grades
    or more away (by default every override: four eyes on any change of the model's grade)
    waits for a second reviewer; a closer one is published at once."""
    _require(rating, RatingStatus.PROPOSED)
    reason = _reason(reason)
    if grade not in scorecard.grade_order:
        raise InvalidInput("unknown grade", {"grade": [_one_of_the_grades(scorecard)]})
    if grade == rating.grade:
        raise InvalidInput("that is the scorecard's grade: approve it instead", {"grade": [grade]})
    rating.final_grade = grade
    rating.override_reason = reason
    rating.approved_by = _who(reviewer)
    if scorecard.grade_distance(grade, rating.grade) >= second_review_from:
        rating.status = RatingStatus.AWAITING_SECOND
        record_event(
            session,
            actor=reviewer,
            action="rating.override_proposed",
            object_type="subject_rating",
            object_id=str(rating.id),
            after={"grade": grade, "model_grade": rating.grade},
            reason=reason,
            at=at,
        )
        return
    _publish(session, rating, reviewer, at, reason=reason)


def second_review(
    session: Session,
    rating: SubjectRating,
    *,
    reviewer: Actor,
    confirm: bool,
    reason: str | None,
    at: datetime,
) -> None:
    """A second reviewer confirms an override, or sends the proposal
    back to the queue without it."""
    _require(rating, RatingStatus.AWAITING_SECOND)
    if rating.approved_by == _who(reviewer):
        raise Forbidden("the second review must be made by another reviewer")
    if confirm:
        rating.second_reviewer = _who(reviewer)
        _publish(session, rating, reviewer, at, reason=reason)
        return
    reason = _reason(reason)
    record_event(
        session,
        actor=reviewer,
        action="rating.override_refused",
        object_type="subject_rating",
        object_id=str(rating.id),
        before={"grade": rating.final_grade},
        reason=reason,
        at=at,
    )
    rating.final_grade = rating.override_reason = rating.approved_by = None
    # An appeal's amendment leaves the queue (the appeal goes back to the reviewers); a
    # scorecard proposal goes back to it without the override.
    for_appeal = session.scalar(
        sa.select(RatingAppeal.id).where(RatingAppeal.amended_rating_id == rating.id)
    )
    _close_proposal(
        session, rating, RatingStatus.SUPERSEDED if for_appeal else RatingStatus.PROPOSED
    )


# --- appeals -------------------------------------------------------------------------------


def file_appeal(
    session: Session, rating: SubjectRating, *, applicant: Actor, grounds: str, at: datetime
) -> RatingAppeal:
    _require(rating, RatingStatus.PUBLISHED)
    if not grounds or not grounds.strip():
        raise InvalidInput("the grounds of the appeal are required", {"grounds": ["required"]})
    if session.scalar(
        sa.select(RatingAppeal.id).where(
            RatingAppeal.rating_id == rating.id, RatingAppeal.status == AppealStatus.OPEN
        )
    ):
        raise Conflict("this rating already has an open appeal")
    appeal = RatingAppeal(
        rating_id=rating.id,
        applicant=_who(applicant),
        grounds=grounds.strip(),
        status=AppealStatus.OPEN,
        filed_at=at,
    )
    session.add(appeal)
    session.flush()
    record_event(
        session,
        actor=applicant,
        action="rating.appealed",
        object_type="rating_appeal",
        object_id=str(appeal.id),
        after={"rating_id": str(rating.id)},
        at=at,
    )
    return appeal


def get_appeal(session: Session, appeal_id: str | uuid.UUID) -> RatingAppeal:
    return get_by_id(session, RatingAppeal, appeal_id, what="appeal")


def open_appeals(session: Session) -> list[RatingAppeal]:
    return list(
        session.scalars(
            sa.select(RatingAppeal)
            .where(RatingAppeal.status == AppealStatus.OPEN)
            .order_by(RatingAppeal.filed_at)
        )
    )


def decide_appeal(
    session: Session,
    appeal: RatingAppeal,
    *,
    reviewer: Actor,
    grade: str | None,
    reason: str,
    scorecard: Scorecard,
    at: datetime,
    second_review_from: int = 1,
) -> SubjectRating | None:
    """Uphold the rating (no grade) or amend it to ``grade``. The amendment is a new rating
    with the same score and explanation, under the same override rules: when it needs a
    second reviewer, the appeal stays open until that review (see ``_publish``)."""
    rating = get_rating(session, appeal.rating_id)
    _require(rating, RatingStatus.PUBLISHED)  # appeals move to a rating that replaces theirs
    session.refresh(appeal)
    if appeal.status != AppealStatus.OPEN:
        raise Conflict(f"the appeal is {appeal.status}", state=appeal.status)
    if appeal.amended_rating_id is not None:
        raise Conflict(
            "the appeal's amendment waits for a second reviewer",
            amended_rating_id=str(appeal.amended_rating_id),
        )
    if _who(reviewer) in (rating.approved_by, rating.second_reviewer):
        raise Forbidden("an appeal is decided by a reviewer who did not approve the rating")
    reason = _reason(reason)
    if grade is not None and grade not in scorecard.grade_order:
        raise InvalidInput("unknown grade", {"grade": [_one_of_the_grades(scorecard)]})
    appeal.decided_by = _who(reviewer)
    appeal.decision_reason = reason
    appeal.decided_at = at
    amended = None
    if grade is None or grade == rating.final_grade:
        appeal.status = AppealStatus.UPHELD
    else:
        amended = _new_proposal(session, rating.subject_id, rating, at)
        appeal.amended_rating_id = amended.id
        session.flush()
        if grade == rating.grade:
            approve(session, amended, reviewer=reviewer, at=at)
        else:
            override(
                session,
                amended,
                reviewer=reviewer,
                grade=grade,
                reason=f"appeal {appeal.id}: {reason}",
                scorecard=scorecard,
                at=at,
                second_review_from=second_review_from,
            )
    record_event(
        session,
        actor=reviewer,
        action="rating.appeal_decided",
        object_type="rating_appeal",
        object_id=str(appeal.id),
        after={"status": appeal.status, "grade": grade},
        reason=reason,
        at=at,
    )
    return amended


def requeue_aged(session: Session, now: datetime, *, batch: int = 5000) -> int:
    """Queue rated subjects whose latest rating was scored before this month began.

    Points decay with age and records drop out after the scorecard's maximum age, so a
    rating goes stale with the calendar even when nothing is submitted. Scoring is monthly
    (the month is part of the basis): once a subject is scored this month it is not queued
    again, so the job is idempotent within a month.
    """
    month_start = start_of_day(local_date(now).replace(day=1))
    published = sa.func.sum(sa.case((SubjectRating.status == RatingStatus.PUBLISHED, 1), else_=0))
    stale = list(
        session.scalars(
            sa.select(SubjectRating.subject_id)
            .group_by(SubjectRating.subject_id)
            .having(sa.func.max(SubjectRating.proposed_at) < month_start, published > 0)
            .limit(batch)
        )
    )
    enqueue_ratings(session, stale, at=now)
    return len(stale)


def scorecard_from_settings(settings: Any) -> Scorecard:
    return load_scorecard(settings.RATING_SCORECARD)


def rating_job(settings: Any, budget_seconds: float = 2.0) -> Callable[[Session, datetime], int]:
    """The worker's job: turn queued subjects into proposals, a batch per transaction, for
    up to ``budget_seconds`` a round (a backlog after a bulk load drains quickly without
    holding up the other jobs). The scorecard is read once, when the worker starts, so a
    broken file stops the worker at once rather than failing every round."""
    card = scorecard_from_settings(settings)
    auto = bool(settings.RATING_AUTO_APPROVE_UNCHANGED)

    def step(session: Session, now: datetime) -> int:
        return propose_due(session, now, scorecard=card, auto_approve_unchanged=auto)

    return batches_within(step, budget_seconds)


def subject_actor(subject_id: uuid.UUID) -> Actor:
    return Actor(ActorKind.SUBJECT, str(subject_id))

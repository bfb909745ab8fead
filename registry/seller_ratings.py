"""Seller ratings: marketplaces rate their shops, one rating per real order.

A platform member sends the ratings of its buyers in signed batches. The registry keeps them
append-only, flags suspicious patterns for reviewers, and publishes per-shop summaries over
rolling windows relative to the registry clock.

A rating names its shop by the pair (platform member, shop id), which is exactly how a shop
subject is identified (``subjects`` is unique on it); it does not point at a subject row. A
rating carries no shop name, so it could not register a subject properly, and a shop should
not enter the search index merely because someone rated it. Pages join to the shop subject,
when there is one, by that pair (for its name and operating company).

Buyers are known only by the platform's hash of its buyer id: nothing else about a buyer is
received, stored or logged.
"""

from __future__ import annotations

import hashlib
import hmac
import unicodedata
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from registry.audit import Actor, ActorKind, record_event
from registry.clock import local_date
from registry.db import Base, get_by_id, one_of, uuid_pk
from registry.errors import Conflict, InvalidInput
from registry.identifiers import IdentifierError, normalize_shop_id
from registry.intake import Evidence
from registry.listings import published_entries_of
from registry.members import Member, MemberRole
from registry.receipts import RegistrySigner
from registry.subjects import Subject, SubjectKind
from registry.submissions import SignedRequestEvidence

RECEIPT_TYPE = "creditreg.seller-rating-receipt/v1"
DIMENSIONS = ("item_as_described", "service", "delivery")
TREND_MONTHS = 12
POSITIVE_SHARE_DEFINITION = (
    "positives / (positives + negatives), as eBay counts it: an overall score of "
    "{positive_from} or more is positive, {negative_up_to} or less negative; neutral ratings "
    "(between) count in the distribution and the averages but not in the share"
)
COUNTING_RULES = (
    "one rating per order; ratings a reviewer excluded do not count; repeated ratings of the "
    "shop by the same buyer within {same_buyer_days} days count once (the first); a window "
    "of N days holds the ratings dated in the last N days up to today"
)


class ReviewState(StrEnum):
    PENDING = "pending"  # flagged, waiting for a reviewer
    KEPT = "kept"
    EXCLUDED = "excluded"


class FlagReason(StrEnum):
    SHOP_BURST = "shop_burst"  # many ratings of one shop on one day
    BUYER_VOLUME = "buyer_volume"  # many ratings from one buyer hash in a short span
    DUPLICATE_TEXT = "duplicate_text"  # the same text on several orders


# The decisions a reviewer may take from each state (None: never flagged). A rating that was
# never flagged may still be excluded, e.g. after a complaint; an exclusion may be reversed.
DECISIONS: dict[ReviewState | None, set[ReviewState]] = {
    None: {ReviewState.EXCLUDED},
    ReviewState.PENDING: {ReviewState.KEPT, ReviewState.EXCLUDED},
    ReviewState.KEPT: {ReviewState.EXCLUDED},
    ReviewState.EXCLUDED: {ReviewState.KEPT},
}


class SellerRatingBatch(SignedRequestEvidence, Base):
    """A signed batch of ratings as received: the evidence of who sent what."""

    __tablename__ = "seller_rating_batches"
    __table_args__ = (
        # Idempotency: a platform's batch id names one batch for ever.
        sa.UniqueConstraint("member_id", "batch_id"),
        sa.CheckConstraint("rating_count > 0", name="rating_count_positive"),
    )

    id: Mapped[uuid_pk]
    member_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("members.id"))
    batch_id: Mapped[str] = mapped_column(
        sa.String(128), comment="the platform's own id for the batch"
    )
    received_at: Mapped[datetime]
    rating_count: Mapped[int]
    receipt: Mapped[dict[str, Any] | None] = mapped_column(
        comment="the signed receipt returned to the platform"
    )


class SellerRating(Base):
    """One buyer's rating of one order. Never updated but for the moderation columns."""

    __tablename__ = "seller_ratings"
    __table_args__ = (
        # One rating per order: order ids are the platform's, so unique per platform.
        sa.UniqueConstraint("platform_member_id", "order_id"),
        sa.CheckConstraint("overall BETWEEN 1 AND 5", name="overall_range"),
        sa.CheckConstraint("item_as_described BETWEEN 1 AND 5", name="item_as_described_range"),
        sa.CheckConstraint("service BETWEEN 1 AND 5", name="service_range"),
        sa.CheckConstraint("delivery BETWEEN 1 AND 5", name="delivery_range"),
        sa.CheckConstraint("rated_on >= ordered_on", name="rated_after_order"),
        one_of("review_state", ReviewState),
        sa.CheckConstraint(
            "(review_state IN ('kept', 'excluded')) = (reviewed_at IS NOT NULL)",
            name="decision_recorded",
        ),
        sa.Index("ix_seller_ratings_shop", "platform_member_id", "shop_id", "rated_on"),
        sa.Index("ix_seller_ratings_buyer", "platform_member_id", "buyer_hash", "rated_on"),
    )

    id: Mapped[uuid_pk]
    batch_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("seller_rating_batches.id"), index=True
    )
    platform_member_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("members.id"))
    shop_id: Mapped[str] = mapped_column(sa.String(128), comment="the platform's shop id")
    order_id: Mapped[str] = mapped_column(sa.String(128), comment="the platform's order id")
    buyer_hash: Mapped[str] = mapped_column(
        sa.String(64), comment="the platform's hash of its buyer id (hex); nothing else is kept"
    )
    ordered_on: Mapped[date]
    rated_on: Mapped[date]
    overall: Mapped[int] = mapped_column(sa.SmallInteger)
    item_as_described: Mapped[int] = mapped_column(sa.SmallInteger)
    service: Mapped[int] = mapped_column(sa.SmallInteger)
    delivery: Mapped[int] = mapped_column(sa.SmallInteger)
    text: Mapped[str | None] = mapped_column(sa.Text)
    text_digest: Mapped[str | None] = mapped_column(
        sa.String(64), index=True, comment="SHA-256 of the normalised text: finds duplicates"
    )
    received_at: Mapped[datetime]
    review_state: Mapped[str | None] = mapped_column(
        sa.String(16), index=True, comment="NULL: never flagged; pending, kept or excluded"
    )
    reviewed_at: Mapped[datetime | None]
    reviewed_by: Mapped[str | None] = mapped_column(sa.String(64), comment="staff user id")
    review_reason: Mapped[str | None] = mapped_column(sa.Text)

    batch: Mapped[SellerRatingBatch] = relationship(lazy="raise")
    flags: Mapped[list[SellerRatingFlag]] = relationship(
        back_populates="rating", order_by="SellerRatingFlag.id", lazy="selectin"
    )

    @property
    def counts(self) -> bool:
        return self.review_state != ReviewState.EXCLUDED

    def reviewer_view(self) -> dict[str, Any]:
        """What a reviewer sees (the buyer only as the platform's hash)."""
        return {
            "id": str(self.id),
            "platform_member_id": str(self.platform_member_id),
            "shop_id": self.shop_id,
            "order_id": self.order_id,
            "buyer_hash": self.buyer_hash,
            "ordered_on": self.ordered_on.isoformat(),
            "rated_on": self.rated_on.isoformat(),
            "overall": self.overall,
            "scores": {d: getattr(self, d) for d in DIMENSIONS},
            "text": self.text,
            "received_at": self.received_at.isoformat(),
            "review_state": self.review_state,
            "allowed_decisions": sorted(DECISIONS[_state(self.review_state)]),
            "reviewed_at": self.reviewed_at.isoformat() if self.reviewed_at else None,
            "reviewed_by": self.reviewed_by,
            "review_reason": self.review_reason,
            "flags": [flag.view() for flag in self.flags],
        }


class SellerRatingFlag(Base):
    """Why a rating was put in the reviewers' queue: a reason and the numbers behind it."""

    __tablename__ = "seller_rating_flags"
    __table_args__ = (sa.UniqueConstraint("rating_id", "reason"), one_of("reason", FlagReason))

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    rating_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("seller_ratings.id"))
    reason: Mapped[str] = mapped_column(sa.String(32))
    detail: Mapped[dict[str, Any]] = mapped_column(comment="the pattern's numbers")
    flagged_at: Mapped[datetime]

    rating: Mapped[SellerRating] = relationship(back_populates="flags")

    def view(self) -> dict[str, Any]:
        return {
            "reason": self.reason,
            "detail": self.detail,
            "flagged_at": self.flagged_at.isoformat(),
        }


def _state(value: str | None) -> ReviewState | None:
    return ReviewState(value) if value else None


# --- policy ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RatingPolicy:
    window_days: int = 90
    min_count: int = 10
    same_buyer_days: int = 7
    batch_max: int = 1000
    burst_per_day: int = 50
    buyer_max: int = 10
    buyer_days: int = 30
    text_duplicates: int = 3
    text_min_chars: int = 10
    positive_from: int = 4  # overall score from which a rating is positive
    negative_up_to: int = 2  # and up to which it is negative
    summary_windows: tuple[int, ...] = (30, 90, 365)  # days, shortest first

    def windows(self) -> list[tuple[str, int | None]]:
        """The summary's windows by name ("30d", ...) and days, then "lifetime" (None)."""
        return [(f"{days}d", days) for days in self.summary_windows] + [("lifetime", None)]


def policy_from_settings(settings: Mapping[str, Any]) -> RatingPolicy:
    return RatingPolicy(
        window_days=settings["SELLER_RATING_WINDOW_DAYS"],
        min_count=settings["SELLER_RATING_MIN_COUNT"],
        same_buyer_days=settings["SELLER_RATING_SAME_BUYER_DAYS"],
        batch_max=settings["SELLER_RATING_BATCH_MAX"],
        burst_per_day=settings["SELLER_RATING_BURST_PER_DAY"],
        buyer_max=settings["SELLER_RATING_BUYER_MAX"],
        buyer_days=settings["SELLER_RATING_BUYER_DAYS"],
        text_duplicates=settings["SELLER_RATING_TEXT_DUPLICATES"],
        text_min_chars=settings["SELLER_RATING_TEXT_MIN_CHARS"],
        positive_from=settings["SELLER_RATING_POSITIVE_FROM"],
        negative_up_to=settings["SELLER_RATING_NEGATIVE_UP_TO"],
        summary_windows=tuple(settings["SELLER_RATING_SUMMARY_WINDOWS"]),
    )


# --- platforms ---------------------------------------------------------------------------------


def platform_names(member: Member) -> set[str]:
    """How a platform may name itself in a rating or a URL: its code and its member id."""
    names = {str(member.id)}
    if member.platform_code:
        names.add(member.platform_code)
    return names


def find_platform(session: Session, name: str) -> Member | None:
    """The platform member a public URL names, by its code or else its member id."""
    member = session.scalar(sa.select(Member).where(Member.platform_code == name))
    if member is None:
        try:
            member = session.get(Member, uuid.UUID(name))
        except ValueError:
            return None
    if member is None or not member.has_role(MemberRole.PLATFORM):
        return None
    return member


# --- intake ------------------------------------------------------------------------------------


def find_batch(session: Session, member: Member, batch_id: str) -> SellerRatingBatch | None:
    return session.scalar(
        sa.select(SellerRatingBatch).where(
            SellerRatingBatch.member_id == member.id, SellerRatingBatch.batch_id == batch_id
        )
    )


def replay_or_conflict(
    session: Session, member: Member, batch_id: str, body_digest: str
) -> SellerRatingBatch | None:
    """The earlier batch with this id if the body is the same.

    :raises Conflict: if the id was used for a different body.
    """
    earlier = find_batch(session, member, batch_id)
    if earlier is None:
        return None
    if not hmac.compare_digest(earlier.body_digest, body_digest):
        raise Conflict("this batch id was already used for a different body", batch_id=batch_id)
    return earlier


def normalise_text(text: str) -> str:
    """Text as compared for duplicates: NFKC, case-folded, whitespace and punctuation removed."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return "".join(ch for ch in folded if unicodedata.category(ch)[0] in "LN")


def text_digest(text: str | None, min_chars: int) -> str | None:
    """The digest that finds duplicated texts; None for texts too short to mean anything
    (a bare "好评" is written by thousands of honest buyers)."""
    if not text:
        return None
    normal = normalise_text(text)
    if len(normal) < min_chars:
        return None
    return hashlib.sha256(normal.encode()).hexdigest()


def check_ratings(
    session: Session,
    member: Member,
    ratings: Sequence[tuple[int, Mapping[str, Any]]],
    *,
    policy: RatingPolicy,
    today: date,
) -> dict[str, list[str]]:
    """The domain errors of schema-valid ratings, keyed ``ratings.<index>.<field>``.

    ``ratings`` pairs each rating with its index in the batch. Checked: the rating date is
    not before the order nor after today, it lies within the window after the order, and the
    order has no rating yet (stored, or earlier in the same batch).
    """
    errors: dict[str, list[str]] = defaultdict(list)
    order_ids = sorted({rating["order_id"] for _, rating in ratings})
    stored: set[str] = set()
    for start in range(0, len(order_ids), 500):
        stored.update(
            session.scalars(
                sa.select(SellerRating.order_id).where(
                    SellerRating.platform_member_id == member.id,
                    SellerRating.order_id.in_(order_ids[start : start + 500]),
                )
            )
        )
    first_index: dict[str, int] = {}
    window = timedelta(days=policy.window_days)
    for index, rating in ratings:
        prefix = f"ratings.{index}"
        ordered_on: date = rating["ordered_on"]
        rated_on: date = rating["rated_on"]
        if ordered_on > today:
            errors[f"{prefix}.ordered_on"].append("the order date lies in the future")
        if rated_on > today:
            errors[f"{prefix}.rated_on"].append("the rating date lies in the future")
        if rated_on < ordered_on:
            errors[f"{prefix}.rated_on"].append("a rating cannot be dated before its order")
        elif rated_on - ordered_on > window:
            errors[f"{prefix}.rated_on"].append(
                f"outside the {policy.window_days}-day rating window after the order"
            )
        order_id = rating["order_id"]
        if order_id in stored:
            errors[f"{prefix}.order_id"].append("this order already has a rating")
        elif order_id in first_index:
            errors[f"{prefix}.order_id"].append(
                f"this order is rated twice in the batch (also item {first_index[order_id]})"
            )
        else:
            first_index[order_id] = index
    return dict(errors)


def accept_batch(
    session: Session,
    *,
    member: Member,
    signer: RegistrySigner,
    batch_id: str,
    ratings: Sequence[Mapping[str, Any]],
    evidence: Evidence,
    policy: RatingPolicy,
    now: datetime,
) -> SellerRatingBatch:
    """Store a schema-valid batch of the member's ratings, all or nothing; flushes only.

    :raises InvalidInput: listing, by rating index and field, every rating the domain
        refuses (see :func:`check_ratings`).
    """
    errors = check_ratings(
        session, member, list(enumerate(ratings)), policy=policy, today=local_date(now)
    )
    if errors:
        raise InvalidInput("the batch was refused; nothing was stored", errors)
    batch = SellerRatingBatch(
        id=uuid.uuid4(),
        member_id=member.id,
        batch_id=batch_id,
        **evidence.columns(),
        received_at=now,
        rating_count=len(ratings),
    )
    session.add(batch)
    rows = [
        SellerRating(
            id=uuid.uuid4(),
            batch_id=batch.id,
            platform_member_id=member.id,
            shop_id=rating["shop_id"],
            order_id=rating["order_id"],
            buyer_hash=rating["buyer_hash"],
            ordered_on=rating["ordered_on"],
            rated_on=rating["rated_on"],
            overall=rating["overall"],
            **{d: rating["scores"][d] for d in DIMENSIONS},
            text=rating.get("text"),
            text_digest=text_digest(rating.get("text"), policy.text_min_chars),
            received_at=now,
            review_state=None,
        )
        for rating in ratings
    ]
    session.add_all(rows)
    session.flush()
    flagged = flag_suspicious(session, member, rows, policy=policy, now=now)

    receipt = {
        "type": RECEIPT_TYPE,
        "member_id": str(member.id),
        "key_id": evidence.key_id,
        "batch_id": batch_id,
        "body_digest": evidence.body_digest,
        "received_at": now.isoformat().replace("+00:00", "Z"),
        "ratings": [
            {"index": index, "order_id": row.order_id, "rating_id": str(row.id)}
            for index, row in enumerate(rows)
        ],
    }
    batch.receipt = {
        "receipt": receipt,
        "receipt_signature": signer.sign(receipt),
        "registry_key_id": signer.key_id,
    }
    record_event(
        session,
        actor=Actor(ActorKind.MEMBER, str(member.id)),
        action="seller_rating_batch.accepted",
        object_type="seller_rating_batch",
        object_id=str(batch.id),
        after={
            "batch_id": batch_id,
            "ratings": len(rows),
            "flagged": flagged,
            "body_digest": evidence.body_digest,
        },
        at=now,
    )
    return batch


# --- moderation --------------------------------------------------------------------------------


def flag_suspicious(
    session: Session,
    member: Member,
    new: Sequence[SellerRating],
    *,
    policy: RatingPolicy,
    now: datetime,
) -> int:
    """Put in the reviewers' queue the ratings that take part in a suspicious pattern with
    the new ones: a burst of one shop's ratings on one day, many ratings from one buyer hash
    within a few days, the same text on several orders. Earlier ratings of the pattern are
    flagged too, unless a reviewer already decided on them. Returns how many ratings were
    newly flagged."""
    found: dict[uuid.UUID, dict[str, dict[str, Any]]] = defaultdict(dict)
    rows: dict[uuid.UUID, SellerRating] = {row.id: row for row in new}

    def load(*criteria: sa.ColumnElement[bool], keys: Sequence[str], column: Any) -> None:
        for first in range(0, len(keys), 500):
            for row in session.scalars(
                sa.select(SellerRating).where(
                    SellerRating.platform_member_id == member.id,
                    column.in_(keys[first : first + 500]),
                    *criteria,
                )
            ):
                rows.setdefault(row.id, row)

    new_ids = set(rows)
    first_day = min(row.rated_on for row in new)
    last_day = max(row.rated_on for row in new)

    # Bursts: ratings of one shop dated on one day.
    shop_days = {(row.shop_id, row.rated_on) for row in new}
    load(
        SellerRating.rated_on >= first_day,
        SellerRating.rated_on <= last_day,
        keys=sorted({shop for shop, _ in shop_days}),
        column=SellerRating.shop_id,
    )
    # One buyer hash rating many orders within a span of days.
    span = timedelta(days=policy.buyer_days - 1)
    load(
        SellerRating.rated_on >= first_day - span,
        SellerRating.rated_on <= last_day + span,
        keys=sorted({row.buyer_hash for row in new}),
        column=SellerRating.buyer_hash,
    )
    by_shop_day: dict[tuple[str, date], list[SellerRating]] = defaultdict(list)
    by_buyer: dict[str, list[SellerRating]] = defaultdict(list)
    buyers = {row.buyer_hash for row in new}
    for row in rows.values():
        if (row.shop_id, row.rated_on) in shop_days:
            by_shop_day[(row.shop_id, row.rated_on)].append(row)
        if row.buyer_hash in buyers:
            by_buyer[row.buyer_hash].append(row)
    for (shop_id, day), group in by_shop_day.items():
        if len(group) >= policy.burst_per_day:
            detail = {"shop_id": shop_id, "day": day.isoformat(), "ratings": len(group)}
            for row in group:
                found[row.id][FlagReason.SHOP_BURST] = detail
    for history in by_buyer.values():
        history.sort(key=lambda row: row.rated_on)
        end = 0
        for start, first in enumerate(history):
            # The ratings within buyer_days from this one on; any such span holding enough
            # ratings, one of them new, is flagged whole.
            while end < len(history) and history[end].rated_on - first.rated_on <= span:
                end += 1
            group = history[start:end]
            if len(group) >= policy.buyer_max and any(row.id in new_ids for row in group):
                detail = {
                    "from": first.rated_on.isoformat(),
                    "until": group[-1].rated_on.isoformat(),
                    "ratings": len(group),
                }
                for row in group:
                    found[row.id].setdefault(FlagReason.BUYER_VOLUME, detail)

    # The same (normalised) text on several orders, on any platform.
    digests = sorted({row.text_digest for row in new if row.text_digest})
    if digests:
        same_text: dict[str, list[SellerRating]] = defaultdict(list)
        for row in session.scalars(
            sa.select(SellerRating).where(SellerRating.text_digest.in_(digests))
        ):
            rows.setdefault(row.id, row)
            same_text[row.text_digest or ""].append(rows[row.id])
        for digest, group in same_text.items():
            if len(group) >= policy.text_duplicates:
                detail = {"orders": len(group), "text_digest": digest[:16]}
                for row in group:
                    found[row.id][FlagReason.DUPLICATE_TEXT] = detail

    newly = 0
    for rating_id, reasons in found.items():
        row = rows[rating_id]
        if row.review_state in (ReviewState.KEPT, ReviewState.EXCLUDED):
            continue
        present = {flag.reason for flag in row.flags} if row.review_state else set()
        added = False
        for reason, detail in reasons.items():
            if reason in present:
                continue
            session.add(
                SellerRatingFlag(rating_id=row.id, reason=reason, detail=detail, flagged_at=now)
            )
            added = True
        if added and row.review_state is None:
            row.review_state = ReviewState.PENDING
            newly += 1
    session.flush()
    return newly


def get_rating(session: Session, rating_id: str | uuid.UUID) -> SellerRating:
    """:raises NotFound: if there is no such rating."""
    return get_by_id(session, SellerRating, rating_id, what="seller rating")


def review_queue(
    session: Session, *, platform: Member | None = None, limit: int = 50
) -> list[SellerRating]:
    """Flagged ratings waiting for a decision, the longest waiting first."""
    query = sa.select(SellerRating).where(SellerRating.review_state == ReviewState.PENDING)
    if platform is not None:
        query = query.where(SellerRating.platform_member_id == platform.id)
    return list(
        session.scalars(query.order_by(SellerRating.received_at, SellerRating.id).limit(limit))
    )


def decide(
    session: Session,
    rating: SellerRating,
    *,
    reviewer: Actor,
    decision: ReviewState,
    reason: str,
    at: datetime,
) -> SellerRating:
    """A reviewer keeps or excludes a rating, with a reason; audited. An excluded rating
    stops counting at once and stays in the history.

    :raises InvalidInput: without a reason, or for a decision other than kept or excluded.
    :raises Conflict: if the rating's state does not allow the decision.
    """
    if decision not in (ReviewState.KEPT, ReviewState.EXCLUDED):
        raise InvalidInput("a reviewer keeps or excludes", {"decision": ["kept or excluded"]})
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("a decision needs a reason", {"reason": ["required"]})
    current = _state(rating.review_state)
    allowed = DECISIONS[current]
    if decision not in allowed:
        raise Conflict(
            f"a rating in state {current or 'unflagged'} cannot be {decision}",
            current_state=current,
            allowed_decisions=sorted(allowed),
        )
    before = {"review_state": rating.review_state, "review_reason": rating.review_reason}
    rating.review_state = decision
    rating.reviewed_at = at
    rating.reviewed_by = reviewer.id
    rating.review_reason = reason
    session.flush()
    record_event(
        session,
        actor=reviewer,
        action=f"seller_rating.{decision}",
        object_type="seller_rating",
        object_id=str(rating.id),
        before=before,
        after={"review_state": rating.review_state, "flags": [f.reason for f in rating.flags]},
        reason=reason,
        at=at,
    )
    return rating


# --- aggregation -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Counted:
    buyer_hash: str
    rated_on: date
    overall: int
    scores: tuple[int, int, int]


def count_once_per_buyer(ratings: Iterable[_Counted], same_buyer_days: int) -> list[_Counted]:
    """The ratings that count: of a buyer's ratings of the shop, the first counts and any
    other within ``same_buyer_days`` after the last counted one does not."""
    counted: list[_Counted] = []
    last: dict[str, date] = {}
    # A stable sort on the date keeps the caller's order (received first) within a day.
    for rating in sorted(ratings, key=lambda r: r.rated_on):
        previous = last.get(rating.buyer_hash)
        if previous is not None and (rating.rated_on - previous).days < same_buyer_days:
            continue
        last[rating.buyer_hash] = rating.rated_on
        counted.append(rating)
    return counted


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def _summary(ratings: list[_Counted], policy: RatingPolicy) -> dict[str, Any]:
    count = len(ratings)
    if count < policy.min_count:
        return {
            "count": count,
            "shown": False,
            "note": f"fewer than {policy.min_count} ratings: no summary is shown",
        }
    distribution = Counter(r.overall for r in ratings)
    positives = sum(n for score, n in distribution.items() if score >= policy.positive_from)
    negatives = sum(n for score, n in distribution.items() if score <= policy.negative_up_to)
    decided = positives + negatives
    return {
        "count": count,
        "shown": True,
        "positive_share": _round(positives / decided if decided else None, 4),
        "positives": positives,
        "neutrals": count - decided,
        "negatives": negatives,
        "averages": {
            "overall": _round(sum(r.overall for r in ratings) / count, 2),
            **{
                name: _round(sum(r.scores[i] for r in ratings) / count, 2)
                for i, name in enumerate(DIMENSIONS)
            },
        },
        "distribution": {str(score): distribution[score] for score in range(1, 6)},
    }


def _month_start(day: date, back: int) -> date:
    months = day.year * 12 + day.month - 1 - back
    return date(months // 12, months % 12 + 1, 1)


def shop_summary(
    session: Session, platform: Member, shop_id: str, *, policy: RatingPolicy, today: date
) -> dict[str, Any]:
    """A shop's summaries over the rolling windows and its monthly trend, as of ``today``.

    Each window counts its own ratings: excluded ones are left out, then a buyer's repeats
    within the same-buyer span are counted once. Below the minimum count a window says so
    instead of giving a summary.
    """
    rows = session.execute(
        sa.select(
            SellerRating.buyer_hash,
            SellerRating.rated_on,
            SellerRating.overall,
            SellerRating.item_as_described,
            SellerRating.service,
            SellerRating.delivery,
        )
        .where(
            SellerRating.platform_member_id == platform.id,
            SellerRating.shop_id == shop_id,
            SellerRating.rated_on <= today,
            sa.or_(
                SellerRating.review_state.is_(None),
                SellerRating.review_state != ReviewState.EXCLUDED,
            ),
        )
        # Which of a buyer's same-day ratings counts must not change between two reads.
        .order_by(SellerRating.rated_on, SellerRating.received_at, SellerRating.id)
    ).all()
    ratings = [_Counted(r[0], r[1], r[2], (r[3], r[4], r[5])) for r in rows]
    windows: dict[str, Any] = {}
    for name, days in policy.windows():
        since = None if days is None else today - timedelta(days=days - 1)
        inside = [r for r in ratings if since is None or r.rated_on >= since]
        windows[name] = {
            "days": days,
            "from": since.isoformat() if since else None,
            **_summary(count_once_per_buyer(inside, policy.same_buyer_days), policy),
        }
    trend: list[dict[str, Any]] = []
    # The trend needs enough ratings over the longest window, as its months are short.
    longest, _ = policy.windows()[-2] if policy.summary_windows else ("lifetime", None)
    if windows[longest]["shown"]:
        for back in range(TREND_MONTHS - 1, -1, -1):
            start = _month_start(today, back)
            end = _month_start(today, back - 1)
            month = count_once_per_buyer(
                (r for r in ratings if start <= r.rated_on < end), policy.same_buyer_days
            )
            # A month below the minimum count shows no average: one buyer's score could
            # be read off the chart.
            shown = len(month) >= policy.min_count
            trend.append(
                {
                    "month": start.strftime("%Y-%m"),
                    "count": len(month),
                    "shown": shown,
                    "average": _round(
                        sum(r.overall for r in month) / len(month) if shown else None, 2
                    ),
                }
            )
    return {
        "as_of": today.isoformat(),
        "minimum_count": policy.min_count,
        "positive_share_definition": POSITIVE_SHARE_DEFINITION.format(
            positive_from=policy.positive_from, negative_up_to=policy.negative_up_to
        ),
        "counting": COUNTING_RULES.format(same_buyer_days=policy.same_buyer_days),
        "has_ratings": bool(ratings),
        "windows": windows,
        "trend": trend,
    }


def public_seller_view(
    session: Session, platform_name: str, shop_id: str, *, policy: RatingPolicy, today: date
) -> dict[str, Any] | None:
    """What the public sees of a shop: its summaries, trend and operating company; None when
    the platform is unknown or the registry knows neither the shop nor any rating of it."""
    platform = find_platform(session, platform_name)
    if platform is None:
        return None
    try:
        shop_id = normalize_shop_id(shop_id)
    except IdentifierError:
        return None
    summary = shop_summary(session, platform, shop_id, policy=policy, today=today)
    shop = session.scalar(
        sa.select(Subject).where(
            Subject.kind == SubjectKind.SHOP,
            Subject.platform_member_id == platform.id,
            Subject.shop_id == shop_id,
        )
    )
    has_ratings = summary.pop("has_ratings")
    if shop is None and not has_ratings:
        return None
    return {
        "platform": {"id": str(platform.id), "code": platform.platform_code, "name": platform.name},
        "shop_id": shop_id,
        "shop": {"subject_id": str(shop.id), "name": shop.name} if shop else None,
        **summary,
        "operator": _operator_view(session, shop.operator_uscc if shop else None),
    }


def _operator_view(session: Session, uscc: str | None) -> dict[str, Any] | None:
    """The shop's operating company: its published list entries and its grade, when known."""
    if uscc is None:
        return None
    company = session.scalar(
        sa.select(Subject).where(Subject.kind == SubjectKind.ENTERPRISE, Subject.uscc == uscc)
    )
    entries = published_entries_of(session, [company.id]).get(company.id, []) if company else []
    return {
        "uscc": uscc,
        "subject_id": str(company.id) if company else None,
        "name": company.name if company else None,
        "list_entries": [entry.public_view() for entry in entries],
        "grade": operator_grade(session, company.id if company else None),
    }


def operator_grade(session: Session, operator_subject_id: uuid.UUID | None) -> str | None:
    """The published credit grade of a shop's operating company, for the seller page."""
    if operator_subject_id is None:
        return None
    from registry.ratings import published_ratings

    rating = published_ratings(session, [operator_subject_id]).get(operator_subject_id)
    return rating.final_grade if rating is not None else None

"""Webhook delivery of the monitoring stream: batches, attempts, retries with backoff.

A member registers one HTTPS URL. The ``monitoring-webhooks`` job cuts the member's new
events (``registry.monitoring``) into deliveries of up to ``MONITORING_WEBHOOK_BATCH``
events, one open delivery per member at a time so that a receiver sees its events in
order. Each attempt is a POST signed by the registry (RFC 9421, see ``api.webhooks``) and
carrying the delivery id; a receiver that answers anything but 2xx in time gets the same
delivery again after an exponential backoff, up to ``MONITORING_WEBHOOK_MAX_ATTEMPTS``, after
which the delivery is marked failed and the next one starts (the events stay readable by
polling). Every attempt is recorded. Sends happen outside any database transaction and in
parallel, each bounded by a short timeout, so one slow receiver never holds up another
member's deliveries.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, Session, mapped_column

from registry.clock import iso
from registry.db import Base, get_by_id, one_of, uuid_pk
from registry.monitoring import BIG_ID, MemberEvent, MonitoringEvent


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # waiting for its next attempt
    DELIVERED = "delivered"
    FAILED = "failed"  # gave up after the last attempt


class Webhook(Base):
    __tablename__ = "monitoring_webhooks"

    member_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("members.id"), primary_key=True)
    url: Mapped[str] = mapped_column(sa.String(2000))
    cursor: Mapped[int] = mapped_column(
        BIG_ID, default=0, comment="the member's last event already put in a delivery"
    )
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    def view(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
            "delivered_through": str(self.cursor),
        }


class WebhookDelivery(Base):
    """A batch of one member's events, sent until the receiver takes it or attempts run out."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (one_of("status", DeliveryStatus),)

    id: Mapped[uuid_pk]
    member_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("members.id"), index=True)
    first_event_id: Mapped[int] = mapped_column(BIG_ID)
    last_event_id: Mapped[int] = mapped_column(BIG_ID)
    event_count: Mapped[int]
    status: Mapped[str] = mapped_column(sa.String(16))
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(
        comment="while pending: when it is due (or the end of a worker's lease)"
    )
    created_at: Mapped[datetime]
    delivered_at: Mapped[datetime | None]
    last_status_code: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(sa.Text)

    def view(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "member_id": str(self.member_id),
            "status": self.status,
            "events": self.event_count,
            "first_event_id": str(self.first_event_id),
            "last_event_id": str(self.last_event_id),
            "attempts": self.attempts,
            "next_attempt_at": iso(self.next_attempt_at),
            "created_at": iso(self.created_at),
            "delivered_at": iso(self.delivered_at),
            "last_status_code": self.last_status_code,
            "last_error": self.last_error,
        }


sa.Index(
    "ix_webhook_deliveries_due",
    WebhookDelivery.next_attempt_at,
    postgresql_where=WebhookDelivery.status == DeliveryStatus.PENDING,
    sqlite_where=WebhookDelivery.status == DeliveryStatus.PENDING,
)


class WebhookAttempt(Base):
    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True, autoincrement=True)
    delivery_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("webhook_deliveries.id"), index=True
    )
    attempt: Mapped[int]
    url: Mapped[str] = mapped_column(sa.String(2000))
    at: Mapped[datetime]
    status_code: Mapped[int | None] = mapped_column(comment="the receiver's answer, if any")
    # The full reason, for the operator: the delivery's last_error, which the member reads,
    # does not tell a refused connection from a timeout.
    error: Mapped[str | None] = mapped_column(sa.Text, comment="why no 2xx came back")
    duration_ms: Mapped[int]


# --- the policy and the transport ------------------------------------------------------------


@dataclass(frozen=True)
class DeliveryPolicy:
    batch: int = 100
    max_attempts: int = 10
    backoff_base: float = 30.0  # seconds before the second attempt; doubles each time
    backoff_max: float = 3600.0
    timeout: float = 5.0
    concurrency: int = 8

    def backoff(self, attempts: int) -> timedelta:
        """The wait after ``attempts`` failed attempts."""
        return timedelta(seconds=min(self.backoff_base * 2 ** (attempts - 1), self.backoff_max))

    @classmethod
    def from_settings(cls, settings: Any) -> DeliveryPolicy:
        return cls(
            batch=settings.MONITORING_WEBHOOK_BATCH,
            max_attempts=settings.MONITORING_WEBHOOK_MAX_ATTEMPTS,
            backoff_base=settings.MONITORING_WEBHOOK_BACKOFF,
            backoff_max=settings.MONITORING_WEBHOOK_BACKOFF_MAX,
            timeout=settings.MONITORING_WEBHOOK_TIMEOUT,
            concurrency=settings.MONITORING_WEBHOOK_CONCURRENCY,
        )


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    error: str | None  # what the member is told
    duration_ms: int
    detail: str | None = None  # what the operator is told, when it says more

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class Transport(Protocol):
    """Sends one signed POST; never raises for the receiver's failures (they are outcomes)."""

    def post(
        self, url: str, body: bytes, *, delivery_id: str, now: datetime, timeout: float
    ) -> Outcome: ...


# --- registration ----------------------------------------------------------------------------


def set_webhook(session: Session, member_id: uuid.UUID, url: str, *, at: datetime) -> Webhook:
    """Register or change the member's URL (checked by the caller). A new webhook starts
    after the member's current events: earlier ones are read by polling."""
    hook = session.get(Webhook, member_id)
    if hook is None:
        last = session.scalar(
            sa.select(sa.func.max(MemberEvent.event_id)).where(MemberEvent.member_id == member_id)
        )
        hook = Webhook(member_id=member_id, url=url, cursor=last or 0, created_at=at, updated_at=at)
        session.add(hook)
    else:
        hook.url = url
        hook.updated_at = at
    return hook


def remove_webhook(session: Session, member_id: uuid.UUID, *, at: datetime) -> bool:
    """Stop deliveries to the member; pending ones are given up. False if there was none."""
    hook = session.get(Webhook, member_id)
    if hook is None:
        return False
    session.execute(
        sa.update(WebhookDelivery)
        .where(
            WebhookDelivery.member_id == member_id,
            WebhookDelivery.status == DeliveryStatus.PENDING,
        )
        .values(status=DeliveryStatus.FAILED, last_error="webhook removed", next_attempt_at=None)
    )
    session.delete(hook)
    return True


# --- the job ---------------------------------------------------------------------------------


def schedule(session: Session, now: datetime, policy: DeliveryPolicy) -> int:
    """Open a delivery for each member with new events and none open; returns how many."""
    open_delivery = (
        sa.select(WebhookDelivery.id)
        .where(
            WebhookDelivery.member_id == Webhook.member_id,
            WebhookDelivery.status == DeliveryStatus.PENDING,
        )
        .exists()
    )
    new_events = (
        sa.select(MemberEvent.event_id)
        .where(MemberEvent.member_id == Webhook.member_id, MemberEvent.event_id > Webhook.cursor)
        .exists()
    )
    hooks = session.scalars(
        sa.select(Webhook)
        .where(~open_delivery, new_events)
        .limit(1000)
        .with_for_update(skip_locked=True)
    ).all()
    for hook in hooks:
        ids = list(
            session.scalars(
                sa.select(MemberEvent.event_id)
                .where(MemberEvent.member_id == hook.member_id, MemberEvent.event_id > hook.cursor)
                .order_by(MemberEvent.event_id)
                .limit(policy.batch)
            )
        )
        session.add(
            WebhookDelivery(
                member_id=hook.member_id,
                first_event_id=ids[0],
                last_event_id=ids[-1],
                event_count=len(ids),
                status=DeliveryStatus.PENDING,
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
        )
        hook.cursor = ids[-1]
    return len(hooks)


def delivery_body(session: Session, delivery: WebhookDelivery) -> bytes:
    """The JSON a delivery sends: its id and its events, in id order."""
    events = session.scalars(
        sa.select(MonitoringEvent)
        .join(MemberEvent, MemberEvent.event_id == MonitoringEvent.id)
        .where(
            MemberEvent.member_id == delivery.member_id,
            MemberEvent.event_id >= delivery.first_event_id,
            MemberEvent.event_id <= delivery.last_event_id,
        )
        .order_by(MemberEvent.event_id)
    )
    document = {"delivery_id": str(delivery.id), "events": [event.view() for event in events]}
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


@dataclass(frozen=True)
class _Send:
    delivery_id: uuid.UUID
    attempt: int
    url: str
    body: bytes


def _claim(session: Session, now: datetime, policy: DeliveryPolicy, limit: int) -> list[_Send]:
    due = session.scalars(
        sa.select(WebhookDelivery)
        .where(
            WebhookDelivery.status == DeliveryStatus.PENDING,
            WebhookDelivery.next_attempt_at <= now,
        )
        .order_by(WebhookDelivery.next_attempt_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    sends = []
    lease = timedelta(seconds=policy.timeout * 3 + 60)
    for delivery in due:
        hook = session.get(Webhook, delivery.member_id)
        if hook is None:
            delivery.status = DeliveryStatus.FAILED
            delivery.last_error = "webhook removed"
            continue
        # A lease: another worker leaves it alone while this one sends, and takes it up
        # again if this one dies before recording the outcome.
        delivery.next_attempt_at = now + lease
        delivery.attempts += 1
        sends.append(
            _Send(delivery.id, delivery.attempts, hook.url, delivery_body(session, delivery))
        )
    return sends


def _record(
    session: Session, send: _Send, outcome: Outcome, now: datetime, policy: DeliveryPolicy
) -> None:
    session.add(
        WebhookAttempt(
            delivery_id=send.delivery_id,
            attempt=send.attempt,
            url=send.url,
            at=now,
            status_code=outcome.status_code,
            error=outcome.detail or outcome.error,
            duration_ms=outcome.duration_ms,
        )
    )
    delivery = session.get(WebhookDelivery, send.delivery_id)
    assert delivery is not None
    delivery.last_status_code = outcome.status_code
    delivery.last_error = outcome.error
    if outcome.ok:
        delivery.status = DeliveryStatus.DELIVERED
        delivery.delivered_at = now
        delivery.next_attempt_at = None
    elif send.attempt >= policy.max_attempts:
        delivery.status = DeliveryStatus.FAILED
        delivery.next_attempt_at = None
    else:
        delivery.next_attempt_at = now + policy.backoff(send.attempt)


def deliver_due(
    session: Session, now: datetime, transport: Transport, policy: DeliveryPolicy
) -> int:
    """Open new deliveries and make every due attempt; returns the attempts made.

    The claims are committed before sending, so no transaction stays open while receivers
    answer; the outcomes are recorded (and committed by the worker) afterwards.
    """
    schedule(session, now, policy)
    sends = _claim(session, now, policy, limit=policy.concurrency * 4)
    session.commit()
    if not sends:
        return 0

    def send(item: _Send) -> Outcome:
        return transport.post(
            item.url, item.body, delivery_id=str(item.delivery_id), now=now, timeout=policy.timeout
        )

    with ThreadPoolExecutor(max_workers=max(1, min(policy.concurrency, len(sends)))) as pool:
        outcomes = list(pool.map(send, sends))
    for item, outcome in zip(sends, outcomes, strict=True):
        _record(session, item, outcome, now, policy)
    session.flush()
    return len(sends)


def delivery_job(
    transport: Transport, policy: DeliveryPolicy
) -> Callable[[Session, datetime], int]:
    def run(session: Session, now: datetime) -> int:
        return deliver_due(session, now, transport, policy)

    return run


# --- the operator's view ---------------------------------------------------------------------


def deliveries(
    session: Session,
    *,
    member_id: uuid.UUID | None = None,
    failing_only: bool = True,
    limit: int = 100,
) -> list[WebhookDelivery]:
    """Deliveries newest first; by default those that failed or are being retried."""
    query = sa.select(WebhookDelivery).order_by(WebhookDelivery.created_at.desc()).limit(limit)
    if member_id is not None:
        query = query.where(WebhookDelivery.member_id == member_id)
    if failing_only:
        query = query.where(
            sa.or_(
                WebhookDelivery.status == DeliveryStatus.FAILED,
                sa.and_(
                    WebhookDelivery.status == DeliveryStatus.PENDING,
                    WebhookDelivery.attempts > 0,
                ),
            )
        )
    return list(session.scalars(query))


def last_attempt_errors(
    session: Session, delivery_ids: list[uuid.UUID]
) -> dict[uuid.UUID, str | None]:
    """The full reason each delivery's latest attempt failed, which its last_error (what
    the member reads) keeps general."""
    rows = session.execute(
        sa.select(WebhookAttempt.delivery_id, WebhookAttempt.error)
        .where(WebhookAttempt.delivery_id.in_(delivery_ids))
        .order_by(WebhookAttempt.id)
    )
    return {delivery_id: error for delivery_id, error in rows}  # the latest one stays


def retry_delivery(session: Session, delivery_id: uuid.UUID, *, at: datetime) -> WebhookDelivery:
    """Send a failed delivery again (after the receiver is mended), with fresh attempts."""
    from registry.errors import Conflict

    delivery = get_by_id(session, WebhookDelivery, delivery_id, what="delivery")
    if delivery.status != DeliveryStatus.FAILED:
        raise Conflict(f"the delivery is {delivery.status}")
    delivery.status = DeliveryStatus.PENDING
    delivery.attempts = 0
    delivery.next_attempt_at = at
    return delivery

"""Notices to subjects (告知 and the like): recorded in the database, sent by the worker.

A notice is written in the same transaction as the decision it announces, then sent by a
pluggable sender: ``log`` writes it to the log (development, or where letters go by other
means), ``email`` sends it by SMTP. A failed send stays pending and is tried again.
"""

from __future__ import annotations

import logging
import smtplib
import uuid
from datetime import datetime
from email.message import EmailMessage
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, Session, mapped_column

from registry.db import Base, uuid_pk

log = logging.getLogger(__name__)


class Notification(Base):
    __tablename__ = "notifications"

    id: Mapped[uuid_pk]
    subject_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("subjects.id"), index=True)
    topic: Mapped[str] = mapped_column(sa.String(40), comment="e.g. listing.notice")
    object_id: Mapped[str] = mapped_column(sa.String(64))
    recipient: Mapped[str | None] = mapped_column(sa.String(200))
    title: Mapped[str] = mapped_column(sa.String(300))
    body: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None] = mapped_column(index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(sa.Text)


class Sender(Protocol):
    def send(self, notification: Notification) -> None: ...


class LogSender:
    def send(self, notification: Notification) -> None:
        log.info(
            "notice %s to %s: %s",
            notification.topic,
            notification.recipient or "-",
            notification.title,
        )


class EmailSender:
    def __init__(self, host: str, port: int, sender: str) -> None:
        self.host, self.port, self.sender = host, port, sender

    def send(self, notification: Notification) -> None:
        if not notification.recipient:
            return  # no address: the notice stands on the subject's page and in its report
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = notification.recipient
        message["Subject"] = notification.title
        message.set_content(notification.body)
        with smtplib.SMTP(self.host, self.port, timeout=10) as smtp:
            smtp.send_message(message)


def sender_from_settings(settings: Any) -> Sender:
    if settings.NOTIFY_SENDER == "email":
        return EmailSender(settings.SMTP_HOST, settings.SMTP_PORT, settings.NOTIFY_FROM)
    return LogSender()


def listing_notice_text(entry: Any, window_days: int) -> tuple[str, str]:
    """The title and body of the prior notice (告知) of a list entry: what is proposed, on
    what basis, and the subject's right to object within the window that opens at service."""
    from registry.list_kinds import in_force

    rules = in_force().of(entry.list_kind)
    # A list that is not public is kept, not published: the notice says which.
    verb = "publish" if rules.public else "put (not publicly)"
    body = (
        f"{entry.authority} proposes to {verb} {entry.subject.name} on the {rules.name}.\n"
        f"Reason: {entry.reason}\nLegal basis: {entry.legal_basis}\n"
        f"Decision document: {entry.document_number}\nMeasures: {entry.measures_text}\n"
        f"Period: {entry.period_months} months from publication.\n\n"
        f"You may object (异议) within {window_days} working days of the day this notice is "
        "served on you, through the member that is or operates the subject "
        f"(POST /api/v1/listings/{entry.id}/objections) or in writing to the registry naming "
        "this entry; an objection suspends publication until it is answered. The entry is "
        "not published before the notice is served and that period has passed."
    )
    return f"告知 / Prior notice: proposed {entry.list_kind} entry", body


class Notices:
    """Writes the notices of the list workflow."""

    def notice(
        self, session: Session, entry: Any, *, at: datetime, window_days: int
    ) -> Notification:
        """The notice as issued; sending it (by e-mail to ``notice_to``, or to the log) is
        a copy, not its service, which is recorded on the entry."""
        title, body = listing_notice_text(entry, window_days)
        notification = Notification(
            id=uuid.uuid4(),
            subject_id=entry.subject_id,
            topic="listing.notice",
            object_id=str(entry.id),
            recipient=entry.notice_to,
            title=title,
            body=body,
            created_at=at,
            attempts=0,
        )
        session.add(notification)
        return notification


def send_pending(session: Session, sender: Sender, now: datetime, *, batch: int = 100) -> int:
    """Send what is pending (the worker's job); a failure is kept for the next round."""
    pending = session.scalars(
        sa.select(Notification)
        .where(Notification.sent_at.is_(None), Notification.attempts < 20)
        .order_by(Notification.created_at)
        .limit(batch)
        .with_for_update(skip_locked=True)
    ).all()
    sent = 0
    for notification in pending:
        notification.attempts += 1
        try:
            sender.send(notification)
        except (OSError, smtplib.SMTPException) as exc:
            notification.last_error = f"{type(exc).__name__}: {exc}"
            continue
        notification.sent_at = now
        notification.last_error = None
        sent += 1
    return sent

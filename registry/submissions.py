"""Submissions: the evidence of who sent what.

The exact body bytes, the signature base and the signature are kept as received, so a
submission can be verified again years later from this row and the evidence keys. The body
names persons by their ID numbers, so it is kept sealed (``registry.security.EvidenceCipher``).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from registry.db import Base, uuid_pk
from registry.members import Member
from registry.security import EvidenceCipher

# The audit event of an accepted submission, and the key of its ``after`` that lists the
# subjects it registered (registry.provenance reads both).
ACCEPTED_EVENT = "submission.accepted"
REGISTERED_SUBJECTS = "registered_subjects"


class SignedRequestEvidence:
    """The columns every signed intake keeps to prove who sent what: the request exactly as
    verified (filled from :meth:`registry.intake.Evidence.columns`)."""

    key_id: Mapped[str] = mapped_column(
        sa.ForeignKey("member_keys.id"), comment="the key that signed the request"
    )
    content_type: Mapped[str] = mapped_column(sa.String(100))
    body: Mapped[bytes] = mapped_column(
        sa.LargeBinary,
        comment="the exact request body bytes, sealed (AES-256-GCM) under the evidence key "
        "it names",
    )
    body_digest: Mapped[str] = mapped_column(
        sa.String(128), comment="Content-Digest value, RFC 9530 sha-256"
    )
    signature_input: Mapped[str] = mapped_column(sa.Text, comment="Signature-Input header")
    signature: Mapped[str] = mapped_column(sa.Text, comment="Signature header")
    signature_base: Mapped[str] = mapped_column(
        sa.Text, comment="the RFC 9421 signature base verified"
    )

    @validates("body")
    def _only_sealed(self, _key: str, body: bytes) -> bytes:
        # The last guard: a body in clear would put ID numbers in every backup.
        if not EvidenceCipher.is_sealed(body):
            raise ValueError("a signed request's body is stored sealed, never in clear")
        return body


class Submission(SignedRequestEvidence, Base):
    __tablename__ = "submissions"
    __table_args__ = (
        # Idempotency: a member's submission id names one submission for ever.
        sa.UniqueConstraint("member_id", "submission_id"),
        sa.CheckConstraint("record_count >= 0", name="record_count_non_negative"),
    )

    id: Mapped[uuid_pk]
    member_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("members.id"))
    submission_id: Mapped[str] = mapped_column(
        sa.String(128), comment="the member's own id for the submission"
    )
    received_at: Mapped[datetime]
    record_count: Mapped[int]
    receipt: Mapped[dict[str, Any] | None] = mapped_column(
        comment="the signed receipt returned to the member"
    )

    member: Mapped[Member] = relationship()

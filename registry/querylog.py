"""The query log: every lookup a member makes, with the purpose it stated.

The law gives a subject the right to know who looked it up and why, so each query records
the member, the key that signed it, the time, the purpose, the query itself (a person's ID
number only as its keyed hash) and which subjects it returned.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, Session, mapped_column

from registry.db import Base, one_of
from registry.identifiers import mask_id_numbers


class QueryPurpose(StrEnum):
    CREDIT_ASSESSMENT = "credit_assessment"  # before extending credit
    COUNTERPARTY_CHECK = "counterparty_check"  # before contracting
    COMPLIANCE_SCREENING = "compliance_screening"  # list and sanctions checks
    MONITORING = "monitoring"  # a watched portfolio
    SUBJECT_CONSENT = "subject_consent"  # at the subject's own request


class QueryKind(StrEnum):
    SEARCH = "search"
    SUBJECT = "subject"
    SCREENING = "screening"
    REPORT = "report"


class QueryLogEntry(Base):
    __tablename__ = "query_log"
    __table_args__ = (one_of("purpose", QueryPurpose), one_of("kind", QueryKind))

    id: Mapped[int] = mapped_column(
        sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    member_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("members.id"), index=True)
    key_id: Mapped[str] = mapped_column(sa.String(128))
    at: Mapped[datetime] = mapped_column(index=True)
    kind: Mapped[str] = mapped_column(sa.String(16))
    purpose: Mapped[str] = mapped_column(sa.String(32))
    query: Mapped[dict[str, Any]] = mapped_column(comment="the parameters, ID numbers hashed")
    results: Mapped[int]
    subject_ids: Mapped[list[Any]] = mapped_column(
        comment="the subjects the answer showed, so each subject can see who looked it up"
    )


QUERY_LOG = cast(sa.Table, QueryLogEntry.__table__)
_INSERT = sa.insert(QUERY_LOG)  # built once: every lookup runs it


def log_query(
    session: Session,
    *,
    member_id: uuid.UUID,
    key_id: str,
    at: datetime,
    kind: QueryKind,
    purpose: str,
    query: dict[str, Any],
    results: int,
    subject_ids: list[str],
) -> None:
    # A Core insert on the session's connection, in the caller's transaction: every lookup
    # writes one row, and the ORM's unit of work would cost more than the insert itself.
    session.connection().execute(
        _INSERT,
        {
            "member_id": member_id,
            "key_id": key_id,
            "at": at,
            "kind": str(kind),
            "purpose": purpose,
            # A number typed where none belongs (a `q`) is masked: the log keeps no number.
            "query": {k: mask_id_numbers(v) if isinstance(v, str) else v for k, v in query.items()},
            "results": results,
            "subject_ids": subject_ids,
        },
    )


def showed_subject(session: Session, subject_id: uuid.UUID) -> sa.ColumnElement[bool]:
    """True for the query-log rows whose answer showed the subject."""
    column = QUERY_LOG.c.subject_ids
    wanted = str(subject_id)
    if session.get_bind().dialect.name == "postgresql":
        # The JSON type serialises the list: a one-element array the row must contain.
        return column.op("@>")(sa.literal([wanted], column.type))
    return sa.exists(
        sa.select(sa.literal(1))
        .select_from(sa.func.json_each(column).table_valued("value"))
        .where(sa.column("value") == wanted)
    )


def looked_up(session: Session, member_id: uuid.UUID, subject_id: uuid.UUID) -> bool:
    """Whether any lookup of the member showed the subject: the interest in a subject that
    the query log proves, and the subject can see."""
    return bool(
        session.scalar(
            sa.select(
                sa.exists().where(
                    QUERY_LOG.c.member_id == member_id, showed_subject(session, subject_id)
                )
            )
        )
    )

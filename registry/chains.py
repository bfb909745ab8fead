"""The heads of the registry's two append-only chains: the transparency log and the audit
events.

Both chains need appends in one order with no gaps, so both take their next positions from
one row, ``chain_heads`` (id 1), with an ``UPDATE ... RETURNING``: the row lock (PostgreSQL)
or the database write lock (SQLite) is held until the transaction ends, so concurrent
transactions append one after the other, in commit order. One row rather than one per chain,
so a transaction that appends to both can never deadlock with another doing it the other way
round. The lock is taken as late as the writers can manage (when the receipt is signed, when
the audit rows are written), so it is held for little more than the commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, Session, mapped_column

from registry.db import Base

HEAD_ID = 1
# The audit chain's first event links to this.
GENESIS_HASH = "0" * 64


class ChainHead(Base):
    __tablename__ = "chain_heads"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    log_size: Mapped[int] = mapped_column(
        sa.BigInteger, comment="entries in the transparency log: the next entry's index"
    )
    audit_size: Mapped[int] = mapped_column(
        sa.BigInteger, comment="audit events in the hash chain: the last one's chain_seq"
    )
    audit_hash: Mapped[str] = mapped_column(
        sa.String(64), comment="hash of the last chained audit event (hex)"
    )
    signing_halted: Mapped[str | None] = mapped_column(
        sa.Text, comment="why checkpoint signing stopped; set only on an inconsistency"
    )


@dataclass(frozen=True)
class Advanced:
    """The positions an append took: the chains' sizes before it, and the audit head hash."""

    log_start: int
    audit_start: int
    audit_hash: str


_TABLE = cast(sa.Table, ChainHead.__table__)
# Built once: making an UPDATE ... RETURNING costs several times what running it does, and
# these run in every writing transaction.
_ADVANCE = (
    sa.update(_TABLE)
    .where(_TABLE.c.id == HEAD_ID)
    .values(
        log_size=_TABLE.c.log_size + sa.bindparam("log", type_=sa.BigInteger),
        audit_size=_TABLE.c.audit_size + sa.bindparam("audit", type_=sa.BigInteger),
    )
    .returning(_TABLE.c.log_size, _TABLE.c.audit_size, _TABLE.c.audit_hash)
)
_SET_AUDIT_HASH = (
    sa.update(_TABLE).where(_TABLE.c.id == HEAD_ID).values(audit_hash=sa.bindparam("value"))
)


def advance(session: Session, *, log: int = 0, audit: int = 0) -> Advanced:
    """Reserve ``log`` log indexes and ``audit`` audit positions, locking the heads until the
    transaction ends. Runs on the session's connection without an autoflush."""
    connection = session.connection()
    row = connection.execute(_ADVANCE, {"log": log, "audit": audit}).one_or_none()
    if row is None:
        # A database made without the migrations' first row (it is never deleted).
        connection.execute(
            sa.insert(_TABLE).values(
                id=HEAD_ID, log_size=log, audit_size=audit, audit_hash=GENESIS_HASH
            )
        )
        return Advanced(0, 0, GENESIS_HASH)
    return Advanced(row.log_size - log, row.audit_size - audit, row.audit_hash)


def set_audit_hash(session: Session, value: str) -> None:
    session.connection().execute(_SET_AUDIT_HASH, {"value": value})


def read_head(session: Session) -> ChainHead | None:
    return session.get(ChainHead, HEAD_ID, populate_existing=True)

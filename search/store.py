"""The SQL backend's own index: one row per subject document, beside the system of record.

The row keeps the document as built by the projection, the fields filters and facets use,
and ``tokens``: the text every backend searches (CJK unigrams and bigrams, Latin words,
pinyin), made by the application so that all backends see the same thing. SQLite searches
``tokens`` through an FTS5 table (``search_fts``, with its vocabulary ``search_fts_vocabulary``),
PostgreSQL through a stored ``tsvector`` column (``tokens_vector``) with a GIN index, and a
trigram index on the name; all are made by the migrations, outside the models.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from registry.db import Base

FTS_TABLE = "search_fts"
FTS_VOCABULARY = "search_fts_vocabulary"
# Made by raw SQL in the migration; the models-versus-schema check leaves them alone.
UNMODELLED_OBJECTS = (
    FTS_TABLE,
    "tokens_vector",
    "ix_search_documents_tokens_vector",
    "ix_search_documents_name_trgm",
    # PostgreSQL only: which queries returned a subject (the subject's own report).
    "ix_query_log_subject_ids",
)


class SearchDocument(Base):
    __tablename__ = "search_documents"

    subject_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(
        sa.BigInteger().with_variant(sa.Integer, "sqlite"),
        comment="the subject's revision when the document was built (external version)",
    )
    deleted: Mapped[bool] = mapped_column(
        default=False, comment="a tombstone: keeps the version so an older write cannot revive it"
    )
    kind: Mapped[str] = mapped_column(sa.String(16), index=True)
    region: Mapped[str | None] = mapped_column(sa.String(6), index=True)
    industry: Mapped[str | None] = mapped_column(sa.String(8), index=True)
    grade: Mapped[str | None] = mapped_column(sa.String(8), index=True)
    lists: Mapped[str | None] = mapped_column(
        sa.String(100), comment="space-separated lists the subject is published on"
    )
    uscc: Mapped[str | None] = mapped_column(sa.String(18), index=True)
    shop_id: Mapped[str | None] = mapped_column(sa.String(128), index=True)
    id_number_hash: Mapped[str | None] = mapped_column(sa.String(80), index=True)
    name: Mapped[str] = mapped_column(sa.String(300))
    name_normalised: Mapped[str] = mapped_column(sa.String(300))
    tokens: Mapped[str] = mapped_column(sa.Text)
    document: Mapped[dict[str, Any]]
    indexed_at: Mapped[datetime]


class SearchRefusal(Base):
    """A subject whose current document the search engine refused (a mapping that rejects
    one of its fields, say): written by the worker instead of blocking the outbox, shown by
    ``search verify`` and readiness, removed once a write of the subject succeeds."""

    __tablename__ = "search_refusals"

    subject_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(
        sa.BigInteger().with_variant(sa.Integer, "sqlite"), comment="the revision refused"
    )
    status: Mapped[int] = mapped_column(comment="the engine's HTTP status for the item")
    error_type: Mapped[str] = mapped_column(sa.String(100))
    reason: Mapped[str] = mapped_column(sa.Text, comment="the engine's reason, cut short")
    refused_at: Mapped[datetime]

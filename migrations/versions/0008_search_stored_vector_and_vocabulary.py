"""Search: a stored full-text vector on PostgreSQL, a token vocabulary view on SQLite

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25 15:40:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # Document frequency of every token, read by the SQL backend to leave out tokens
        # that nearly every name has when it gathers screening candidates.
        op.execute("CREATE VIRTUAL TABLE search_fts_vocabulary USING fts5vocab(search_fts, 'row')")
        return
    # The vector is stored rather than computed from ``tokens`` for every matching row at
    # query time: ranking a few thousand matches no longer parses their text again, and
    # ts_stat can count document frequencies over the column directly.
    op.execute(
        "ALTER TABLE search_documents ADD COLUMN tokens_vector tsvector "
        "GENERATED ALWAYS AS (to_tsvector('simple', tokens)) STORED"
    )
    op.execute("DROP INDEX IF EXISTS ix_search_documents_tokens_fts")
    op.execute(
        "CREATE INDEX ix_search_documents_tokens_vector ON search_documents "
        "USING gin (tokens_vector)"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE IF EXISTS search_fts_vocabulary")
        return
    op.execute("DROP INDEX IF EXISTS ix_search_documents_tokens_vector")
    op.execute("ALTER TABLE search_documents DROP COLUMN IF EXISTS tokens_vector")
    op.execute(
        "CREATE INDEX ix_search_documents_tokens_fts ON search_documents "
        "USING gin (to_tsvector('simple', tokens))"
    )

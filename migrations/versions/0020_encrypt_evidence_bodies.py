"""Signed request bodies sealed at rest: the stored bodies encrypted under the evidence key

Revision ID: 0020
Revises: 0019
Create Date: 2026-11-28 09:00:00

The body kept of every submission and seller-rating batch names persons by their ID numbers.
From now on a body is stored sealed (registry.security.EvidenceCipher); this revision seals
the bodies already stored, with the evidence key of the settings the registry runs with:
`creditreg db upgrade` hands its own settings over, and a bare `alembic upgrade` loads them
from the environment and CREDITREG_CONFIG as the registry does. So the operator runs the usual
upgrade step with the new key set, and no database keeps a clear body past it. Bodies
already sealed are left as they are, so running it again after a failure is safe. A database
without bodies needs no key. The downgrade opens them again for the code before it.
"""

from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import context, op

from registry.security import EvidenceCipher

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("submissions", "seller_rating_batches")
SEALED_COMMENT = (
    "the exact request body bytes, sealed (AES-256-GCM) under the evidence key it names"
)
CLEAR_COMMENT = "the exact request body bytes"
BATCH = 500


def _cipher() -> EvidenceCipher:
    from registry.runtime import evidence_cipher

    settings = context.config.attributes.get("settings")
    if settings is None:
        from config import load_settings

        settings = load_settings()
    return evidence_cipher(settings)


def _rewrite(table_name: str, change: Callable[[bytes], bytes | None]) -> None:
    """Every row's body through ``change`` (None: leave the row alone), a page at a time."""
    table = sa.table(table_name, sa.column("id", sa.Uuid()), sa.column("body", sa.LargeBinary()))
    connection = op.get_bind()
    last = None
    while True:
        page = sa.select(table.c.id, table.c.body).order_by(table.c.id).limit(BATCH)
        if last is not None:
            page = page.where(table.c.id > last)
        rows = connection.execute(page).all()
        if not rows:
            return
        for row_id, body in rows:
            changed = change(bytes(body))
            if changed is not None:
                connection.execute(
                    sa.update(table).where(table.c.id == row_id).values(body=changed)
                )
        last = rows[-1][0]


def _comment(text: str) -> None:
    # SQLite keeps no comments, and altering one there would rebuild the table.
    if op.get_bind().dialect.name != "postgresql":
        return
    for table_name in TABLES:
        op.alter_column(table_name, "body", existing_type=sa.LargeBinary(), comment=text)


def _convert(*, sealing: bool) -> None:
    cipher = None

    def convert(body: bytes) -> bytes | None:
        nonlocal cipher
        if EvidenceCipher.is_sealed(body) == sealing:
            return None
        # Settings are read at the first body only: an empty database needs no key.
        cipher = cipher or _cipher()
        return cipher.seal(body) if sealing else cipher.open(body)

    for table_name in TABLES:
        _rewrite(table_name, convert)
    _comment(SEALED_COMMENT if sealing else CLEAR_COMMENT)


def upgrade() -> None:
    _convert(sealing=True)


def downgrade() -> None:
    _convert(sealing=False)

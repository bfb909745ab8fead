"""List entries: the list kinds, each with its own rules

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-02 09:00:00

The blacklist becomes four kinds (失信被执行人, 严重违法失信名单, 重点关注名单, 经营异常名录)
beside the redlist; their periods, extensions, repair and publicity are configuration
(config/list_kinds.toml). Every existing blacklist entry was proposed under the one set of
blacklist rules, which are those of the serious-illegality list (3 years, repair after 1), so
it moves to that kind with its period and minimum repair period as they were.

Downgrading moves every blacklist kind back to the blacklist (the kinds are lost).
"""

import re
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS_BEFORE = ("blacklist", "redlist")
KINDS_AFTER = ("judgment_debtor", "serious_illegal", "watch", "abnormal", "redlist")
NAME = "ck_list_entries_list_kind_allowed"


def _allowed(kinds: Sequence[str]) -> str:
    return "list_kind IN (" + ", ".join(f"'{kind}'" for kind in kinds) + ")"


def _recheck(kinds: Sequence[str], rename: str) -> None:
    """The list_kind check made anew, the rows' kinds renamed (the UPDATE ``rename`` of
    ``{table}``) in between: neither the old check nor the new one lets them through."""
    if op.get_context().dialect.name == "sqlite":
        _rebuild_on_sqlite(kinds, rename)
        return
    op.drop_constraint(op.f(NAME), "list_entries", type_="check")
    op.execute(rename.format(table="list_entries"))
    op.create_check_constraint(op.f(NAME), "list_entries", sa.text(_allowed(kinds)))


def _rebuild_on_sqlite(kinds: Sequence[str], rename: str) -> None:
    """SQLite changes no check in place: the table is made again from its own CREATE
    statement with only that check changed, so every column, inline foreign key and the
    other checks stay exactly as earlier revisions made them (0023's downgrade drops a column
    that a batch copy would turn into a table-level foreign key). The rows wait in a plain
    copy; the reviews', objections' and repair applications' foreign keys are checked at
    commit, once the same ids are back (as in 0022)."""
    connection = op.get_bind()
    table_sql = connection.scalar(
        sa.text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'list_entries'")
    )
    index_sqls = connection.scalars(
        sa.text(
            "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'list_entries' "
            "AND sql IS NOT NULL"
        )
    ).all()
    new_sql, found = re.subn(
        rf"(CONSTRAINT\s+\"?{NAME}\"?\s+CHECK\s*\()list_kind IN \([^)]*\)(\))",
        lambda match: match.group(1) + _allowed(kinds) + match.group(2),
        table_sql,
    )
    assert found == 1, f"the list_kind check of list_entries is not where it was: {table_sql}"
    op.execute("CREATE TABLE _list_entries_before AS SELECT * FROM list_entries")
    op.execute(rename.format(table="_list_entries_before"))
    op.execute("PRAGMA defer_foreign_keys = ON")
    op.execute("DROP TABLE list_entries")
    op.execute(new_sql)
    for index_sql in index_sqls:
        op.execute(index_sql)
    op.execute("INSERT INTO list_entries SELECT * FROM _list_entries_before")
    op.execute("DROP TABLE _list_entries_before")


REPAIR_BEFORE = "earliest credit repair after publication (blacklists)"
REPAIR_AFTER = "earliest credit repair after publication; null: the kind has no repair route"


def _comment(text: str, was: str) -> None:
    if op.get_context().dialect.name != "sqlite":  # SQLite keeps no comments
        op.alter_column(
            "list_entries",
            "min_repair_months",
            existing_type=sa.Integer(),
            existing_nullable=True,
            comment=text,
            existing_comment=was,
        )


def upgrade() -> None:
    _recheck(
        KINDS_AFTER,
        "UPDATE {table} SET list_kind = 'serious_illegal' WHERE list_kind = 'blacklist'",
    )
    _comment(REPAIR_AFTER, REPAIR_BEFORE)


def downgrade() -> None:
    _comment(REPAIR_BEFORE, REPAIR_AFTER)
    _recheck(
        KINDS_BEFORE, "UPDATE {table} SET list_kind = 'blacklist' WHERE list_kind <> 'redlist'"
    )

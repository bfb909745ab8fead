"""The schema is made only by migrations, and the migrations match the models."""

import pytest
import sqlalchemy as sa

from registry import migrate
from registry.db import make_engine
from registry.models import metadata


def test_upgrade_from_empty_reaches_head_and_matches_the_models(migrated_engine):
    # `migrated_engine` was migrated from an empty database (a new SQLite file, or a wiped
    # PostgreSQL schema) at the start of the run.
    with migrated_engine.connect() as connection:
        assert migrate.is_at_head(connection)
        assert migrate.pending_differences(connection) == []
        tables = set(sa.inspect(connection).get_table_names())
    assert set(metadata.tables) <= tables


def test_downgrade_to_base_and_upgrade_again(fresh_sqlite_url):
    engine = make_engine(fresh_sqlite_url)
    migrate.upgrade(engine)
    with engine.begin() as connection:
        from alembic import command

        command.downgrade(migrate.alembic_config(connection), "base")
    with engine.connect() as connection:
        assert set(sa.inspect(connection).get_table_names()) <= {"alembic_version"}
        assert not migrate.is_at_head(connection)
    migrate.upgrade(engine)
    with engine.connect() as connection:
        assert migrate.is_at_head(connection)
        assert migrate.pending_differences(connection) == []
    engine.dispose()


def test_a_model_change_without_migration_is_detected(fresh_sqlite_url):
    engine = make_engine(fresh_sqlite_url)
    migrate.upgrade(engine)
    extra = sa.Table("not_migrated", metadata, sa.Column("id", sa.Integer, primary_key=True))
    try:
        with engine.connect() as connection:
            differences = migrate.pending_differences(connection)
    finally:
        metadata.remove(extra)
        engine.dispose()
    assert any(d[0] == "add_table" and d[1].name == "not_migrated" for d in differences)


def test_sqlite_runs_in_wal_mode_with_foreign_keys(migrated_engine):
    if migrated_engine.dialect.name != "sqlite":
        pytest.skip("SQLite pragmas")
    with migrated_engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1

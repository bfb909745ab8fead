"""Schema migrations with Alembic: the only way the schema is made outside the tests' setup.

Migrations are a separate step (``creditreg db upgrade``), never run inside ``create_app``.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, Engine

import migrations
from config import Settings

SCRIPT_LOCATION = Path(migrations.__file__).resolve().parent


def alembic_config(
    connection: Connection | None = None, url: str | None = None, settings: Settings | None = None
) -> Config:
    """An Alembic configuration for our migrations, bound to a connection or a URL.

    ``settings`` reach the revisions that rewrite data with a key of the registry's (0020
    seals the stored bodies); without them such a revision loads the settings itself.
    """
    cfg = Config()
    cfg.set_main_option("script_location", str(SCRIPT_LOCATION))
    if url is not None:
        # ConfigParser interpolation would choke on a '%' in a password.
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        cfg.attributes["connection"] = connection
    if settings is not None:
        cfg.attributes["settings"] = settings
    return cfg


def upgrade(engine: Engine, revision: str = "head", *, settings: Settings | None = None) -> None:
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection, settings=settings), revision)


def head_revisions() -> set[str]:
    return set(ScriptDirectory.from_config(alembic_config()).get_heads())


def current_revisions(connection: Connection) -> set[str]:
    return set(MigrationContext.configure(connection).get_current_heads())


def is_at_head(connection: Connection) -> bool:
    return current_revisions(connection) == head_revisions()


def include_object(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    """Leave out of model comparisons the objects migrations make by raw SQL: the SQLite
    full-text table (and the shadow tables FTS5 keeps) and PostgreSQL's expression indexes."""
    from search.store import FTS_TABLE, UNMODELLED_OBJECTS

    unmodelled = bool(name) and (
        name in UNMODELLED_OBJECTS or str(name).startswith(FTS_TABLE + "_")
    )
    return not (reflected and compare_to is None and unmodelled)


def pending_differences(connection: Connection) -> list[object]:
    """What autogenerate would write for this database: empty when models and schema agree."""
    from alembic.autogenerate import compare_metadata

    from registry.models import metadata

    context = MigrationContext.configure(
        connection,
        opts={
            "compare_type": True,
            "compare_server_default": True,
            "include_object": include_object,
        },
    )
    return list(compare_metadata(context, metadata))


def describe(engine: Engine) -> dict[str, object]:
    with engine.connect() as connection:
        current = current_revisions(connection)
    return {
        "current": sorted(current),
        "head": sorted(head_revisions()),
        "at_head": current == head_revisions(),
        "dialect": engine.dialect.name,
        "url": sa.make_url(str(engine.url)).render_as_string(hide_password=True),
    }

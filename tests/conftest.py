"""Test fixtures on the real parts: SQLite files, PostgreSQL, and a real search server.

Every database test runs on SQLite, and again on PostgreSQL when
``CREDITREG_TEST_DATABASE_URL`` is set. The schema is made by the migrations, once per run
and backend; each test then runs inside an outer transaction that is rolled back.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from registry import migrate
from registry.app import create_app
from registry.clock import ManualClock
from registry.db import db, make_engine
from registry.runtime import Runtime, current_runtime


def per_worker_database(url: str | None) -> str | None:
    """The PostgreSQL test database of this process. Run in parallel (pytest-xdist), each
    worker takes its own, made beside the configured one (``creditreg_test_gw0``) and kept
    for the next run as the configured one is: two workers rebuilding and rolling back one
    schema would undo each other's tests."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not url or not worker:
        return url
    base = sa.make_url(url)
    name = f"{base.database}_{worker}"
    if "test" not in name:
        raise RuntimeError("refusing to make a test database whose name does not contain 'test'")
    server = sa.create_engine(
        base.set(database="postgres"), isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool
    )
    try:
        with server.connect() as connection:
            exists = connection.scalar(
                sa.text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
            )
            if not exists:
                connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.ProgrammingError as error:
        # Another run made it between the check and the create.
        if "already exists" not in str(error):
            raise
    finally:
        server.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


POSTGRES_URL = per_worker_database(os.environ.get("CREDITREG_TEST_DATABASE_URL"))
DATABASE_BACKENDS = ["sqlite"] + (["postgresql"] if POSTGRES_URL else [])

# A fixed "now" for tests: time only moves when a test moves it.
TEST_START = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


def reset_postgres_schema(url: str) -> None:
    """Give the test database an empty public schema, so migrations start from nothing."""
    parsed = sa.make_url(url)
    if "test" not in (parsed.database or ""):
        raise RuntimeError("refusing to wipe a database whose name does not contain 'test'")
    engine = sa.create_engine(parsed, poolclass=sa.pool.NullPool)
    with engine.begin() as connection:
        connection.execute(sa.text("DROP SCHEMA public CASCADE"))
        connection.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(scope="session", params=DATABASE_BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    if request.param == "postgresql":
        assert POSTGRES_URL is not None
        reset_postgres_schema(POSTGRES_URL)
        return POSTGRES_URL
    path = tmp_path_factory.mktemp("sqlite") / "registry.db"
    return f"sqlite:///{path}"


@pytest.fixture(scope="session")
def migrated_engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    migrate.upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(TEST_START)


def settings_for(database_url: str, **extra: object) -> dict[str, object]:
    return {"DATABASE_URL": database_url, **extra}


@pytest.fixture
def app(
    request: pytest.FixtureRequest, database_url: str, migrated_engine: Engine, clock: ManualClock
) -> Iterator[Flask]:
    """An app whose every session joins one outer transaction, rolled back after the test.

    A test marked ``@pytest.mark.settings(KEY=value, ...)`` gets an app with those settings.
    """
    marker = request.node.get_closest_marker("settings")
    extra = marker.kwargs if marker is not None else {}
    application = create_app(settings_for(database_url, **extra), profile="test", clock=clock)
    connection = migrated_engine.connect()
    outer = connection.begin()
    db.bind_to(application, connection)
    yield application
    outer.rollback()
    connection.close()
    db.dispose(application)


@pytest.fixture
def app_context(app: Flask) -> Iterator[Flask]:
    with app.app_context():
        yield app


@pytest.fixture
def session(app_context: Flask) -> Session:
    return db.session


@pytest.fixture
def runtime(app_context: Flask) -> Runtime:
    return current_runtime()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def fresh_sqlite_url(tmp_path: Path) -> str:
    """An empty SQLite database file of the test's own (for tests that must really commit)."""
    return f"sqlite:///{tmp_path / 'fresh.db'}"


@pytest.fixture(params=DATABASE_BACKENDS)
def fresh_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of the test's own on each backend: a SQLite file, or a PostgreSQL
    database created beside the test database and dropped afterwards (for tests that commit,
    or that read the database from another process)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    assert POSTGRES_URL is not None
    base = sa.make_url(POSTGRES_URL)
    name = f"{base.database}_{uuid.uuid4().hex[:8]}"
    server = sa.create_engine(
        base.set(database="postgres"), isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool
    )
    with server.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        # FORCE: an app's pooled connections may still be open.
        with server.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        server.dispose()


@pytest.fixture
def query_counter(migrated_engine: Engine) -> Iterator[list[str]]:
    """Collects the SQL statements run while the test runs (to catch N+1 queries)."""
    statements: list[str] = []

    def _count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    sa.event.listen(migrated_engine, "before_cursor_execute", _count)
    yield statements
    sa.event.remove(migrated_engine, "before_cursor_execute", _count)


@pytest.fixture(scope="session")
def osmem_server() -> Iterator[object]:
    """A real OpenSearch-protocol server (osmem) on a free loopback port, for the whole run.

    Replaces the plugin's fixture: ours is writable (not frozen) and closes the process's
    output pipe, which the plugin leaves open.
    """
    from osmem_server import OsmemServer

    server = OsmemServer.start(freeze=False, japanese=False, addr="127.0.0.1:0")
    yield server
    server.close()
    if server.process.stdout is not None:
        server.process.stdout.close()


@pytest.fixture
def make_app(clock: ManualClock) -> Iterator[object]:
    """Build extra apps with settings of the test's choosing; their engines are disposed after."""
    made: list[Flask] = []

    def _make(database_url: str, **settings: object) -> Flask:
        application = create_app(
            settings_for(database_url, **settings), profile="test", clock=clock
        )
        made.append(application)
        return application

    yield _make
    for application in made:
        db.dispose(application)


@pytest.fixture
def live_server() -> Iterator[object]:
    """Serve an app over real HTTP on a free loopback port; returns its base URL."""
    import threading

    from werkzeug.serving import make_server

    running: list[tuple[object, threading.Thread]] = []

    def _serve(application: Flask) -> str:
        server = make_server("127.0.0.1", 0, application, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        running.append((server, thread))
        return f"http://127.0.0.1:{server.server_port}"

    yield _serve
    for server, thread in running:
        server.shutdown()  # type: ignore[attr-defined]
        server.server_close()  # type: ignore[attr-defined]
        thread.join(timeout=10)

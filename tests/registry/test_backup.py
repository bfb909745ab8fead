"""Backups restored into a fresh database: same rows, an index that verifies clean, and a
backup file that was altered is refused."""

import os
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from registry import migrate
from registry.backup import BackupError, backup, restore, table_counts
from registry.db import db, make_engine
from registry.records import upsert_record
from registry.subjects import register_subject
from search.maintenance import verify
from search.sql import SqlBackend
from search.sync import drain_once
from tests import factories
from tests.conftest import TEST_START
from tests.factories import TEST_ACTOR

POSTGRES_URL = os.environ.get("CREDITREG_TEST_DATABASE_URL")


def seed(app, clock):
    """A member, two subjects with a record each, indexed by the SQL backend; committed."""
    with app.app_context():
        from registry.runtime import current_runtime

        session = db.session
        runtime = current_runtime()
        regulator = factories.member(session, kind="regulator", roles=("submitter",))
        for n, name in enumerate(["北京华信科技有限公司", "上海华信贸易有限公司"]):
            subject = register_subject(
                session,
                actor=TEST_ACTOR,
                vault=runtime.vault,
                kind="enterprise",
                name=name,
                uscc=factories.uscc(n + 1),
            )
            upsert_record(
                session,
                actor=TEST_ACTOR,
                member=regulator,
                subject=subject,
                member_record_id=f"P-{n}",
                fields={"category": "honour", "polarity": "positive", "authority": "某局"},
                now=clock.now(),
            )
        session.commit()
        backend = SqlBackend(lambda: db.engine)
        while drain_once(session, backend, clock.now()):
            session.commit()
        session.commit()


def verified_clean(url: str) -> bool:
    engine = make_engine(url)
    try:
        with sa.orm.Session(engine) as session:
            return verify(session, SqlBackend(lambda: engine)).clean
    finally:
        engine.dispose()


def round_trip(source_url, target_url, make_app, clock, tmp_path):
    app = make_app(source_url)
    with app.app_context():
        migrate.upgrade(db.engine)
    seed(app, clock)
    with app.app_context():
        counts = table_counts(db.engine)
        result = backup(db.engine, tmp_path / "registry.backup", now=TEST_START)
    assert result.manifest["tables"] == counts
    # Every record and the vault's ciphertexts are in it: readable by its owner only.
    assert result.path.stat().st_mode & 0o777 == 0o600
    assert counts["subjects"] == 2 and counts["credit_records"] == 2
    assert counts["search_documents"] == 2
    with pytest.raises(BackupError, match="never overwrites"), app.app_context():
        backup(db.engine, tmp_path / "registry.backup", now=TEST_START)

    target = make_engine(target_url)
    try:
        manifest = restore(result.path, target)
        assert table_counts(target) == counts == manifest["tables"]
        with target.connect() as connection:
            assert migrate.is_at_head(connection)
        # Not into a database that holds anything.
        with pytest.raises(BackupError, match="empty one"):
            restore(result.path, target)
    finally:
        target.dispose()
    assert verified_clean(target_url)
    return result.path


def test_sqlite_backup_restores_into_a_fresh_file(make_app, clock, tmp_path):
    path = round_trip(
        f"sqlite:///{tmp_path / 'source.db'}",
        f"sqlite:///{tmp_path / 'restored.db'}",
        make_app,
        clock,
        tmp_path,
    )
    # One byte changed anywhere: the manifest's digest no longer matches.
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(BackupError, match="does not match its manifest"):
        restore(path, make_engine(f"sqlite:///{tmp_path / 'other.db'}"))


@pytest.mark.skipif(not POSTGRES_URL, reason="needs CREDITREG_TEST_DATABASE_URL")
def test_postgresql_backup_restores_into_a_fresh_database(make_app, clock, tmp_path):
    assert POSTGRES_URL is not None
    base = sa.make_url(POSTGRES_URL)
    names = [f"creditreg_test_backup_{uuid.uuid4().hex[:8]}_{side}" for side in ("a", "b")]
    admin = sa.create_engine(
        base.set(database="postgres"), isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool
    )
    with admin.connect() as connection:
        for name in names:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        urls = [base.set(database=name).render_as_string(hide_password=False) for name in names]
        round_trip(urls[0], urls[1], make_app, clock, tmp_path)
    finally:
        # FORCE: the source app's pooled connections are still open until teardown.
        with admin.connect() as connection:
            for name in names:
                connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_a_backup_needs_its_manifest(tmp_path):
    lone = Path(tmp_path / "lone.backup")
    lone.write_bytes(b"not a backup")
    with pytest.raises(BackupError, match="no manifest"):
        restore(lone, make_engine(f"sqlite:///{tmp_path / 'x.db'}"))


def test_backup_and_restore_commands(make_app, clock, tmp_path):
    app = make_app(f"sqlite:///{tmp_path / 'source.db'}")
    with app.app_context():
        migrate.upgrade(db.engine)
    seed(app, clock)
    runner = app.test_cli_runner()
    out = tmp_path / "nightly.backup"
    made = runner.invoke(args=["backup", str(out)])
    assert made.exit_code == 0, made.output
    assert out.exists() and Path(f"{out}.json").exists()
    target = f"sqlite:///{tmp_path / 'restored.db'}"
    restored = runner.invoke(args=["restore", str(out), "--into", target])
    assert restored.exit_code == 0, restored.output
    assert "row counts match the manifest" in restored.output
    again = runner.invoke(args=["restore", str(out), "--into", target])
    assert again.exit_code != 0 and "empty one" in again.output

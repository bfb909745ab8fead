"""Several workers drain one outbox on PostgreSQL without taking the same rows."""

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from config import load_settings
from registry import migrate
from registry.audit import Actor
from registry.outbox import SearchOutbox
from registry.runtime import Runtime
from registry.subjects import register_subject
from search.maintenance import verify
from search.sql import SqlBackend
from search.sync import drain_once
from tests import factories
from tests.conftest import POSTGRES_URL, TEST_START

pytestmark = pytest.mark.skipif(not POSTGRES_URL, reason="needs CREDITREG_TEST_DATABASE_URL")


@pytest.fixture
def workers_database():
    """A database of its own: this test commits from several connections."""
    base = sa.make_url(POSTGRES_URL)
    name = f"{base.database}_workers"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as connection:
        connection.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        connection.execute(sa.text(f"CREATE DATABASE {name}"))
    engine = sa.create_engine(base.set(database=name), pool_size=4)
    migrate.upgrade(engine)
    yield engine
    engine.dispose()
    with admin.connect() as connection:
        connection.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    admin.dispose()


def test_workers_skip_each_others_rows(workers_database):
    # Settings of the test profile, not the app fixture: this test has a database of its
    # own and runs once, whatever the database parameters of the rest of the suite.
    runtime = Runtime.from_settings(load_settings("test", environ={}))
    engine = workers_database
    with Session(engine) as session:
        for n in range(30):
            register_subject(
                session,
                actor=Actor.system("test"),
                vault=runtime.vault,
                kind="enterprise",
                name=f"并发测试{n}有限公司",
                uscc=factories.uscc(5000 + n),
            )
        session.commit()
    backend = SqlBackend(lambda: engine)
    claimed: dict[str, list[int]] = {}
    inside = threading.Barrier(2)

    def work(name: str) -> None:
        with Session(engine) as session:
            rows = (
                session.execute(
                    sa.select(SearchOutbox.id)
                    .where(SearchOutbox.processed_at.is_(None))
                    .order_by(SearchOutbox.id)
                    .limit(20)
                    .with_for_update(skip_locked=True)
                )
                .scalars()
                .all()
            )
            claimed[name] = list(rows)
            inside.wait(timeout=10)  # both hold their claims at the same time
            session.rollback()

    threads = [threading.Thread(target=work, args=(n,)) for n in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(claimed["a"]) + len(claimed["b"]) == 30
    assert not set(claimed["a"]) & set(claimed["b"])

    # And the real drain, from two workers at once, applies each row once.
    handled: list[int] = []

    def drain(_: int) -> None:
        with Session(engine) as session:
            while count := drain_once(session, backend, TEST_START, batch=7):
                handled.append(count)
                session.commit()

    threads = [threading.Thread(target=drain, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(handled) == 30
    with Session(engine) as session:
        assert (
            session.scalar(
                sa.select(sa.func.count())
                .select_from(SearchOutbox)
                .where(SearchOutbox.processed_at.is_(None))
            )
            == 0
        )
        assert len(backend.versions(session=session)) == 30


# A worker that claims a batch, builds its documents and then hangs while writing them.
STUCK_WORKER = """
import sys, time
from datetime import UTC, datetime
import sqlalchemy as sa
from sqlalchemy.orm import Session
import registry.models  # every mapped class, before the first query
from search.sql import SqlBackend
from search.sync import drain_once

class Stuck(SqlBackend):
    def index(self, documents, *, session=None):
        print(len(documents), flush=True)
        time.sleep(600)

engine = sa.create_engine(sys.argv[1])
with Session(engine) as session:
    drain_once(session, Stuck(lambda: engine), datetime.now(UTC), batch=20)
"""


def test_a_worker_killed_mid_batch_leaves_its_rows_to_the_next(workers_database):
    runtime = Runtime.from_settings(load_settings("test", environ={}))
    engine = workers_database
    with Session(engine) as session:
        for n in range(30):
            register_subject(
                session,
                actor=Actor.system("test"),
                vault=runtime.vault,
                kind="enterprise",
                name=f"中断测试{n}有限公司",
                uscc=factories.uscc(6000 + n),
            )
        session.commit()
    url = engine.url.render_as_string(hide_password=False)
    stuck = subprocess.Popen(  # noqa: S603 - this interpreter, the script above
        [sys.executable, "-c", STUCK_WORKER, url],
        stdout=subprocess.PIPE,
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        assert stuck.stdout is not None
        assert stuck.stdout.readline().strip() == b"20"  # in the middle of its batch
        backend = SqlBackend(lambda: engine)
        with Session(engine) as session:
            # While it lives, its 20 rows are skipped: the other worker takes the other 10.
            assert drain_once(session, backend, TEST_START) == 10
            session.commit()
            assert drain_once(session, backend, TEST_START) == 0
            session.rollback()
    finally:
        stuck.kill()
        stuck.wait()
        if stuck.stdout is not None:
            stuck.stdout.close()
    # The killed worker's connection is gone, its transaction rolled back, its rows free.
    deadline = time.monotonic() + 10
    with Session(engine) as session:
        handled = 0
        while handled < 20 and time.monotonic() < deadline:
            handled += drain_once(session, backend, TEST_START)
            session.commit()
        assert handled == 20
        report = verify(session, backend)
        assert report.clean and report.index == 30

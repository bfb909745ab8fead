"""A pooled PostgreSQL connection is pinged only when in doubt: one given back a moment ago
goes out as it is, one the server ended or that sat idle is checked and replaced if dead."""

import time

import pytest
import sqlalchemy as sa

from registry import db as registry_db
from registry.db import make_engine
from tests.conftest import POSTGRES_URL

pytestmark = pytest.mark.skipif(POSTGRES_URL is None, reason="needs PostgreSQL")


@pytest.fixture
def engine():
    made = make_engine(POSTGRES_URL, pool_size=1)
    yield made
    made.dispose()


@pytest.fixture
def observer():
    """A connection of its own, to see what the pooled connection's server process did."""
    watcher = sa.create_engine(POSTGRES_URL, poolclass=sa.pool.NullPool)
    with watcher.connect() as connection:
        yield connection
    watcher.dispose()


def last_sent(observer, pid):
    """When the server process last began a statement (None: it is gone)."""
    observer.rollback()  # a fresh snapshot of pg_stat_activity
    return observer.scalar(
        sa.text("SELECT query_start FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}
    )


def used_once(engine):
    """Check a connection out, use it, give it back; its server process id."""
    with engine.connect() as connection:
        return connection.scalar(sa.text("SELECT pg_backend_pid()"))


@pytest.fixture
def patient(monkeypatch):
    """However slow the machine, a connection given back in the test counts as recent."""
    monkeypatch.setattr(registry_db, "RECENTLY_USED_SECONDS", 3600.0)


def test_a_connection_given_back_a_moment_ago_goes_out_without_a_ping(engine, observer, patient):
    pid = used_once(engine)
    given_back = last_sent(observer, pid)  # the rollback of its return to the pool
    with engine.connect() as connection:
        # Checked out, and nothing was sent on it.
        assert last_sent(observer, pid) == given_back
        assert connection.scalar(sa.text("SELECT pg_backend_pid()")) == pid


def test_a_connection_idle_for_a_while_is_pinged_first(engine, observer, monkeypatch):
    pid = used_once(engine)
    given_back = last_sent(observer, pid)
    monkeypatch.setattr(registry_db, "RECENTLY_USED_SECONDS", 0.0)
    with engine.connect() as connection:
        assert last_sent(observer, pid) > given_back  # pinged on the way out of the pool
        assert connection.scalar(sa.text("SELECT pg_backend_pid()")) == pid


def test_a_connection_the_server_ended_is_replaced_before_it_is_used(engine, observer, patient):
    pid = used_once(engine)
    observer.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    observer.commit()
    deadline = time.monotonic() + 5
    while last_sent(observer, pid) is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    # Given back a moment ago, but the server wrote its goodbye on the socket: the pool
    # notices, opens another connection, and the caller never sees the dead one.
    with engine.connect() as connection:
        replacement = connection.scalar(sa.text("SELECT pg_backend_pid()"))
    assert replacement != pid

"""SQLite transactions begin at their first write, so a transaction that read first still
gets to write after another connection committed (it used to be refused at once)."""

import threading
import time

import pytest
import sqlalchemy as sa

from registry.db import WriterTurns, _writer_turns, make_engine

COUNTERS = sa.table("counters", sa.column("id"), sa.column("n"))


@pytest.fixture
def engine(fresh_sqlite_url):
    """A registry engine on a file holding one table of counters: (1, 0) and (2, 0)."""
    made = make_engine(fresh_sqlite_url)
    with made.begin() as setup:
        setup.execute(sa.text("CREATE TABLE counters (id INTEGER PRIMARY KEY, n INTEGER)"))
        setup.execute(sa.text("INSERT INTO counters VALUES (1, 0), (2, 0)"))
    yield made
    made.dispose()


def counts(engine):
    """The counters' values, in id order, as committed."""
    with engine.connect() as check:
        return check.execute(sa.text("SELECT n FROM counters ORDER BY id")).scalars().all()


def impatient(connection):
    """Refuse at once instead of waiting out the busy timeout for the write lock."""
    connection.exec_driver_sql("PRAGMA busy_timeout = 0")
    connection.commit()
    return connection


def test_a_transaction_that_read_writes_after_another_connection_committed(engine):
    with engine.connect() as reader, engine.connect() as other, reader.begin():
        assert reader.execute(sa.text("SELECT n FROM counters WHERE id = 1")).scalar() == 0
        with other.begin():
            other.execute(sa.text("UPDATE counters SET n = n + 1 WHERE id = 2"))
        # Under a deferred BEGIN this write found its snapshot stale: "database is
        # locked" at once, whatever the busy timeout.
        reader.execute(sa.text("UPDATE counters SET n = n + 1 WHERE id = 1"))
        # From its first write on the transaction sees the latest commit.
        assert reader.execute(sa.text("SELECT n FROM counters WHERE id = 2")).scalar() == 1
    assert counts(engine) == [1, 1]


def test_a_write_transaction_holds_the_lock_until_it_ends(engine):
    # The first write takes the write lock (BEGIN IMMEDIATE): a second writer waits for the
    # first to end instead of interleaving, which is what the row locks of the PostgreSQL
    # paths (SELECT ... FOR UPDATE, the chain head UPDATE) count on.
    with engine.connect() as first, engine.connect() as second:
        impatient(second)
        with first.begin():
            first.execute(sa.text("UPDATE counters SET n = n + 1"))
            with pytest.raises(sa.exc.OperationalError, match="locked"), second.begin():
                second.execute(sa.text("UPDATE counters SET n = n + 10"))
            # Reading is never held up by the writer (WAL), and sees only what is committed.
            with second.begin():
                assert second.execute(sa.text("SELECT sum(n) FROM counters")).scalar() == 0


def test_select_for_update_takes_the_write_lock_sqlite_cannot_express(engine):
    with engine.connect() as first, engine.connect() as second:
        impatient(second)
        with first.begin():
            first.execute(sa.select(COUNTERS.c.id).with_for_update()).all()
            with second.begin():
                # A plain read still goes ahead...
                assert len(second.execute(sa.select(COUNTERS.c.id)).all()) == 2
            # ...a locking read waits for the first transaction to end.
            with pytest.raises(sa.exc.OperationalError, match="locked"), second.begin():
                second.execute(sa.select(COUNTERS.c.id).with_for_update()).all()


def wait_until(condition, seconds=10.0):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def test_writers_take_the_write_lock_in_the_order_they_asked_for_it(engine, fresh_sqlite_url):
    # SQLite's own wait polls with ever longer sleeps, so a writer that had waited long kept
    # losing the lock to later ones; the writers of one process queue instead.
    turns = _writer_turns(sa.make_url(fresh_sqlite_url))
    order = []

    def write(n):
        with engine.begin() as connection:
            connection.execute(sa.text("UPDATE counters SET n = n + 1 WHERE id = 1"))
            order.append(n)

    writers = [threading.Thread(target=write, args=(n,)) for n in range(1, 6)]
    with engine.connect() as first, first.begin():
        first.execute(sa.text("UPDATE counters SET n = n + 1 WHERE id = 2"))
        for queued, writer in enumerate(writers, start=1):
            writer.start()
            wait_until(lambda queued=queued: turns.waiting == queued)
    for writer in writers:
        writer.join()

    assert order == [1, 2, 3, 4, 5]
    assert counts(engine) == [5, 1]


def test_a_writer_out_of_patience_leaves_the_queue(engine, fresh_sqlite_url):
    turns = _writer_turns(sa.make_url(fresh_sqlite_url))
    with engine.connect() as first, engine.connect() as second:
        impatient(second)
        with first.begin():
            first.execute(sa.text("UPDATE counters SET n = n + 1"))
            with pytest.raises(sa.exc.OperationalError, match="locked"), second.begin():
                second.execute(sa.text("UPDATE counters SET n = n + 10"))
            assert turns.waiting == 0
        # The first writer's turn ended with its transaction: the impatient one gets it now.
        with second.begin():
            second.execute(sa.text("UPDATE counters SET n = n + 10"))


def test_a_connection_dropped_in_its_transaction_ends_its_turn(engine):
    with engine.connect() as first, engine.connect() as second:
        impatient(second)
        first.begin()
        first.execute(sa.text("UPDATE counters SET n = n + 1"))
        first.invalidate()  # the connection is closed without a commit or a rollback
        with second.begin():
            second.execute(sa.text("UPDATE counters SET n = n + 10"))
    assert counts(engine) == [10, 10]


class BrokenOffTurns(WriterTurns):
    """Turns whose waits are broken off (as by KeyboardInterrupt) as soon as they begin."""

    @staticmethod
    def _wait(signal, seconds):
        raise KeyboardInterrupt


def test_a_wait_broken_off_leaves_no_one_behind_in_the_queue():
    turns = BrokenOffTurns()
    first, second, third = object(), object(), object()
    turns.take(first, patience=lambda: 0)

    with pytest.raises(KeyboardInterrupt):
        turns.take(second, patience=lambda: 30)
    assert turns.waiting == 0
    turns.give_back(first)
    # Nobody holds the turn: a writer that will not wait at all gets it.
    turns.take(third, patience=lambda: 0)
    turns.take(third, patience=lambda: 0)  # its own turn again, not a wait behind itself


def test_a_turn_given_back_from_inside_the_queues_lock_does_not_hang():
    # The pool gives a leaked connection back from the garbage collector, which can run on
    # a thread that is inside take() holding the queue's lock.
    turns = WriterTurns()
    holder = object()
    turns.take(holder, patience=lambda: 0)

    def collect_while_taking():
        with turns._lock:
            turns.give_back(holder)

    collector = threading.Thread(target=collect_while_taking, daemon=True)
    collector.start()
    collector.join(5)
    assert not collector.is_alive()
    turns.take(object(), patience=lambda: 0)


def test_a_commit_that_failed_and_left_its_transaction_open_ends_it_when_given_back(engine):
    # A deferred foreign key fails the COMMIT itself, and SQLite keeps the transaction (and
    # its write lock) open; SQLAlchemy then skips the pool's rollback.
    with engine.begin() as setup:
        setup.execute(sa.text("CREATE TABLE parents (id INTEGER PRIMARY KEY)"))
        setup.execute(
            sa.text(
                "CREATE TABLE children (parent_id INTEGER REFERENCES parents (id) "
                "DEFERRABLE INITIALLY DEFERRED)"
            )
        )
    with engine.connect() as failing:
        failing.begin()
        failing.execute(sa.text("INSERT INTO children VALUES (7)"))
        with pytest.raises(sa.exc.IntegrityError):
            failing.commit()
    with engine.connect() as second:
        impatient(second)
        with second.begin():
            second.execute(sa.text("UPDATE counters SET n = n + 10"))

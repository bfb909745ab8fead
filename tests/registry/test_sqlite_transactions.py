"""SQLite transactions begin at their first write, so a transaction that read first still
gets to write after another connection committed (it used to be refused at once)."""

import sqlalchemy as sa

from registry.db import make_engine


def test_a_transaction_that_read_writes_after_another_connection_committed(fresh_sqlite_url):
    engine = make_engine(fresh_sqlite_url)
    with engine.begin() as setup:
        setup.execute(sa.text("CREATE TABLE counters (id INTEGER PRIMARY KEY, n INTEGER)"))
        setup.execute(sa.text("INSERT INTO counters VALUES (1, 0), (2, 0)"))
    try:
        with engine.connect() as reader, engine.connect() as other, reader.begin():
            assert reader.execute(sa.text("SELECT n FROM counters WHERE id = 1")).scalar() == 0
            with other.begin():
                other.execute(sa.text("UPDATE counters SET n = n + 1 WHERE id = 2"))
            # Under a deferred BEGIN this write found its snapshot stale: "database is
            # locked" at once, whatever the busy timeout.
            reader.execute(sa.text("UPDATE counters SET n = n + 1 WHERE id = 1"))
            # From its first write on the transaction sees the latest commit.
            assert reader.execute(sa.text("SELECT n FROM counters WHERE id = 2")).scalar() == 1
        with engine.connect() as check:
            assert check.execute(sa.text("SELECT n FROM counters ORDER BY id")).scalars().all() == [
                1,
                1,
            ]
    finally:
        engine.dispose()


def test_a_write_transaction_holds_the_lock_until_it_ends(fresh_sqlite_url):
    # The first write takes the write lock (BEGIN IMMEDIATE): a second writer waits for the
    # first to end instead of interleaving, which is what the row locks of the PostgreSQL
    # paths (SELECT ... FOR UPDATE, the chain head UPDATE) count on.
    engine = make_engine(fresh_sqlite_url)
    with engine.begin() as setup:
        setup.execute(sa.text("CREATE TABLE counters (id INTEGER PRIMARY KEY, n INTEGER)"))
        setup.execute(sa.text("INSERT INTO counters VALUES (1, 0)"))
    try:
        with engine.connect() as first, engine.connect() as second:
            second.exec_driver_sql("PRAGMA busy_timeout = 0")  # refused at once, not later
            second.commit()
            with first.begin():
                first.execute(sa.text("UPDATE counters SET n = n + 1"))
                refused = None
                try:
                    with second.begin():
                        second.execute(sa.text("UPDATE counters SET n = n + 10"))
                except sa.exc.OperationalError as exc:
                    refused = exc
                assert refused is not None and "locked" in str(refused)
                # Reading is never held up by the writer (WAL).
                assert second.execute(sa.text("SELECT n FROM counters")).scalar() == 0
                second.rollback()
    finally:
        engine.dispose()


def test_select_for_update_takes_the_write_lock_sqlite_cannot_express(fresh_sqlite_url):
    engine = make_engine(fresh_sqlite_url)
    metadata = sa.MetaData()
    counters = sa.Table("counters", metadata, sa.Column("id", sa.Integer, primary_key=True))
    metadata.create_all(engine)
    try:
        with engine.connect() as first, engine.connect() as second:
            second.exec_driver_sql("PRAGMA busy_timeout = 0")  # refused at once, not later
            second.commit()
            with first.begin():
                first.execute(sa.select(counters.c.id).with_for_update())
                with second.begin():
                    # A plain read still goes ahead...
                    second.execute(sa.select(counters.c.id)).all()
                try:
                    with second.begin():
                        # ...a locking read waits for the first transaction.
                        second.execute(sa.select(counters.c.id).with_for_update()).all()
                except sa.exc.OperationalError as exc:
                    assert "locked" in str(exc)
                else:
                    raise AssertionError("a second SELECT ... FOR UPDATE did not wait")
    finally:
        engine.dispose()

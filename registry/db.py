"""Database foundations: the declarative base, shared column types, engines and sessions.

One session per request (or per CLI command / worker round); operations only ``flush()`` and
the caller that owns the unit of work commits once.
"""

from __future__ import annotations

import collections
import os
import re
import select
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, TypeVar, cast

import sqlalchemy as sa
from flask import Flask, current_app, g
from sqlalchemy import JSON, CheckConstraint, MetaData, event
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import DeclarativeBase, Session, mapped_column, sessionmaker
from sqlalchemy.types import TypeDecorator


def utc_now() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every backend.

    PostgreSQL keeps ``timestamptz``; SQLite has no time zones, so values are stored as naive
    UTC and given back their zone on the way out. Naive input is refused: a naive time in a
    credit registry is a bug waiting to shift a deadline by eight hours.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where a timezone-aware one is required")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# JSONB on PostgreSQL (indexable, compact), plain JSON text elsewhere.
JSONType = JSON().with_variant(JSONB(), "postgresql")


class DecimalText(TypeDecorator[Decimal]):
    """An exact decimal with cents kept as text, for SQLite, which would store a float.

    Values are rounded to cents like PostgreSQL's NUMERIC(20, 2), so both backends agree.
    """

    impl = sa.String(40)
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect: sa.Dialect) -> str | None:
        return None if value is None else str(Decimal(value).quantize(Decimal("0.01")))

    def process_result_value(self, value: str | None, dialect: sa.Dialect) -> Decimal | None:
        return None if value is None else Decimal(value)


# Money: a decimal with cents, never a float. 18 digits before the point covers any amount.
MoneyType = sa.Numeric(20, 2, asdecimal=True).with_variant(DecimalText(), "sqlite")

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSONType,
        list[Any]: JSONType,
        Decimal: MoneyType,
        uuid.UUID: sa.Uuid(),
    }


uuid_pk = Annotated[uuid.UUID, mapped_column(primary_key=True, default=uuid.uuid4)]
# A timestamp that defaults to the time of the insert (operations usually pass their clock's).
timestamp_now = Annotated[datetime, mapped_column(default=utc_now)]


def one_of(
    column: str, allowed: Iterable[str] | type[StrEnum], name: str | None = None
) -> CheckConstraint:
    """A CHECK constraint that keeps ``column`` within ``allowed`` (an enum or strings)."""
    values = [str(v) for v in allowed]
    quoted = ", ".join("'" + v.replace("'", "''") + "'" for v in values)
    return CheckConstraint(f"{column} IN ({quoted})", name=name or f"{column}_allowed")


# How long a SQLite writer waits for the write lock before the request fails (503).
SQLITE_BUSY_TIMEOUT_SECONDS = 30


def make_engine(url: str, *, pool_size: int = 5, echo: bool = False) -> Engine:
    """Create the engine for ``url`` with the settings this registry relies on.

    SQLite gets WAL (readers never wait for the writer), enforced foreign keys, a busy
    timeout, and transactions that SQLAlchemy controls itself (the sqlite3 module's own
    implicit BEGIN would otherwise break SAVEPOINTs), begun as :func:`_sqlite_transactions`
    explains.
    """
    sa_url = sa.make_url(url)
    if sa_url.get_backend_name() == "sqlite":
        engine = sa.create_engine(
            sa_url,
            echo=echo,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_SECONDS},
        )

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            if sa_url.database and sa_url.database != ":memory:":
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_SECONDS * 1000}")
            cursor.close()

        _sqlite_transactions(engine, _writer_turns(sa_url))
        return engine
    engine = sa.create_engine(
        sa_url,
        echo=echo,
        pool_size=pool_size,
        max_overflow=pool_size * 2,
        # The connection given back last goes out first: under light load a few connections
        # stay in use (and unpinged, below) while the others age in the pool.
        pool_use_lifo=True,
    )
    _ping_only_when_in_doubt(engine)
    return engine


# A pooled connection given back less than this long ago is taken from the pool unpinged,
# unless its socket says the server wrote to it meanwhile.
RECENTLY_USED_SECONDS = 5.0
_LAST_USED = "creditreg.last_used"


def _ping_only_when_in_doubt(engine: Engine) -> None:
    """Make sure a connection taken from the pool is alive, without a round trip when it
    was in use a moment ago.

    SQLAlchemy's ``pool_pre_ping`` sends a statement on every checkout: one round trip more
    for every request, which measured about a millisecond of a signed lookup's time. A
    PostgreSQL server that ends a connection (a restart, a terminated backend, an idle
    timeout) first writes its reason to it, so an idle connection with something to read is
    in doubt; so is one that sat in the pool for a while. Those are pinged, and a dead one
    makes the pool open another before the caller sees it (raising ``DisconnectionError``
    from ``checkout`` does that).

    The price: a link that dies without a word (the database host lost, a network cut) within
    seconds of the connection's last use shows at the request's first statement, which fails
    as a database outage does (503 with Retry-After) and makes SQLAlchemy renew the pool.
    """

    @event.listens_for(engine, "connect")
    def _connected(_dbapi_connection: Any, record: Any) -> None:
        record.info[_LAST_USED] = time.monotonic()

    @event.listens_for(engine, "checkin")
    def _given_back(_dbapi_connection: Any, record: Any) -> None:
        record.info[_LAST_USED] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _taken(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        last_used = record.info.get(_LAST_USED)
        recent = last_used is not None and time.monotonic() - last_used < RECENTLY_USED_SECONDS
        if recent and not _server_wrote(dbapi_connection):
            return
        try:
            engine.dialect.do_ping(dbapi_connection)  # one round trip, outside any transaction
        except Exception as exc:  # noqa: BLE001 - whatever the driver raises, the link is gone
            raise sa.exc.DisconnectionError(f"a pooled connection is dead: {exc}") from exc


def _server_wrote(dbapi_connection: Any) -> bool:
    """Whether an idle connection's socket has something to read (the server only writes
    unasked to say the connection ends, or a notice); True when it cannot be told (the
    driver knows the connection lost, or has no socket to look at)."""
    try:
        poller = select.poll()
        poller.register(dbapi_connection.fileno(), select.POLLIN)
        return bool(poller.poll(0))
    except Exception:  # noqa: BLE001 - psycopg raises its own error for a lost connection
        return True


# Set in a SQLite connection's info while its transaction has not yet sent BEGIN.
_SQLITE_NOT_BEGUN = "creditreg.sqlite_not_begun"
_SQLITE_WRITES = re.compile(r"\b(INSERT|UPDATE|DELETE|REPLACE)\b", re.IGNORECASE)


def _sqlite_transactions(engine: Engine, turns: WriterTurns) -> None:
    """Begin each SQLite transaction at its first write, with BEGIN IMMEDIATE, in turn.

    A transaction that read under a plain (deferred) BEGIN and then writes must turn its
    read snapshot into a write lock; if another connection committed in between, SQLite
    refuses at once with "database is locked", whatever the busy timeout (waiting cannot make
    an old snapshot current). Lookups read, then write their query-log row, so four members
    looking up at the same time got 503s for most of their requests.

    So the reads before a transaction's first write run as statements of their own, each
    seeing the latest commit (what PostgreSQL's READ COMMITTED gives the same code), and the
    first write -- or a SELECT ... FOR UPDATE, which SQLite cannot express, or a SAVEPOINT --
    sends BEGIN IMMEDIATE: it waits its turn for the write lock under the busy timeout, and
    from then on the transaction is serialised with every other writer, as the row locks
    serialise it on PostgreSQL.

    The writers of this process take their turns first come, first served (``turns``):
    SQLite's own wait is a poll that sleeps longer and longer, so a writer that had waited
    long lost the lock again and again to ones that came after it (eight clients sending
    500-record batches saw a median of 0.5 s and a slowest of 3.2 s). Writers of other
    processes (workers, commands) still meet at SQLite's lock.
    """

    @event.listens_for(engine, "begin")
    def _not_yet(conn: Connection) -> None:
        conn.info[_SQLITE_NOT_BEGUN] = True

    def _begin_at_first_write(cursor: Any, statement: str, _parameters: Any, context: Any) -> None:
        # A dialect-level hook, so that a refusal (the busy timeout ran out) comes out as
        # SQLAlchemy's OperationalError, like any other, for the callers that answer 503.
        info = context.root_connection.info
        if info.get(_SQLITE_NOT_BEGUN) and not _sqlite_reads_only(statement, context):
            dbapi_connection = cursor.connection
            turns.take(dbapi_connection, patience=lambda: _busy_timeout(cursor))
            try:
                cursor.execute("BEGIN IMMEDIATE")
            except BaseException:
                if not _in_transaction(dbapi_connection):
                    turns.give_back(dbapi_connection)
                raise
            info[_SQLITE_NOT_BEGUN] = False

    for hook in ("do_execute", "do_executemany"):
        event.listen(engine, hook, _begin_at_first_write)
    event.listen(
        engine,
        "do_execute_no_params",
        lambda cursor, statement, context: _begin_at_first_write(cursor, statement, None, context),
    )

    # The turn ends with the transaction, however it ends: a commit or rollback (including
    # the pool's rollback of a connection given back), or the connection given back, closed
    # or dropped.
    dialect = engine.dialect
    for name in ("do_commit", "do_rollback"):
        _give_back_after(dialect, name, turns)
    for pool_event in ("checkin", "close", "invalidate"):
        event.listen(
            engine,
            pool_event,
            lambda dbapi_connection, *_args: turns.give_back(dbapi_connection),
        )

    @event.listens_for(engine, "reset")
    def _end_what_a_failed_commit_left_open(dbapi_connection: Any, *_args: Any) -> None:
        # After a failed COMMIT SQLAlchemy skips the pool's rollback, but SQLite may have
        # kept the transaction open, and its write lock with it. (A rollback that fails
        # makes the pool close the connection, which ends both.)
        if _in_transaction(dbapi_connection):
            dbapi_connection.rollback()


def _give_back_after(dialect: Any, name: str, turns: WriterTurns) -> None:
    """Wrap this engine's ``dialect.<name>(dbapi_connection)`` to end the connection's turn
    once its transaction has ended (each engine has its own dialect object). A COMMIT that
    failed can leave the transaction open, and the write lock with it: the turn stays."""
    original = getattr(dialect, name)

    def ended(dbapi_connection: Any) -> None:
        try:
            original(dbapi_connection)
        finally:
            if not _in_transaction(dbapi_connection):
                turns.give_back(dbapi_connection)

    setattr(dialect, name, ended)


def _busy_timeout(cursor: Any) -> float:
    """The connection's busy timeout, in seconds (a test may set it to 0: refuse at once)."""
    return float(cursor.execute("PRAGMA busy_timeout").fetchone()[0]) / 1000


class WriterTurns:
    """First come, first served turns at one SQLite database's write lock, among the threads
    of this process: a writer that finds the lock taken queues and is handed the turn when
    the writer before it ends its transaction.

    A connection holds at most one turn and only one connection holds it at a time. The
    garbage collector can give a turn back (the pool rolls back a leaked connection) on any
    thread, at any allocation, even one made inside this class: so the queue's lock is
    reentrant, and a waiter blocks on a lock of its own, taken beforehand, which handing it
    the turn releases without ever blocking.
    """

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._holder: Any = None
        self._queue: collections.deque[tuple[Any, threading.Lock]] = collections.deque()

    def take(self, connection: Any, *, patience: Callable[[], float]) -> None:
        """Wait for ``connection``'s turn, at most ``patience()`` seconds (asked only when
        another connection holds the turn). Another process may still hold SQLite's lock
        after that: BEGIN IMMEDIATE then waits its own busy timeout, so a writer waits at
        most twice its busy timeout in all.

        :raises sqlite3.OperationalError: "database is locked", as SQLite says it, when the
            wait runs out.
        """
        connection = _driver_connection(connection)
        with self._lock:
            if self._holder is None:
                self._holder = connection
            if self._holder is connection:
                return
        # Everything that can fail is done before joining the queue.
        seconds = patience()
        signal = threading.Lock()
        signal.acquire()
        entry = (connection, signal)
        with self._lock:
            self._queue.append(entry)
            if self._holder is None:  # given back meanwhile
                self._hand_on()
        try:
            self._wait(signal, seconds)
        except BaseException:
            if self._leave(entry):
                self.give_back(connection)
            raise
        if not self._leave(entry):
            raise sqlite3.OperationalError("database is locked")

    @staticmethod
    def _wait(signal: threading.Lock, seconds: float) -> None:
        signal.acquire(timeout=seconds)

    def _leave(self, entry: tuple[Any, threading.Lock]) -> bool:
        """Out of the queue if still in it; whether the entry's connection holds the turn."""
        with self._lock:
            if entry in self._queue:  # not handed the turn (_hand_on took it out)
                self._queue.remove(entry)
            return self._holder is entry[0]

    def give_back(self, connection: Any) -> None:
        """End ``connection``'s turn, if it holds it: the next writer in the queue gets it."""
        connection = _driver_connection(connection)
        with self._lock:
            if self._holder is connection:
                self._holder = None
                self._hand_on()

    def _hand_on(self) -> None:
        """The free turn to the first writer in the queue (the queue's lock is held)."""
        if self._queue:
            self._holder, signal = self._queue.popleft()
            signal.release()

    @property
    def waiting(self) -> int:
        """How many writers are queued."""
        with self._lock:
            return len(self._queue)


def _in_transaction(connection: Any) -> bool:
    """Whether the sqlite3 connection is inside a transaction (a closed one is not)."""
    try:
        return bool(_driver_connection(connection).in_transaction)
    except sqlite3.ProgrammingError:
        return False


def _driver_connection(connection: Any) -> Any:
    """The sqlite3 connection itself: the dialect's commit and rollback are given the pool's
    proxy of it, the cursor and the pool's events the connection."""
    return getattr(connection, "dbapi_connection", connection)


_TURNS_BY_DATABASE: dict[str, WriterTurns] = {}
_TURNS_LOCK = threading.Lock()


def _writer_turns(url: sa.URL) -> WriterTurns:
    """The turns of one SQLite database file, shared by every engine of this process on it
    (the tests' several apps, a command run inside the server's process). An in-memory
    database is its engine's own."""
    database = url.database or ""
    if not database or database == ":memory:" or database.startswith("file:"):
        return WriterTurns()
    with _TURNS_LOCK:
        return _TURNS_BY_DATABASE.setdefault(os.path.realpath(database), WriterTurns())


def _sqlite_reads_only(statement: str, context: Any) -> bool:
    head = statement.lstrip()[:6].upper()
    if head.startswith("WITH"):
        if _SQLITE_WRITES.search(statement):
            return False
    elif head == "PRAGMA":
        # Schema inspection (table_info) or a connection setting: neither needs the lock.
        return True
    elif head != "SELECT":
        return False  # a write, DDL or SAVEPOINT
    compiled = getattr(context, "compiled", None)
    return getattr(getattr(compiled, "statement", None), "_for_update_arg", None) is None


@dataclass
class _BoundDatabase:
    engine: Engine
    sessions: sessionmaker[Session]


class Database:
    """The unbound database extension: ``db.init_app(app, url)`` binds it to one app.

    Several apps may live in one process (the tests make many), so the engine and session
    factory are kept per app in ``app.extensions`` and looked up through ``current_app``.
    ``db.session`` is the session of the current application context, created on first use
    and closed when the context ends. Commits happen in one place per unit of work (the API's
    after-request hook, a CLI command, a worker round); anything left uncommitted is rolled back.
    """

    EXTENSION_KEY = "creditreg.db"

    def init_app(self, app: Flask, url: str, *, pool_size: int = 5) -> None:
        engine = make_engine(url, pool_size=pool_size)
        app.extensions[self.EXTENSION_KEY] = _BoundDatabase(
            engine=engine, sessions=sessionmaker(bind=engine, expire_on_commit=False)
        )
        app.teardown_appcontext(self._close_session)

    def _bound(self, app: Flask | None = None) -> _BoundDatabase:
        app = app or current_app._get_current_object()  # type: ignore[attr-defined]
        try:
            return app.extensions[self.EXTENSION_KEY]  # type: ignore[no-any-return]
        except KeyError:
            raise RuntimeError("Database.init_app() has not been called for this app") from None

    @property
    def engine(self) -> Engine:
        return self._bound().engine

    def engine_of(self, app: Flask) -> Engine:
        return self._bound(app).engine

    def bind_to(self, app: Flask, connection: Connection) -> None:
        """Make the app's sessions join ``connection``'s transaction (tests roll it back)."""
        self._bound(app).sessions = sessionmaker(
            bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
        )

    def new_session(self) -> Session:
        """A session outside the request's unit of work (worker rounds, background jobs)."""
        return self._bound().sessions()

    @property
    def session(self) -> Session:
        session: Session | None = g.get("_creditreg_session")
        if session is None:
            session = self.new_session()
            g._creditreg_session = session
        return session

    def _close_session(self, _exc: BaseException | None) -> None:
        session: Session | None = g.pop("_creditreg_session", None)
        if session is not None:
            session.rollback()
            session.close()

    def dispose(self, app: Flask) -> None:
        self._bound(app).engine.dispose()


db = Database()


# --- Append-only rows written in bulk -----------------------------------------------------------

_DEFERRED_KEY = "creditreg.deferred_inserts"


def add_append_only(session: Session, model: type[Base], values: dict[str, Any]) -> None:
    """Add a row that nothing reads back in this transaction (an audit event, a version).

    Inside :func:`deferred_inserts` the row is kept aside and written with the others of its
    table in one statement; otherwise it is added to the session like any object.
    """
    deferred: dict[type[Base], list[dict[str, Any]]] | None = session.info.get(_DEFERRED_KEY)
    if deferred is None:
        _prepare(session, model, [values])
        session.add(model(**values))
    else:
        deferred.setdefault(model, []).append(values)


def _prepare(session: Session, model: type[Base], rows: list[dict[str, Any]]) -> None:
    """Let a model complete its rows just before they are written (the audit events take
    their hash-chain positions here, as late in the transaction as possible)."""
    prepare = getattr(model, "prepare_append_only", None)
    if prepare is not None:
        prepare(session, rows)


_TABLE_ORDER: dict[str, int] = {}


def _table_order() -> dict[str, int]:
    """Each table's place with parents before children. Sorting the metadata's tables takes
    longer than a small submission's inserts, so it is done again only when a table was
    declared since (every model is imported long before the first request)."""
    if len(_TABLE_ORDER) != len(Base.metadata.tables):
        _TABLE_ORDER.clear()
        _TABLE_ORDER.update(
            {table.name: index for index, table in enumerate(Base.metadata.sorted_tables)}
        )
    return _TABLE_ORDER


# From this many rows of one table, PostgreSQL gets them by COPY rather than by executemany:
# one stream of rows instead of a Bind and an Execute a row, on the client and the server
# (bench/RESULTS.md has the figures). A few rows are not worth a COPY's own round trips.
COPY_MIN_ROWS = 100


@contextmanager
def deferred_inserts(session: Session, *, copy_min_rows: int = COPY_MIN_ROWS) -> Iterator[None]:
    """Collect new rows during the block; on success, flush the session and insert them with
    one statement per table, parents before children: on PostgreSQL a COPY for a table with
    ``copy_min_rows`` rows or more, otherwise an executemany. On an exception nothing
    collected is written."""
    if _DEFERRED_KEY in session.info:
        yield  # already collecting: the outer block writes
        return
    deferred: dict[type[Base], list[dict[str, Any]]] = {}
    session.info[_DEFERRED_KEY] = deferred
    try:
        yield
    finally:
        session.info.pop(_DEFERRED_KEY, None)
    _write_deferred(session, deferred, copy_min_rows)


def _write_deferred(
    session: Session, deferred: dict[type[Base], list[dict[str, Any]]], copy_min_rows: int
) -> None:
    """The end of :func:`deferred_inserts`: the session's own changes, then the rows kept
    aside, one statement per table and set of columns."""
    session.flush()
    order = _table_order()
    copy = session.get_bind().dialect.name == "postgresql"
    for model in sorted(deferred, key=lambda m: order[m.__tablename__]):  # type: ignore[attr-defined]
        _prepare(session, model, deferred[model])
        table = cast(sa.Table, model.__table__)  # type: ignore[attr-defined]
        # The table's own insert (not the ORM's bulk insert): the rows are plain values and
        # need none of the ORM's per-row bookkeeping. One statement needs the same columns
        # in every row, so rows are grouped by their columns (a person and an enterprise,
        # say, set different identifier columns).
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for row in deferred[model]:
            groups.setdefault(tuple(sorted(row)), []).append(row)
        for columns, rows in groups.items():
            _insert_rows(session, table, columns, rows, copy=copy and len(rows) >= copy_min_rows)


def _insert_rows(
    session: Session,
    table: sa.Table,
    columns: tuple[str, ...],
    rows: list[dict[str, Any]],
    *,
    copy: bool,
) -> None:
    if copy:
        copy_rows(session.connection(), table, columns, rows)
    else:
        session.execute(table.insert(), rows)


def copy_rows(
    connection: sa.Connection, table: sa.Table, names: tuple[str, ...], rows: list[dict[str, Any]]
) -> None:
    """Insert ``rows`` (each with the columns ``names``) into ``table`` with PostgreSQL's
    COPY, in the connection's transaction, exactly as ``table.insert()`` would: each value
    through its column type's bind processing, and the columns left out given their
    defaults (a Python default here, a server default by the database)."""
    dialect = connection.dialect
    given = [table.c[name] for name in names]
    defaulted = [
        column
        for column in table.c
        if column.name not in names
        and column.default is not None
        and isinstance(column.default, sa.ColumnDefault)
    ]
    columns = given + defaulted
    processors = [column.type._cached_bind_processor(dialect) for column in columns]
    defaults = [_column_default(column) for column in defaulted]
    preparer = dialect.identifier_preparer
    statement = "COPY {} ({}) FROM STDIN".format(
        preparer.format_table(table), ", ".join(preparer.format_column(c) for c in columns)
    )
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    dbapi_error = dialect.loaded_dbapi.Error
    try:
        _copy(cursor, statement, names, rows, defaults, processors)
    except dbapi_error as exc:
        # Raised as SQLAlchemy raises a statement's errors, so that a unique key's race is
        # an IntegrityError (409) and a lost database an OperationalError (503), not a 500.
        raise sa.exc.DBAPIError.instance(
            statement, None, exc, dbapi_error, dialect=dialect
        ) from exc


def _copy(
    cursor: Any,
    statement: str,
    names: Iterable[str],
    rows: list[dict[str, Any]],
    defaults: list[Callable[[], Any]],
    processors: list[Any],
) -> None:
    with cursor.copy(statement) as stream:
        for row in rows:
            values = [row[name] for name in names] + [make() for make in defaults]
            # None too goes through its processor, as in an insert: a JSON column stores
            # it as JSON null.
            stream.write_row(
                [
                    value if process is None else process(value)
                    for value, process in zip(values, processors, strict=True)
                ]
            )


def _column_default(column: sa.Column[Any]) -> Callable[[], Any]:
    """A column's Python-side default as a function of nothing (a scalar or a callable that
    takes no context: the registry's defaults are both)."""
    default = column.default
    assert isinstance(default, sa.ColumnDefault)
    if default.is_callable:
        function = default.arg
        return lambda: function(None)  # type: ignore[operator]
    value = default.arg
    return lambda: value


def among(session: Session, column: Any, values: Iterable[Any]) -> sa.ColumnElement[bool]:
    """``column IN (values)`` for a set of hundreds of values (a batch of the search worker).

    On PostgreSQL it is ``column = ANY(:array)``: one parameter, where IN makes one per
    value, and SQLAlchemy and psycopg rework such a long statement on every execution
    (rendering each placeholder, rewriting them for the server: a tenth of the time it
    took to build a batch of 500 search documents).
    """
    wanted = list(values)
    if session.get_bind().dialect.name == "postgresql":
        array = sa.bindparam(None, wanted, type_=ARRAY(column.type))
        return column == sa.any_(array)
    return column.in_(wanted)


Row = TypeVar("Row", bound=Base)


def get_by_id(session: Session, model: type[Row], raw_id: str | uuid.UUID, *, what: str) -> Row:
    """The ``model`` row whose primary key is ``raw_id`` (a UUID, or its text as it arrived
    in a URL). A malformed id names no row: NotFound("no <what> with this id") either way.
    """
    from registry.errors import NotFound

    try:
        key = raw_id if isinstance(raw_id, uuid.UUID) else uuid.UUID(str(raw_id))
    except ValueError:
        key = None
    found = session.get(model, key) if key is not None else None
    if found is None:
        raise NotFound(f"no {what} with this id")
    return found

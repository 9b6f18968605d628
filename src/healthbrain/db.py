"""Engine, session factory and the declarative base shared by every domain."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, MetaData, create_engine, event
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import StaticPool

from healthbrain.config import Settings, get_settings, normalise_database_url

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # SQLAlchemy emits BEGIN itself (see _sqlite_begin); pysqlite's own implicit BEGIN would break
    # SAVEPOINTs, which tests and nested units of work rely on.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    # The busy timeout first: asking for WAL mode takes a lock, and a connection opened while
    # another holds the write lock (a busy server growing its pool) failed at once without it.
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA cache_size=-65536")  # 64 MiB page cache per connection
    cursor.close()


READ_ONLY = "healthbrain_read_only"


def _sqlite_begin(connection: Connection) -> None:
    # IMMEDIATE: nearly every unit of work writes (at least an audit entry), and a deferred
    # transaction that upgrades from reading to writing fails at once under contention instead of
    # waiting for busy_timeout. A read-only unit of work (see Database.unit_of_work) is a plain
    # deferred read instead — WAL readers neither wait for the writer nor for each other — made
    # query_only so that a write by mistake fails loudly rather than racing for the lock.
    # ``info`` belongs to the pooled DBAPI connection: the pragma is undone by the next writer.
    if connection.get_execution_options().get(READ_ONLY):
        if not connection.info.get(READ_ONLY):
            connection.exec_driver_sql("PRAGMA query_only=1")
            connection.info[READ_ONLY] = True
        connection.exec_driver_sql("BEGIN")
    else:
        if connection.info.pop(READ_ONLY, None):
            connection.exec_driver_sql("PRAGMA query_only=0")
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: str, *, echo: bool = False) -> Engine:
    url = normalise_database_url(url)
    if url.startswith("sqlite"):
        if url in ("sqlite://", "sqlite:///:memory:"):
            engine = create_engine(url, echo=echo, connect_args={"check_same_thread": False}, poolclass=StaticPool)
        else:
            path = url.split("///", 1)[1] if "///" in url else ""
            if path:
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(
                url, echo=echo, connect_args={"check_same_thread": False, "timeout": 30}, pool_size=8
            )
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    # Sessions in UTC, so that instants written as text by the bulk loaders mean UTC.
    return create_engine(
        url,
        echo=echo,
        pool_size=10,
        max_overflow=20,
        pool_pre_ping=True,
        connect_args={"options": "-c timezone=UTC"},
    )


_KEEP_KEY = "healthbrain.after_rollback"


def on_rollback(session: Session, action: Callable[[Session], None]) -> None:
    """Run ``action`` in a second short transaction if the unit of work fails (e.g. to keep the
    audit entry of a refused access, or a failed-login counter)."""
    session.info.setdefault(_KEEP_KEY, []).append(action)


class Database:
    """An engine and its session factory; one per process (see :func:`get_database`)."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = normalise_database_url(url)
        self.engine = make_engine(self.url, echo=echo)
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)

    @classmethod
    def bound_to(cls, connection: Connection) -> Database:
        """A database whose units of work are savepoints inside ``connection``'s open transaction
        (tests: every request runs the real unit-of-work code, and the test rolls it all back)."""
        database = cls.__new__(cls)
        database.url = str(connection.engine.url)
        database.engine = connection.engine
        database.sessionmaker = sessionmaker(
            bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
        )
        return database

    def ping(self) -> None:
        """Raise if the database does not answer. A bare driver-level query, outside any unit of
        work, so it neither waits for nor takes SQLite's write lock."""
        raw = self.engine.raw_connection()
        try:
            cursor = raw.cursor()
            cursor.execute("SELECT 1")
            cursor.fetchall()
            cursor.close()
        finally:
            raw.close()

    @contextmanager
    def unit_of_work(self, *, read_only: bool = False) -> Iterator[Session]:
        """One transaction: commit on success, roll back on error.

        Actions registered with :func:`on_rollback` run after a rollback, in a second short
        transaction on the same connection. ``read_only``: a unit of work that only reads (on
        SQLite a deferred, query-only transaction, so that readers run side by side).
        """
        with self.sessionmaker() as session:
            if read_only:
                session.connection(execution_options={READ_ONLY: True})
            try:
                yield session
                session.commit()
                session.info.pop(_KEEP_KEY, None)
            except BaseException:
                session.rollback()
                run_rollback_actions(session)
                raise

    def dispose(self) -> None:
        self.engine.dispose()


def run_rollback_actions(session: Session) -> None:
    actions = session.info.pop(_KEEP_KEY, [])
    if actions:
        for action in actions:
            action(session)
        session.commit()


def rollback(session: Session) -> None:
    """Roll back a failed attempt inside a request (a form shown again with its error), keeping
    what must survive it (see :func:`on_rollback`)."""
    session.rollback()
    run_rollback_actions(session)


_lock = threading.Lock()
_database: Database | None = None


def get_database(settings: Settings | None = None) -> Database:
    global _database
    with _lock:
        if _database is None:
            settings = settings or get_settings()
            _database = Database(settings.resolved_database_url, echo=settings.db_echo)
        return _database


def set_database(database: Database | None) -> None:
    """Install a specific database (tests, the demo command)."""
    global _database
    with _lock:
        _database = database

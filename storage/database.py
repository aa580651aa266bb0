"""Connecting to the database: SQLite tuned for durability by default, any SQLAlchemy URL otherwise."""

from __future__ import annotations

import logging
import threading
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any, Generic, Iterator, Protocol, TypeVar

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session, sessionmaker

from storage.outbox import queued_recipients

__all__ = ["DEFAULT_DATABASE_URL", "BatchUndone", "Database", "DatabaseUrlError", "OutboxHook"]

LOGGER = logging.getLogger(__name__)

DEFAULT_DATABASE_URL = "sqlite:///pendamping.db"
SQLITE_BUSY_TIMEOUT_MS = 5000
READ_ONLY = "pendamping_read_only"  # an execution option: the session's transaction writes nothing


class DatabaseUrlError(ValueError):
    pass


class BatchUndone(RuntimeError):
    """A `Database.batch()` was rolled back, because a block inside it raised (or its caller raised
    this to undo it): nothing of the batch is stored."""


Taken = TypeVar("Taken")


class OutboxHook(Protocol, Generic[Taken]):
    """A sender in this process that rides on the transactions of its database. Each transaction
    first records what the sender has sent since (so it reads every copy that went out); one that
    queued rows then claims them, and the sender sends them once it commits. A step's reply thus
    costs no transaction of the sender's own."""

    def begin(self, session: Session) -> Taken | None:
        """The first statements of every transaction; None when there was nothing to do."""

    def before_commit(self, session: Session, taken: Taken | None) -> Taken:
        """The last statements of a transaction that queued rows."""

    def after(self, taken: Taken, committed: bool) -> None:
        """Once the transaction committed, or failed and stored nothing; in its thread."""


class Database:
    """An engine and its session factory. `transaction()` is the unit every step is stored in."""

    def __init__(self, url: str = DEFAULT_DATABASE_URL, **engine_options: Any) -> None:
        try:
            parsed = make_url(url)
        except ArgumentError:
            raise DatabaseUrlError(f"DATABASE_URL is not a database URL: {url!r}") from None
        self.url = parsed
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        if self.is_sqlite:
            database = parsed.database or ""
            if database and database != ":memory:":
                Path(database).parent.mkdir(parents=True, exist_ok=True)
        elif parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
            # psycopg 3 is the driver we install; plain postgresql:// would look for psycopg2.
            parsed = parsed.set(drivername="postgresql+psycopg")
            self.url = parsed
        self.engine: Engine = create_engine(parsed, **engine_options)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._light_engine: Engine = self.engine
        if self.is_sqlite:
            _tune_sqlite(self.engine, synchronous="FULL")
        if self.is_sqlite and parsed.database not in (None, "", ":memory:"):
            # A second pool whose commits skip the fsync: for bookkeeping whose loss in a power cut
            # only repeats work (a delivery lease, a "sent" mark), and for reads, which commit nothing.
            self._light_engine = create_engine(parsed, **engine_options)
            _tune_sqlite(self._light_engine, synchronous="NORMAL")
        self._light_sessions = sessionmaker(self._light_engine, expire_on_commit=False)
        # SQLite lets one transaction write at a time, and a thread that finds the lock taken sleeps
        # in growing steps (1, 2, 5, 10 ... ms) before trying again. Threads of this process queue
        # here instead and go the moment the writer before them commits. Other processes still
        # meet the busy timeout. PostgreSQL locks rows, so there is nothing to queue for.
        self._writer: AbstractContextManager[Any] = threading.RLock() if self.is_sqlite else nullcontext()
        self._read_sessions = sessionmaker(self._light_engine.execution_options(**{READ_ONLY: True}), expire_on_commit=False)
        self._outbox_hook: OutboxHook[Any] | None = None
        self._batch = threading.local()  # the session of this thread's batch(), while one runs

    def attach_outbox_hook(self, hook: OutboxHook[Any] | None) -> None:
        """From now on (until called with None), every transaction calls `hook` as it begins, and
        again before it commits if it queued outbox rows."""
        self._outbox_hook = hook

    @contextmanager
    def transaction(self, *, durable: bool = True) -> Iterator[Session]:
        """One transaction: committed when the block ends, rolled back if it raises.

        `durable=False` is for bookkeeping that may be lost in a power cut without harm, because
        losing it only makes work happen again (claiming an outbox row, marking it sent: the
        message is then sent twice, never lost). On SQLite its commit does not wait for the disk;
        a later durable commit writes it out anyway, since both go through the same WAL file.

        With an outbox hook attached, the hook's statements open and close the transaction.
        """
        outer: Session | None = getattr(self._batch, "session", None)
        if outer is not None:
            # Inside `batch()`: part of the batch's transaction. A block that raises may have written
            # half of its work, so the whole batch is rolled back when it ends (BatchUndone).
            try:
                yield outer
            except BaseException:
                self._batch.failed = True
                raise
            return
        hook = self._outbox_hook
        taken: Any = None
        committed = False
        try:
            with self._writer, (self._sessions if durable else self._light_sessions).begin() as session:
                if hook is not None:
                    taken = hook.begin(session)
                yield session
                if hook is not None and queued_recipients(session):
                    taken = hook.before_commit(session, taken)
            committed = True
        finally:
            if hook is not None and taken is not None:
                try:
                    hook.after(taken, committed)
                except Exception:  # noqa: BLE001 - the transaction's outcome stands; its rows are claimed again after their lease
                    LOGGER.exception("the outbox hook failed after a transaction")

    @contextmanager
    def batch(self) -> Iterator[None]:
        """One durable transaction for every `transaction()` block this thread runs inside it: the
        batch commits once (one lock, one fsync, one outbox claim), and a block's work is stored
        only when it does. If any block raised, even one whose exception was caught, the batch is
        rolled back and BatchUndone raised, so a half-written block is never stored; its caller runs
        the blocks again one by one. Blocks are not savepoints: SQLAlchemy compiles every SAVEPOINT
        anew, and one cost more instructions than a whole transaction of its own (callgrind: 0.69 M
        against 0.56 M). Not re-entrant."""
        if getattr(self._batch, "session", None) is not None:
            raise RuntimeError("Database.batch() is not re-entrant")
        with self.transaction() as session:
            self._batch.session, self._batch.failed = session, False
            try:
                yield
                if self._batch.failed:
                    raise BatchUndone("a block of the batch raised; the batch was rolled back")
            finally:
                self._batch.session = None

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A read-only snapshot. On SQLite it takes no write lock, so it never waits behind a step."""
        with self._read_sessions() as session:
            yield session

    def dispose(self) -> None:
        self.engine.dispose()
        if self._light_engine is not self.engine:
            self._light_engine.dispose()


def _tune_sqlite(engine: Engine, *, synchronous: str) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin (see "begin" below).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        # FULL: a committed step survives a power cut, not only a crash of the process.
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection: Any) -> None:
        # Take the write lock up front: two steps that both read then write would otherwise
        # deadlock on the lock upgrade, and one would fail with "database is locked". A read-only
        # session writes nothing, so it begins without the lock.
        read_only = connection.get_execution_options().get(READ_ONLY, False)
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

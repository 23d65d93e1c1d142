"""Engine and sessions: SQLite in WAL mode by default, PostgreSQL through psycopg 3.

SQLite: every connection gets ``journal_mode=WAL``, ``synchronous=NORMAL``, a
``busy_timeout`` and ``foreign_keys=ON``. Write transactions start with ``BEGIN IMMEDIATE``
(the write lock is taken up front, so a read-then-write transaction never fails with
SQLITE_BUSY on upgrade); :meth:`Database.read_session` opens plain deferred transactions
for read-only work. PostgreSQL: a sized QueuePool; ``postgresql://`` URLs use psycopg 3;
the buyer-order hot path also has a small ``psycopg_pool`` async pool
(:meth:`Database.async_pool`).
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import weakref
from collections.abc import Awaitable, Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from reference_backend.settings import Settings

T = TypeVar("T")

READ_ONLY = "peakline_read_only"


def normalise_url(url: str) -> str:
    """``postgres://``/``postgresql://`` -> ``postgresql+psycopg://``; SQLite URLs unchanged."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


def is_sqlite_url(url: str) -> bool:
    return make_url(normalise_url(url)).get_backend_name() == "sqlite"


def _sqlite_pragmas(engine: Engine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves (below)
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        read_only = connection.get_execution_options().get(READ_ONLY, False)
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def make_engine(url: str, settings: Settings | None = None) -> Engine:
    """An engine for ``url`` configured for the backend (pragmas or pool sizes)."""
    settings = settings or Settings(database_url=url)
    url = normalise_url(url)
    if is_sqlite_url(url):
        engine = create_engine(
            url,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
            pool_timeout=settings.db_pool_timeout_s,
            connect_args={
                "check_same_thread": False,
                "timeout": settings.sqlite_busy_timeout_ms / 1000,
            },
        )
        _sqlite_pragmas(engine, settings.sqlite_busy_timeout_ms)
        return engine
    return create_engine(
        url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout_s,
        pool_pre_ping=False,
        # every statement planned for its own parameters: a prepared statement's generic
        # plan for a date window guessed a few rows, took the date index and read every
        # posting of the window to keep the newest 50 (17 ms instead of 0.3 ms)
        connect_args={"prepare_threshold": None},
    )


class Database:
    """The engine and the two session factories of one backend process."""

    def __init__(self, url: str, settings: Settings | None = None) -> None:
        self.url = normalise_url(url)
        self.settings = settings or Settings(database_url=url)
        self.engine = make_engine(url, self.settings)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        #: PostgreSQL through psycopg: hot paths may use :meth:`async_pool` (no thread hops)
        self.has_async_pool = (self.engine.dialect.name, self.engine.dialect.driver) == (
            "postgresql", "psycopg")
        self._apool: Any = None
        self._apool_loop: asyncio.AbstractEventLoop | None = None
        #: SQLite: each event loop's own connection (:meth:`peek`)
        self._peeks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, sqlite3.Connection]
        self._peeks = weakref.WeakKeyDictionary()
        self._write_lock: AbstractContextManager[Any] = (
            threading.RLock() if self.is_sqlite else nullcontext()
        )
        self._write = sessionmaker(self.engine, expire_on_commit=False)
        self._read_engine = self.engine.execution_options(**{READ_ONLY: True})
        self._read = sessionmaker(self._read_engine, expire_on_commit=False)
        self._autocommit_engine = self.engine.execution_options(isolation_level="AUTOCOMMIT")

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A read-write transaction: committed on success, rolled back on any exception.

        On SQLite, write transactions of one process also queue on a process-wide lock:
        SQLite's busy handler polls with sleeps of up to 100 ms, so letting dozens of
        threads contend for the database lock wastes most of the time; a FIFO-ish Python
        lock hands it over at once. (Correctness still comes from the database:
        ``BEGIN IMMEDIATE``, guarded updates and CHECK constraints; other processes wait
        on SQLite's own lock.) Do not open a write session inside another one on SQLite:
        the inner one would wait for the outer one's database lock (busy timeout, then 503).
        """
        with self._write_lock, self._write() as session, session.begin():
            yield session

    def write(self, service: Callable[..., T], /, **kwargs: Any) -> T:
        """``service(session, **kwargs)`` in a :meth:`session`; its answer (for an async route
        to hand to a worker thread after awaiting something first)."""
        with self.session() as session:
            return service(session, **kwargs)

    def write_racing(self, service: Callable[..., T], /, **kwargs: Any) -> T:
        """:meth:`write`, run once more when a concurrent transaction inserted the same unique
        row first (``IntegrityError``): the second run finds that row and updates it."""
        try:
            return self.write(service, **kwargs)
        except IntegrityError:
            return self.write(service, **kwargs)

    @contextmanager
    def read_session(self) -> Iterator[Session]:
        """A read-only transaction (no write lock on SQLite); rolled back at the end.

        Closing the session ends it (the pool rolls the connection back); objects read in
        it are detached with what they loaded, not expired one by one (a page of postings
        spent ~1 ms expiring its objects).
        """
        with self._read() as session:
            yield session

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        """A read-write Core transaction (no ORM session) for lean hot paths.

        Same semantics as :meth:`session` (committed on success, rolled back on any
        exception; ``BEGIN IMMEDIATE`` and the process-wide writer queue on SQLite).
        """
        with self._write_lock, self.engine.begin() as conn:
            yield conn

    @contextmanager
    def read_connection(self) -> Iterator[Connection]:
        """A read-only Core transaction (no write lock on SQLite); rolled back at the end."""
        with self._read_engine.connect() as conn:
            yield conn

    @contextmanager
    def read_statements(self) -> Iterator[Connection]:
        """A Core connection for reads that need no snapshot across their statements.

        On PostgreSQL each statement runs on its own (autocommit): under READ COMMITTED every
        statement of a transaction takes a fresh snapshot anyway, so a transaction would only
        add its ``BEGIN`` and ``ROLLBACK`` round trips. On SQLite, :meth:`read_connection`.
        """
        if self.is_sqlite:  # (begun: statements on the driver's cursor share its snapshot)
            with self.read_connection() as conn, conn.begin():
                yield conn
            return
        with self._autocommit_engine.connect() as conn:
            yield conn

    def new_session(self) -> Session:
        """An un-begun read-write session for callers that manage commits themselves."""
        return self._write()

    async def async_pool(self) -> Any:
        """The process's ``psycopg_pool.AsyncConnectionPool`` (PostgreSQL only; opened lazily).

        For hot paths that talk to the database from the event loop, with no worker-thread
        hop and no GIL hand-over per round trip. One pool per event loop (a test client runs
        its own loop); at most ``db_async_pool_size`` connections, in autocommit mode (one
        statement is one transaction; callers open longer ones with ``conn.transaction()``).
        """
        loop = asyncio.get_running_loop()
        if self._apool is None or self._apool_loop is not loop:
            from psycopg_pool import AsyncConnectionPool

            size = self.settings.db_async_pool_size
            conninfo = make_url(self.url).set(drivername="postgresql").render_as_string(
                hide_password=False)
            pool = AsyncConnectionPool(conninfo, min_size=min(2, size), max_size=size,
                                       timeout=self.settings.db_pool_timeout_s, open=False,
                                       name="peakline-async", kwargs={"autocommit": True})
            await pool.open()
            self._apool, self._apool_loop = pool, loop
        return self._apool

    async def reading(self, sync: Callable[[Connection], T],
                      on_loop: Callable[[Any], Awaitable[T]]) -> T:
        """Reads that need no snapshot across their statements (see :meth:`read_statements`),
        from an async route: ``on_loop(conn)`` on a connection of :meth:`async_pool` when there
        is one (no worker-thread hop), else ``sync(conn)`` in a worker thread, on a
        :meth:`read_connection` not begun (statements on the driver's cursor run on their own;
        ``sync`` begins what needs one snapshot). psycopg's errors become SQLAlchemy's (as the
        sync path raises them: 503 for a lost database)."""
        if not self.has_async_pool:
            def run() -> T:
                with self.read_connection() as conn:
                    return sync(conn)

            return await run_in_threadpool(run)
        import psycopg

        try:
            async with (await self.async_pool()).connection() as conn:
                return await on_loop(conn)
        except psycopg.Error as exc:
            raise DBAPIError.instance(None, None, exc, psycopg.Error) from exc

    async def aclose(self) -> None:
        """Close the async pool, if this loop opened one."""
        pool, self._apool = self._apool, None
        if pool is not None and self._apool_loop is asyncio.get_running_loop():
            await pool.close()

    def analyze(self) -> None:
        """``ANALYZE``: fresh planner statistics (after a bulk load; autovacuum keeps them
        later on PostgreSQL). A table planned as empty is scanned whole once it is not."""
        with self.engine.begin() as conn:
            conn.execute(text("ANALYZE"))

    def autovacuum_off(self) -> bool:
        """PostgreSQL with ``autovacuum`` off (nothing keeps statistics or dead rows)."""
        if self.engine.dialect.name != "postgresql":
            return False
        with self.engine.connect() as conn:
            return conn.execute(text("SHOW autovacuum")).scalar() == "off"

    #: SQLite virtual machine steps a read on the event loop may take (:meth:`peek`), in
    #: thousands: ~0.5 ms of CPU (a page of the newest postings takes ~3); a read that would
    #: take more is left to a worker thread.
    PEEK_KILOSTEPS = 50

    def peek(self, sql: str, params: tuple[Any, ...]) -> list[Any] | None:
        """SQLite: the rows of one statement read on the event loop, on the loop's own
        connection (autocommit: the statement's own snapshot; read-only), or None when it
        would wait or take long: the database busy (no busy wait: WAL readers do not wait
        for writers, only for a recovery) or past :data:`PEEK_KILOSTEPS` (then interrupted).
        None on other databases and in-memory SQLite."""
        conn = self._peek_connection()
        if conn is None:
            return None
        steps = [0]

        def step() -> int:
            steps[0] += 1
            return steps[0] > self.PEEK_KILOSTEPS

        conn.set_progress_handler(step, 1000)
        try:
            return conn.execute(sql, params).fetchall()
        except sqlite3.OperationalError:  # busy, or interrupted
            return None
        finally:
            conn.set_progress_handler(None, 1000)

    def _peek_connection(self) -> sqlite3.Connection | None:
        database = self.engine.url.database
        if not self.is_sqlite or not database or database == ":memory:" or \
                self.engine.url.query.get("mode") == "memory":
            return None
        loop = asyncio.get_running_loop()
        conn = self._peeks.get(loop)
        if conn is None:
            conn = sqlite3.connect(database, timeout=0, isolation_level=None,
                                   check_same_thread=False)
            conn.execute("PRAGMA query_only=ON")
            self._peeks[loop] = conn
        return conn

    def dispose(self) -> None:
        for conn in list(self._peeks.values()):
            conn.close()
        self._peeks.clear()
        self.engine.dispose()

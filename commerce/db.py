"""Engine creation, SQLite write serialisation, and programmatic Alembic upgrades."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TypeVar

import asyncpg
from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session, sessionmaker

from commerce.private_files import private_sqlite

T = TypeVar("T")
DEFAULT_URL = "sqlite+aiosqlite:///./var/yunlian.db"
MIGRATIONS = Path(__file__).with_name("migrations")
# Connections for single-statement hot paths (placing an order) on PostgreSQL, per process.
# Few on purpose: waiting here costs an await, waiting inside the server costs a backend
# process contending for the same hot stock rows and the same two cores.
FAST_POOL_SIZE = 8
# Seconds `Database.close` waits for each of: sessions still open, the PostgreSQL fast pool,
# the SQLite writer thread, and the engine's own connections. Past it, close goes on and
# then raises DatabaseCloseError naming what did not end.
CLOSE_TIMEOUT = 10.0
log = logging.getLogger(__name__)


class DatabaseClosed(RuntimeError):
    """A session was asked of a database that is closing or closed."""


class DatabaseCloseError(RuntimeError):
    """Closing did not finish in time; the message names what was still running."""


def normalise_url(url: str) -> str:
    """Accept plain `sqlite:///` and `postgresql://` URLs and pick the async drivers."""
    u = make_url(url)
    if u.drivername in ("sqlite", "sqlite+pysqlite"):
        u = u.set(drivername="sqlite+aiosqlite")
    elif u.drivername in ("postgresql", "postgres", "postgresql+psycopg2"):
        u = u.set(drivername="postgresql+asyncpg")
    return u.render_as_string(hide_password=False)


def make_engine(url: str) -> AsyncEngine:
    url = normalise_url(url)
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        if u.database and u.database != ":memory:" and not u.database.startswith("file:"):
            private_sqlite(Path(u.database))  # holds buyers' addresses and password hashes
        engine = create_async_engine(url, connect_args={"timeout": 30})
        _install_sqlite_hooks(engine.sync_engine)
        return engine
    return create_async_engine(url, pool_size=20, max_overflow=20, pool_pre_ping=False)


def _install_sqlite_hooks(sync: Engine) -> None:
    @event.listens_for(sync, "connect")
    def _on_connect(dbapi_conn, _record) -> None:
        # Let SQLAlchemy, not pysqlite, emit BEGIN so writers can take the lock up front.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(sync, "begin")
    def _on_begin(conn) -> None:
        # BEGIN IMMEDIATE takes the database write lock before the first read, so a
        # read-check-write (stock, flash-sale caps) is serialised across processes too.
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")


def is_sqlite(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "sqlite"


class Database:
    """Sessions for reading and for serialised writing."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.sqlite = is_sqlite(engine)
        self._read = async_sessionmaker(engine, expire_on_commit=False)
        bind = engine.execution_options(sqlite_begin="IMMEDIATE") if self.sqlite else engine
        self._write = async_sessionmaker(bind, expire_on_commit=False)
        # One writer at a time inside this process on SQLite: queue in asyncio, not in busy-waits.
        self._write_lock = asyncio.Lock()
        self.fast: asyncpg.Pool | None = None
        self._lite: sessionmaker[Session] | None = None
        self._lite_thread: ThreadPoolExecutor | None = None
        u = engine.url
        if self.sqlite and u.database and u.database != ":memory:":
            self._lite = _sync_sqlite_sessions(u)
            self._lite_thread = ThreadPoolExecutor(1, thread_name_prefix="yl-sqlite-writer")
        # asyncpg's pool hands a returned connection to whoever asks next, so under load a
        # waiter can be overtaken again and again (p99 of 800 ms beside a p50 of 30 ms). A
        # FIFO semaphore in front admits callers in arrival order.
        self._fast_gate = asyncio.Semaphore(FAST_POOL_SIZE)
        # sessions open now: close waits for them, so no connection outlives its engine
        # (an aiosqlite connection left checked out keeps its worker thread forever)
        self._open_sessions = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._closed = False

    async def open(self) -> None:
        """On PostgreSQL, open a plain asyncpg pool for the order hot path.

        One call through SQLAlchemy costs about three times the client CPU of the same call
        on asyncpg directly, and on two cores that CPU is shared with the database itself.
        """
        if self.sqlite or self.fast is not None:
            return
        _, kw = self.engine.dialect.create_connect_args(self.engine.url)
        self.fast = await asyncpg.create_pool(
            min_size=1,
            max_size=FAST_POOL_SIZE,
            statement_cache_size=64,
            reset=_keep_session,
            **kw,
        )

    async def run_write(self, fn: Callable[..., T], *args: object) -> T:
        """Run `fn(session, *args)`, a sync function, in one write transaction.

        On a SQLite file it runs on a pysqlite connection in this database's writer thread,
        one hand-off for the whole transaction: through aiosqlite every statement
        costs three or four (cursor, execute, fetch, close), 29 for an order, and with SQLite
        serialising writers those hand-offs set the shop's ceiling. Elsewhere it runs on the
        async engine through `AsyncSession.run_sync`.
        """
        if self._lite is None or self._closed:
            async with self.write() as session:
                return await session.run_sync(fn, *args)
        async with self._write_lock:
            if self._closed or self._lite_thread is None:
                raise DatabaseClosed("the shop database is closed")
            loop = asyncio.get_running_loop()
            done = loop.run_in_executor(self._lite_thread, self._lite_transaction, fn, args)
            try:
                return await asyncio.shield(done)
            except asyncio.CancelledError:
                # Keep the write lock until the transaction has really ended.
                with contextlib.suppress(Exception):
                    await done
                raise

    def _lite_transaction(self, fn: Callable[..., object], args: tuple) -> object:
        with self._lite() as session, session.begin():
            return fn(session, *args)

    @asynccontextmanager
    async def fast_connection(self) -> AsyncIterator[asyncpg.Connection]:
        """A connection from the PostgreSQL fast pool, granted first come, first served."""
        async with self._fast_gate, self.fast.acquire() as conn:
            yield conn

    async def close(self) -> None:
        """Wait for open sessions, then release every connection and thread. Each wait is
        bounded by CLOSE_TIMEOUT; what overran is named in a DatabaseCloseError raised after
        everything else has been released."""
        self._closed = True
        overran: list[str] = []
        try:
            await asyncio.wait_for(self._idle.wait(), CLOSE_TIMEOUT)
        except TimeoutError:
            overran.append(f"{self._open_sessions} session(s) still open")
        if self.fast is not None:
            pool, self.fast = self.fast, None
            try:
                await asyncio.wait_for(pool.close(), CLOSE_TIMEOUT)
            except TimeoutError:
                overran.append("the PostgreSQL fast pool (connections not released)")
                pool.terminate()
        if self._lite_thread is not None:
            executor, lite = self._lite_thread, self._lite
            self._lite = self._lite_thread = None
            threads = list(getattr(executor, "_threads", ()))
            done = asyncio.get_running_loop().run_in_executor(executor, lite.kw["bind"].dispose)
            executor.shutdown(wait=False)
            try:
                await asyncio.wait_for(done, CLOSE_TIMEOUT)
                deadline = time.monotonic() + CLOSE_TIMEOUT
                while any(t.is_alive() for t in threads) and time.monotonic() < deadline:
                    await asyncio.sleep(0.01)
            except TimeoutError:
                pass
            if any(t.is_alive() for t in threads):
                overran.append("the SQLite writer thread (a write still running)")
        try:
            await asyncio.wait_for(self.engine.dispose(), CLOSE_TIMEOUT)
        except TimeoutError:
            overran.append("the engine's connection pool")
        if overran:
            msg = f"closing the shop database overran {CLOSE_TIMEOUT:g} s: " + "; ".join(overran)
            log.error(msg)
            raise DatabaseCloseError(msg)

    @asynccontextmanager
    async def _session(self, maker: async_sessionmaker) -> AsyncIterator[AsyncSession]:
        if self._closed:
            raise DatabaseClosed("the shop database is closed")
        self._open_sessions += 1
        self._idle.clear()
        try:
            async with maker() as session:
                yield session
        finally:
            self._open_sessions -= 1
            if not self._open_sessions:
                self._idle.set()

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        async with self._session(self._read) as session:
            yield session

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """A transaction that commits on success and rolls back on any exception."""
        if self.sqlite:
            async with self._write_lock, self._session(self._write) as session, session.begin():
                yield session
        else:
            async with self._session(self._write) as session, session.begin():
                yield session


def _sync_sqlite_sessions(url) -> sessionmaker[Session]:
    """Sessions on a plain (pysqlite) engine for the same file, with the same pragmas."""
    sync = create_engine(
        url.set(drivername="sqlite+pysqlite"),
        connect_args={"timeout": 30, "check_same_thread": False},
        pool_size=1,
        max_overflow=0,
    )
    _install_sqlite_hooks(sync)
    return sessionmaker(sync.execution_options(sqlite_begin="IMMEDIATE"), expire_on_commit=False)


async def _keep_session(_conn: asyncpg.Connection) -> None:
    """Pool reset hook: skip asyncpg's default RESET ALL / UNLISTEN round trip on release.

    The fast pool only runs single statements that change no session state; asyncpg still
    rolls back a transaction left open before calling this.
    """


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


async def upgrade_to_head(engine: AsyncEngine) -> None:
    def _run(sync_conn) -> None:
        cfg = alembic_config()
        cfg.attributes["connection"] = sync_conn
        command.upgrade(cfg, "head")

    # Several server workers may start at once: migrate under the database's write lock
    # (SQLite) or a transaction-scoped advisory lock (PostgreSQL), one after the other.
    async with engine.execution_options(sqlite_begin="IMMEDIATE").begin() as conn:
        if engine.dialect.name == "postgresql":
            await conn.exec_driver_sql("SELECT pg_advisory_xact_lock(7240010001)")
        await conn.run_sync(_run)

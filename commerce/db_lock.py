"""Who holds the shop database: running servers share a hold, a restore needs it alone.

The hold is something the operating system or the database ends with the process, so it
cannot go stale after a crash or a `kill -9`:
- SQLite: an flock on `<database>.serve-lock` beside the file, held through an open
  descriptor (shared by servers and their workers, exclusive for a restore);
- PostgreSQL: a session-level advisory lock on a connection kept open for the hold, so it
  also covers servers on other machines.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import time
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

from commerce.db import normalise_url
from commerce.errors import DatabaseInUse

PG_LOCK_KEY = 7240010002  # beside the migration lock (7240010001)
SUFFIX = ".serve-lock"
POLL = 0.2  # seconds between tries while waiting
CONNECT_TIMEOUT = 10.0


class DatabaseHold:
    """A held lock on the shop database; `release()` (or process exit) ends it."""

    def __init__(self, fd: int | None = None, conn: asyncpg.Connection | None = None) -> None:
        self._fd = fd
        self._conn = conn

    async def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)  # drops the flock
        if self._conn is not None:
            conn, self._conn = self._conn, None
            try:
                await asyncio.wait_for(conn.close(), CONNECT_TIMEOUT)
            except Exception:  # noqa: BLE001 - a dead connection has released its lock
                conn.terminate()


def lock_path(url: str) -> Path | None:
    """The lock file of a SQLite database file; None for memory or PostgreSQL."""
    u = make_url(normalise_url(url))
    if u.get_backend_name() != "sqlite" or not u.database or u.database == ":memory:":
        return None
    db = Path(u.database)
    return db.with_name(db.name + SUFFIX)


async def hold(url: str, *, exclusive: bool, wait: float = 0.0) -> DatabaseHold:
    """Take the hold (shared for a server, exclusive for a restore), trying for at most
    `wait` seconds. Raises DatabaseInUse when the other kind of holder has it."""
    deadline = time.monotonic() + wait
    while True:
        got = await _try(url, exclusive)
        if got is not None:
            return got
        if time.monotonic() >= deadline:
            if exclusive:
                raise DatabaseInUse(
                    "数据库正被运行中的服务（yunlian serve）使用：请先停止服务再恢复"
                )
            raise DatabaseInUse("数据库正在恢复（yunlian restore），请等恢复结束后再启动服务")
        await asyncio.sleep(POLL)


async def _try(url: str, exclusive: bool) -> DatabaseHold | None:
    if make_url(normalise_url(url)).get_backend_name() == "postgresql":
        return await _try_pg(url, exclusive)
    path = lock_path(url)
    if path is None:
        return DatabaseHold()
    return await asyncio.to_thread(_try_flock, path, exclusive)


def _try_flock(path: Path, exclusive: bool) -> DatabaseHold | None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    except BaseException:
        os.close(fd)
        raise
    return DatabaseHold(fd=fd)


async def _try_pg(url: str, exclusive: bool) -> DatabaseHold | None:
    u = make_url(normalise_url(url)).set(drivername="postgresql")
    conn = await asyncpg.connect(u.render_as_string(hide_password=False), timeout=CONNECT_TIMEOUT)
    fn = "pg_try_advisory_lock" if exclusive else "pg_try_advisory_lock_shared"
    try:
        got = await conn.fetchval(f"SELECT {fn}($1)", PG_LOCK_KEY)
    except BaseException:
        with contextlib.suppress(Exception):
            await conn.close()
        raise
    if not got:
        await conn.close()
        return None
    return DatabaseHold(conn=conn)

"""`push_seen` rows: the durable side of platform-push replay protection.

The primary key (platform, msg_id) is the arbiter, so two workers given the same message
agree on which one heard it first: `INSERT … ON CONFLICT DO NOTHING RETURNING` hands back
only the ids this call inserted (SQLite: a look-up and an insert under the write lock). One
write transaction per push.
"""

from __future__ import annotations

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from commerce.db import Database
from commerce.models import PushSeen

SQLITE_CHUNK = 5_000  # ids per look-up, well under SQLite's 32,766 bound variables
MAX_ID = 256  # column width; longer ids are refused upstream, never cut (a cut id collides)


class PushSeenRows:
    """The `SeenStore` of `danmaku.seen.SeenIds`, over the shop database."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def insert_new(self, platform: str, ids: list[str], now_ms: int) -> set[str]:
        if not ids:
            return set()
        return await self.db.run_write(_insert_new, platform, ids, now_ms)

    async def prune(self, before_ms: int) -> int:
        return await self.db.run_write(_prune, before_ms)


def _insert_new(session: Session, platform: str, ids: list[str], now_ms: int) -> set[str]:
    if session.get_bind().dialect.name == "postgresql":
        rows = [{"platform": platform, "msg_id": i, "seen_ms": now_ms} for i in ids]
        stmt = pg_insert(PushSeen).on_conflict_do_nothing().returning(PushSeen.msg_id)
        return set(session.scalars(stmt, rows))
    # SQLite: this transaction holds the database's write lock (BEGIN IMMEDIATE), so a
    # look-up then a plain insert cannot race another writer. On the driver's cursor it is
    # about 4x faster than the ORM's INSERT … RETURNING for a 2,000-message push.
    cur = session.connection().connection.driver_connection.cursor()
    try:
        have: set[str] = set()
        for start in range(0, len(ids), SQLITE_CHUNK):
            part = ids[start : start + SQLITE_CHUNK]
            marks = ",".join("?" * len(part))
            sql = f"SELECT msg_id FROM push_seen WHERE platform = ? AND msg_id IN ({marks})"
            have.update(row[0] for row in cur.execute(sql, [platform, *part]))
        new = [i for i in ids if i not in have]
        cur.executemany(
            "INSERT INTO push_seen (platform, msg_id, seen_ms) VALUES (?, ?, ?)",
            [(platform, i, now_ms) for i in new],
        )
    finally:
        cur.close()
    return set(new)


def _prune(session: Session, before_ms: int) -> int:
    session.execute(delete(PushSeen).where(PushSeen.seen_ms < before_ms))
    return session.scalar(select(func.count()).select_from(PushSeen)) or 0

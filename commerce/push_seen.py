"""`push_seen` rows: the durable side of platform-push replay protection.

The primary key (platform, msg_id) is the arbiter, so two workers given the same message
agree on which one heard it first: `INSERT … ON CONFLICT DO NOTHING RETURNING` hands back
only the ids this call inserted. One statement per push, in one write transaction.
"""

from __future__ import annotations

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from commerce.db import Database
from commerce.models import PushSeen

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
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    rows = [{"platform": platform, "msg_id": i, "seen_ms": now_ms} for i in ids]
    stmt = insert(PushSeen).on_conflict_do_nothing().returning(PushSeen.msg_id)
    return set(session.scalars(stmt, rows))


def _prune(session: Session, before_ms: int) -> int:
    session.execute(delete(PushSeen).where(PushSeen.seen_ms < before_ms))
    return session.scalar(select(func.count()).select_from(PushSeen)) or 0

"""Room placement across `yunlian serve` nodes: one lease row per live room in PostgreSQL.

A node that starts a room writes its lease (`acquire`); it renews all its leases every few
seconds (`renew`), and writes each room's resume position with them. A lease that has not
been renewed for `ttl` seconds is expired, and any node may take it over (`take_expired`)
with `SELECT … FOR UPDATE SKIP LOCKED`: two nodes scanning at once never get the same room.

Every time is the database's (`now()`): a node whose own clock is wrong neither steals a
live lease nor keeps a dead one. `epoch` grows on each takeover; a holder whose renewal
finds another node (or another epoch) on its row has lost the room and must stop it.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

log = logging.getLogger(__name__)

QUERY_TIMEOUT = 5.0  # seconds: a lease statement that takes longer has failed
MIN_TTL, MAX_TTL = 2.0, 300.0


class LeaseError(RuntimeError):
    """The lease table cannot be used (not PostgreSQL, or a bad setting)."""


@dataclass(frozen=True)
class Lease:
    room_id: str
    node_id: str
    epoch: int
    config: dict
    resume: dict | None = None
    expired: bool = False  # past its expiry: its node is dead or late, another may take it


def _json(value):
    return json.loads(value) if isinstance(value, str | bytes) else value


class Leases:
    """The lease rows as one node sees them. Each call is one short transaction, bounded
    by QUERY_TIMEOUT; a failure raises and leaves nothing half done."""

    def __init__(self, url: str, node_id: str, ttl: float = 10.0) -> None:
        u = make_url(url)
        if u.get_backend_name() != "postgresql":
            raise LeaseError("room leases need PostgreSQL (nodes share one database)")
        if not (isinstance(ttl, int | float) and MIN_TTL <= ttl <= MAX_TTL):
            raise LeaseError(f"lease_ttl must be between {MIN_TTL:g} and {MAX_TTL:g} seconds")
        if not node_id or len(node_id) > 64:
            raise LeaseError("node id must be 1-64 characters")
        self.node_id = node_id
        self.ttl = float(ttl)
        self.engine: AsyncEngine = create_async_engine(
            u.set(drivername="postgresql+asyncpg"),
            pool_size=2,
            max_overflow=2,
            pool_pre_ping=True,  # a restarted server leaves dead pooled connections
            pool_timeout=QUERY_TIMEOUT,
            connect_args={"timeout": QUERY_TIMEOUT, "command_timeout": QUERY_TIMEOUT},
        )

    async def close(self) -> None:
        await self.engine.dispose()

    async def acquire(self, room_id: str, config: dict) -> Lease | None:
        """Hold a new room; None when another node holds a live lease on it. An expired
        lease of the same id is replaced (its room is dead)."""
        async with self.engine.begin() as conn:
            row = (
                await conn.execute(
                    text(
                        "INSERT INTO room_leases AS l "
                        "(room_id, node_id, epoch, expires_at, config, resume, renewed_at) "
                        "VALUES (:room, :node, 1, now() + make_interval(secs => :ttl), "
                        "CAST(:config AS json), NULL, now()) "
                        "ON CONFLICT (room_id) DO UPDATE SET node_id = EXCLUDED.node_id, "
                        "epoch = l.epoch + 1, expires_at = EXCLUDED.expires_at, "
                        "config = EXCLUDED.config, resume = NULL, renewed_at = now() "
                        "WHERE l.expires_at < now() "
                        "RETURNING epoch"
                    ),
                    {
                        "room": room_id,
                        "node": self.node_id,
                        "ttl": self.ttl,
                        "config": json.dumps(config, ensure_ascii=False),
                    },
                )
            ).first()
        if row is None:
            return None
        return Lease(room_id, self.node_id, row.epoch, config)

    async def renew(self, held: dict[str, int], positions: dict[str, dict]) -> set[str]:
        """Extend this node's leases (room id -> epoch) and save each room's position.
        Returns the rooms still held; the others were taken over or released."""
        if not held:
            return set()
        kept: set[str] = set()
        async with self.engine.begin() as conn:
            for room_id, epoch in held.items():
                position = positions.get(room_id)
                row = (
                    await conn.execute(
                        text(
                            "UPDATE room_leases SET expires_at = now() + make_interval(secs "
                            "=> :ttl), renewed_at = now(), resume = COALESCE(CAST(:resume AS "
                            "json), resume) WHERE room_id = :room AND node_id = :node AND "
                            "epoch = :epoch RETURNING room_id"
                        ),
                        {
                            "room": room_id,
                            "node": self.node_id,
                            "epoch": epoch,
                            "ttl": self.ttl,
                            "resume": None
                            if position is None
                            else json.dumps(position, ensure_ascii=False),
                        },
                    )
                ).first()
                if row is not None:
                    kept.add(room_id)
        return kept

    async def take_expired(self, limit: int) -> list[Lease]:
        """Take over up to `limit` expired leases: rows another node may be taking at this
        very moment are skipped (SKIP LOCKED), so each expired room goes to one node."""
        if limit <= 0:
            return []
        async with self.engine.begin() as conn:
            rows = (
                await conn.execute(
                    text(
                        "SELECT room_id FROM room_leases WHERE expires_at < now() "
                        "ORDER BY expires_at LIMIT :n FOR UPDATE SKIP LOCKED"
                    ),
                    {"n": limit},
                )
            ).all()
            if not rows:
                return []
            taken = (
                await conn.execute(
                    text(
                        "UPDATE room_leases SET node_id = :node, epoch = epoch + 1, "
                        "expires_at = now() + make_interval(secs => :ttl), renewed_at = now() "
                        "WHERE room_id = ANY(:rooms) "
                        "RETURNING room_id, node_id, epoch, config, resume"
                    ),
                    {"node": self.node_id, "ttl": self.ttl, "rooms": [r.room_id for r in rows]},
                )
            ).all()
        return [
            Lease(r.room_id, r.node_id, r.epoch, _json(r.config), _json(r.resume)) for r in taken
        ]

    async def release(self, room_id: str, epoch: int | None = None, expire: bool = False) -> None:
        """Give a room up: its row is deleted (the room stopped), or with expire=True left
        expired for another node to take (this node could not run it)."""
        args = {"room": room_id, "node": self.node_id, "epoch": epoch}
        where = "room_id = :room AND node_id = :node AND (CAST(:epoch AS int) IS NULL OR epoch = :epoch)"
        async with self.engine.begin() as conn:
            if expire:
                sql = (
                    f"UPDATE room_leases SET expires_at = now() - interval '1 second' WHERE {where}"
                )
            else:
                sql = f"DELETE FROM room_leases WHERE {where}"
            await conn.execute(text(sql), args)

    async def holder(self, room_id: str) -> Lease | None:
        """The room's lease (`expired` set when its node missed its renewals); None when
        the room is not live anywhere."""
        async with self.engine.connect() as conn:
            r = (
                await conn.execute(
                    text(
                        "SELECT room_id, node_id, epoch, config, resume, "
                        "expires_at < now() AS expired FROM room_leases WHERE room_id = :room"
                    ),
                    {"room": room_id},
                )
            ).first()
        if r is None:
            return None
        return Lease(r.room_id, r.node_id, r.epoch, _json(r.config), _json(r.resume), r.expired)

    async def rooms(self) -> list[Lease]:
        """Every room of the cluster: live leases, and expired ones (rooms being moved: a
        row goes only when its room is stopped)."""
        async with self.engine.connect() as conn:
            rows = (
                await conn.execute(
                    text(
                        "SELECT room_id, node_id, epoch, config, resume, "
                        "expires_at < now() AS expired FROM room_leases ORDER BY room_id"
                    )
                )
            ).all()
        return [
            Lease(r.room_id, r.node_id, r.epoch, _json(r.config), _json(r.resume), r.expired)
            for r in rows
        ]

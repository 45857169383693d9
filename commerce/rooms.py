"""Which shop owns a room: the record a permission check reads when the room is not live.

A room id becomes a shop's when it first goes live or is scheduled, and stays that shop's:
another shop can neither start a room under that id nor run promotions in it, and an id no
shop has registered is refused for shop staff (a promotion in a "ghost" room is a back door).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from commerce.models import ShopRoom

if TYPE_CHECKING:
    from commerce.store import Store

MAX_ROOM_ID = 64
MAX_CACHED = 10_000  # owners never change, so a cached answer stays true


class RoomRegistry:
    """Room ownership (`store.rooms`)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._owner: dict[str, str] = {}

    async def claim(
        self, room_id: str, shop_id: str, *, by: str = "", title: str = "", live: bool = True
    ) -> str:
        """Register `room_id` to `shop_id` unless a shop already owns it; return the owner.
        The caller compares: a different answer means the id is another shop's."""
        now = self.store.clock()
        try:
            async with self.store.db.write() as s:
                row = await s.get(ShopRoom, room_id)
                if row is None:
                    row = ShopRoom(
                        room_id=room_id,
                        shop_id=shop_id,
                        title=title[:60],
                        created_by=by[:64],
                        created_at=now,
                        last_live_at=now if live else None,
                    )
                    s.add(row)
                elif row.shop_id == shop_id:
                    row.last_live_at = now if live else row.last_live_at
                    row.title = title[:60] or row.title
                owner = row.shop_id
        except IntegrityError:  # a concurrent first claim won: its shop owns the id
            async with self.store.db.read() as s:
                owner = await s.scalar(select(ShopRoom.shop_id).where(ShopRoom.room_id == room_id))
        self._remember(room_id, owner)
        return owner

    async def shop_of(self, room_id: object) -> str | None:
        """The shop that owns `room_id`, or None when no shop has registered it."""
        if not isinstance(room_id, str) or not 0 < len(room_id) <= MAX_ROOM_ID:
            return None
        owner = self._owner.get(room_id)
        if owner is not None:
            return owner
        async with self.store.db.read() as s:
            owner = await s.scalar(select(ShopRoom.shop_id).where(ShopRoom.room_id == room_id))
        if owner is not None:
            self._remember(room_id, owner)
        return owner

    async def list(self, shop_id: str) -> list[dict]:
        """The shop's rooms, newest first."""
        async with self.store.db.read() as s:
            rows = await s.scalars(
                select(ShopRoom)
                .where(ShopRoom.shop_id == shop_id)
                .order_by(ShopRoom.created_at.desc())
            )
            return [
                {
                    "room_id": r.room_id,
                    "title": r.title,
                    "created_by": r.created_by,
                    "created_at": r.created_at.isoformat(),
                    "last_live_at": r.last_live_at.isoformat() if r.last_live_at else None,
                }
                for r in rows
            ]

    def _remember(self, room_id: str, owner: str) -> None:
        if len(self._owner) >= MAX_CACHED:
            self._owner.clear()
        self._owner[room_id] = owner

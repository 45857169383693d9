"""A room's saved RTMP outputs (`store.room_outputs`): what its staff added through the API
or panel, so the room pushes there again when it next goes live, a server restart included.
Stream keys are sealed with the shop's key (commerce/crypto.py) and only opened to push."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import delete, select

from commerce.models import RoomOutput

if TYPE_CHECKING:
    from commerce.store import Store

MAX_ID = 32
MAX_ROOM_ID = 64


@dataclass(frozen=True)
class SavedOutput:
    id: str
    room_id: str
    name: str
    url: str
    sealed_key: str


class RoomOutputs:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def save(self, room_id: str, output_id: str, url: str, key: str, name: str, by: str):
        """Keep an output the room's engine accepted (same id), its key sealed."""
        async with self.store.db.write() as s:
            s.add(
                RoomOutput(
                    id=output_id[:MAX_ID],
                    room_id=room_id[:MAX_ROOM_ID],
                    name=name[:64],
                    url=url[:512],
                    key=self.store.keys.encrypt(key),
                    created_by=by[:64],
                    created_at=self.store.clock(),
                )
            )

    async def list(self, room_id: str) -> list[SavedOutput]:
        """The room's saved outputs, oldest first (none for an id that is not a room's)."""
        if len(room_id) > MAX_ROOM_ID:
            return []
        q = select(RoomOutput).where(RoomOutput.room_id == room_id)
        async with self.store.db.read() as s:
            rows = (await s.scalars(q.order_by(RoomOutput.created_at, RoomOutput.id))).all()
            return [SavedOutput(r.id, r.room_id, r.name, r.url, r.key) for r in rows]

    def stream_key(self, saved: SavedOutput) -> str:
        """The clear key, to push with (raises when it was sealed under another secret)."""
        return self.store.keys.decrypt(saved.sealed_key)

    async def remove(self, room_id: str, output_id: str) -> bool:
        """Forget one output of the room; False when it was not saved."""
        if len(room_id) > MAX_ROOM_ID or len(output_id) > MAX_ID:
            return False
        async with self.store.db.write() as s:
            res = await s.execute(
                delete(RoomOutput).where(RoomOutput.room_id == room_id, RoomOutput.id == output_id)
            )
            return (res.rowcount or 0) > 0

"""A shop's rooms on record: schedule a room before it first goes live, list the shop's rooms.

A room id belongs to the shop that registered it (by going live or by scheduling here), and
promotions can be set up only in a room of the caller's own shop, live or scheduled.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field

from web.security import SHOP_ID, principal


class RoomIn(BaseModel):
    """Body of POST /api/shop/rooms."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    room_id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    title: str = Field(default="", max_length=60)


def add_room_routes(r: APIRouter, store) -> None:
    @r.get("/api/shop/rooms")
    async def shop_rooms(request: Request) -> list[dict]:
        return await store.rooms.list(principal(request).shop_id or SHOP_ID)

    @r.post("/api/shop/rooms", status_code=201)
    async def schedule_room(body: RoomIn, request: Request) -> dict:
        who = principal(request)
        shop = who.shop_id or SHOP_ID
        owner = await store.rooms.claim(
            body.room_id, shop, by=who.username, title=body.title, live=False
        )
        if owner != shop:
            raise HTTPException(403, f"直播间 {body.room_id} 属于其他店铺 (not your shop's room)")
        return {"room_id": body.room_id, "shop_id": shop, "title": body.title}

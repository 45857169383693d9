"""排班 (the 7×24 schedule) over REST and its workbench page.

`/api/shop/schedule` lists and adds a shop's daily slots; `/api/shop/schedule/{id}` reads,
changes and deletes one. Merchants only (web/security.py); another shop's slot is a 404. The
persona must be one of the hosts and each output a push target the engine would accept; the
domain checks the times (overlaps refused with the slot they overlap), the lineup and the
text. The scheduler (`streamer.scheduler`) is woken on every change.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr

from avatars.personas import PERSONAS
from commerce import Store
from commerce.errors import CommerceError
from commerce.schedule import MAX_LINEUP, MAX_OUTPUTS
from streamer.outputs import BadOutput, check_target
from streamer.scheduler import Scheduler
from web.openapi_bodies import json_body
from web.pages import render
from web.security import SHOP_ID, principal
from web.shop_api import read_json


class OutputSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    name: StrictStr = Field(default="", max_length=32)
    url: StrictStr = Field(min_length=1, max_length=512)
    stream_key: StrictStr = Field(default="", max_length=256)  # "" or masked: keep the old one


class SlotIn(BaseModel):
    """A daily slot: 06:00–12:00 (end 24:00 for midnight; an end before the start runs past
    midnight)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    room_id: StrictStr = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    title: StrictStr = Field(default="", max_length=60)
    persona: StrictStr = Field(max_length=32)
    start: StrictStr = Field(max_length=5)
    end: StrictStr = Field(max_length=5)
    lineup: list[StrictStr] = Field(default_factory=list, max_length=MAX_LINEUP)
    outputs: list[OutputSpec] = Field(default_factory=list, max_length=MAX_OUTPUTS)
    enabled: StrictBool = True
    # 720p 高清 (1280×720) or 480p 省流 (854×480): the room's frame when the slot starts it
    resolution: Literal["720p", "480p"] = "720p"


class SlotPatch(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    title: StrictStr | None = Field(default=None, max_length=60)
    persona: StrictStr | None = Field(default=None, max_length=32)
    start: StrictStr | None = Field(default=None, max_length=5)
    end: StrictStr | None = Field(default=None, max_length=5)
    lineup: list[StrictStr] | None = Field(default=None, max_length=MAX_LINEUP)
    outputs: list[OutputSpec] | None = Field(default=None, max_length=MAX_OUTPUTS)
    enabled: StrictBool | None = None
    resolution: Literal["720p", "480p"] | None = None


def _check_persona(persona: str | None) -> None:
    if persona is not None and persona not in PERSONAS:
        names = "、".join(f"{p.name}（{p.id}）" for p in PERSONAS.values())
        raise HTTPException(422, f"没有这位主播：{persona[:32]}；可选：{names}")


def _check_outputs(outputs: list[OutputSpec] | None) -> None:
    for i, o in enumerate(outputs or [], 1):
        try:
            # a masked or empty key means "keep the stored one": check the URL with a stand-in
            key = o.stream_key if o.stream_key and not o.stream_key.startswith("****") else "k"
            check_target(o.url, key, o.name)
        except BadOutput as exc:
            raise HTTPException(422, f"第 {i} 路推流设置有误：{exc}") from None


def build_router(store: Store, scheduler: Scheduler) -> APIRouter:
    r = APIRouter()

    def shop(request: Request) -> str:
        return principal(request).shop_id or SHOP_ID

    async def call(coro):
        try:
            return await coro
        except CommerceError as e:
            raise HTTPException(e.status, e.reason) from None

    def personas() -> list[dict]:
        return [{"id": p.id, "name": p.name, "role": p.role} for p in PERSONAS.values()]

    async def listing(shop_id: str) -> dict:
        slots = await call(store.schedule.list(shop_id))
        now = scheduler.local_now()
        return {
            "tz": scheduler.tz_name,
            "now": now.isoformat(timespec="seconds"),
            "slots": [s.view() | {"status": scheduler.describe(s)} for s in slots],
        }

    async def claim(request: Request, room_id: str, title: str) -> None:
        who = principal(request)
        owner = await store.rooms.claim(
            room_id, shop(request), by=who.username, title=title, live=False
        )
        if owner != shop(request):
            raise HTTPException(403, f"直播间 {room_id} 属于其他店铺 (not your shop's room)")

    @r.get("/api/shop/schedule")
    async def list_slots(request: Request) -> dict:
        return await listing(shop(request)) | {"personas": personas()}

    @r.post("/api/shop/schedule", status_code=201, openapi_extra=json_body(SlotIn))
    async def add_slot(request: Request) -> dict:
        body: SlotIn = await read_json(request, SlotIn)
        _check_persona(body.persona)
        _check_outputs(body.outputs)
        spec: dict[str, Any] = body.model_dump()
        # the domain checks before the id is claimed: a refused slot registers no room
        await call(store.schedule.check(spec))
        await claim(request, body.room_id, body.title)
        slot = await call(store.schedule.add(shop(request), spec, principal(request).username))
        scheduler.wake()
        out = slot.view()
        request.state.audit_after = out
        return out | {"status": scheduler.describe(slot)}

    @r.get("/api/shop/schedule/{slot_id}")
    async def get_slot(slot_id: str, request: Request) -> dict:
        slot = await call(store.schedule.get(shop(request), slot_id))
        return slot.view() | {"status": scheduler.describe(slot)}

    @r.patch("/api/shop/schedule/{slot_id}", openapi_extra=json_body(SlotPatch))
    async def change_slot(slot_id: str, request: Request) -> dict:
        body: SlotPatch = await read_json(request, SlotPatch)
        _check_persona(body.persona)
        _check_outputs(body.outputs)
        spec = body.model_dump(exclude_none=True)
        before = (await call(store.schedule.get(shop(request), slot_id))).view()
        slot = await call(
            store.schedule.update(shop(request), slot_id, spec, principal(request).username)
        )
        scheduler.wake()
        request.state.audit_before, request.state.audit_after = before, slot.view()
        return slot.view() | {"status": scheduler.describe(slot)}

    @r.delete("/api/shop/schedule/{slot_id}")
    async def delete_slot(slot_id: str, request: Request) -> dict:
        slot = await call(store.schedule.delete(shop(request), slot_id))
        scheduler.wake()
        request.state.audit_before = slot.view()
        return {"id": slot.id, "deleted": True}

    @r.get("/workbench/schedule", include_in_schema=False)
    async def page(request: Request):
        p = principal(request)
        data = await listing(shop(request))
        facts = await store.fact_sheets()
        rooms = await store.rooms.list(shop(request))
        names = {p["id"]: p["name"] for p in personas()}
        titles = {f.sku: f.title for f in facts}
        by_room: dict[str, list[dict]] = {}
        for s in data["slots"]:
            by_room.setdefault(s["room_id"], []).append(s)
        return render(
            "workbench/schedule.html",
            me={"username": p.username, "role": p.role, "can_edit": True, "can_ship": True},
            nav="schedule",
            data=data,
            by_room=by_room,
            personas=personas(),
            persona_names=names,
            products=[{"sku": f.sku, "title": f.title, "price": str(f.price)} for f in facts],
            titles=titles,
            rooms=[x["room_id"] for x in rooms],
        )

    return r

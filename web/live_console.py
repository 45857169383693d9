"""直播中控台 (the live console) and 工单台 (the ticket desk) of the farmer's workbench.

The console is for one's own live room (`web.security` refuses another shop's room, and a
room that is not live is 404 here): the room plays over WHEP, the danmaku stream in with
their sentiment over the room's events socket, and the page polls one snapshot
(`/api/rooms/{id}/console`: viewers, mood, GMV of this session, the last answers, the answer
mode). Its actions: pin and flash sale (the shop's own API), take-over (主播说, checked like
every host line: a refusal is 422 with the reasons) and the answer mode.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, StrictStr

from commerce import Store
from commerce.analytics.rooms import session_sales
from commerce.errors import TicketError
from commerce.tickets import SLA
from streamer.takeover import ANSWER_MODES, MAX_MODE_MINUTES, MAX_TAKEOVER_CHARS
from web.openapi_bodies import json_body
from web.pages import render
from web.security import SHOP_ID, principal, serves_this_shop
from web.shop_api import read_json
from web.tickets_api import TAKERS, ticket_json

KIND_ZH = {"complaint": "投诉", "question": "咨询", "refund": "退款", "other": "其他"}
REASON_ZH = {
    "quality": "质量",
    "shipping": "物流",
    "service": "服务",
    "price": "价格",
    "safety": "安全",
    "incident": "事故",
    "no_fact": "缺少信息",
    "low_confidence": "没把握",
}
MODE_ZH = {"spoken": "语音回答", "text": "只发文字", "muted": "暂停回答"}


class TakeoverIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: StrictStr = Field(min_length=1, max_length=MAX_TAKEOVER_CHARS * 4)


class AnswerModeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    mode: StrictStr = Field(max_length=16, description="/".join(ANSWER_MODES))
    minutes: StrictInt | StrictFloat | None = Field(default=None, gt=0, le=MAX_MODE_MINUTES)


def own_rooms(engine: Any, request: Request) -> list[dict]:
    """The live rooms the caller may run: their shop's (every room for an admin)."""
    who = principal(request)
    shop = who.shop_id or SHOP_ID
    return [
        r
        for r in engine.list_rooms()
        if who.role == "admin" or engine.room_shop(r["room_id"]) == shop
    ]


def build_router(store: Store, engine: Any) -> APIRouter:
    r = APIRouter()

    def me(request: Request) -> dict:
        p = principal(request)
        return {
            "username": p.username,
            "role": p.role,
            "can_edit": p.role in ("admin", "operator"),
            "can_ship": p.role in ("admin", "operator", "cs"),
        }

    # -- the console ---------------------------------------------------------------------------
    @r.get("/workbench/live", include_in_schema=False)
    async def live_rooms(request: Request):
        return render(
            "workbench/live.html",
            me=me(request),
            nav="live",
            room=None,
            rooms=own_rooms(engine, request),
            missing="",
        )

    @r.get("/workbench/live/{room_id}", include_in_schema=False)
    async def console_page(room_id: str, request: Request):
        if room_id not in engine.configs():
            response = render(
                "workbench/live.html",
                me=me(request),
                nav="live",
                room=None,
                rooms=own_rooms(engine, request),
                missing=room_id[:64],
            )
            response.status_code = 404
            return response
        info = await engine.room_info(room_id)
        return render(
            "workbench/live.html",
            me=me(request),
            nav="live",
            room=info,
            rooms=[],
            missing="",
            max_chars=MAX_TAKEOVER_CHARS,
            modes=MODE_ZH,
        )

    @r.get("/api/rooms/{room_id}/console")
    async def console(room_id: str) -> dict:
        """One snapshot for the console: the room's figures, mood, GMV of this session,
        the last answers and the answer mode."""
        stats = await engine.room_stats(room_id)
        since = datetime.fromtimestamp(stats.get("started_at") or 0, UTC).replace(tzinfo=None)
        async with store.db.read() as s:
            sales = await session_sales(s, room_id, since)
        keys = (
            "room_id",
            "title",
            "persona_name",
            "live",
            "viewers",
            "current_sku",
            "current_product",
            "mood",
            "delivery",
            "answer_mode",
            "last_answers",
            "takeovers",
            "fps",
            "orientation",
            "width",
            "height",
        )
        out = {k: stats.get(k) for k in keys}
        out["tickets_open"] = await store.tickets.count_open(room_id)
        return out | {"session": sales}

    @r.post("/api/rooms/{room_id}/takeover", openapi_extra=json_body(TakeoverIn))
    async def takeover(room_id: str, request: Request) -> JSONResponse:
        """主播说: the host says the line at the next phrase boundary; 422 with the reasons
        when it is refused (a price not the shop's, a banned claim)."""
        engine.config_of(room_id)
        body: TakeoverIn = await read_json(request, TakeoverIn)
        out = await engine.take_over(room_id, body.text)
        request.state.audit_after = {"text": out["text"][:200], "accepted": out["accepted"]}
        if out.get("busy"):
            detail = "；".join(out["reasons"])
            return JSONResponse(
                {"detail": detail, **out}, status_code=429, headers={"Retry-After": "5"}
            )
        if not out["accepted"]:
            detail = "主播不能这样说：" + "；".join(out["reasons"])
            return JSONResponse({"detail": detail, **out}, status_code=422)
        return JSONResponse(out, status_code=202)

    @r.post("/api/rooms/{room_id}/answer-mode", openapi_extra=json_body(AnswerModeIn))
    async def answer_mode(room_id: str, request: Request) -> dict:
        engine.config_of(room_id)
        body: AnswerModeIn = await read_json(request, AnswerModeIn)
        return await engine.set_answer_mode(room_id, body.mode, body.minutes)

    # -- the ticket desk -----------------------------------------------------------------------
    @r.get("/workbench/tickets", include_in_schema=False)
    async def desk(request: Request):
        q = request.query_params
        status = q.get("status") or "open"
        if status not in ("open", "closed", "all"):
            raise HTTPException(422, "状态只能是 open、closed 或 all")
        who = principal(request)
        mine = q.get("mine") == "1"
        try:
            views = await store.tickets.list(
                None if status == "all" else status,
                limit=200,
                assigned_to=who.username if mine else None,
            )
        except TicketError as e:
            raise HTTPException(422, e.reason) from None
        now = store.clock()
        rows = []
        for t in views:
            j = ticket_json(t)
            j["kind_zh"] = KIND_ZH.get(t.kind, t.kind)
            j["reason_zh"] = REASON_ZH.get(t.reason, t.reason)
            j["overdue"] = t.status == "open" and t.first_reply_at is None and now > t.due_at
            j["live"] = t.room_id in engine.configs()
            rows.append(j)
        rows.sort(key=lambda x: (not x["overdue"], x["status"] != "open", x["due_at"] or ""))
        staff = [
            u.username
            for u in await store.accounts.list_users()
            if not u.disabled and u.role in TAKERS and (u.shop_id or SHOP_ID) == SHOP_ID
        ]
        return render(
            "workbench/tickets.html",
            me=me(request),
            nav="tickets",
            rows=rows,
            status=status,
            mine=mine,
            staff=staff,
            now=now.isoformat(),
            sla_minutes=int(SLA.total_seconds() // 60),
            shop_staff=serves_this_shop(who),
        )

    return r

"""REST endpoints of customer-service tickets under /api/tickets (service staff: admin,
operator and cs, as `web.security.POLICY` says): list, read, assign, reply and close.

A reply is stored, then sent to the viewer's chat in the room (a `cs_reply` event on their
events socket) when they are still there; the answer says whether it reached them.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from pydantic import Field, StrictStr

from commerce import Store
from commerce.api_models import _In
from commerce.errors import (
    AccountError,
    InvalidTicket,
    TicketAlreadyClosed,
    TicketError,
    TicketNotFound,
)
from commerce.tickets import MAX_LIST, ReplyView, TicketView
from streamer.events import ServiceReply
from web.openapi_bodies import json_body
from web.security import SHOP_ID, principal
from web.shop_api import read_json

# Domain error -> HTTP status; the domain itself knows nothing of HTTP.
STATUS = {TicketNotFound: 404, TicketAlreadyClosed: 409, InvalidTicket: 422}


class CloseIn(_In):
    note: StrictStr = Field(default="", description="处理说明，最多 500 字")
    by: StrictStr = Field(default="", description="处理人（账号功能上线前由客户端填写）")


class ReplyIn(_In):
    text: StrictStr = Field(description="回复内容，最多 300 字，发到观众的聊天里")


class AssignIn(_In):
    assignee: StrictStr = Field(description="处理人账号；空字符串退回待领取")


TAKERS = ("admin", "operator", "cs")  # who may hold a ticket


class LabelIn(_In):
    sentiment: StrictStr | None = Field(default=None, description="情感：pos / neu / neg")
    intent: StrictStr | None = Field(
        default=None,
        description="意图：spam / complaint / question / purchase / praise / greeting / other",
    )


def ticket_json(t: TicketView) -> dict[str, Any]:
    out = asdict(t)
    for k in ("created_at", "closed_at", "first_reply_at", "due_at"):
        out[k] = out[k].isoformat() if out[k] is not None else None
    return out


def reply_json(r: ReplyView) -> dict[str, Any]:
    out = asdict(r)
    out["created_at"] = r.created_at.isoformat()
    return out


def _limit(raw: str | None) -> int:
    if raw is None:
        return 50
    raw = raw.strip()
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= MAX_LIST:
        raise HTTPException(422, f"limit 必须是 1 到 {MAX_LIST} 的整数")
    return int(raw)


def build_router(store: Store, engine: Any = None) -> APIRouter:
    """Ticket endpoints; `engine` (the rooms) carries replies to viewers still in a room."""
    r = APIRouter()

    async def to_viewer(t: TicketView, text: str) -> bool:
        """The reply in the viewer's chat, if they are still in the room."""
        if engine is None or t.room_id not in engine.configs():
            return False
        event = ServiceReply(t.room_id, t.id, text, "客服", (t.user_id,))
        return engine.deliver(t.room_id, event) > 0

    async def call(coro):
        try:
            return await coro
        except TicketError as e:
            raise HTTPException(STATUS.get(type(e), 422), e.reason) from None

    @r.get("/api/tickets")
    async def list_tickets(
        status: str = "open",
        room_id: str | None = None,
        limit: str | None = None,
        before: str | None = None,
    ) -> list[dict]:
        """Newest first; `status=all` lists every ticket; page on with before=<last id>."""
        n = _limit(limit)
        wanted = None if status == "all" else status
        views = await call(store.tickets.list(wanted, room_id, n, before))
        return [ticket_json(t) for t in views]

    @r.get("/api/tickets/{ticket_id}")
    async def get_ticket(ticket_id: str) -> dict:
        t = ticket_json(await call(store.tickets.get(ticket_id)))
        return t | {"replies": [reply_json(x) for x in await call(store.tickets.replies(t["id"]))]}

    @r.post("/api/tickets/{ticket_id}/reply", openapi_extra=json_body(ReplyIn))
    async def reply_ticket(ticket_id: str, request: Request) -> dict:
        body: ReplyIn = await read_json(request, ReplyIn)
        who = principal(request).username
        view, reply = await call(store.tickets.reply(ticket_id, body.text, who, to_viewer))
        request.state.audit_after = {"ticket": ticket_id, "delivered": reply.delivered}
        return {"ticket": ticket_json(view), "reply": reply_json(reply)}

    @r.post("/api/tickets/{ticket_id}/assign", openapi_extra=json_body(AssignIn))
    async def assign_ticket(ticket_id: str, request: Request) -> dict:
        body: AssignIn = await read_json(request, AssignIn)
        name = body.assignee.strip()
        if name:
            try:
                user = await store.accounts.get_user(name[:64])
            except AccountError:
                raise HTTPException(422, f"没有这个账号：{name[:64]}") from None
            if user.disabled or user.role not in TAKERS or (user.shop_id or SHOP_ID) != SHOP_ID:
                raise HTTPException(422, f"{name[:64]} 不能处理本店工单")
        return ticket_json(await call(store.tickets.assign(ticket_id, name)))

    @r.post("/api/tickets/{ticket_id}/close", openapi_extra=json_body(CloseIn))
    async def close_ticket(ticket_id: str, request: Request) -> dict:
        body: CloseIn = await read_json(request, CloseIn)
        by = body.by or principal(request).username
        return ticket_json(await call(store.tickets.close(ticket_id, body.note, by)))

    @r.post("/api/danmaku/{ticket_id}/label", openapi_extra=json_body(LabelIn))
    async def label_danmaku(ticket_id: str, request: Request) -> dict:
        """Correct the sentiment or intent of a stored comment (a ticket's text); used by
        `yunlian danmaku train`."""
        body: LabelIn = await read_json(request, LabelIn)
        by = principal(request).username
        return await call(store.danmaku_labels.correct(ticket_id, body.sentiment, body.intent, by))

    return r

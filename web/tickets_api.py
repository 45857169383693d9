"""REST endpoints of customer-service tickets under /api/tickets (merchant routes).

Until the accounts issue lands, every route takes the shop's merchant guard: X-Admin-Token
when YUNLIAN_ADMIN_TOKEN is configured.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from pydantic import Field, StrictStr

from commerce import Store
from commerce.api_models import _In
from commerce.errors import InvalidTicket, TicketAlreadyClosed, TicketError, TicketNotFound
from commerce.tickets import MAX_LIST, TicketView
from web.openapi_bodies import json_body
from web.security import principal
from web.shop_api import read_json

# Domain error -> HTTP status; the domain itself knows nothing of HTTP.
STATUS = {TicketNotFound: 404, TicketAlreadyClosed: 409, InvalidTicket: 422}


class CloseIn(_In):
    note: StrictStr = Field(default="", description="处理说明，最多 500 字")
    by: StrictStr = Field(default="", description="处理人（账号功能上线前由客户端填写）")


class LabelIn(_In):
    sentiment: StrictStr | None = Field(default=None, description="情感：pos / neu / neg")
    intent: StrictStr | None = Field(
        default=None,
        description="意图：spam / complaint / question / purchase / praise / greeting / other",
    )


def ticket_json(t: TicketView) -> dict[str, Any]:
    out = asdict(t)
    for k in ("created_at", "closed_at"):
        out[k] = out[k].isoformat() if out[k] is not None else None
    return out


def _limit(raw: str | None) -> int:
    if raw is None:
        return 50
    raw = raw.strip()
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= MAX_LIST:
        raise HTTPException(422, f"limit 必须是 1 到 {MAX_LIST} 的整数")
    return int(raw)


def build_router(store: Store) -> APIRouter:
    """Ticket endpoints; mount with `app.include_router(tickets_api.build_router(store))`."""
    r = APIRouter()

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
        return ticket_json(await call(store.tickets.get(ticket_id)))

    @r.post("/api/tickets/{ticket_id}/close", openapi_extra=json_body(CloseIn))
    async def close_ticket(ticket_id: str, request: Request) -> dict:
        body: CloseIn = await read_json(request, CloseIn)
        return ticket_json(await call(store.tickets.close(ticket_id, body.note, body.by)))

    @r.post("/api/danmaku/{ticket_id}/label", openapi_extra=json_body(LabelIn))
    async def label_danmaku(ticket_id: str, request: Request) -> dict:
        """Correct the sentiment or intent of a stored comment (a ticket's text); used by
        `yunlian danmaku train`."""
        body: LabelIn = await read_json(request, LabelIn)
        by = principal(request).username
        return await call(store.danmaku_labels.correct(ticket_id, body.sentiment, body.intent, by))

    return r

"""PostgreSQL fast path for placing an order: one call to yl_create_order (migration 0002)."""

from __future__ import annotations

import json
import secrets
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError

from commerce import order_state
from commerce.errors import (
    CommerceError,
    InsufficientStock,
    InvalidInput,
    PriceMismatch,
    PromotionError,
    PurchaseLimitExceeded,
)
from commerce.events import ShopEvent, stock_events
from commerce.models import Order
from commerce.money import yuan_str

if TYPE_CHECKING:
    from commerce.orders import OrderRequest
    from commerce.store import Store

CALL = text(
    "SELECT yl_create_order(:id, :key, :hash, :buyer, :name, :phone, :addr, :room, :persona,"
    " :segment, :now, :expires, :skus, :qtys, :prices)"
)


def _domain_error(e: DBAPIError) -> CommerceError | None:
    cause = getattr(e.orig, "__cause__", None)
    code = getattr(cause, "sqlstate", None) or getattr(e.orig, "sqlstate", None)
    msg = getattr(cause, "message", None) or str(e.orig)
    parts = msg.split("|")
    if code == "YL001":
        return InsufficientStock(parts[0], int(parts[1]), int(parts[2]))
    if code == "YL002":
        return PriceMismatch(f"{parts[0]} 价格已变为 {yuan_str(int(parts[1]))} 元，请刷新后重试")
    if code == "YL003":
        return InvalidInput(f"商品不存在：{parts[0]}")
    if code == "YL004":
        return PurchaseLimitExceeded(f"{parts[0]} 每人限购 {parts[1]} 件，已购 {parts[2]} 件")
    if code == "YL005":
        return PromotionError("秒杀名额已抢完")
    return None


async def create_order_pg(
    store: Store, req: OrderRequest, key: str, fp: str
) -> tuple[dict, list[ShopEvent]]:
    """Same contract as OrderService._create, in one round trip and one implicit transaction."""
    from commerce.orders import render

    now = store.clock()
    order_id = f"YL{now:%Y%m%d%H%M%S}{secrets.token_hex(4).upper()}"
    expires = now + timedelta(minutes=store.reservation_minutes)
    keys = store.keys
    params = {
        "id": order_id,
        "key": key,
        "hash": fp,
        "buyer": req.buyer_id,
        "name": keys.encrypt(req.buyer_name),
        "phone": keys.encrypt(req.phone),
        "addr": keys.encrypt(req.address),
        "room": req.room_id,
        "persona": req.persona,
        "segment": req.segment,
        "now": now,
        "expires": expires,
        "skus": [it.sku for it in req.items],
        "qtys": [it.quantity for it in req.items],
        "prices": [it.unit_price_fen for it in req.items],
    }
    try:
        async with store.db.autocommit.connect() as conn:
            raw = (await conn.execute(CALL, params)).scalar_one()
    except IntegrityError:
        raise
    except DBAPIError as e:
        err = _domain_error(e)
        if err is None:
            raise
        raise err from None
    result = json.loads(raw) if isinstance(raw, str) else raw
    subtotal = result["subtotal"]
    order = Order(
        id=order_id,
        buyer_id=req.buyer_id,
        status=order_state.UNPAID,
        subtotal_fen=subtotal,
        discount_fen=0,
        total_fen=subtotal,
        room_id=req.room_id,
        persona=req.persona,
        segment=req.segment,
        created_at=now,
        expires_at=expires,
        cancel_reason=None,
    )
    events: list[ShopEvent] = []
    batches: set[str] = set()
    by_code = {ln["sku"]: ln for ln in result["lines"]}
    lines = []
    for it in req.items:
        ln = by_code[it.sku]
        lines.append((ln["sku"], ln["unit"], ln["qty"], ln["price"], ln["fs"]))
        batches.update(ln["batches"])
        events += stock_events(req.room_id, ln["sku"], ln["left"])
    view = render(order, (req.buyer_name, req.phone, req.address), lines, [], sorted(batches))
    return view, events

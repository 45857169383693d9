"""PostgreSQL fast path for placing an order: one call to yl_create_order (migrations 0002, 0004).

The call goes straight to asyncpg (Database.fast), skipping SQLAlchemy: it is one statement in
its own implicit transaction, and the client CPU it saves is CPU the database gets back.
"""

from __future__ import annotations

import json
import secrets
from datetime import timedelta
from typing import TYPE_CHECKING

import asyncpg

from commerce.errors import (
    CommerceError,
    InsufficientStock,
    InvalidInput,
    PriceMismatch,
    PromotionError,
    PurchaseLimitExceeded,
)
from commerce.events import ShopEvent, stock_events
from commerce.money import yuan_str

if TYPE_CHECKING:
    from commerce.orders import OrderRequest
    from commerce.store import Store

CALL = "SELECT yl_create_order($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"


class DuplicateOrder(Exception):
    """A unique constraint refused the insert: normally a concurrent request with the same key."""


def _domain_error(e: asyncpg.PostgresError) -> CommerceError | None:
    code = getattr(e, "sqlstate", None)
    parts = (getattr(e, "message", None) or str(e)).split("|")
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
    from commerce.orders import render, unpaid_order

    now = store.clock()
    order_id = f"YL{now:%Y%m%d%H%M%S}{secrets.token_hex(4).upper()}"
    expires = now + timedelta(minutes=store.reservation_minutes)
    keys = store.keys
    args = (
        order_id,
        key,
        fp,
        req.buyer_id,
        keys.encrypt(req.buyer_name),
        keys.encrypt(req.phone),
        keys.encrypt(req.address),
        req.room_id,
        req.persona,
        req.segment,
        now,
        expires,
        [it.sku for it in req.items],
        [it.quantity for it in req.items],
        [it.unit_price_fen for it in req.items],
    )
    try:
        async with store.db.fast_connection() as conn:
            raw = await conn.fetchval(CALL, *args)
    except asyncpg.UniqueViolationError as e:
        raise DuplicateOrder(str(e)) from e
    except asyncpg.PostgresError as e:
        err = _domain_error(e)
        if err is None:
            raise
        raise err from None
    result = json.loads(raw)
    order = unpaid_order(order_id, req, result["subtotal"], now, expires)
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

"""Sales per live room, split by persona, segment and SKU: what the attribution is for."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from commerce.models import Order, OrderLine, Sku
from commerce.money import yuan_str

# Orders whose money the shop kept (refunds and cancellations do not count as sales).
SOLD = ("paid", "shipped", "delivered", "completed", "refund_requested")
# The key for orders placed without a persona or segment (as the reports show them): "-".
UNATTRIBUTED = "-"


async def room_sales(session: AsyncSession, room_id: str) -> dict:
    base = (Order.room_id == room_id, Order.status.in_(SOLD))
    orders, revenue = (
        await session.execute(
            select(func.count(Order.id), func.coalesce(func.sum(Order.total_fen), 0)).where(*base)
        )
    ).one()

    async def split(col) -> dict:
        rows = await session.execute(
            select(col, func.count(Order.id), func.coalesce(func.sum(Order.total_fen), 0))
            .where(*base)
            .group_by(col)
        )
        merged: dict[str, list[int]] = {}
        for k, n, r in rows:  # None and "" are both "no attribution": one group
            acc = merged.setdefault(k or UNATTRIBUTED, [0, 0])
            acc[0] += n
            acc[1] += int(r)
        return {k: {"orders": n, "revenue": yuan_str(r)} for k, (n, r) in merged.items()}

    by_sku = await session.execute(
        select(
            Sku.code,
            func.sum(OrderLine.quantity),
            func.sum(OrderLine.quantity * OrderLine.unit_price_fen),
        )
        .join(Order, Order.id == OrderLine.order_id)
        .join(Sku, Sku.id == OrderLine.sku_id)
        .where(*base)
        .group_by(Sku.code)
    )
    return {
        "room_id": room_id,
        "orders": orders,
        "revenue": yuan_str(int(revenue)),
        "by_persona": await split(Order.persona),
        "by_segment": await split(Order.segment),
        "by_sku": {code: {"units": int(u), "gross": yuan_str(int(g))} for code, u, g in by_sku},
    }


async def session_sales(session: AsyncSession, room_id: str, since) -> dict:
    """Paid sales of a room placed since `since` (naive UTC): the live console's GMV of the
    session under way."""
    orders, revenue = (
        await session.execute(
            select(func.count(Order.id), func.coalesce(func.sum(Order.total_fen), 0)).where(
                Order.room_id == room_id, Order.status.in_(SOLD), Order.created_at >= since
            )
        )
    ).one()
    return {"orders": int(orders), "gmv": yuan_str(int(revenue)), "since": since.isoformat()}

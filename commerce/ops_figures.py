"""Figures the ops desk reads from the shop: sales per live session (totals only, never who
bought) and whether the payment provider's webhooks have gone quiet while payments wait."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select

from commerce import order_state
from commerce.db import Database
from commerce.models import Order, Payment, WebhookEvent

SOLD = (
    order_state.PAID,
    order_state.SHIPPED,
    order_state.DELIVERED,
    order_state.COMPLETED,
    order_state.REFUND_REQUESTED,
)


async def session_gmv(db: Database, since: dict[str, datetime]) -> dict[str, int]:
    """Fen sold (paid orders, refunds not yet done) per room since its session started."""
    if not since:
        return {}
    out = dict.fromkeys(since, 0)
    oldest = min(since.values())
    async with db.read() as s:
        rows = await s.execute(
            select(Order.room_id, Order.created_at, Order.total_fen).where(
                Order.room_id.in_(list(since)),
                Order.created_at >= oldest,
                Order.status.in_(SOLD),
            )
        )
        for room_id, created, total in rows:
            if created >= since[room_id]:
                out[room_id] += int(total)
    return out


async def payments_waiting(db: Database, older_than: datetime) -> tuple[int, datetime | None]:
    """(payments pending since before `older_than`, when the last webhook arrived)."""
    async with db.read() as s:
        waiting = await s.scalar(
            select(func.count())
            .select_from(Payment)
            .where(Payment.status == "pending", Payment.created_at < older_than)
        )
        last = await s.scalar(select(func.max(WebhookEvent.received_at)))
    return int(waiting or 0), last

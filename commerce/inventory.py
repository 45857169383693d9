"""Stock per SKU per warehouse per batch: reservations, allocations, first-expiring-first.

available = quantity − allocated − unexpired reservations. Each stock row keeps `reserved`,
the sum of its reservation rows, so that is computed as quantity − allocated − reserved +
lapsed, where lapsed (reservations past their deadline the expirer has not released yet) is a
short index range instead of every outstanding hold. Stock rows are locked with
SELECT ... FOR UPDATE on PostgreSQL; on SQLite the write transaction already holds the
database write lock (BEGIN IMMEDIATE), which serialises the same read-check-write.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from commerce.errors import InsufficientStock
from commerce.models import Allocation, Batch, Reservation, Sku, Stock


def _lapsed_query(stock_ids: list[int], now: datetime):
    """Units in reservations past their deadline that are not released yet, per stock."""
    return (
        select(Reservation.stock_id, func.sum(Reservation.quantity))
        .where(Reservation.stock_id.in_(stock_ids), Reservation.expires_at <= now)
        .group_by(Reservation.stock_id)
    )


async def lapsed(session: AsyncSession, stock_ids: list[int], now: datetime) -> dict[int, int]:
    if not stock_ids:
        return {}
    return {sid: int(n) for sid, n in await session.execute(_lapsed_query(stock_ids, now))}


async def _drop_reservations(session: AsyncSession, order_id: str) -> None:
    """Delete an order's reservations and take their units off the stock rows' counters."""
    gone = await session.execute(
        delete(Reservation)
        .where(Reservation.order_id == order_id)
        .returning(Reservation.stock_id, Reservation.quantity)
    )
    per_stock: dict[int, int] = {}
    for sid, qty in gone:
        per_stock[sid] = per_stock.get(sid, 0) + qty
    for sid in sorted(per_stock):
        await session.execute(
            update(Stock).where(Stock.id == sid).values(reserved=Stock.reserved - per_stock[sid])
        )


def reserve(
    session: Session, sku: Sku, qty: int, order_id: str, expires_at: datetime, now: datetime
) -> tuple[int, list[str]]:
    """Hold `qty` units for an unpaid order, earliest-expiring batch first.

    Returns (the SKU's available units after the hold, batch ids used). Raises InsufficientStock.
    """
    # Lock first, then sum the holds in a second statement: under READ COMMITTED a new
    # statement sees reservations committed by whoever held the lock before us.
    rows = session.execute(
        select(Stock.id, Stock.batch_id, Stock.quantity - Stock.allocated - Stock.reserved)
        .join(Batch, Batch.id == Stock.batch_id)
        .where(Stock.sku_id == sku.id, Batch.expiry_date >= now.date())
        .order_by(Batch.expiry_date, Batch.id, Stock.id)
        .with_for_update(of=Stock)
    )
    stocks = rows.all()
    ids = [sid for sid, _, _ in stocks]
    back = {sid: int(n) for sid, n in session.execute(_lapsed_query(ids, now))} if ids else {}
    free = [(sid, bid, max(0, int(n) + back.get(sid, 0))) for sid, bid, n in stocks]
    total = sum(n for _, _, n in free)
    if total < qty:
        raise InsufficientStock(sku.code, qty, total)
    need, used = qty, []
    for sid, bid, n in free:
        take = min(n, need)
        if take:
            session.add(
                Reservation(stock_id=sid, order_id=order_id, quantity=take, expires_at=expires_at)
            )
            session.execute(
                update(Stock).where(Stock.id == sid).values(reserved=Stock.reserved + take)
            )
            used.append(bid)
            need -= take
        if need == 0:
            break
    return total - qty, used


async def release(session: AsyncSession, order_id: str) -> None:
    await _drop_reservations(session, order_id)


async def allocate(session: AsyncSession, order_id: str, now: datetime) -> bool:
    """Turn an order's reservations into allocations when it is paid.

    If a reservation already lapsed, the units are taken only if still free. Returns False
    (allocating nothing) when they are not, so the caller can refund instead of overselling.
    """
    res = list(
        (
            await session.execute(
                select(Reservation)
                .where(Reservation.order_id == order_id)
                .order_by(Reservation.stock_id)
            )
        ).scalars()
    )
    if not res:
        return False
    ids = sorted({r.stock_id for r in res})
    rows = await session.execute(
        select(Stock.id, Stock.quantity - Stock.allocated - Stock.reserved)
        .where(Stock.id.in_(ids))
        .order_by(Stock.id)
        .with_for_update()
    )
    # Free for this order = quantity − allocated − other orders' unexpired holds, and
    # reserved counts this order's holds too: give back its own and everyone's lapsed units.
    free = {sid: int(n) for sid, n in rows}
    for sid, n in (await lapsed(session, ids, now)).items():
        free[sid] += n
    for r in res:
        if r.expires_at > now:
            free[r.stock_id] += r.quantity
    for r in res:
        if free[r.stock_id] < r.quantity:
            return False
        free[r.stock_id] -= r.quantity
    for r in res:
        await session.execute(
            update(Stock)
            .where(Stock.id == r.stock_id)
            .values(allocated=Stock.allocated + r.quantity)
        )
        session.add(Allocation(stock_id=r.stock_id, order_id=order_id, quantity=r.quantity))
    await _drop_reservations(session, order_id)
    return True


async def _release_allocations(session: AsyncSession, order_id: str, shipped: bool) -> None:
    for a in (
        await session.execute(select(Allocation).where(Allocation.order_id == order_id))
    ).scalars():
        values = {"allocated": Stock.allocated - a.quantity}
        if shipped:
            values["quantity"] = Stock.quantity - a.quantity
        await session.execute(update(Stock).where(Stock.id == a.stock_id).values(**values))


async def ship(session: AsyncSession, order_id: str) -> None:
    """Units leave the warehouse: both on-hand quantity and allocation drop."""
    await _release_allocations(session, order_id, shipped=True)


async def deallocate(session: AsyncSession, order_id: str) -> None:
    """A paid order refunded before shipping gives its units back."""
    await _release_allocations(session, order_id, shipped=False)
    await session.execute(delete(Allocation).where(Allocation.order_id == order_id))


async def order_batches(session: AsyncSession, order_id: str) -> list[str]:
    """Batch ids an order's units come from (reserved or allocated): for the trace QR."""
    q1 = (
        select(Stock.batch_id)
        .join(Reservation, Reservation.stock_id == Stock.id)
        .where(Reservation.order_id == order_id)
    )
    q2 = (
        select(Stock.batch_id)
        .join(Allocation, Allocation.stock_id == Stock.id)
        .where(Allocation.order_id == order_id)
    )
    rows = await session.execute(q1.union(q2))
    return sorted(r[0] for r in rows)


async def sku_available(session: AsyncSession, sku_id: int, now: datetime) -> int:
    rows = await session.execute(
        select(Stock.id, Stock.quantity - Stock.allocated - Stock.reserved)
        .join(Batch, Batch.id == Stock.batch_id)
        .where(Stock.sku_id == sku_id, Batch.expiry_date >= now.date())
    )
    stocks = [(sid, int(n)) for sid, n in rows]
    back = await lapsed(session, [s for s, _ in stocks], now)
    return sum(max(0, n + back.get(sid, 0)) for sid, n in stocks)

"""The merchant's orders list: filters (status, China day range, room, product, province),
one page at a time, newest first, buyers' contact details masked; and the counts the
workbench home shows (orders waiting to ship, refund requests)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import exists, func, select

from commerce import order_state
from commerce.crypto import mask_address, mask_name
from commerce.errors import InvalidInput
from commerce.fulfilment import Shipment
from commerce.models import AnOrder, Order, OrderLine, Sku
from commerce.money import yuan_str

if TYPE_CHECKING:
    from commerce.store import Store

PAGE_SIZES = (20, 50, 100)
MAX_PAGE = 10_000
CHINA = timedelta(hours=8)  # orders keep naive UTC; a farmer's day is Beijing time


@dataclass(frozen=True)
class OrderFilter:
    """What the list is narrowed to; None or "" means any."""

    status: str | None = None
    day_from: date | None = None
    day_to: date | None = None  # inclusive
    room_id: str | None = None
    sku: str | None = None
    province: str | None = None

    def check(self) -> None:
        if self.status and self.status not in order_state.STATES:
            raise InvalidInput(f"未知的订单状态：{self.status[:24]}")
        if self.day_from and self.day_to and self.day_to < self.day_from:
            raise InvalidInput("结束日期不能早于开始日期")
        for value, what in ((self.room_id, "直播间"), (self.sku, "商品"), (self.province, "省份")):
            if value is not None and len(value) > 64:
                raise InvalidInput(f"{what}筛选条件不能超过64个字符")


def _utc_start(day: date) -> datetime:
    return datetime.combine(day, time()) - CHINA


def _where(q, f: OrderFilter):
    if f.status:
        q = q.where(Order.status == f.status)
    if f.day_from:
        q = q.where(Order.created_at >= _utc_start(f.day_from))
    if f.day_to:
        q = q.where(Order.created_at < _utc_start(f.day_to + timedelta(days=1)))
    if f.room_id:
        q = q.where(Order.room_id == f.room_id)
    if f.sku:
        q = q.where(
            exists().where(
                OrderLine.order_id == Order.id, OrderLine.sku_id == Sku.id, Sku.code == f.sku
            )
        )
    if f.province:  # the analytics rollup keeps each order's province (addresses are sealed)
        q = q.where(exists().where(AnOrder.order_id == Order.id, AnOrder.province == f.province))
    return q


async def list_orders(store: Store, f: OrderFilter, page: int = 1, per_page: int = 20) -> dict:
    """{"total", "page", "per_page", "pages", "orders": [...]} for one page of the list."""
    f.check()
    if per_page not in PAGE_SIZES:
        raise InvalidInput(f"每页数量只能是 {'、'.join(map(str, PAGE_SIZES))}")
    if not 1 <= page <= MAX_PAGE:
        raise InvalidInput(f"页码必须在 1 到 {MAX_PAGE} 之间")
    keys = store.keys
    async with store.db.read() as s:
        total = (await s.execute(_where(select(func.count()).select_from(Order), f))).scalar_one()
        rows = (
            (
                await s.execute(
                    _where(select(Order), f)
                    .order_by(Order.created_at.desc(), Order.id.desc())
                    .limit(per_page)
                    .offset((page - 1) * per_page)
                )
            )
            .scalars()
            .all()
        )
        ids = [o.id for o in rows]
        lines: dict[str, list[str]] = {i: [] for i in ids}
        ships: dict[str, Shipment] = {}
        regions: dict[str, str] = {}
        if ids:
            for oid, code, unit, qty in await s.execute(
                select(OrderLine.order_id, Sku.code, Sku.unit, OrderLine.quantity)
                .join(Sku, Sku.id == OrderLine.sku_id)
                .where(OrderLine.order_id.in_(ids))
                .order_by(OrderLine.id)
            ):
                lines[oid].append(f"{code} × {qty}{unit}")
            for sh in (
                await s.execute(select(Shipment).where(Shipment.order_id.in_(ids)))
            ).scalars():
                ships[sh.order_id] = sh
            for oid, prov in await s.execute(
                select(AnOrder.order_id, AnOrder.province).where(AnOrder.order_id.in_(ids))
            ):
                regions[oid] = prov
    out = []
    for o in rows:
        sh = ships.get(o.id)
        out.append(
            {
                "id": o.id,
                "status": o.status,
                "total": yuan_str(o.total_fen),
                "created_at": (o.created_at + CHINA).strftime("%Y-%m-%d %H:%M"),
                "room_id": o.room_id or "",
                "items": lines.get(o.id, []),
                "buyer": mask_name(keys.decrypt(o.buyer_name_enc)),
                "address": mask_address(keys.decrypt(o.address_enc)),
                "province": regions.get(o.id, ""),
                "courier": sh.courier if sh else "",
                "tracking_no": sh.tracking_no if sh else "",
            }
        )
    pages = max(1, -(-total // per_page))
    return {"total": total, "page": page, "per_page": per_page, "pages": pages, "orders": out}


async def count_by_status(store: Store, *statuses: str) -> dict[str, int]:
    """Orders in each of `statuses` right now."""
    async with store.db.read() as s:
        rows = await s.execute(
            select(Order.status, func.count())
            .where(Order.status.in_(statuses))
            .group_by(Order.status)
        )
        found = {st: int(n) for st, n in rows}
    return {st: found.get(st, 0) for st in statuses}


async def filter_choices(store: Store) -> dict:
    """Rooms, products and provinces the filters offer."""
    async with store.db.read() as s:
        rooms = [r for (r,) in await s.execute(select(Order.room_id).distinct()) if r]
        skus = [c for (c,) in await s.execute(select(Sku.code).order_by(Sku.code))]
        provinces = [p for (p,) in await s.execute(select(AnOrder.province).distinct()) if p]
    return {"rooms": sorted(rooms), "skus": skus, "provinces": sorted(provinces)}

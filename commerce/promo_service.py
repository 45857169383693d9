"""Promotion use cases for a live room, with the events the director and viewers receive."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select

from commerce import catalog, promotions
from commerce.errors import InvalidInput, ProductSoldOut, PromotionError
from commerce.events import shop_event
from commerce.models import Coupon, CouponAudience, FlashSale, Sku

if TYPE_CHECKING:
    from commerce.store import Store


MAX_SALE_LEAD = timedelta(days=90)  # how far ahead a flash sale may be scheduled
MAX_SALE_LENGTH = timedelta(days=7)


def sale_window(
    now: datetime, starts_at: datetime | None, ends_at: datetime | None, duration_s: float | None
) -> tuple[datetime, datetime]:
    """(start, end) of a flash sale, refused when absurd: never an overflow past year 9999."""
    start = starts_at or now
    if start > now + MAX_SALE_LEAD:
        raise InvalidInput("秒杀开始时间不能晚于90天以后")
    if ends_at is None:
        seconds = duration_s or 600
        if not 0 < seconds <= MAX_SALE_LENGTH.total_seconds():
            raise InvalidInput("秒杀时长必须大于0且不超过7天")
        ends_at = start + timedelta(seconds=seconds)
    if ends_at <= start:
        raise InvalidInput("秒杀结束时间必须晚于开始时间")
    if ends_at - start > MAX_SALE_LENGTH:
        raise InvalidInput("秒杀时长不能超过7天")
    if ends_at <= now:
        raise InvalidInput("秒杀结束时间已过")
    return start, ends_at


class PromotionService:
    """Pin a product, run flash sales, issue coupons."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def pin(self, room_id: str, sku: str) -> dict:
        """Pin `sku` for 讲解 in the room; a sold-out product cannot be presented."""
        async with self.store.db.write() as s:
            row = await catalog.sku_by_code(s, sku)
            available = await catalog.available_by_sku(s, self.store.clock())
            if available.get(row.id, 0) <= 0:
                raise ProductSoldOut(sku)
            ev = await promotions.pin(s, room_id, row, self.store.clock())
        self.store.emit([ev])
        return {"room_id": room_id, "sku": sku, "label": "讲解中"}

    async def room_state(self, room_id: str) -> dict:
        now = self.store.clock()
        async with self.store.db.read() as s:
            pinned = await promotions.pinned_sku(s, room_id)
            sales = (
                await s.execute(
                    select(FlashSale, Sku.code)
                    .join(Sku, Sku.id == FlashSale.sku_id)
                    .where(FlashSale.room_id == room_id, FlashSale.ends_at > now)
                    .order_by(FlashSale.starts_at)
                )
            ).all()
            coupons = (
                await s.execute(
                    select(Coupon, Sku.code)
                    .outerjoin(Sku, Sku.id == Coupon.sku_id)
                    .where(
                        (Coupon.room_id == room_id) | Coupon.room_id.is_(None), Coupon.ends_at > now
                    )
                    .order_by(Coupon.id)
                )
            ).all()
        return {
            "room_id": room_id,
            "pinned": pinned,
            "flash_sales": [
                promotions.flash_sale_json(fs, code) | {"active": fs.starts_at <= now}
                for fs, code in sales
            ],
            "coupons": [promotions.coupon_json(c, code) for c, code in coupons],
        }

    async def start_flash_sale(
        self,
        room_id: str,
        sku: str,
        price_fen: int,
        quantity: int,
        *,
        starts_at: datetime | None = None,
        ends_at: datetime | None = None,
        duration_s: float | None = None,
        per_user_limit: int | None = None,
    ) -> dict:
        now = self.store.clock()
        start, end = sale_window(now, starts_at, ends_at, duration_s)
        async with self.store.db.write() as s:
            row = await catalog.sku_by_code(s, sku)
            fs = await promotions.create_flash_sale(
                s, room_id, row, price_fen, quantity, start, end, per_user_limit
            )
            out = promotions.flash_sale_json(fs, sku)
        await self.announce_due()
        return out

    async def announce_due(self) -> None:
        now = self.store.clock()
        async with self.store.db.read() as s:
            pending = await s.execute(
                select(FlashSale.id)
                .where(
                    ((FlashSale.announced == 0) & (FlashSale.starts_at <= now))
                    | ((FlashSale.announced < 2) & (FlashSale.ends_at <= now))
                )
                .limit(1)
            )
            if pending.first() is None:
                return  # the common case: no write lock taken every tick
        async with self.store.db.write() as s:
            due = await promotions.due_announcements(s, now)
            codes = (
                {sid: code for sid, code in (await s.execute(select(Sku.id, Sku.code)))}
                if due
                else {}
            )
            events = [
                shop_event(
                    kind,
                    fs.room_id,
                    codes[fs.sku_id],
                    promotions.flash_sale_json(fs, codes[fs.sku_id]),
                )
                for fs, kind in due
            ]
        self.store.emit(events)

    async def issue_coupon(
        self,
        room_id: str | None,
        code: str,
        kind: str,
        value: int,
        *,
        min_spend_fen: int = 0,
        per_user_limit: int = 1,
        total_limit: int | None = None,
        sku: str | None = None,
        starts_at: datetime | None = None,
        ends_at: datetime | None = None,
        audience: Sequence[str] | None = None,
    ) -> dict:
        """A coupon; with `audience` (buyer ids, a CRM segment) only those buyers can use it,
        and no room announces it."""
        if kind not in ("fixed", "percent"):
            raise InvalidInput("优惠券类型只能是 fixed 或 percent")
        if kind == "percent" and not 0 < value < 100:
            raise InvalidInput("折扣百分比必须在1到99之间")
        if value <= 0 or min_spend_fen < 0 or per_user_limit <= 0:
            raise InvalidInput("优惠券金额、门槛和每人限用次数必须为正")
        if kind == "fixed" and min_spend_fen and value >= min_spend_fen:
            raise InvalidInput("满减金额必须小于使用门槛")
        now = self.store.clock()
        async with self.store.db.write() as s:
            if (await s.execute(select(Coupon.id).where(Coupon.code == code))).first():
                raise PromotionError(f"优惠券代码已存在：{code}")
            sku_row = await catalog.sku_by_code(s, sku) if sku else None
            c = Coupon(
                code=code,
                room_id=room_id,
                kind=kind,
                value=value,
                min_spend_fen=min_spend_fen,
                per_user_limit=per_user_limit,
                total_limit=total_limit,
                used=0,
                sku_id=sku_row.id if sku_row else None,
                starts_at=starts_at or now,
                ends_at=ends_at or now + timedelta(days=1),
            )
            s.add(c)
            await s.flush()
            if audience is not None:
                if not audience:
                    raise InvalidInput("发放名单为空")
                s.add_all(CouponAudience(coupon_id=c.id, buyer_id=b) for b in set(audience))
            out = promotions.coupon_json(c, sku)
        if audience is None:
            self.store.emit([shop_event("coupon_issued", room_id, sku, out)])
        else:
            out["audience"] = len(set(audience))
        return out

"""Live-room promotions: pinned product (讲解中), flash sales (秒杀), coupons, purchase limits."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import and_, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from commerce.errors import (
    CouponNotApplicable,
    InvalidInput,
    NotFound,
    PromotionError,
    PurchaseLimitExceeded,
)
from commerce.events import ProductPinned, ShopEvent
from commerce.models import (
    Coupon,
    CouponAudience,
    CouponRedemption,
    FlashSale,
    Order,
    OrderLine,
    RoomPin,
    Sku,
)
from commerce.money import short_yuan

LIVE_STATUSES = ("unpaid", "paid", "shipped", "delivered", "completed", "refund_requested")
CHARGED_STATUSES = ("paid", "shipped", "delivered", "completed")  # money actually taken
LIST_PRICE_DAYS = 7


@dataclass(frozen=True)
class Pricing:
    """Effective unit price of a SKU for one order line."""

    unit_price_fen: int
    flash_sale: FlashSale | None


async def active_flash_sales(
    session: AsyncSession, now: datetime, room_id: str | None = None
) -> list[FlashSale]:
    q = select(FlashSale).where(FlashSale.starts_at <= now, FlashSale.ends_at > now)
    if room_id is not None:
        q = q.where(FlashSale.room_id == room_id)
    return list((await session.execute(q.order_by(FlashSale.id))).scalars())


@dataclass(frozen=True)
class RoomPromo:
    """What a fact sheet shows of a SKU's promotions in one room."""

    price_fen: int | None  # the flash price, None when no flash sale runs
    text: str
    sale_ends: datetime | None = None
    sale_left: int | None = None
    sale_cap: int | None = None


async def promo_texts(
    session: AsyncSession, now: datetime, room_id: str | None
) -> dict[int, RoomPromo]:
    """sku_id -> the room's promotions of that SKU (flash price, promo text, sale end and
    remaining units) for fact sheets.

    A flash sale or a room coupon belongs to its own room: room_id None (the shop outside any
    room) sees only shop-wide coupons and the catalog price, as an order without a room pays.
    """
    out: dict[int, RoomPromo] = {}
    for fs in await active_flash_sales(session, now, room_id) if room_id is not None else ():
        left = max(0, fs.cap - fs.sold)
        out[fs.sku_id] = RoomPromo(
            fs.price_fen,
            f"秒杀价{short_yuan(fs.price_fen)}元，限量{fs.cap}份，还剩{left}份",
            fs.ends_at,
            left,
            fs.cap,
        )
    q = select(Coupon).where(
        Coupon.starts_at <= now,
        Coupon.ends_at > now,
        Coupon.sku_id.is_not(None),
        (Coupon.room_id == room_id) | Coupon.room_id.is_(None),
    )
    for c in (await session.execute(q)).scalars():
        promo = out.get(c.sku_id, RoomPromo(None, ""))
        text = "；".join(t for t in (promo.text, coupon_text(c)) if t)
        out[c.sku_id] = replace(promo, text=text)
    return out


async def list_prices_charged(session: AsyncSession, now: datetime) -> set[int]:
    """SKU ids whose list price the shop's own orders charged in the last 7 days: only for
    those may the host call it 原价 (a 原价 is a price actually charged before the offer)."""
    since = now - timedelta(days=LIST_PRICE_DAYS)
    q = (
        select(Sku.id)
        .join(OrderLine, OrderLine.sku_id == Sku.id)
        .join(Order, Order.id == OrderLine.order_id)
        .where(
            Sku.list_price_fen.is_not(None),
            OrderLine.unit_price_fen == Sku.list_price_fen,
            Order.created_at >= since,
            Order.created_at <= now,
            Order.status.in_(CHARGED_STATUSES),
        )
        .distinct()
    )
    return set((await session.execute(q)).scalars())


def coupon_text(c: Coupon) -> str:
    off = f"减{short_yuan(c.value)}元" if c.kind == "fixed" else f"打{(100 - c.value) / 10:g}折"
    cond = f"满{short_yuan(c.min_spend_fen)}元" if c.min_spend_fen else "无门槛"
    return f"优惠券{c.code}：{cond}{off}"


async def price_for(session: AsyncSession, sku: Sku, room_id: str | None, now: datetime) -> Pricing:
    """The flash-sale price applies only in its own room while it runs."""
    if room_id is not None:
        fs = (
            await session.execute(
                select(FlashSale)
                .where(
                    FlashSale.room_id == room_id,
                    FlashSale.sku_id == sku.id,
                    FlashSale.starts_at <= now,
                    FlashSale.ends_at > now,
                )
                .order_by(FlashSale.id.desc())
                .limit(1)
            )
        ).scalar_one_or_none()
        if fs is not None:
            return Pricing(fs.price_fen, fs)
    return Pricing(sku.price_fen, None)


def price_lines(
    session: Session, codes: list[str], room_id: str | None, now: datetime
) -> dict[str, tuple[Sku, int, FlashSale | None]]:
    """code -> (sku, unit price, running flash sale) in one query; unknown codes are absent.

    A flash-sale price applies only in its own room while it runs.
    """
    if room_id is None:
        rows = session.execute(select(Sku).where(Sku.code.in_(codes), Sku.active.is_(True)))
        return {s.code: (s, s.price_fen, None) for s in rows.scalars()}
    running = and_(
        FlashSale.sku_id == Sku.id,
        FlashSale.room_id == room_id,
        FlashSale.starts_at <= now,
        FlashSale.ends_at > now,
    )
    rows = session.execute(
        select(Sku, FlashSale)
        .outerjoin(FlashSale, running)
        .where(Sku.code.in_(codes), Sku.active.is_(True))
    )
    return {s.code: (s, fs.price_fen if fs else s.price_fen, fs) for s, fs in rows}


def claim_flash_units(session: Session, flash_sale_id: int, qty: int) -> None:
    """Atomically count units against the cap; the WHERE clause is the guard."""
    res = session.execute(
        update(FlashSale)
        .where(FlashSale.id == flash_sale_id, FlashSale.sold + qty <= FlashSale.cap)
        .values(sold=FlashSale.sold + qty)
    )
    if res.rowcount != 1:
        raise PromotionError("秒杀名额已抢完")


async def release_flash_units(session: AsyncSession, flash_sale_id: int, qty: int) -> None:
    await session.execute(
        update(FlashSale).where(FlashSale.id == flash_sale_id).values(sold=FlashSale.sold - qty)
    )


def bought_units(
    session: Session, buyer_id: str, sku_id: int, flash_sale_id: int | None = None
) -> int:
    q = (
        select(func.coalesce(func.sum(OrderLine.quantity), 0))
        .join(Order, Order.id == OrderLine.order_id)
        .where(
            Order.buyer_id == buyer_id, OrderLine.sku_id == sku_id, Order.status.in_(LIVE_STATUSES)
        )
    )
    if flash_sale_id is not None:
        q = q.where(OrderLine.flash_sale_id == flash_sale_id)
    return int((session.execute(q)).scalar_one())


def check_purchase_limit(
    session: Session, buyer_id: str, sku: Sku, qty: int, fs: FlashSale | None
) -> None:
    limits = []
    if sku.per_user_limit:
        limits.append((sku.per_user_limit, bought_units(session, buyer_id, sku.id)))
    if fs is not None and fs.per_user_limit:
        limits.append((fs.per_user_limit, bought_units(session, buyer_id, sku.id, fs.id)))
    for limit, already in limits:
        if already + qty > limit:
            raise PurchaseLimitExceeded(f"{sku.code} 每人限购 {limit} 件，已购 {already} 件")


def apply_coupon(
    session: Session,
    code: str,
    buyer_id: str,
    room_id: str | None,
    lines: list[tuple[Sku, int, int]],
    now: datetime,
) -> tuple[Coupon, int]:
    """Validate a coupon against (sku, qty, unit price) lines; returns (coupon, discount fen)."""
    c = (session.execute(select(Coupon).where(Coupon.code == code))).scalar_one_or_none()
    if c is None:
        raise CouponNotApplicable(f"优惠券不存在：{code}")
    if not (c.starts_at <= now < c.ends_at):
        raise CouponNotApplicable(f"优惠券 {code} 不在有效期内")
    if c.room_id is not None and c.room_id != room_id:
        raise CouponNotApplicable(f"优惠券 {code} 只能在直播间 {c.room_id} 使用")
    targeted = session.execute(
        select(CouponAudience.buyer_id).where(CouponAudience.coupon_id == c.id).limit(1)
    ).first()
    if (
        targeted is not None
        and not session.execute(
            select(CouponAudience.buyer_id).where(
                CouponAudience.coupon_id == c.id, CouponAudience.buyer_id == buyer_id
            )
        ).first()
    ):
        raise CouponNotApplicable(f"优惠券 {code} 是专属券，您不在发放名单内")
    base = sum(q * p for s, q, p in lines if c.sku_id is None or s.id == c.sku_id)
    if base == 0:
        raise CouponNotApplicable(f"优惠券 {code} 不适用于所选商品")
    if base < c.min_spend_fen:
        raise CouponNotApplicable(
            f"未达到优惠券 {code} 的最低消费 {short_yuan(c.min_spend_fen)} 元"
        )
    used_by_buyer = (
        session.execute(
            select(func.count(CouponRedemption.id)).where(
                CouponRedemption.coupon_id == c.id, CouponRedemption.buyer_id == buyer_id
            )
        )
    ).scalar_one()
    if used_by_buyer >= c.per_user_limit:
        raise CouponNotApplicable(f"优惠券 {code} 每人限用 {c.per_user_limit} 次")
    if c.total_limit is not None:
        res = session.execute(
            update(Coupon)
            .where(Coupon.id == c.id, Coupon.used < Coupon.total_limit)
            .values(used=Coupon.used + 1)
        )
        if res.rowcount != 1:
            raise CouponNotApplicable(f"优惠券 {code} 已领完")
    else:
        session.execute(update(Coupon).where(Coupon.id == c.id).values(used=Coupon.used + 1))
    discount = c.value if c.kind == "fixed" else base * c.value // 100
    return c, min(discount, base)


async def release_coupon(session: AsyncSession, order_id: str, coupon_id: int) -> None:
    res = await session.execute(
        CouponRedemption.__table__.delete().where(CouponRedemption.order_id == order_id)
    )
    if res.rowcount:
        await session.execute(
            update(Coupon).where(Coupon.id == coupon_id).values(used=Coupon.used - 1)
        )


async def pin(session: AsyncSession, room_id: str, sku: Sku, now: datetime) -> ShopEvent:
    row = await session.get(RoomPin, room_id)
    if row is None:
        session.add(RoomPin(room_id=room_id, sku_id=sku.id, pinned_at=now))
    else:
        row.sku_id, row.pinned_at = sku.id, now
    return ProductPinned(room_id, sku.code, "讲解中", now.isoformat())


async def pinned_sku(session: AsyncSession, room_id: str) -> str | None:
    row = await session.execute(
        select(Sku.code).join(RoomPin, RoomPin.sku_id == Sku.id).where(RoomPin.room_id == room_id)
    )
    return row.scalar_one_or_none()


async def create_flash_sale(
    session: AsyncSession,
    room_id: str,
    sku: Sku,
    price_fen: int,
    cap: int,
    starts_at: datetime,
    ends_at: datetime,
    per_user_limit: int | None,
) -> FlashSale:
    if cap <= 0:
        raise InvalidInput("秒杀数量必须大于0")
    if ends_at <= starts_at:
        raise InvalidInput("秒杀结束时间必须晚于开始时间")
    if price_fen <= 0 or price_fen > sku.price_fen:
        raise InvalidInput("秒杀价必须大于0且不高于原价")
    overlap = await session.execute(
        select(FlashSale.id).where(
            FlashSale.room_id == room_id,
            FlashSale.sku_id == sku.id,
            FlashSale.starts_at < ends_at,
            FlashSale.ends_at > starts_at,
        )
    )
    if overlap.first() is not None:
        raise PromotionError("该商品在本直播间已有时间重叠的秒杀")
    fs = FlashSale(
        room_id=room_id,
        sku_id=sku.id,
        price_fen=price_fen,
        cap=cap,
        sold=0,
        per_user_limit=per_user_limit,
        starts_at=starts_at,
        ends_at=ends_at,
        announced=0,
    )
    session.add(fs)
    await session.flush()
    return fs


async def due_announcements(session: AsyncSession, now: datetime) -> list[tuple[FlashSale, str]]:
    """Flash sales whose start or end has passed but was not yet announced (marks them)."""
    out = []
    rows = await session.execute(
        select(FlashSale).where(
            ((FlashSale.announced == 0) & (FlashSale.starts_at <= now))
            | ((FlashSale.announced < 2) & (FlashSale.ends_at <= now))
        )
    )
    for fs in rows.scalars():
        if fs.announced == 0 and fs.starts_at <= now < fs.ends_at:
            fs.announced = 1
            out.append((fs, "flash_sale_started"))
        elif fs.ends_at <= now:
            fs.announced = 2
            out.append((fs, "flash_sale_ended"))
    return out


def flash_sale_json(fs: FlashSale, sku_code: str) -> dict:
    return {
        "id": fs.id,
        "room_id": fs.room_id,
        "sku": sku_code,
        "price": short_yuan(fs.price_fen),
        "cap": fs.cap,
        "sold": fs.sold,
        "remaining": max(0, fs.cap - fs.sold),
        "per_user_limit": fs.per_user_limit,
        "starts_at": fs.starts_at.isoformat(),
        "ends_at": fs.ends_at.isoformat(),
    }


def coupon_json(c: Coupon, sku_code: str | None) -> dict:
    return {
        "code": c.code,
        "room_id": c.room_id,
        "kind": c.kind,
        "value": short_yuan(c.value) if c.kind == "fixed" else c.value,
        "min_spend": short_yuan(c.min_spend_fen),
        "per_user_limit": c.per_user_limit,
        "total_limit": c.total_limit,
        "used": c.used,
        "sku": sku_code,
        "starts_at": c.starts_at.isoformat(),
        "ends_at": c.ends_at.isoformat(),
        "text": coupon_text(c),
    }


async def get_flash_sale(session: AsyncSession, flash_id: int) -> FlashSale:
    fs = await session.get(FlashSale, flash_id)
    if fs is None:
        raise NotFound(f"秒杀活动不存在：{flash_id}")
    return fs

"""Catalog: products (SPU), SKUs, batches, media; demo seeding; live fact sheets."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from urllib.parse import urlsplit

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from commerce.errors import Conflict, InvalidInput, NotFound
from commerce.facts import ProductFacts
from commerce.models import Batch, Category, Media, Product, Reservation, Sku, Stock, Warehouse
from commerce.money import to_fen, to_yuan

DEFAULT_WAREHOUSE = ("FP01", "阜平县农产品冷链仓")
# Shelf life by category, in days; a batch expires this long after harvest.
SHELF_LIFE = {"干果": 365, "杂粮": 365, "菌菇": 30, "蜂产品": 730, "水果": 60}
NEAR_EXPIRY_DAYS = 14
MAX_NEAR_EXPIRY_DAYS = 3650


@dataclass(frozen=True)
class BatchSpec:
    """A batch to create with a new product: id, harvest date, units, plot."""

    id: str
    harvest_date: date
    quantity: int
    origin_plot: str
    expiry_date: date | None = None
    certifications: tuple[str, ...] = ()
    inspection_reports: tuple[dict, ...] = ()


async def _warehouse(session: AsyncSession, code: str = DEFAULT_WAREHOUSE[0]) -> Warehouse:
    wh = (
        await session.execute(select(Warehouse).where(Warehouse.code == code))
    ).scalar_one_or_none()
    if wh is None:
        wh = Warehouse(
            code=code, name=DEFAULT_WAREHOUSE[1] if code == DEFAULT_WAREHOUSE[0] else code
        )
        session.add(wh)
        await session.flush()
    return wh


async def _category(session: AsyncSession, name: str) -> int | None:
    if not name:
        return None
    cat = (
        await session.execute(select(Category).where(Category.name == name))
    ).scalar_one_or_none()
    if cat is None:
        cat = Category(name=name)
        session.add(cat)
        await session.flush()
    return cat.id


async def add_product(
    session: AsyncSession,
    facts: ProductFacts,
    batches: list[BatchSpec],
    *,
    spec: str = "",
    per_user_limit: int | None = None,
) -> Sku:
    """Create SPU + SKU + batches + stock from a fact sheet (stock comes from the batches)."""
    if (await session.execute(select(Sku.id).where(Sku.code == facts.sku))).first():
        raise Conflict(f"商品编码已存在：{facts.sku}")
    for b in batches:
        if await session.get(Batch, b.id) is not None:
            raise Conflict(f"批次已存在：{b.id}")
    product = Product(
        name=facts.name,
        title=facts.title,
        category_id=await _category(session, facts.category),
        origin=facts.origin,
        features=list(facts.features),
        taste=facts.taste,
        nutrition=facts.nutrition,
        storage=facts.storage,
        shipping=facts.shipping,
        promo=facts.promo,
        certifications=list(facts.certifications),
        tags=sorted(set(facts.tags) | set(facts.certifications)),
    )
    session.add(product)
    await session.flush()
    sku = Sku(
        code=facts.sku,
        product_id=product.id,
        spec=spec,
        unit=facts.unit,
        price_fen=to_fen(facts.price),
        list_price_fen=to_fen(facts.list_price) if facts.list_price is not None else None,
        per_user_limit=per_user_limit,
        active=True,
    )
    session.add(sku)
    await session.flush()
    wh = await _warehouse(session)
    shelf = SHELF_LIFE.get(facts.category, 180)
    for b in batches:
        session.add(
            Batch(
                id=b.id,
                sku_id=sku.id,
                harvest_date=b.harvest_date,
                expiry_date=b.expiry_date or b.harvest_date + timedelta(days=shelf),
                origin_plot=b.origin_plot,
                certifications=list(b.certifications or facts.certifications),
                inspection_reports=list(b.inspection_reports),
            )
        )
        await session.flush()
        session.add(
            Stock(
                sku_id=sku.id, warehouse_id=wh.id, batch_id=b.id, quantity=b.quantity, allocated=0
            )
        )
    await session.flush()
    return sku


def demo_batches(facts: ProductFacts) -> list[BatchSpec]:
    """Two lots per demo product: the older one (the fact sheet's harvest date) sells first."""
    first = facts.stock * 3 // 5
    report = {"lab": "保定市农产品质量检测中心", "result": "合格", "items": "农残、重金属"}
    return [
        BatchSpec(
            id=f"{facts.sku}-{facts.harvest_date:%Y%m%d}",
            harvest_date=facts.harvest_date,
            quantity=first,
            origin_plot=f"{facts.origin} 1号地块",
            inspection_reports=({**report, "date": str(facts.harvest_date + timedelta(days=2))},),
        ),
        BatchSpec(
            id=f"{facts.sku}-{facts.harvest_date + timedelta(days=7):%Y%m%d}",
            harvest_date=facts.harvest_date + timedelta(days=7),
            quantity=facts.stock - first,
            origin_plot=f"{facts.origin} 2号地块",
            inspection_reports=({**report, "date": str(facts.harvest_date + timedelta(days=9))},),
        ),
    ]


async def is_empty(session: AsyncSession) -> bool:
    return (await session.execute(select(func.count(Sku.id)))).scalar_one() == 0


async def sku_by_code(session: AsyncSession, code: str) -> Sku:
    sku = (await session.execute(select(Sku).where(Sku.code == code))).scalar_one_or_none()
    if sku is None or not sku.active:
        raise NotFound(f"商品不存在：{code}")
    return sku


async def available_by_sku(session: AsyncSession, now: datetime) -> dict[int, int]:
    """available = quantity − allocated − unexpired reservations, summed over sellable batches."""
    today = now.date()
    rows = await session.execute(
        select(Stock.sku_id, func.sum(Stock.quantity - Stock.allocated - Stock.reserved))
        .join(Batch, Batch.id == Stock.batch_id)
        .where(Batch.expiry_date >= today)
        .group_by(Stock.sku_id)
    )
    avail = {sku_id: int(n or 0) for sku_id, n in rows}
    # Reservations past their deadline but not yet released by the expirer hold nothing.
    lapsed = await session.execute(
        select(Stock.sku_id, func.sum(Reservation.quantity))
        .join(Stock, Stock.id == Reservation.stock_id)
        .join(Batch, Batch.id == Stock.batch_id)
        .where(Reservation.expires_at <= now, Batch.expiry_date >= today)
        .group_by(Stock.sku_id)
    )
    for sku_id, n in lapsed:
        avail[sku_id] = avail.get(sku_id, 0) + int(n or 0)
    return avail


async def next_batches(session: AsyncSession, now: datetime) -> dict[int, Batch]:
    """The batch each SKU sells next (first-expiring with units left)."""
    rows = await session.execute(
        select(Batch)
        .join(Stock, Stock.batch_id == Batch.id)
        .where(Batch.expiry_date >= now.date(), Stock.quantity > Stock.allocated)
        .order_by(Batch.sku_id, Batch.expiry_date, Batch.id)
    )
    out: dict[int, Batch] = {}
    for b in rows.scalars():
        out.setdefault(b.sku_id, b)
    return out


async def near_expiry(
    session: AsyncSession, now: datetime, days: int = NEAR_EXPIRY_DAYS
) -> list[dict]:
    """Batches with unsold units that expire within `days`: candidates for promotion."""
    if not 0 <= days <= MAX_NEAR_EXPIRY_DAYS:
        raise InvalidInput(f"天数必须在0到{MAX_NEAR_EXPIRY_DAYS}之间")
    today = now.date()
    rows = await session.execute(
        select(Batch, Sku.code, Stock.quantity - Stock.allocated)
        .join(Stock, Stock.batch_id == Batch.id)
        .join(Sku, Sku.id == Batch.sku_id)
        .where(
            Batch.expiry_date >= today,
            Batch.expiry_date <= today + timedelta(days=days),
            Stock.quantity > Stock.allocated,
        )
        .order_by(Batch.expiry_date)
    )
    return [
        {
            "batch_id": b.id,
            "sku": code,
            "expiry_date": b.expiry_date.isoformat(),
            "days_left": (b.expiry_date - today).days,
            "units_left": int(left),
        }
        for b, code, left in rows
    ]


async def fact_sheets(
    session: AsyncSession, now: datetime, promos: dict, charged: frozenset[int] = frozenset()
) -> list[ProductFacts]:
    """Live fact sheets. `promos` maps sku_id -> promotions.RoomPromo (flash price in fen or
    None, promo text, sale end and units left); `charged` holds the SKU ids whose list price
    was charged in the last 7 days."""
    avail = await available_by_sku(session, now)
    nxt = await next_batches(session, now)
    rows = await session.execute(
        select(Sku, Product, Category.name)
        .join(Product, Product.id == Sku.product_id)
        .outerjoin(Category, Category.id == Product.category_id)
        .where(Sku.active.is_(True))
        .order_by(Sku.id)
    )
    out = []
    for sku, product, category in rows:
        batch = nxt.get(sku.id)
        promo = promos.get(sku.id)
        flash_price, promo_text = (promo.price_fen, promo.text) if promo else (None, None)
        price_fen = flash_price if flash_price is not None else sku.price_fen
        list_fen = sku.list_price_fen
        if flash_price is not None and list_fen is None:
            list_fen = sku.price_fen
        certs = tuple(batch.certifications) if batch else tuple(product.certifications)
        out.append(
            ProductFacts(
                sku=sku.code,
                name=product.name,
                title=product.title,
                price=Decimal(price_fen) / 100,
                unit=sku.unit,
                stock=max(0, avail.get(sku.id, 0)),
                origin=product.origin,
                harvest_date=batch.harvest_date if batch else date.min,
                category=category or "",
                certifications=certs,
                features=tuple(product.features),
                taste=product.taste,
                nutrition=product.nutrition,
                storage=product.storage,
                shipping=product.shipping,
                promo=promo_text or product.promo,
                list_price=to_yuan(list_fen) if list_fen is not None else None,
                tags=tuple(product.tags),
                batch_id=batch.id if batch else None,
                near_expiry=bool(
                    batch and batch.expiry_date <= now.date() + timedelta(days=NEAR_EXPIRY_DAYS)
                ),
                list_price_charged=sku.id in charged and sku.list_price_fen is not None,
                sale_ends=promo.sale_ends if promo and flash_price is not None else None,
                sale_left=promo.sale_left if promo and flash_price is not None else None,
                sale_cap=promo.sale_cap if promo and flash_price is not None else None,
                regular_price=to_yuan(sku.price_fen) if flash_price is not None else None,
            )
        )
    return out


def with_stock(facts: ProductFacts, stock: int) -> ProductFacts:
    return replace(facts, stock=stock)


async def add_batch(session: AsyncSession, sku_code: str, b: BatchSpec) -> Batch:
    """A new harvest lot of an existing SKU, with its stock in the default warehouse."""
    sku = await sku_by_code(session, sku_code)
    if await session.get(Batch, b.id) is not None:
        raise Conflict(f"批次已存在：{b.id}")
    cat = await session.execute(
        select(Category.name)
        .join(Product, Product.category_id == Category.id)
        .where(Product.id == sku.product_id)
    )
    shelf = SHELF_LIFE.get(cat.scalar_one_or_none() or "", 180)
    batch = Batch(
        id=b.id,
        sku_id=sku.id,
        harvest_date=b.harvest_date,
        expiry_date=b.expiry_date or b.harvest_date + timedelta(days=shelf),
        origin_plot=b.origin_plot,
        certifications=list(b.certifications),
        inspection_reports=list(b.inspection_reports),
    )
    session.add(batch)
    await session.flush()
    wh = await _warehouse(session)
    session.add(
        Stock(sku_id=sku.id, warehouse_id=wh.id, batch_id=b.id, quantity=b.quantity, allocated=0)
    )
    await session.flush()
    return batch


async def add_media(
    session: AsyncSession, sku_code: str, kind: str, url: str, caption: str
) -> dict:
    check_media_url(url)
    sku = await sku_by_code(session, sku_code)
    m = Media(product_id=sku.product_id, kind=kind, url=url, caption=caption)
    session.add(m)
    await session.flush()
    return {"id": m.id, "kind": kind, "url": url, "caption": caption}


def check_media_url(url: str) -> None:
    """Only http(s) URLs or paths on this site: a `javascript:` or `data:` URL would run or
    smuggle content wherever a page links the media."""
    if not url or len(url) > 512 or any(ch.isspace() or ord(ch) < 32 or ch == "\\" for ch in url):
        raise InvalidInput("媒体地址不能为空、不能含空白或反斜杠，且不超过512个字符")
    if url.startswith("/") and not url.startswith("//"):
        return
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:  # e.g. an unclosed IPv6 bracket
        host = None
    if not host or parts.scheme.lower() not in ("http", "https"):
        raise InvalidInput("媒体地址只能是 http(s) 链接或本站路径（以 / 开头）")


async def product_detail(session: AsyncSession, sku_code: str, now: datetime) -> dict:
    """Batches (with stock left and a trace link) and media of one SKU."""
    sku = await sku_by_code(session, sku_code)
    rows = await session.execute(
        select(Batch, func.sum(Stock.quantity - Stock.allocated))
        .join(Stock, Stock.batch_id == Batch.id)
        .where(Batch.sku_id == sku.id)
        .group_by(Batch.id)
        .order_by(Batch.expiry_date, Batch.id)
    )
    media = await session.execute(select(Media).where(Media.product_id == sku.product_id))
    today = now.date()
    return {
        "batches": [
            {
                "id": b.id,
                "harvest_date": b.harvest_date.isoformat(),
                "expiry_date": b.expiry_date.isoformat(),
                "origin_plot": b.origin_plot,
                "certifications": list(b.certifications),
                "inspection_reports": list(b.inspection_reports),
                "units_on_hand": int(left or 0),
                "expired": b.expiry_date < today,
                "near_expiry": today <= b.expiry_date <= today + timedelta(days=NEAR_EXPIRY_DAYS),
                "trace_url": f"/trace/{b.id}",
                "qr_svg": f"/trace/{b.id}/qr.svg",
            }
            for b, left in rows
        ],
        "media": [
            {"id": m.id, "kind": m.kind, "url": m.url, "caption": m.caption}
            for m in media.scalars()
        ],
    }

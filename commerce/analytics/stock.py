"""Stock warnings: days of cover, reorder point with safety stock, near-expiry promotions.

Per SKU, from paid units per day over a recent window:
- days of cover = available / mean daily demand (μ);
- safety stock = z · σ · √L (σ: std of daily demand, L: replenishment lead time in days,
  z: the service level's normal quantile, 1.65 ≈ 95%);
- reorder point = μ · L + safety stock;
- warn when the projected stock-out is within `warn_days` (15) or stock is at or below the
  reorder point. A SKU that does not sell never warns.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from datetime import date, timedelta

WARN_DAYS = 15
LEAD_DAYS = 7
Z_95 = 1.65


@dataclass(frozen=True)
class StockStatus:
    sku: str
    name: str
    available: int
    daily_mean: float
    daily_std: float
    safety_stock: float
    reorder_point: float
    days_of_cover: float | None
    stockout_date: str | None
    reorder: bool
    warn: bool
    message: str

    def to_json(self) -> dict:
        return asdict(self)


def status(
    sku: str,
    available: int,
    demand: list[float],
    today: date,
    *,
    name: str = "",
    lead_days: int = LEAD_DAYS,
    z: float = Z_95,
    warn_days: int = WARN_DAYS,
) -> StockStatus:
    """The warning for one SKU given its recent daily demand (oldest first)."""
    n = len(demand)
    mu = sum(demand) / n if n else 0.0
    sd = math.sqrt(sum((d - mu) ** 2 for d in demand) / (n - 1)) if n > 1 else 0.0
    safety = z * sd * math.sqrt(lead_days)
    rop = mu * lead_days + safety
    cover = available / mu if mu > 0 else None
    out_day = today + timedelta(days=math.floor(cover)) if cover is not None else None
    soon = cover is not None and cover <= warn_days
    reorder = mu > 0 and available <= rop
    if soon:
        msg = f"预计{math.floor(cover)}天后（{out_day:%m月%d日}）断货，请尽快补货"
    elif reorder:
        msg = f"库存{available}已低于补货点{rop:.0f}，建议补货"
    else:
        msg = ""
    return StockStatus(
        sku,
        name,
        available,
        round(mu, 2),
        round(sd, 2),
        round(safety, 1),
        round(rop, 1),
        round(cover, 1) if cover is not None else None,
        out_day.isoformat() if out_day else None,
        reorder,
        soon or reorder,
        msg,
    )


def promotion_for(days_left: int, units_left: int) -> dict:
    """Suggested clearance for a near-expiry batch: the closer the date, the deeper the cut."""
    pct = 30 if days_left <= 3 else 20 if days_left <= 7 else 10
    return {
        "kind": "percent",
        "value": pct,
        "label": f"临期特惠 {(100 - pct) // 10}折",
        "reason": f"剩余{days_left}天到期，还有{units_left}件",
    }


async def report(store, today: date, window: int = 28, lead_days: int = LEAD_DAYS) -> dict:
    """Warnings for every active SKU, and near-expiry batches with a suggested promotion."""
    from sqlalchemy import select

    from commerce import catalog
    from commerce.models import AnDaySku, Product, Sku

    start = today - timedelta(days=window)
    async with store.db.read() as s:
        skus = (
            await s.execute(
                select(Sku.id, Sku.code, Product.name)
                .join(Product, Product.id == Sku.product_id)
                .where(Sku.active.is_(True))
            )
        ).all()
        avail = await catalog.available_by_sku(s, store.clock())
        rows = await s.execute(
            select(AnDaySku.sku_id, AnDaySku.day, AnDaySku.paid_units).where(
                AnDaySku.day >= start, AnDaySku.day < today
            )
        )
        per: dict[int, dict[date, int]] = {}
        for sid, d, u in rows:
            per.setdefault(sid, {})[d] = int(u)
        expiring = await catalog.near_expiry(s, store.clock())
    items = []
    for sid, code, name in skus:
        days = per.get(sid, {})
        demand = [float(days.get(start + timedelta(days=i), 0)) for i in range(window)]
        items.append(
            status(code, int(avail.get(sid, 0)), demand, today, name=name, lead_days=lead_days)
        )
    items.sort(key=lambda x: (not x.warn, x.days_of_cover if x.days_of_cover is not None else 1e9))
    batches = [
        {**b, "suggestion": promotion_for(b["days_left"], b["units_left"])} for b in expiring
    ]
    return {
        "lead_days": lead_days,
        "warn_days": WARN_DAYS,
        "items": [i.to_json() for i in items],
        "near_expiry": batches,
    }

"""Price suggestions from history: a log-log demand regression per SKU.

ln(units per week) = a + b·ln(average price) + ε, fitted by least squares on weekly paid
units and paid-value-per-unit, with holiday weeks left out (they move demand for reasons
other than price). b is the price elasticity. With cost unknown, the suggestion aims at
revenue: elastic demand (b < −1) suggests up to 10% lower, inelastic (−1 < b < 0) up to 10%
higher, each with the expected change in units and revenue, (p'/p)^b − 1 and (p'/p)^(1+b) − 1.
A suggestion is only shown; the catalog price changes only when a person changes it, so the
host never speaks a suggested price.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, timedelta

import numpy as np

from commerce.analytics.calendar import holiday_kind

MIN_WEEKS = 8
BAND = 0.10


@dataclass(frozen=True)
class PriceSuggestion:
    sku: str
    name: str
    price: float
    elasticity: float | None
    r2: float | None
    weeks: int
    band_low: float | None
    band_high: float | None
    units_change: float | None
    revenue_change: float | None
    note: str

    def to_json(self) -> dict:
        return asdict(self)


def elasticity(prices: list[float], units: list[float]) -> tuple[float, float, float] | None:
    """(b, a, r²) of ln(units) = a + b·ln(price); None when prices barely vary."""
    p, q = np.asarray(prices, float), np.asarray(units, float)
    ok = (p > 0) & (q > 0)
    p, q = np.log(p[ok]), np.log(q[ok])
    if len(p) < 3 or np.std(p) < 0.01:
        return None
    x = np.column_stack([np.ones_like(p), p])
    coef, *_ = np.linalg.lstsq(x, q, rcond=None)
    pred = x @ coef
    ss = float(((q - q.mean()) ** 2).sum())
    r2 = 1 - float(((q - pred) ** 2).sum()) / ss if ss else 0.0
    return float(coef[1]), float(coef[0]), r2


def suggest(
    sku: str, name: str, price: float, weekly: list[tuple[float, float]]
) -> PriceSuggestion:
    """weekly: (average price, units) per week."""
    fit = (
        elasticity([w[0] for w in weekly], [w[1] for w in weekly])
        if len(weekly) >= MIN_WEEKS
        else None
    )
    if fit is None:
        return PriceSuggestion(
            sku,
            name,
            price,
            None,
            None,
            len(weekly),
            None,
            None,
            None,
            None,
            "数据不足，暂不建议调价",
        )
    b, _a, r2 = fit
    if b >= 0:
        return PriceSuggestion(
            sku,
            name,
            price,
            round(b, 2),
            round(r2, 2),
            len(weekly),
            None,
            None,
            None,
            None,
            "价格与销量未呈负相关，建议维持现价",
        )
    if b < -1:
        low, high, target = price * (1 - BAND), price, price * (1 - BAND)
        note = "需求富有弹性：小幅降价可提升销售额"
    else:
        low, high, target = price, price * (1 + BAND), price * (1 + BAND)
        note = "需求缺乏弹性：小幅提价可提升销售额"
    ratio = target / price
    return PriceSuggestion(
        sku,
        name,
        price,
        round(b, 2),
        round(r2, 2),
        len(weekly),
        round(low, 1),
        round(high, 1),
        round(ratio**b - 1, 3),
        round(ratio ** (1 + b) - 1, 3),
        note + "（仅供参考，不会自动改价）",
    )


async def report(store, today: date, weeks: int = 52) -> dict:
    from sqlalchemy import select

    from commerce.models import AnDaySku, Product, Sku

    start = today - timedelta(days=weeks * 7)
    async with store.db.read() as s:
        skus = (
            await s.execute(
                select(Sku.id, Sku.code, Product.name, Sku.price_fen).join(
                    Product, Product.id == Sku.product_id
                )
            )
        ).all()
        rows = (
            await s.execute(
                select(AnDaySku.sku_id, AnDaySku.day, AnDaySku.paid_units, AnDaySku.paid_fen).where(
                    AnDaySku.day >= start, AnDaySku.day < today
                )
            )
        ).all()
    acc: dict[tuple[int, int], list[int]] = {}
    holiday_weeks = set()
    for sid, d, u, fen in rows:
        w = (d - start).days // 7
        if holiday_kind(d):
            holiday_weeks.add(w)
        a = acc.setdefault((sid, w), [0, 0])
        a[0] += int(u)
        a[1] += int(fen)
    out = []
    for sid, code, name, price in skus:
        weekly = [
            (fen / u / 100.0, float(u))
            for (s_id, w), (u, fen) in sorted(acc.items())
            if s_id == sid and u > 0 and w not in holiday_weeks
        ]
        out.append(suggest(code, name, price / 100.0, weekly).to_json())
    return {"weeks": weeks, "items": out}

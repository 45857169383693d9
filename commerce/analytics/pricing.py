"""Price suggestions from history: a log-log demand regression per SKU that knows the seasons.

ln(units per week) = a + b·ln(average price) + Σ month terms + c·week + ε, fitted by least
squares on weekly paid units and paid-value-per-unit, with holiday weeks left out (they move
demand for reasons other than price). b is the price elasticity. Without the month and trend
terms, autumn's harvest sales (when prices also move) were read as a price effect: estimates
ran from +0.69 to −4.65 on data generated with −1.6.

A suggestion is made only when the estimate is stable: b is negative, its 95 % interval
excludes 0 and is narrower than 2, and the fit explains enough (R² ≥ MIN_R2); otherwise the
advisor says 数据不足. With a unit cost it aims at margin: for constant elasticity b < −1 the
margin-best price is c·b/(1+b), approached within a ±10 % band; inelastic demand (−1 ≤ b < 0)
suggests up to 10 % higher. Without a cost it aims at revenue, and says so. Each suggestion
shows the expected change in units, revenue and margin: (p'/p)^b − 1, (p'/p)^(1+b) − 1 and
((p'−c)/(p−c))·(p'/p)^b − 1. A suggestion is only shown; the catalog price changes only when
a person changes it, so the host never speaks a suggested price.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, timedelta

import numpy as np

from commerce.analytics.calendar import holiday_kind

MIN_WEEKS = 26  # a season's worth of weeks besides the month terms
MIN_R2 = 0.3
MAX_CI_WIDTH = 2.0
BAND = 0.10
SHORT = "数据不足，暂不建议调价"


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
    elasticity_low: float | None = None  # the 95 % interval of the elasticity
    elasticity_high: float | None = None
    cost: float | None = None
    margin_change: float | None = None
    objective: str = "revenue"  # "margin" once the unit cost is known

    def to_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Fit:
    b: float
    se: float
    r2: float
    weeks: int

    @property
    def low(self) -> float:
        return self.b - 1.96 * self.se

    @property
    def high(self) -> float:
        return self.b + 1.96 * self.se

    @property
    def stable(self) -> bool:
        return (
            self.b < 0
            and self.high < 0
            and self.high - self.low < MAX_CI_WIDTH
            and self.r2 >= MIN_R2
        )


def elasticity(prices: list[float], units: list[float]) -> tuple[float, float, float] | None:
    """(b, a, r²) of ln(units) = a + b·ln(price), with no season terms; None when prices
    barely vary. Kept for a quick look at one series."""
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


def fit_seasonal(weekly: list[tuple[int, int, float, float]]) -> Fit | None:
    """weekly: (week index, month 1-12, average price, units). OLS with month dummies and a
    linear trend; None when there are too few weeks or prices barely vary."""
    rows = [(w, m, p, q) for w, m, p, q in weekly if p > 0 and q > 0]
    if len(rows) < MIN_WEEKS:
        return None
    week = np.array([r[0] for r in rows], float)
    month = np.array([r[1] for r in rows], int)
    lp = np.log([r[2] for r in rows])
    lq = np.log([r[3] for r in rows])
    if np.std(lp) < 0.01:
        return None
    months = sorted(set(month.tolist()))[1:]  # the first month present is the base
    cols = [np.ones_like(lp), lp, (week - week.mean()) / max(np.std(week), 1.0)]
    cols += [(month == m).astype(float) for m in months]
    x = np.column_stack(cols)
    dof = len(lq) - x.shape[1]
    if dof < 5:
        return None
    coef, *_ = np.linalg.lstsq(x, lq, rcond=None)
    resid = lq - x @ coef
    ss = float(((lq - lq.mean()) ** 2).sum())
    r2 = 1 - float((resid**2).sum()) / ss if ss else 0.0
    sigma2 = float((resid**2).sum()) / dof
    try:
        cov = sigma2 * np.linalg.inv(x.T @ x)
    except np.linalg.LinAlgError:
        return None
    return Fit(float(coef[1]), float(np.sqrt(max(cov[1, 1], 0.0))), r2, len(rows))


def suggest(
    sku: str,
    name: str,
    price: float,
    weekly: list[tuple[int, int, float, float]],
    cost: float | None = None,
) -> PriceSuggestion:
    """weekly: (week index, month, average price, units) per week; cost: the unit cost."""
    fit = fit_seasonal(weekly)
    if fit is None or not fit.stable:
        shown = fit if fit is not None else None
        return PriceSuggestion(
            sku,
            name,
            price,
            round(shown.b, 2) if shown else None,
            round(shown.r2, 2) if shown else None,
            len(weekly),
            None,
            None,
            None,
            None,
            SHORT + ("（估计不稳定）" if shown else ""),
            round(shown.low, 2) if shown else None,
            round(shown.high, 2) if shown else None,
            cost,
        )
    b = fit.b
    margin = cost is not None and 0 < cost < price
    if margin and b < -1:
        best = cost * b / (1 + b)  # the margin-best price for constant elasticity
        target = min(max(best, price * (1 - BAND)), price * (1 + BAND))
        note = (
            "按毛利估算：小幅降价可提升毛利"
            if target < price
            else "按毛利估算：小幅提价可提升毛利"
            if target > price
            else "按毛利估算：现价已接近最优"
        )
    elif b < -1:
        target = price * (1 - BAND)
        note = "需求富有弹性：小幅降价可提升销售额（未填成本，按销售额估算）"
    else:
        target = price * (1 + BAND)
        note = "需求缺乏弹性：小幅提价可提升" + (
            "毛利" if margin else "销售额（未填成本，按销售额估算）"
        )
    ratio = target / price
    low, high = min(price, target), max(price, target)
    margin_change = round((target - cost) / (price - cost) * ratio**b - 1, 3) if margin else None
    return PriceSuggestion(
        sku,
        name,
        price,
        round(b, 2),
        round(fit.r2, 2),
        fit.weeks,
        round(low, 1),
        round(high, 1),
        round(ratio**b - 1, 3),
        round(ratio ** (1 + b) - 1, 3),
        note + f"，弹性{b:.2f}（95%区间 {fit.low:.2f}～{fit.high:.2f}）（仅供参考，不会自动改价）",
        round(fit.low, 2),
        round(fit.high, 2),
        cost,
        margin_change,
        "margin" if margin else "revenue",
    )


async def report(store, today: date, weeks: int = 104) -> dict:
    from sqlalchemy import select

    from commerce.models import AnDaySku, Product, Sku

    start = today - timedelta(days=weeks * 7)
    start -= timedelta(days=start.weekday())  # calendar weeks: the bins don't move with today
    async with store.db.read() as s:
        skus = (
            await s.execute(
                select(Sku.id, Sku.code, Product.name, Sku.price_fen, Sku.cost_fen).join(
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
    for sid, code, name, price, cost in skus:
        weekly = [
            (w, (start + timedelta(days=w * 7 + 3)).month, fen / u / 100.0, float(u))
            for (s_id, w), (u, fen) in sorted(acc.items())
            if s_id == sid and u > 0 and w not in holiday_weeks
        ]
        unit_cost = cost / 100.0 if cost is not None else None
        out.append(suggest(code, name, price / 100.0, weekly, unit_cost).to_json())
    return {"weeks": weeks, "items": out}

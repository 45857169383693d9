"""RFM customer segments, the churn-risk list and repurchase intervals.

Scores: R, F and M are each 1–5, `ceil(5 × percentile rank)` with ties sharing their highest
rank (R ranks recency reversed: the most recent buyer scores 5). A dimension is "high" when
its score is above that dimension's mean score: the usual way Chinese CRM tools split the
eight named segments below.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from commerce.analytics.metrics import yuan
from commerce.models import AnCustomer

# (R high, F high, M high) → segment name
SEGMENTS: dict[tuple[bool, bool, bool], str] = {
    (True, True, True): "重要价值客户",
    (True, False, True): "重要发展客户",
    (False, True, True): "重要保持客户",
    (False, False, True): "重要挽留客户",
    (True, True, False): "一般价值客户",
    (True, False, False): "一般发展客户",
    (False, True, False): "一般保持客户",
    (False, False, False): "一般挽留客户",
}
ADVICE = {
    "重要价值客户": "保持专属服务，优先推新品",
    "重要发展客户": "提高购买频次：会员、复购券",
    "重要保持客户": "近期未购：私信召回、老客专享价",
    "重要挽留客户": "高价值流失风险：重点挽回",
    "一般价值客户": "提升客单：搭配推荐",
    "一般发展客户": "新客培育：首单后关怀",
    "一般保持客户": "唤醒：节日提醒",
    "一般挽留客户": "低成本触达即可",
}


@dataclass(frozen=True)
class Customer:
    buyer_id: str
    recency_days: int
    frequency: int
    monetary_fen: int
    first_day: date | None = None
    province: str = ""


@dataclass(frozen=True)
class Scored:
    buyer_id: str
    r: int
    f: int
    m: int
    segment: str

    def to_json(self) -> dict:
        return asdict(self)


def _scores(values: list[float]) -> list[int]:
    """1–5 per value: ceil(5 × rank/n), ties take the highest rank of their group."""
    n = len(values)
    order = sorted(values)
    out = []
    for v in values:
        # highest 1-based rank among equal values = count of values <= v
        lo, hi = 0, n
        while lo < hi:
            mid = (lo + hi) // 2
            if order[mid] <= v:
                lo = mid + 1
            else:
                hi = mid
        out.append(max(1, math.ceil(5 * lo / n)))
    return out


def score(customers: list[Customer]) -> list[Scored]:
    """RFM scores and the named segment for each customer."""
    if not customers:
        return []
    r = _scores([-c.recency_days for c in customers])
    f = _scores([c.frequency for c in customers])
    m = _scores([c.monetary_fen for c in customers])
    mr, mf, mm = (sum(x) / len(x) for x in (r, f, m))
    return [
        Scored(c.buyer_id, ri, fi, mi, SEGMENTS[(ri > mr, fi > mf, mi > mm)])
        for c, ri, fi, mi in zip(customers, r, f, m, strict=True)
    ]


def repurchase_interval(c: Customer, last: date) -> float | None:
    """Mean days between purchases, (last − first) / (orders − 1); None for one-time buyers."""
    if c.frequency < 2 or c.first_day is None:
        return None
    return (last - c.first_day).days / (c.frequency - 1)


def churn_risk(c: Customer, interval: float | None, min_days: int = 30) -> float:
    """How many of its own repurchase intervals a repeat buyer has been away (0 = not late).
    At risk from 2×: twice the usual gap and at least `min_days`."""
    if interval is None or interval <= 0 or c.recency_days < min_days:
        return 0.0
    return round(c.recency_days / interval, 2)


async def load(s: AsyncSession, today: date) -> list[tuple[Customer, date]]:
    rows = await s.execute(
        select(
            AnCustomer.buyer_id,
            AnCustomer.first_day,
            AnCustomer.last_day,
            AnCustomer.orders,
            AnCustomer.paid_fen,
            AnCustomer.province,
        ).where(AnCustomer.orders > 0)
    )
    return [
        (Customer(b, max(0, (today - last).days), int(n), int(fen), first, prov or ""), last)
        for b, first, last, n, fen, prov in rows
        if last is not None
    ]


async def report(s: AsyncSession, today: date, top: int = 50) -> dict:
    """Segment sizes and value, the churn-risk list and the repurchase-interval histogram."""
    loaded = await load(s, today)
    custs = [c for c, _ in loaded]
    scored = score(custs)
    seg: dict[str, dict] = {
        name: {"segment": name, "customers": 0, "monetary": 0.0, "advice": ADVICE[name]}
        for name in SEGMENTS.values()
    }
    for c, sc in zip(custs, scored, strict=True):
        seg[sc.segment]["customers"] += 1
        seg[sc.segment]["monetary"] += c.monetary_fen / 100.0
    intervals, risky = [], []
    for (c, last), sc in zip(loaded, scored, strict=True):
        iv = repurchase_interval(c, last)
        if iv is not None:
            intervals.append(iv)
        risk = churn_risk(c, iv)
        if risk >= 2.0:
            risky.append(
                {
                    "buyer_id": c.buyer_id,
                    "province": c.province,
                    "segment": sc.segment,
                    "orders": c.frequency,
                    "monetary": yuan(c.monetary_fen),
                    "recency_days": c.recency_days,
                    "interval_days": round(iv or 0, 1),
                    "risk": risk,
                }
            )
    risky.sort(key=lambda x: (-x["monetary"], -x["risk"]))
    return {
        "customers": len(custs),
        "repeat_rate": round(sum(1 for c in custs if c.frequency > 1) / len(custs), 4)
        if custs
        else 0.0,
        "segments": [{**v, "monetary": round(v["monetary"], 2)} for v in seg.values()],
        "churn_risk": risky[:top],
        "churn_risk_total": len(risky),
        "interval_hist": _histogram(intervals),
        "interval_mean": round(sum(intervals) / len(intervals), 1) if intervals else None,
    }


def _histogram(values: list[float], width: int = 7, top: int = 182) -> dict:
    """Counts per `width`-day bin up to `top` days; the last bin holds everything longer."""
    edges = list(range(0, top + width, width))
    counts = [0] * len(edges)
    for v in values:
        counts[min(int(v // width), len(edges) - 1)] += 1
    labels = [f"{a}-{a + width - 1}天" for a in edges[:-1]] + [f"{edges[-1]}天以上"]
    return {"labels": labels, "counts": counts}

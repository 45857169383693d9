"""The RFM report computed inside the database, with the definitions of `rfm`.

`rfm.score` ranks customers in Python; over 100,000 customers that costs half a second.
Here the same scores come from four cut values per dimension: with values sorted
s_0 ≤ … ≤ s_{n−1}, score(v) = ceil(5·count(≤v)/n) = 1 + #{j ∈ 1..4 : v ≥ s_⌊n·j/5⌋}, so one
ordered pass per dimension (a window function over an index) finds the cuts, and one
grouped scan counts the eight segments. tests check it against `rfm.report`.
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import Date, Integer, case, cast, false, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from commerce.analytics.metrics import yuan
from commerce.analytics.rfm import ADVICE, SEGMENTS
from commerce.models import AnCustomer

C = AnCustomer
ACTIVE = (C.orders > 0, C.last_day.is_not(None))
HIST_WIDTH, HIST_BINS = 7, 26


def _days(s: AsyncSession, later, earlier):
    """Whole days between two date expressions, as an integer, on either database."""
    if s.bind.dialect.name == "postgresql":
        return later - earlier
    return cast(func.julianday(later) - func.julianday(earlier), Integer)


async def _cuts(s: AsyncSession, col, n: int) -> list:
    """s_⌊n·j/5⌋ for j = 1..4."""
    want = [n * j // 5 for j in range(1, 5)]
    ranked = select(col.label("v"), (func.row_number().over(order_by=col) - 1).label("i")).where(
        *ACTIVE
    )
    sub = ranked.subquery()
    rows = dict((await s.execute(select(sub.c.i, sub.c.v).where(sub.c.i.in_(want)))).all())
    return [rows[i] for i in want]


COLS = {"r": C.last_day, "f": C.orders, "m": C.paid_fen}
CHURN = "流失风险客户"  # the churn list, as a segment a coupon can go to


def _high(cuts: dict, means: dict) -> dict:
    """high ⟺ score > mean ⟺ score ≥ ⌊mean⌋ + 1 ⟺ v ≥ cut[⌊mean⌋ − 1] (never when ⌊mean⌋ = 5)."""
    out = {}
    for d in "rfm":
        k = int(means[d])
        out[d] = (COLS[d] >= cuts[d][k - 1]) if k <= 4 else false()
    return out


def _risky(s: AsyncSession, today: date) -> tuple:
    """Repeat buyers away at least twice their usual interval and 30 days."""
    away = _days(s, literal(today, Date), C.last_day)
    span = _days(s, C.last_day, C.first_day)
    return (
        C.orders >= 2,
        C.last_day <= today - timedelta(days=30),
        away * (C.orders - 1) >= 2 * span,
        span > 0,
    )


async def _scores(s: AsyncSession, n: int) -> tuple[dict, dict, dict, int]:
    """Each dimension's cuts and mean score, the "above the mean" test per dimension, and how
    many customers bought twice or more: what `report` counts segments by and `members` lists
    them by."""
    cuts = {d: await _cuts(s, COLS[d], n) for d in "rfm"}
    above = [func.sum(case((COLS[d] >= c, 1), else_=0)) for d in "rfm" for c in cuts[d]]
    counts = (
        await s.execute(select(*above, func.sum(case((C.orders >= 2, 1), else_=0))).where(*ACTIVE))
    ).one()
    means = {
        d: (n + sum(int(x) for x in counts[i * 4 : i * 4 + 4])) / n for i, d in enumerate("rfm")
    }
    return cuts, means, _high(cuts, means), int(counts[-1] or 0)


async def members(s: AsyncSession, today: date, segment: str, limit: int = 200_000) -> list:
    """(buyer_id, province, orders, paid_fen, last_day) of every customer in an RFM segment
    (or the churn list, `CHURN`), the same membership `report` counts."""
    if segment not in ADVICE and segment != CHURN:
        raise ValueError(f"没有这个客户分层：{segment[:20]}")
    n = int((await s.execute(select(func.count()).where(*ACTIVE))).scalar_one())
    if n == 0:
        return []
    cols = (C.buyer_id, C.province, C.orders, C.paid_fen, C.last_day)
    if segment == CHURN:
        where = _risky(s, today)
    else:
        high = (await _scores(s, n))[2]
        flags = next(k for k, v in SEGMENTS.items() if v == segment)
        where = tuple(high[d] if on else ~high[d] for d, on in zip("rfm", flags, strict=True))
    rows = await s.execute(
        select(*cols).where(*ACTIVE, *where).order_by(C.paid_fen.desc(), C.buyer_id).limit(limit)
    )
    return [tuple(r) for r in rows]


def _score(v, cuts: list) -> int:
    return 1 + sum(1 for c in cuts if v >= c)


async def report(s: AsyncSession, today: date, top: int = 50) -> dict:
    n = int((await s.execute(select(func.count()).where(*ACTIVE))).scalar_one())
    empty_hist = _hist([0] * (HIST_BINS + 1))
    segments = {
        name: {"segment": name, "customers": 0, "monetary": 0.0, "advice": ADVICE[name]}
        for name in SEGMENTS.values()
    }
    if n == 0:
        return {
            "customers": 0,
            "repeat_rate": 0.0,
            "segments": list(segments.values()),
            "churn_risk": [],
            "churn_risk_total": 0,
            "interval_hist": empty_hist,
            "interval_mean": None,
        }
    cuts, means, high, repeaters = await _scores(s, n)
    rh, fh, mh = (case((high[d], 1), else_=0).label(d) for d in "rfm")
    rows = await s.execute(
        select(rh, fh, mh, func.count(), func.sum(C.paid_fen)).where(*ACTIVE).group_by(rh, fh, mh)
    )
    for r, f, m, cnt, fen in rows:
        seg = segments[SEGMENTS[(bool(r), bool(f), bool(m))]]
        seg["customers"] += int(cnt)
        seg["monetary"] += int(fen or 0) / 100.0

    span = _days(s, C.last_day, C.first_day)
    risky = _risky(s, today)
    total = int((await s.execute(select(func.count()).where(*ACTIVE, *risky))).scalar_one())
    churn = []
    for b, prov, first, last, orders, fen in await s.execute(
        select(C.buyer_id, C.province, C.first_day, C.last_day, C.orders, C.paid_fen)
        .where(*ACTIVE, *risky)
        .order_by(C.paid_fen.desc(), C.buyer_id)
        .limit(top)
    ):
        interval = (last - first).days / (orders - 1)
        recency = (today - last).days
        flags = tuple(
            _score(v, cuts[d]) > means[d] for d, v in zip("rfm", (last, orders, fen), strict=True)
        )
        churn.append(
            {
                "buyer_id": b,
                "province": prov or "",
                "segment": SEGMENTS[flags],
                "orders": int(orders),
                "monetary": yuan(int(fen)),
                "recency_days": recency,
                "interval_days": round(interval, 1),
                "risk": round(recency / interval, 2),
            }
        )
    churn.sort(key=lambda x: (-x["monetary"], -x["risk"]))
    bucket = (span / ((C.orders - 1) * HIST_WIDTH)).label("b")
    hist = [0] * (HIST_BINS + 1)
    total_iv = 0.0
    repeaters = 0
    for b, cnt, days in await s.execute(
        select(bucket, func.count(), func.sum(span * 1.0 / (C.orders - 1)))
        .where(*ACTIVE, C.orders >= 2)
        .group_by(bucket)
    ):
        hist[min(int(b), HIST_BINS)] += int(cnt)
        total_iv += float(days or 0)
        repeaters += int(cnt)
    return {
        "customers": n,
        "repeat_rate": round(repeaters / n, 4),
        "segments": [{**v, "monetary": round(v["monetary"], 2)} for v in segments.values()],
        "churn_risk": churn,
        "churn_risk_total": total,
        "interval_hist": _hist(hist),
        "interval_mean": round(total_iv / repeaters, 1) if repeaters else None,
    }


def _hist(counts: list[int]) -> dict:
    labels = [f"{a}-{a + HIST_WIDTH - 1}天" for a in range(0, HIST_BINS * HIST_WIDTH, HIST_WIDTH)]
    return {"labels": labels + [f"{HIST_BINS * HIST_WIDTH}天以上"], "counts": counts}

"""Sales reports over the rollups: trend with YoY/MoM, drill-down, product, region, room, funnel.

Every function takes a read session and a `DateRange` and returns plain JSON-able data. An
empty or reversed range returns empty rows, never an error. Money in the output is yuan.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from commerce.analytics import metrics
from commerce.analytics.metrics import yuan
from commerce.models import AnDayRegion, AnDayRoom, AnDaySku, AnOrder, Product, Sku

GRAINS = ("day", "week", "month", "year")
MAX_DAYS = 3660


class BadRange(ValueError):
    """A malformed date or grain (a reversed range is not malformed: it is empty)."""


@dataclass(frozen=True)
class DateRange:
    """Inclusive China-time days; `start > end` is an empty range."""

    start: date
    end: date

    @property
    def empty(self) -> bool:
        return self.start > self.end

    def to_json(self) -> dict:
        return {"start": self.start.isoformat(), "end": self.end.isoformat(), "empty": self.empty}


def parse_day(text: str | None, what: str) -> date | None:
    if text is None or text == "":
        return None
    if len(text) > 10:
        raise BadRange(f"{what}日期格式不正确（应为 YYYY-MM-DD）：{text[:20]!r}")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise BadRange(f"{what}日期格式不正确（应为 YYYY-MM-DD）：{text!r}") from None


def parse_range(start: str | None, end: str | None, today: date, days: int = 30) -> DateRange:
    """Defaults: the last `days` days up to today. Longer than ten years is refused."""
    e = parse_day(end, "结束") or today
    s = parse_day(start, "开始") or e - timedelta(days=days - 1)
    if (e - s).days > MAX_DAYS:
        raise BadRange("日期范围不能超过十年")
    return DateRange(s, e)


def _period(d: date, grain: str) -> date:
    if grain == "week":
        return d - timedelta(days=d.weekday())
    if grain == "month":
        return d.replace(day=1)
    if grain == "year":
        return d.replace(month=1, day=1)
    return d


def _shift_year(d: date) -> date:
    try:
        return d.replace(year=d.year - 1)
    except ValueError:  # 29 February
        return d.replace(year=d.year - 1, day=28)


def _prev(p: date, grain: str) -> date:
    if grain == "week":
        return p - timedelta(days=7)
    if grain == "month":
        return (p - timedelta(days=1)).replace(day=1)
    if grain == "year":
        return p.replace(year=p.year - 1)
    return p - timedelta(days=1)


def _label(p: date, grain: str) -> str:
    if grain == "week":
        y, w, _ = p.isocalendar()
        return f"{y}-W{w:02d}"
    if grain == "month":
        return f"{p:%Y-%m}"
    if grain == "year":
        return f"{p:%Y}"
    return p.isoformat()


def _growth(now: float, before: float) -> float | None:
    return round((now - before) / before, 4) if before else None


async def _daily(s: AsyncSession, start: date, end: date) -> dict[date, dict]:
    rows = await s.execute(
        select(
            AnDayRoom.day,
            func.sum(AnDayRoom.orders),
            func.sum(AnDayRoom.gmv_fen),
            func.sum(AnDayRoom.paid_orders),
            func.sum(AnDayRoom.paid_fen),
        )
        .where(AnDayRoom.day.between(start, end))
        .group_by(AnDayRoom.day)
    )
    return {
        d: {"orders": int(o), "gmv": int(g), "paid_orders": int(po), "paid": int(pf)}
        for d, o, g, po, pf in rows
    }


async def series(s: AsyncSession, r: DateRange, grain: str = "day") -> dict:
    """Sales per day/week/month/year with 同比 (YoY) and 环比 (MoM, previous period)."""
    if grain not in GRAINS:
        raise BadRange(f"粒度只能是 {', '.join(GRAINS)}")
    out = {"range": r.to_json(), "grain": grain, "rows": []}
    if r.empty:
        return out
    start, end = _period(r.start, grain), r.end
    prev_start = _shift_year(start) - timedelta(days=7)
    daily = await _daily(s, min(prev_start, _prev(start, grain)), end)
    sums: dict[date, dict] = defaultdict(lambda: defaultdict(int))
    for d, v in daily.items():
        for k, x in v.items():
            sums[_period(d, grain)][k] += x
    p = start
    while p <= end:
        v = sums.get(p, {})
        yoy_p = _period(_shift_year(p), grain)
        mom_p = _prev(p, grain)
        gmv, paid = v.get("gmv", 0), v.get("paid", 0)
        out["rows"].append(
            {
                "period": _label(p, grain),
                "start": p.isoformat(),
                "gmv": yuan(gmv),
                "paid_gmv": yuan(paid),
                "orders": v.get("orders", 0),
                "paid_orders": v.get("paid_orders", 0),
                "aov": metrics.aov(paid, v.get("paid_orders", 0)),
                "yoy": _growth(gmv, sums.get(yoy_p, {}).get("gmv", 0)),
                "mom": _growth(gmv, sums.get(mom_p, {}).get("gmv", 0)),
            }
        )
        p = _period(
            p + timedelta(days={"day": 1, "week": 7, "month": 32, "year": 366}[grain]), grain
        )
    return out


async def drill(s: AsyncSession, year: int | None = None, month: int | None = None) -> dict:
    """Drill-down: all years → one year's months → one month's days."""
    if month is not None and year is None:
        raise BadRange("按月下钻需要同时给出年份")
    if year is None:
        first, last = (
            await s.execute(select(func.min(AnDayRoom.day), func.max(AnDayRoom.day)))
        ).one()
        if first is None:
            return {"level": "year", "rows": []}
        return {"level": "year", **await series(s, DateRange(first, last), "year")}
    if not 2000 <= year <= 2100 or (month is not None and not 1 <= month <= 12):
        raise BadRange("年份或月份超出范围")
    if month is None:
        return {
            "level": "month",
            **await series(s, DateRange(date(year, 1, 1), date(year, 12, 31)), "month"),
        }
    nxt = date(year + month // 12, month % 12 + 1, 1)
    r = DateRange(date(year, month, 1), nxt - timedelta(days=1))
    return {"level": "day", **await series(s, r, "day")}


async def kpis(s: AsyncSession, r: DateRange) -> dict:
    """Headline figures of a range (conversion here is paid orders / UV: the rollups keep no
    distinct buyers across days)."""
    if r.empty:
        return {"range": r.to_json(), "empty": True}
    row = (
        await s.execute(
            select(
                func.coalesce(func.sum(AnDayRoom.orders), 0),
                func.coalesce(func.sum(AnDayRoom.gmv_fen), 0),
                func.coalesce(func.sum(AnDayRoom.paid_orders), 0),
                func.coalesce(func.sum(AnDayRoom.paid_fen), 0),
                func.coalesce(func.sum(AnDayRoom.views), 0),
                func.coalesce(func.sum(AnDayRoom.uv), 0),
                func.coalesce(func.sum(AnDayRoom.clicks), 0),
            ).where(AnDayRoom.day.between(r.start, r.end))
        )
    ).one()
    orders, gmv, paid_orders, paid, views, uv, clicks = (int(x) for x in row)
    refund = (
        await s.execute(
            select(func.coalesce(func.sum(AnDaySku.refund_fen), 0)).where(
                AnDaySku.day.between(r.start, r.end)
            )
        )
    ).scalar_one()
    return {
        "range": r.to_json(),
        "empty": orders == 0,
        "gmv": yuan(gmv),
        "paid_gmv": yuan(paid),
        "refund": yuan(int(refund)),
        "orders": orders,
        "paid_orders": paid_orders,
        "views": views,
        "uv": uv,
        "clicks": clicks,
        "uv_value": metrics.uv_value(gmv, uv),
        "gpm": metrics.gpm(gmv, views),
        "conversion": metrics.conversion(paid_orders, uv),
        "aov": metrics.aov(paid, paid_orders),
        "pay_rate": metrics.conversion(paid_orders, orders),
    }


async def by_product(s: AsyncSession, r: DateRange) -> dict:
    rows = []
    if not r.empty:
        res = await s.execute(
            select(
                Sku.code,
                Product.name,
                func.sum(AnDaySku.units),
                func.sum(AnDaySku.gmv_fen),
                func.sum(AnDaySku.paid_units),
                func.sum(AnDaySku.paid_fen),
                func.sum(AnDaySku.refund_fen),
            )
            .join(Sku, Sku.id == AnDaySku.sku_id)
            .join(Product, Product.id == Sku.product_id)
            .where(AnDaySku.day.between(r.start, r.end))
            .group_by(Sku.code, Product.name)
            .order_by(func.sum(AnDaySku.paid_fen).desc())
        )
        rows = [
            {
                "sku": code,
                "name": name,
                "units": int(u),
                "gmv": yuan(int(g)),
                "paid_units": int(pu),
                "paid_gmv": yuan(int(pf)),
                "refund": yuan(int(rf)),
            }
            for code, name, u, g, pu, pf, rf in res
        ]
    return {"range": r.to_json(), "rows": rows}


async def by_region(s: AsyncSession, r: DateRange, province: str | None = None) -> dict:
    """Provinces (or one province's cities), and a province × month heat grid."""
    out: dict = {"range": r.to_json(), "province": province, "rows": [], "heat": None}
    if r.empty:
        return out
    col = AnDayRegion.city if province else AnDayRegion.province
    q = select(
        col,
        func.sum(AnDayRegion.orders),
        func.sum(AnDayRegion.gmv_fen),
        func.sum(AnDayRegion.paid_fen),
    ).where(AnDayRegion.day.between(r.start, r.end))
    if province:
        q = q.where(AnDayRegion.province == province)
    res = await s.execute(q.group_by(col).order_by(func.sum(AnDayRegion.paid_fen).desc()))
    out["rows"] = [
        {"name": name or "未知", "orders": int(o), "gmv": yuan(int(g)), "paid_gmv": yuan(int(p))}
        for name, o, g, p in res
    ]
    if not province:
        pg = s.bind.dialect.name == "postgresql"
        month = (
            func.to_char(AnDayRegion.day, "YYYY-MM")
            if pg
            else func.strftime("%Y-%m", AnDayRegion.day)
        ).label("m")
        grid = await s.execute(
            select(month, AnDayRegion.province, func.sum(AnDayRegion.paid_fen))
            .where(AnDayRegion.day.between(r.start, r.end))
            .group_by(month, AnDayRegion.province)
        )
        cells: dict[tuple[str, str], int] = defaultdict(int)
        for m, prov, fen in grid:
            cells[(prov or "未知", m)] += int(fen)
        months = sorted({m for _p, m in cells})
        provs = [row["name"] for row in out["rows"]]
        out["heat"] = {
            "months": months,
            "provinces": provs,
            "values": [[yuan(cells.get((p, m), 0)) for m in months] for p in provs],
        }
    return out


async def by_room(s: AsyncSession, r: DateRange) -> dict:
    rows = []
    if not r.empty:
        res = await s.execute(
            select(
                AnDayRoom.room_id,
                AnDayRoom.persona,
                func.sum(AnDayRoom.views),
                func.sum(AnDayRoom.uv),
                func.sum(AnDayRoom.clicks),
                func.sum(AnDayRoom.orders),
                func.sum(AnDayRoom.gmv_fen),
                func.sum(AnDayRoom.paid_orders),
                func.sum(AnDayRoom.paid_fen),
            )
            .where(AnDayRoom.day.between(r.start, r.end))
            .group_by(AnDayRoom.room_id, AnDayRoom.persona)
        )
        for room, persona, v, uv, c, o, g, po, pf in res:
            v, uv, g, po, pf = int(v), int(uv), int(g), int(po), int(pf)
            rows.append(
                {
                    "room_id": room or "（非直播间）",
                    "persona": persona or "-",
                    "views": v,
                    "uv": uv,
                    "clicks": int(c),
                    "orders": int(o),
                    "gmv": yuan(g),
                    "paid_gmv": yuan(pf),
                    "uv_value": metrics.uv_value(g, uv),
                    "gpm": metrics.gpm(g, v),
                    "conversion": metrics.conversion(po, uv),
                }
            )
    return {"range": r.to_json(), "rows": rows}


async def funnel(s: AsyncSession, r: DateRange, room_id: str | None = None) -> dict:
    """观看 → 商品点击 → 下单 → 支付, with the step-to-step rates."""
    stages = [("观看人次", 0), ("商品点击", 0), ("下单", 0), ("支付", 0)]
    if not r.empty:
        q = select(
            func.coalesce(func.sum(AnDayRoom.views), 0),
            func.coalesce(func.sum(AnDayRoom.clicks), 0),
            func.coalesce(func.sum(AnDayRoom.orders), 0),
            func.coalesce(func.sum(AnDayRoom.paid_orders), 0),
        ).where(AnDayRoom.day.between(r.start, r.end), AnDayRoom.room_id != "")
        if room_id:
            q = q.where(AnDayRoom.room_id == room_id)
        vals = [int(x) for x in (await s.execute(q)).one()]
        stages = [(name, v) for (name, _), v in zip(stages, vals, strict=True)]
    out = []
    for i, (name, v) in enumerate(stages):
        before = stages[i - 1][1] if i else 0
        out.append(
            {"stage": name, "value": v, "rate": metrics.conversion(v, before) if i else None}
        )
    return {"range": r.to_json(), "room_id": room_id, "stages": out}


# Order-amount bands of the order cloud (yuan; band i is [edge i, edge i+1), the last open).
AMOUNT_EDGES = (0, 20, 30, 40, 50, 60, 80, 100, 120, 150, 200, 250, 300, 400, 500, 750, 1000, 2000)


def _band_label(i: int) -> str:
    lo = AMOUNT_EDGES[i]
    if i + 1 == len(AMOUNT_EDGES):
        return f"¥{lo}以上"
    return f"¥{lo}–{AMOUNT_EDGES[i + 1]}"


async def order_bins(s: AsyncSession, r: DateRange) -> dict:
    """Every order of the range, counted by day and amount band: the order cloud as
    pre-aggregated bins (a few kB for a year, where one point per order was megabytes)."""
    out = {
        "range": r.to_json(),
        "bands": [_band_label(i) for i in range(len(AMOUNT_EDGES))],
        "days": [],
        "counts": [],  # counts[band][day]
        "total": 0,
    }
    if r.empty:
        out["counts"] = [[] for _ in AMOUNT_EDGES]
        return out
    band = case(
        *((AnOrder.placed_fen < e * 100, i) for i, e in enumerate(AMOUNT_EDGES[1:])),
        else_=len(AMOUNT_EDGES) - 1,
    )
    rows = (
        await s.execute(
            select(AnOrder.day, band, func.count())
            .where(AnOrder.day.between(r.start, r.end))
            .group_by(AnOrder.day, band)
        )
    ).all()
    days = sorted({d for d, _b, _n in rows})
    col = {d: i for i, d in enumerate(days)}
    counts = [[0] * len(days) for _ in AMOUNT_EDGES]
    for d, b, n in rows:
        counts[int(b)][col[d]] += int(n)
    out |= {
        "days": [d.isoformat() for d in days],
        "counts": counts,
        "total": sum(int(n) for _d, _b, n in rows),
    }
    return out


async def order_points(s: AsyncSession, r: DateRange, limit: int = 100_000) -> dict:
    """Order amounts by day (newest first, at most `limit`): the big scatter chart."""
    days: list[str] = []
    amounts: list[float] = []
    total = 0
    if not r.empty:
        # how many the range holds, so the page says "newest 100,000 of 550,000", not "100,000"
        total = int(
            (
                await s.execute(select(func.count()).where(AnOrder.day.between(r.start, r.end)))
            ).scalar_one()
        )
        res = await s.execute(
            select(AnOrder.day, AnOrder.placed_fen)
            .where(AnOrder.day.between(r.start, r.end))
            .order_by(AnOrder.day.desc())
            .limit(limit)
        )
        for d, fen in res:
            days.append(d.isoformat())
            amounts.append(fen / 100.0)
    return {"range": r.to_json(), "day": days, "amount": amounts, "total": total}

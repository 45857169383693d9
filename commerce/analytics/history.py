"""Deterministic demo history: orders across China with the seasons of Fuping's produce.

Demand per day = base × weekday × product season × holiday × growth, with Spring Festival
gifting, the jujube and walnut harvest in September–October, 双11, weekly price moves
(so elasticity can be estimated), repeat buyers with a heavy-tailed loyalty, buyers who
lapse, live-room attribution (room, persona, script segment) and a funnel per room and day
(views → product clicks → orders → paid). The same seed and end day give the same data.

Rows go in with bulk inserts (executemany on SQLite, COPY on PostgreSQL), rollups included,
and the rollup watermark is set past them so the incremental sync does not re-read them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from commerce.analytics.calendar import CHINA_OFFSET, china_day, holiday_kind
from commerce.analytics.regions import PROVINCES

if TYPE_CHECKING:
    from commerce.store import Store

HISTORY_KEY = "history_seed"
ROOMS = (("demo", "xiaowang"), ("fp-harvest", "xiaoli"), ("fp-gift", "xiaozhang"))
SEGMENTS = ("开场", "产品讲解", "限时秒杀", "答疑", "收尾")
SURNAMES = "王李张刘陈杨赵黄周吴徐孙马朱胡郭何高林罗"
GIVEN = ("伟", "芳", "娜", "敏", "静", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明")
WEEKDAY = np.array([0.9, 0.85, 0.9, 0.95, 1.1, 1.25, 1.2])  # Monday first
# Month profile (Jan..Dec) by product name; anything else is flat.
SEASON = {
    "大枣": [1.3, 1.0, 0.6, 0.5, 0.5, 0.5, 0.5, 0.7, 1.6, 2.2, 1.6, 1.2],
    "核桃": [1.2, 0.9, 0.6, 0.5, 0.5, 0.5, 0.5, 0.7, 1.8, 2.0, 1.4, 1.1],
    "板栗": [0.8, 0.6, 0.3, 0.2, 0.2, 0.2, 0.3, 0.5, 1.5, 2.2, 2.0, 1.4],
    "小米": [1.1, 1.0, 0.9, 0.8, 0.8, 0.8, 0.8, 0.9, 1.0, 1.3, 1.4, 1.3],
    "香菇": [1.0, 0.9, 1.0, 1.1, 1.0, 0.9, 0.9, 0.9, 1.0, 1.0, 1.1, 1.1],
    "蜂蜜": [1.2, 1.0, 0.9, 0.9, 1.0, 1.1, 1.3, 1.2, 1.0, 0.9, 1.0, 1.1],
    "苹果": [1.2, 0.8, 0.5, 0.4, 0.3, 0.3, 0.3, 0.4, 0.8, 1.8, 2.0, 1.8],
}
GIFTS = {"大枣", "核桃", "蜂蜜", "小米"}
HOLIDAY = {"spring_gifting": 1.9, "spring_break": 0.45, "double11": 1.7, "golden_week": 1.3}
# Bought together: first item name → second item name weights (大枣 → 核桃 strongest).
AFFINITY = {"大枣": {"核桃": 20.0, "小米": 4.0}, "核桃": {"大枣": 15.0}, "小米": {"大枣": 6.0}}
ELASTICITY = -1.6
PRICE_STEPS = np.array([1.0, 1.0, 1.0, 0.95, 0.9, 0.85, 1.05, 1.1])


@dataclass(frozen=True)
class HistoryResult:
    """What `generate` wrote."""

    orders: int
    lines: int
    customers: int
    first_day: date
    last_day: date
    seconds: float = 0.0


class HistoryExists(Exception):
    """This database already holds a generated history."""


def _fen_str(x: datetime) -> str:
    return x.strftime("%Y-%m-%d %H:%M:%S.%f")


def simulate(
    skus: list[tuple[int, str, str, int]],
    *,
    days: int,
    customers: int,
    orders: int,
    seed: int,
    end: date,
) -> dict[str, pd.DataFrame]:
    """The history as data frames (no database): orders, lines, funnel, customers.

    skus: (sku_id, code, product name, price_fen). `end` is the last China day included.
    """
    rng = np.random.default_rng(seed)
    day0 = end - timedelta(days=days - 1)
    dates = pd.date_range(day0, end, freq="D")
    names = [s[2] for s in skus]
    n_sku = len(skus)
    month = dates.month.to_numpy() - 1
    kinds = [holiday_kind(d.date()) for d in dates]
    hol = np.array([HOLIDAY.get(k, 1.0) if k else 1.0 for k in kinds])
    growth = np.linspace(0.8, 1.25, days)
    # Per day and SKU: season × price response; week index for the price steps.
    week = (np.arange(days) // 7).astype(int)
    steps = PRICE_STEPS[rng.integers(0, len(PRICE_STEPS), size=(week.max() + 1, n_sku))]
    mult = steps[week]  # days × skus
    season = np.array([SEASON.get(n, [1.0] * 12) for n in names]).T[month]  # days × skus
    gift = np.array([k == "spring_gifting" for k in kinds])
    season = season * np.where(gift[:, None], [2.0 if n in GIFTS else 0.8 for n in names], 1.0)
    appeal = season * mult**ELASTICITY
    lam = WEEKDAY[dates.day_of_week.to_numpy()] * hol * growth * appeal.mean(axis=1)
    lam *= orders / lam.sum()
    per_day = rng.poisson(lam)
    n = int(per_day.sum())
    day_idx = np.repeat(np.arange(days), per_day)

    # Customers: province/city, loyalty (heavy tail: a few buy often), a window of activity.
    weights = np.array([p[2] for p in PROVINCES])
    prov = rng.choice(len(PROVINCES), size=customers, p=weights / weights.sum())
    city = np.array([rng.integers(0, len(PROVINCES[p][3])) for p in prov])
    loyalty = rng.gamma(0.5, 2.0, size=customers) + 0.05
    start = (rng.beta(1.0, 2.5, size=customers) * days * 0.8).astype(int)
    lapse = rng.random(customers) < 0.35
    stop = np.where(lapse, start + rng.integers(60, max(61, days), size=customers), days + 1)
    cum = np.cumsum(loyalty / loyalty.sum())
    cust = np.searchsorted(cum, rng.random(n) * cum[-1])
    for _ in range(6):  # re-draw buyers outside their active window
        bad = (day_idx < start[cust]) | (day_idx > stop[cust])
        if not bad.any():
            break
        cust[bad] = np.searchsorted(cum, rng.random(int(bad.sum())) * cum[-1])
    cust = np.minimum(cust, customers - 1)

    # First item by the day's appeal; a second by affinity (or at random), a rare third.
    p_day = appeal / appeal.sum(axis=1, keepdims=True)
    cdf = np.cumsum(p_day, axis=1)[day_idx]
    first = np.minimum((cdf < rng.random(n)[:, None]).sum(axis=1), n_sku - 1)
    aff = np.ones((n_sku, n_sku))
    for i, a in enumerate(names):
        for j, b in enumerate(names):
            aff[i, j] = 0.0 if i == j else AFFINITY.get(a, {}).get(b, 0.6)
    aff_cdf = np.cumsum(aff / aff.sum(axis=1, keepdims=True), axis=1)
    paired = np.array([nm in AFFINITY for nm in names])
    has2 = rng.random(n) < np.where(paired[first], 0.55, 0.2)
    second = np.minimum((aff_cdf[first] < rng.random(n)[:, None]).sum(axis=1), n_sku - 1)
    third = rng.integers(0, n_sku, size=n)
    has3 = has2 & (rng.random(n) < 0.15) & (third != first) & (third != second)
    qty = np.minimum(rng.geometric(0.62, size=(n, 3)), 5)

    # Order times: evenings, when the rooms are live. China time → naive UTC.
    hours = rng.choice(24, size=n, p=_HOURS)
    secs = hours * 3600 + rng.integers(0, 3600, size=n)
    base = np.datetime64(datetime.combine(day0, time()) - CHINA_OFFSET)
    created = base + (day_idx.astype("timedelta64[D]") + secs.astype("timedelta64[s]"))
    in_room = rng.random(n) < 0.85
    room = np.where(in_room, rng.integers(0, len(ROOMS), size=n), -1)
    seg = rng.integers(0, len(SEGMENTS), size=n)
    roll = rng.random(n)
    age = days - 1 - day_idx
    status = np.where(
        roll < 0.08,
        "cancelled",
        np.where(roll < 0.105, "refunded", np.where(age > 10, "completed", "shipped")),
    )
    price0 = np.array([s[3] for s in skus])

    line_order = np.concatenate([np.arange(n), np.flatnonzero(has2), np.flatnonzero(has3)])
    line_sku = np.concatenate([first, second[has2], third[has3]])
    line_qty = np.concatenate([qty[:, 0], qty[has2, 1], qty[has3, 2]])
    line_price = np.round(price0[line_sku] * mult[day_idx[line_order], line_sku]).astype(int)
    lines = pd.DataFrame(
        {"order": line_order, "sku": line_sku, "qty": line_qty, "price": line_price}
    ).sort_values(["order", "sku"], kind="stable")
    total = np.bincount(lines["order"], weights=lines["qty"] * lines["price"], minlength=n)
    orders_df = pd.DataFrame(
        {
            "day": day_idx,
            "customer": cust,
            "created": created,
            "room": room,
            "segment": seg,
            "status": status,
            "total": total.astype(np.int64),
        }
    )
    # Funnel: views from orders at a per-room conversion; clicks and visitors in between.
    fun = orders_df[orders_df.room >= 0].groupby(["day", "room"]).size().rename("orders")
    fun = fun.reset_index()
    conv = rng.uniform(0.02, 0.05, size=len(fun))
    fun["views"] = np.ceil(fun["orders"] / conv).astype(int)
    fun["uv"] = np.ceil(fun["views"] * rng.uniform(0.6, 0.8, size=len(fun))).astype(int)
    fun["clicks"] = np.maximum(
        fun["orders"], (fun["views"] * rng.uniform(0.08, 0.15, size=len(fun))).astype(int)
    )
    custs = pd.DataFrame({"province": prov, "city": city})
    return {"orders": orders_df, "lines": lines, "funnel": fun, "customers": custs, "day0": day0}


_HOURS = np.array(
    [2, 1, 0.5, 0.3, 0.3, 0.5, 1, 2, 3, 4, 4, 4, 5, 4, 3, 3, 3, 4, 6, 9, 11, 11, 9, 5], float
)
_HOURS /= _HOURS.sum()


async def generate(
    store: Store,
    *,
    years: float = 2.0,
    customers: int = 5000,
    seed: int = 7,
    orders: int | None = None,
    end: date | None = None,
    replenish: bool = True,
) -> HistoryResult:
    """Write a demo history ending yesterday (China time) into the store's database.

    With `replenish`, each product's stock is then set as a farm that restocks would hold it:
    its last four weeks' daily sales times a cover of days that differs by product (a few days
    to two months), so stock warnings vary as the history's size does, instead of every
    product showing "0 days left" after a million orders."""
    import time as _time

    from sqlalchemy import select

    from commerce.models import AnState, Product, Sku

    t0 = _time.perf_counter()
    if years <= 0 or customers <= 0 or (orders is not None and orders <= 0):
        raise ValueError("years、customers 和 orders 必须为正数")
    async with store.db.read() as s:
        if await s.get(AnState, HISTORY_KEY) is not None:
            raise HistoryExists("该数据库已生成过演示历史")
        skus = [
            (int(i), c, nm, int(p))
            for i, c, nm, p in await s.execute(
                select(Sku.id, Sku.code, Product.name, Sku.price_fen)
                .join(Product, Product.id == Sku.product_id)
                .order_by(Sku.id)
            )
        ]
    if not skus:
        raise ValueError("商品目录为空：先创建商品（或运行 make run 载入演示商品）")
    end = end or china_day(store.clock()) - timedelta(days=1)
    days = max(7, int(round(years * 365)))
    orders = orders or int(customers * years * 3)
    sim = simulate(skus, days=days, customers=customers, orders=orders, seed=seed, end=end)
    tables = _rows(store, sim, skus, seed)
    await _bulk(store, tables, sim["day0"], np.array([s[0] for s in skus]))
    if replenish:
        await _replenish(store, sim, skus, seed, days)
    o = sim["orders"]
    return HistoryResult(
        orders=len(o),
        lines=len(sim["lines"]),
        customers=int(o["customer"].nunique()) if len(o) else 0,
        first_day=sim["day0"],
        last_day=end,
        seconds=round(_time.perf_counter() - t0, 2),
    )


# days of cover the farm holds, one per product in a seeded order: some near stock-out
COVER_DAYS = (4, 9, 13, 20, 30, 45, 70)


async def _replenish(store: Store, sim: dict, skus: list, seed: int, days: int) -> None:
    from sqlalchemy import select

    from commerce.models import Batch, Stock

    o, li = sim["orders"], sim["lines"]
    kept = o["status"].isin(["paid", "shipped", "completed"]).to_numpy()
    recent = (o["day"].to_numpy() >= days - 28) & kept
    sold = li[recent[li["order"].to_numpy()]].groupby("sku")["qty"].sum()
    cover = np.random.default_rng(seed).permutation(np.resize(COVER_DAYS, len(skus)))
    async with store.db.write() as s:
        for i, (sku_id, *_rest) in enumerate(skus):
            daily = float(sold.get(i, 0)) / 28.0
            target = max(3, int(round(daily * cover[i])))
            rows = (
                (
                    await s.execute(
                        select(Stock)
                        .join(Batch, Batch.id == Stock.batch_id)
                        .where(Stock.sku_id == sku_id)
                        .order_by(Batch.expiry_date.desc())
                    )
                )
                .scalars()
                .all()
            )
            if not rows:
                continue
            # older batches keep what they hold (a near-expiry batch stays near expiry); the
            # freshest one holds the rest of the target
            older = sum(max(0, st.quantity - st.allocated - st.reserved) for st in rows[1:])
            fresh = rows[0]
            fresh.quantity = fresh.allocated + fresh.reserved + max(0, target - older)


from commerce.analytics.history_rows import _bulk, _rows  # noqa: E402

"""One object the web layer holds: fresh rollups, then reports, forecasts and warnings."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from commerce.analytics import basket, forecast, pricing, reports, rfm_sql, stock
from commerce.analytics.calendar import china_day
from commerce.analytics.reports import DateRange, parse_range
from commerce.analytics.rollup import RollupSync
from commerce.errors import InvalidInput, NotFound
from commerce.models import AnDayRoom, AnOrder, Sku

if TYPE_CHECKING:
    from commerce.store import Store

ABNORMAL_DAILY_ORDERS = 5  # one buyer placing this many orders in a day looks like 刷单
ABNORMAL_AMOUNT_X = 10  # an order this many times the 28-day average order value
RFM_TTL = RFM_TTL_DEFAULT = 300.0  # seconds a computed RFM report is served
RFM_TOP = 500  # churn-risk rows kept in the cached report
BINS_TTL = 30.0  # seconds the order cloud's bins are served before they are counted again
ABNORMAL_TTL = 10.0  # seconds the first screen's abnormal orders are served, then recounted
WARM_HORIZON = 14  # the forecast the analysis page asks for first


class Analytics:
    """Reports over rollups that are brought up to date (at most once a second) first."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.rollups = RollupSync(store)
        self._forecasts: dict[tuple, dict] = {}
        self._rfm: tuple[float, date, dict] | None = None
        self._tasks: list[asyncio.Task] = []
        # one computation per key at a time: a second caller waits for the first one's result
        self._inflight: dict[tuple, asyncio.Task] = {}
        self._bins: dict[tuple, tuple[float, dict]] = {}
        self._abnormal: dict[tuple, tuple[float, list]] = {}
        self.warmed_in: float | None = None
        self._prices: tuple[tuple, dict] | None = (
            None  # seconds the last warm-up took, once it is done
        )

    def today(self) -> date:
        return china_day(self.store.clock())

    async def fresh(self) -> None:
        await self.rollups.sync()

    def start(self, interval: float = 2.0) -> None:
        """Keep rollups current in the background (the write path of the dashboard)."""
        if not self._tasks:
            loop = asyncio.get_running_loop()
            self._tasks = [
                loop.create_task(self.rollups.run(interval)),
                loop.create_task(self._keep_warm(RFM_TTL / 2)),
                loop.create_task(self._warm_up()),
            ]

    async def close(self) -> None:
        for task in self._tasks + list(self._inflight.values()):
            task.cancel()
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass  # stopping: a failed computation has been logged or returned already
        self._tasks, self._inflight = [], {}

    async def forget(self) -> None:
        """Drop every cached report and warm up again: for a bulk import of history that
        bypassed the order path (demo data), which the caches cannot notice."""
        for task in list(self._inflight.values()):
            task.cancel()
        self._inflight, self._forecasts, self._rfm, self._bins = {}, {}, None, {}
        self._abnormal = {}
        self._prices = None
        self.warmed_in = None
        if self._tasks:
            self._tasks.append(asyncio.get_running_loop().create_task(self._warm_up()))

    # -- reports ----------------------------------------------------------------------------
    async def report(self, name: str, r: DateRange, **kw) -> dict:
        await self.fresh()
        fn = {
            "kpis": reports.kpis,
            "series": reports.series,
            "products": reports.by_product,
            "regions": reports.by_region,
            "rooms": reports.by_room,
            "funnel": reports.funnel,
            "orders": reports.order_points,
            "order_bins": reports.order_bins,
        }[name]
        async with self.store.db.read() as s:
            return await fn(s, r, **kw)

    async def drill(self, year: int | None, month: int | None) -> dict:
        await self.fresh()
        async with self.store.db.read() as s:
            return await reports.drill(s, year, month)

    async def customers(self, top: int = 50, max_age: float = RFM_TTL_DEFAULT) -> dict:
        """The RFM report, recomputed at most every RFM_TTL seconds (a full pass over the
        customers; the background loop keeps it warm), with the churn list cut to `top`."""
        loop = asyncio.get_running_loop()
        today = self.today()
        cached = self._rfm
        if cached is None or cached[1] != today or loop.time() - cached[0] > max_age:
            cached = await self._compute_rfm()
        rep = cached[2]
        return {**rep, "churn_risk": rep["churn_risk"][:top]}

    async def _once(self, key: tuple, make):
        """`await make()`, run once for every caller that asks for `key` while it runs (in a
        task of its own: a caller that goes away does not cancel it for the others)."""
        self._inflight = {k: t for k, t in self._inflight.items() if not t.done()}
        task = self._inflight.get(key)
        if task is None:
            task = asyncio.get_running_loop().create_task(make())
            self._inflight[key] = task
        return await asyncio.shield(task)

    async def _warm_up(self) -> None:
        """Right after start, in the order the pages ask: the customer report (the dashboard's
        warnings), the analysis page's first forecast (statsmodels imported off the loop
        first), the order cloud's bins, then every other product's forecast."""
        import importlib
        import logging

        t0 = asyncio.get_running_loop().time()
        self.warmed_in = None
        try:
            await self._compute_rfm()
            await asyncio.to_thread(importlib.import_module, "statsmodels.tsa.holtwinters")
            async with self.store.db.read() as s:
                codes = list((await s.execute(select(Sku.code).order_by(Sku.id))).scalars())
            if codes:
                await self.forecast(codes[0], WARM_HORIZON)
            await self.order_bins(parse_range(None, None, self.today(), 365))
            for code in codes[1:]:
                await self.forecast(code, WARM_HORIZON)
            self.warmed_in = round(asyncio.get_running_loop().time() - t0, 2)
        except asyncio.CancelledError:
            raise
        except Exception:
            logging.getLogger(__name__).exception("analytics warm-up failed")

    async def order_bins(self, r: DateRange) -> dict:
        """The order cloud as day × amount-band counts, counted again at most every 30 s."""
        loop = asyncio.get_running_loop()
        key = (r.start, r.end)
        hit = self._bins.get(key)
        if hit is not None and loop.time() - hit[0] < BINS_TTL:
            return hit[1]

        async def make() -> dict:
            out = await self.report("order_bins", r)
            if len(self._bins) > 64:
                self._bins.clear()
            self._bins[key] = (loop.time(), out)
            return out

        return await self._once(("bins", *key), make)

    async def _compute_rfm(self) -> tuple[float, date, dict]:
        return await self._once(("rfm",), self._rfm_now)

    async def _rfm_now(self) -> tuple[float, date, dict]:
        await self.fresh()
        today = self.today()
        async with self.store.db.read() as s:
            rep = await rfm_sql.report(s, today, RFM_TOP)
        rep["as_of"] = self.store.clock().isoformat(timespec="seconds")
        self._rfm = (asyncio.get_running_loop().time(), today, rep)
        return self._rfm

    async def _keep_warm(self, interval: float) -> None:
        import logging

        while True:
            await asyncio.sleep(interval)
            try:
                await self._compute_rfm()
            except asyncio.CancelledError:
                raise
            except Exception:
                logging.getLogger(__name__).exception("RFM refresh failed")

    async def stock(self) -> dict:
        await self.fresh()
        return await stock.report(self.store, self.today())

    async def prices(self) -> dict:
        """The price advisor. It fits whole days before today, so its answer changes only
        with the day or a product's price or cost: kept until one of them changes."""
        await self.fresh()
        today = self.today()
        async with self.store.db.read() as s:
            key = (
                "prices",
                today,
                tuple(
                    await s.execute(select(Sku.id, Sku.price_fen, Sku.cost_fen).order_by(Sku.id))
                ),
            )
        if self._prices is not None and self._prices[0] == key:
            return self._prices[1]

        async def make() -> dict:
            out = await pricing.report(self.store, today)
            self._prices = (key, out)
            return out

        return await self._once(key, make)

    async def rules(self) -> list[dict]:
        await self.fresh()
        async with self.store.db.read() as s:
            return [r.to_json() for r in await basket.rules(s)]

    async def also_bought(self, sku: str, k: int = 4) -> list[dict]:
        await self.fresh()
        return await basket.also_bought(self.store, sku, k)

    async def forecast(self, sku: str, horizon: int = 14, with_backtest: bool = True) -> dict:
        """Forecast of paid units; NotFound for an unknown SKU. Cached per day."""
        await self.fresh()
        today = self.today()
        key = (sku, horizon, with_backtest, today)
        if key in self._forecasts:
            return self._forecasts[key]
        return await self._once(("forecast", *key), lambda: self._forecast_now(key))

    async def _forecast_now(self, key: tuple) -> dict:
        sku, horizon, with_backtest, today = key
        async with self.store.db.read() as s:
            y = await forecast.daily_units(s, sku, today - timedelta(days=1))
        if y is None:
            raise NotFound(f"商品不存在：{sku}")
        history = {
            "days": [d.date().isoformat() for d in y.index[-120:]],
            "units": y.iloc[-120:].tolist(),
        }
        if len(y) == 0:
            out = {
                "sku": sku,
                "empty": True,
                "history": history,
                "forecast": None,
                "backtest": None,
            }
        else:
            loop = asyncio.get_running_loop()
            fc = await loop.run_in_executor(None, forecast.forecast_series, y, horizon)
            bt = await loop.run_in_executor(None, forecast.backtest, y) if with_backtest else None
            out = {
                "sku": sku,
                "empty": False,
                "history": history,
                "forecast": fc.to_json(),
                "backtest": bt,
            }
        if len(self._forecasts) > 256:
            self._forecasts.clear()
        if not out["empty"]:  # no sales yet: cheap to say again, and soon out of date
            self._forecasts[key] = out
        return out

    # -- first screen -------------------------------------------------------------------------
    async def abnormal_orders(self, days: int = 7, wait: bool = True) -> list[dict]:
        """Large orders and buyers with many orders a day, over the last `days` days.

        With `wait=False` (the dashboard's first screen, re-read every 30 s) the last answer
        is served when it is at most ABNORMAL_TTL seconds old, and an older one is served
        while it is counted again in the background: at 1M orders this count (a group-by
        over a week of orders) was the slowest read of the summary, about half its time,
        and a slow answer every few seconds while orders kept arriving."""
        loop = asyncio.get_running_loop()
        key = (self.today(), days)

        async def make() -> list[dict]:
            out = await self._abnormal_now(days)
            self._abnormal = {key: (loop.time(), out)}
            return out

        hit = self._abnormal.get(key)
        if wait or hit is None:
            return await self._once(("abnormal", *key), make)
        if loop.time() - hit[0] >= ABNORMAL_TTL:
            self._in_background(("abnormal", *key), make)
        return hit[1]

    def _in_background(self, key: tuple, make) -> None:
        """Start `make()` as `key`'s computation unless one is running; do not wait for it."""
        self._inflight = {k: t for k, t in self._inflight.items() if not t.done()}
        if key not in self._inflight:
            task = asyncio.get_running_loop().create_task(make())
            task.add_done_callback(lambda t: t.cancelled() or t.exception())
            self._inflight[key] = task

    async def _abnormal_now(self, days: int) -> list[dict]:
        today = self.today()
        since = today - timedelta(days=days)
        async with self.store.db.read() as s:
            g, n = (
                await s.execute(
                    select(
                        func.coalesce(func.sum(AnDayRoom.gmv_fen), 0),
                        func.coalesce(func.sum(AnDayRoom.orders), 0),
                    ).where(AnDayRoom.day >= today - timedelta(days=28))
                )
            ).one()
            avg = int(g) / int(n) if n else 0
            out = []
            if avg:
                big = await s.execute(
                    select(AnOrder.order_id, AnOrder.day, AnOrder.placed_fen, AnOrder.province)
                    .where(AnOrder.day >= since, AnOrder.placed_fen > avg * ABNORMAL_AMOUNT_X)
                    .order_by(AnOrder.placed_fen.desc())
                    .limit(20)
                )
                out += [
                    {
                        "kind": "大额订单",
                        "order_id": o,
                        "day": d.isoformat(),
                        "detail": f"金额¥{fen / 100:.2f}，是近28天平均的{fen / avg:.0f}倍（{p or '未知地区'}）",
                    }
                    for o, d, fen, p in big
                ]
            many = await s.execute(
                select(AnOrder.buyer_id, AnOrder.day, func.count())
                .where(AnOrder.day >= since)
                .group_by(AnOrder.day, AnOrder.buyer_id)
                .having(func.count() >= ABNORMAL_DAILY_ORDERS)
                .limit(20)
            )
            out += [
                {
                    "kind": "疑似刷单",
                    "order_id": None,
                    "day": d.isoformat(),
                    "detail": f"买家{b[:4]}***当天下单{c}笔",
                }
                for b, d, c in many
            ]
        return out

    async def warnings(self, wait: bool = True) -> dict:
        """Low stock, near-expiry batches, abnormal orders and churn risk: the first screen.
        With `wait=False` a customer report not computed yet is not waited for: `churn` is
        None and `churn_pending` True (it is being computed; ask again)."""
        st = await self.stock()
        cust = None
        if wait or (self._rfm is not None and self._rfm[1] == self.today()):
            cust = await self.customers(top=10)
        else:
            await self._start_rfm()
        return {
            "stock": [i for i in st["items"] if i["warn"]],
            "near_expiry": st["near_expiry"],
            "abnormal_orders": await self.abnormal_orders(wait=wait),
            "churn": cust["churn_risk"] if cust else None,
            "churn_total": cust["churn_risk_total"] if cust else None,
            "churn_pending": cust is None,
        }

    async def _start_rfm(self) -> None:
        """The customer report, computed in the background (joined if already running)."""
        task = asyncio.get_running_loop().create_task(self._compute_rfm())
        task.add_done_callback(lambda t: t.cancelled() or t.exception())

    async def apply_promotion(self, batch_id: str, room_id: str | None = None) -> dict:
        """Create the suggested clearance coupon for a near-expiry batch (one click)."""
        batches = {b["batch_id"]: b for b in (await self.stock())["near_expiry"]}
        b = batches.get(batch_id)
        if b is None:
            raise NotFound(f"没有需要促销的临期批次：{batch_id}")
        sug = b["suggestion"]
        ends = date.fromisoformat(b["expiry_date"])
        code = "LQ" + hashlib.sha1(batch_id.encode()).hexdigest()[:10].upper()
        coupon = await self.store.promotions.issue_coupon(
            room_id,
            code,
            sug["kind"],
            sug["value"],
            sku=b["sku"],
            per_user_limit=5,
            total_limit=b["units_left"],
            ends_at=datetime.combine(ends, time()) - timedelta(hours=8) + timedelta(days=1),
        )
        return {"batch_id": batch_id, "suggestion": sug, "coupon": coupon}


SEGMENT_COUPON_DAYS = (1, 30)


async def segment_members(svc: Analytics, segment: str) -> list[dict]:
    """The buyers of an RFM segment or the churn list (buyer ids, never names or phones)."""
    await svc.fresh()
    async with svc.store.db.read() as s:
        try:
            rows = await rfm_sql.members(s, svc.today(), segment)
        except ValueError as e:
            raise NotFound(str(e)) from None
    return [
        {
            "buyer_id": b,
            "province": prov or "",
            "orders": int(o),
            "monetary": int(fen) / 100.0,
            "last_day": last.isoformat(),
        }
        for b, prov, o, fen, last in rows
    ]


async def segment_coupon(
    svc: Analytics,
    segment: str,
    kind: str,
    value: int,
    days: int,
    min_spend_fen: int = 0,
) -> dict:
    """A coupon only the buyers of `segment` can use, through the shop's coupon service."""
    if not SEGMENT_COUPON_DAYS[0] <= days <= SEGMENT_COUPON_DAYS[1]:
        raise InvalidInput("有效天数必须在1到30之间")
    buyers = [m["buyer_id"] for m in await segment_members(svc, segment)]
    if not buyers:
        raise InvalidInput(f"{segment[:20]}目前没有客户")
    now = svc.store.clock()
    digest = hashlib.sha1(f"{segment}|{now.isoformat()}".encode()).hexdigest()[:10].upper()
    coupon = await svc.store.promotions.issue_coupon(
        None,
        "CRM" + digest,
        kind,
        value,
        min_spend_fen=min_spend_fen,
        ends_at=now + timedelta(days=days),
        audience=buyers,
    )
    return {"segment": segment, "buyers": len(buyers), "coupon": coupon}


async def sku_exists(store: Store, sku: str) -> bool:
    async with store.db.read() as s:
        return (await s.execute(select(Sku.id).where(Sku.code == sku))).first() is not None

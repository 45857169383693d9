"""The analytics service's start-up warm-up and shared computations, on SQLite and PostgreSQL:
the first screen does not wait for the customer report, one computation serves concurrent
callers, the order cloud's bins count every order, and a bulk import is forgotten on demand."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from commerce.analytics import forecast, history
from commerce.analytics.daily import daily_report
from commerce.analytics.reports import parse_range
from commerce.analytics.service import Analytics


async def test_warm_up_shared_computations_and_the_first_screen(store, monkeypatch):
    await history.generate(store, years=0.5, customers=600, orders=4000, seed=3)
    svc = Analytics(store)
    card = await daily_report(svc, svc.today() - timedelta(days=1), wait=False)
    assert any("正在计算" in a for a in card["actions"])  # the card is not held by RFM
    first = await svc.warnings(wait=False)  # nothing computed yet: not waited for
    assert first["churn_pending"] and first["churn"] is None and "stock" in first
    full = await svc.warnings()
    assert not full["churn_pending"] and full["churn_total"] is not None
    assert (await svc.warnings(wait=False))["churn"] == full["churn"]

    fits = []
    real = forecast.forecast_series
    monkeypatch.setattr(
        forecast, "forecast_series", lambda *a, **k: fits.append(1) or real(*a, **k)
    )
    a, b = await asyncio.gather(svc.forecast("fp-jujube-500g"), svc.forecast("fp-jujube-500g"))
    assert a is b and a["backtest"]["gain"]["holiday"]["weeks"] >= 0
    one_run = len(fits)  # the forecast and the backtest's origins, once for both callers
    await svc.forecast("fp-jujube-500g")
    assert len(fits) == one_run  # cached for the day

    r = parse_range(None, None, svc.today(), 365)
    bins = await svc.order_bins(r)
    async with store.db.read() as s:
        from sqlalchemy import func, select

        from commerce.models import AnOrder

        n = await s.scalar(select(func.count()).where(AnOrder.day.between(r.start, r.end)))
    assert bins["total"] == n == sum(map(sum, bins["counts"])) > 0
    assert await svc.order_bins(r) is bins  # served from the 30-s cache

    p1 = await svc.prices()
    assert await svc.prices() is p1  # same day, same prices: not fitted again
    async with store.db.write() as s:
        from sqlalchemy import update

        from commerce.models import Sku

        await s.execute(update(Sku).where(Sku.code == "fp-jujube-500g").values(price_fen=3300))
    p2 = await svc.prices()
    assert p2 is not p1
    assert {i["sku"]: i["price"] for i in p2["items"]}["fp-jujube-500g"] == 33.0

    svc.start(interval=0.2)
    try:
        for _ in range(600):  # RFM, the first forecast, the bins, every forecast
            if svc.warmed_in is not None:
                break
            await asyncio.sleep(0.1)
        assert svc.warmed_in is not None
        await svc.forget()
        assert svc.warmed_in is None and not svc._forecasts and svc._rfm is None
    finally:
        await svc.close()

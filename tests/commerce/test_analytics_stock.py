"""Reorder point and the 15-day stock-out warning; near-expiry batches and one-click promotion."""

from __future__ import annotations

import math
from datetime import date, timedelta

import pytest

from commerce.analytics import stock
from commerce.analytics.service import Analytics
from commerce.catalog import BatchSpec
from commerce.errors import NotFound, PromotionError
from tests.commerce.conftest import farm_product

TODAY = date(2026, 11, 29)


def test_reorder_point_and_warning_fire_on_a_constructed_case():
    demand = [10, 12, 8, 10, 14, 6, 10] * 4  # mean 10, sample std 2.619...
    s = stock.status("x", 120, demand, TODAY, lead_days=7, z=1.65)
    sd = math.sqrt(sum((d - 10) ** 2 for d in demand) / (len(demand) - 1))
    assert s.daily_mean == 10 and s.daily_std == round(sd, 2)
    assert s.safety_stock == round(1.65 * sd * math.sqrt(7), 1)
    assert s.reorder_point == round(70 + 1.65 * sd * math.sqrt(7), 1)
    assert s.days_of_cover == 12.0 and s.stockout_date == "2026-12-11"
    assert s.warn and "12天后" in s.message


def test_warning_stays_quiet_with_enough_cover_or_no_demand():
    demand = [10, 12, 8, 10, 14, 6, 10] * 4
    quiet = stock.status("x", 400, demand, TODAY)
    assert (
        quiet.days_of_cover == 40.0 and not quiet.warn and not quiet.reorder and quiet.message == ""
    )
    idle = stock.status("y", 0, [0] * 28, TODAY)
    assert idle.days_of_cover is None and not idle.warn
    # exactly 15 days of cover warns; 16 does not
    assert stock.status("z", 150, [10] * 28, TODAY).warn
    assert not stock.status("z", 160, [10] * 28, TODAY).warn


def test_below_reorder_point_warns_even_with_cover_beyond_15_days():
    demand = [0, 0, 0, 0, 0, 0, 70] * 4  # lumpy weekly demand: mean 10, large σ
    s = stock.status("w", 160, demand, TODAY, lead_days=14)
    assert s.days_of_cover == 16.0 and s.reorder and s.warn and "补货点" in s.message


def test_promotion_deepens_as_expiry_nears():
    assert stock.promotion_for(2, 5)["value"] == 30
    assert stock.promotion_for(6, 5)["value"] == 20
    assert stock.promotion_for(12, 5)["value"] == 10
    assert stock.promotion_for(12, 5)["label"] == "临期特惠 9折"


async def test_near_expiry_batch_gets_a_one_click_coupon(store, clock):
    today = clock().date()
    await store.add_product(
        farm_product("exp-1", 40),
        [
            BatchSpec(
                "exp-1-b", today - timedelta(days=20), 40, "阜平地块", today + timedelta(days=5)
            )
        ],
    )
    svc = Analytics(store)
    rep = await svc.stock()
    batch = next(b for b in rep["near_expiry"] if b["batch_id"] == "exp-1-b")
    assert batch["suggestion"]["value"] == 20
    assert any(i["sku"] == "exp-1" for i in rep["items"])
    out = await svc.apply_promotion("exp-1-b")
    c = out["coupon"]
    assert (c["sku"], c["kind"], c["value"], c["total_limit"]) == ("exp-1", "percent", 20, 40)
    assert out["coupon"]["code"].startswith("LQ")
    with pytest.raises(PromotionError):  # a second click does not make a second coupon
        await svc.apply_promotion("exp-1-b")
    with pytest.raises(NotFound):
        await svc.apply_promotion("no-such-batch")


async def test_a_big_generated_history_restocks_so_warnings_differ_by_product(store):
    """At 1M orders every product said "0 days left": the demo stock did not grow with the
    history. Each product now holds its recent daily sales times its own days of cover."""
    from datetime import date as _date

    from commerce.analytics import history
    from commerce.analytics.service import Analytics
    from commerce.analytics.stock import report

    await history.generate(
        store, years=1, customers=2000, orders=40_000, seed=7, end=_date(2026, 11, 30)
    )
    svc = Analytics(store)
    await svc.fresh()
    items = (await report(store, _date(2026, 12, 1)))["items"]
    covers = [i["days_of_cover"] for i in items]
    assert all(c is not None and c > 0 for c in covers), covers
    assert any(i["warn"] for i in items) and not all(i["warn"] for i in items), items
    assert max(covers) / min(covers) > 4  # a few days for some, weeks for others

"""Rollups: the bulk-loaded history and the incremental sync agree; live orders flow in."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import text

from commerce.analytics import history
from commerce.analytics.calendar import china_day
from commerce.analytics.rollup import RollupSync
from commerce.analytics.service import Analytics
from commerce.orders import LineRequest, OrderRequest
from tests.commerce.conftest import add_product

TABLES = {
    "an_day_sku": "day, sku_id, orders, units, gmv_fen, paid_orders, paid_units, paid_fen, refund_fen",
    "an_day_region": "day, province, city, orders, gmv_fen, paid_orders, paid_fen",
    "an_day_room": "day, room_id, persona, orders, gmv_fen, paid_orders, paid_fen",
    "an_customers": "buyer_id, province, city, first_day, last_day, orders, paid_fen",
    "an_pairs": "sku_a, sku_b, baskets",
}


async def dump(store) -> dict:
    out = {}
    async with store.db.read() as s:
        for t, cols in TABLES.items():
            rows = (await s.execute(text(f"SELECT {cols} FROM {t}"))).all()
            out[t] = sorted(tuple(str(x) for x in r) for r in rows)
    return out


async def test_bulk_history_equals_incremental_sync_of_the_same_orders(store):
    r = await history.generate(
        store, years=0.5, customers=400, orders=2500, seed=5, end=date(2026, 10, 31)
    )
    assert r.orders > 2000 and r.first_day == date(2026, 5, 3)  # 182 days
    bulk = await dump(store)
    async with store.db.write() as s:
        for t in [*TABLES, "an_orders", "an_state"]:
            await s.execute(text(f"DELETE FROM {t}"))
    changed = await RollupSync(store).sync(force=True)
    assert changed == r.orders
    assert await dump(store) == bulk
    assert await RollupSync(store).sync(force=True) == 0  # nothing changed since


async def test_history_is_deterministic_under_a_seed(store):
    skus = [(1, "a", "大枣", 2990), (2, "b", "核桃", 2580), (3, "c", "蜂蜜", 4800)]
    kw = dict(days=200, customers=300, orders=3000, end=date(2026, 3, 1))
    one = history.simulate(skus, seed=9, **kw)
    two = history.simulate(skus, seed=9, **kw)
    other = history.simulate(skus, seed=10, **kw)
    assert one["orders"].equals(two["orders"]) and one["lines"].equals(two["lines"])
    assert not one["orders"].equals(other["orders"])


async def test_history_carries_the_seasons_holidays_and_repeat_buyers():
    skus = [(1, "j", "大枣", 2990), (2, "w", "核桃", 2580), (3, "m", "香菇", 3200)]
    sim = history.simulate(
        skus, days=730, customers=3000, orders=40_000, seed=1, end=date(2026, 11, 28)
    )
    o, lines = sim["orders"], sim["lines"]
    day0 = sim["day0"]
    month = o["day"].map(lambda d: date.fromordinal(day0.toordinal() + d).month)
    per_month = o.groupby(month).size()
    assert per_month[10] > 1.5 * per_month[5]  # harvest beats May

    def mean_per_day(a: date, b: date) -> float:
        lo, hi = a.toordinal() - day0.toordinal(), b.toordinal() - day0.toordinal()
        return o["day"].between(lo, hi).sum() / (hi - lo + 1)

    # 双11 (1–11 Nov) over the rest of November; Spring Festival gifting over March
    assert mean_per_day(date(2025, 11, 1), date(2025, 11, 11)) > 1.3 * mean_per_day(
        date(2025, 11, 15), date(2025, 11, 30)
    )
    assert mean_per_day(date(2026, 1, 27), date(2026, 2, 13)) > 2 * mean_per_day(
        date(2026, 3, 1), date(2026, 3, 31)
    )
    repeat = o.groupby("customer").size()
    assert (repeat >= 2).mean() > 0.3
    jujube_w = lines[lines["sku"] == 0]["order"]
    both = lines[lines["order"].isin(jujube_w) & (lines["sku"] == 1)]
    assert len(both) / len(jujube_w) > 2 * (lines["sku"] == 1).mean() * 0.5


async def test_live_orders_payments_and_refunds_reach_the_rollups(store, clock):
    await add_product(store, "ana-1", 50, price="12.5")
    svc = Analytics(store)
    req = OrderRequest(
        buyer_id="b-1",
        buyer_name="王五",
        phone="13812345678",
        address="山东省青岛市市南区1号",
        items=(LineRequest("ana-1", 2),),
        room_id="r-live",
        persona="xiaoli",
        segment="限时秒杀",
    )
    view, _ = await store.orders.create(req, "k-1")
    await svc.rollups.sync(force=True)
    today = china_day(clock())
    k = await svc.report("kpis", svc_range(today))
    assert (k["gmv"], k["paid_gmv"], k["orders"], k["paid_orders"]) == (25.0, 0.0, 1, 0)
    pay = await store.payments.start(view["id"])
    await store.payments.confirm(pay["payment_id"])
    await svc.rollups.sync(force=True)
    k = await svc.report("kpis", svc_range(today))
    assert (k["gmv"], k["paid_gmv"], k["paid_orders"]) == (25.0, 25.0, 1)
    regions = await svc.report("regions", svc_range(today))
    assert regions["rows"][0]["name"] == "山东"
    prod = await svc.report("products", svc_range(today))
    assert [(p["sku"], p["paid_units"]) for p in prod["rows"]] == [("ana-1", 2)]
    cust = await svc.customers(max_age=0)
    assert cust["customers"] == 1
    await store.orders.transition(view["id"], "request_refund")
    await store.orders.transition(view["id"], "approve_refund")
    await svc.rollups.sync(force=True)
    k = await svc.report("kpis", svc_range(today))
    assert (k["gmv"], k["paid_gmv"], k["refund"]) == (25.0, 25.0, 25.0)
    assert (await svc.customers(max_age=0))["customers"] == 0


def svc_range(day):
    from commerce.analytics.reports import DateRange

    return DateRange(day, day)


@pytest.mark.parametrize("bad", [dict(years=0), dict(customers=0), dict(orders=-1)])
async def test_history_refuses_nonsense_and_a_second_run(store, bad):
    with pytest.raises(ValueError):
        await history.generate(store, **bad)
    await history.generate(store, years=0.1, customers=50, seed=2)
    with pytest.raises(history.HistoryExists):
        await history.generate(store, years=0.1, customers=50, seed=2)


async def test_the_refresh_reads_changed_orders_through_the_index_and_stops_on_a_short_page(
    store,
):
    """At 1M orders an `updated_at > t OR (updated_at = t AND id > i)` read was a full index
    scan every 2 s; each read is now a range the updated_at index serves, and a short page ends
    the pass."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    from commerce.analytics import rollup

    await history.generate(
        store, years=0.1, customers=50, orders=300, seed=3, end=date(2026, 10, 31)
    )
    async with store.db.write() as s:
        await s.execute(text("DELETE FROM an_state"))
    reads: list[tuple[str, tuple]] = []

    def keep(conn, cursor, statement, params, context, executemany):
        if "FROM orders" in statement and "ORDER BY orders.updated_at" in statement:
            reads.append((statement, tuple(params or ())))

    event.listen(Engine, "before_cursor_execute", keep)  # the writer has its own engine
    page, rollup.PAGE = rollup.PAGE, 128
    try:
        await RollupSync(store).sync(force=True)
    finally:
        rollup.PAGE = page
        event.remove(Engine, "before_cursor_execute", keep)
    assert reads and all(" OR " not in stmt for stmt, _ in reads)
    assert len(reads) <= 300 // 128 + 4  # a short page ends the pass: no empty trailing reads
    if store.db.engine.dialect.name == "sqlite":
        async with store.db.read() as s:
            conn = await s.connection()
            for stmt, params in reads:
                plan = (await conn.exec_driver_sql("EXPLAIN QUERY PLAN " + stmt, params)).all()
                detail = " ".join(str(r[-1]) for r in plan)
                assert "SCAN orders" not in detail, detail  # a SEARCH on the index

"""CRM: a coupon for one customer segment reaches every buyer in it and nobody else; the
segment's members are the ones the RFM report counts."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from commerce.analytics import history, rfm_sql
from commerce.analytics.service import Analytics, segment_coupon, segment_members
from commerce.errors import CommerceError, InvalidInput, NotFound
from commerce.orders import LineRequest, OrderRequest
from tests.commerce.conftest import add_product

END = date(2026, 10, 31)


def req(phone: str, sku: str, code: str | None) -> OrderRequest:
    return OrderRequest(
        "ignored", "王五", phone, "河北省保定市阜平县2号", (LineRequest(sku, 1),), coupon_code=code
    )


async def test_a_targeted_coupon_is_for_its_buyers_only(store):
    await add_product(store, "crm-a", 50, price="30")
    inside, outside = "13900000001", "13900000002"
    coupon = await store.promotions.issue_coupon(
        None, "VIP5", "fixed", 500, audience=[store.keys.buyer_key(inside)]
    )
    assert coupon["audience"] == 1
    order, _ = await store.orders.create(req(inside, "crm-a", "VIP5"), "k1")
    assert (order["discount"], order["total"]) == ("5.00", "25.00")
    with pytest.raises(CommerceError, match="专属券"):
        await store.orders.create(req(outside, "crm-a", "VIP5"), "k2")
    open_coupon = await store.promotions.issue_coupon(None, "ALL5", "fixed", 500)
    assert "audience" not in open_coupon
    await store.orders.create(req(outside, "crm-a", "ALL5"), "k3")  # untargeted: as before
    with pytest.raises(InvalidInput):
        await store.promotions.issue_coupon(None, "NONE5", "fixed", 500, audience=[])


async def test_segment_members_match_the_rfm_report_and_get_the_coupon(store):
    await history.generate(store, years=1, customers=600, orders=5000, seed=11, end=END)
    svc = Analytics(store)
    report = await svc.customers()
    counts = {s["segment"]: s["customers"] for s in report["segments"]}
    for name, n in counts.items():
        assert len(await segment_members(svc, name)) == n, name
    churn = await segment_members(svc, rfm_sql.CHURN)
    assert len(churn) == report["churn_risk_total"]
    biggest = max(counts, key=counts.get)
    out = await segment_coupon(svc, biggest, "percent", 10, days=7)
    assert out["buyers"] == counts[biggest] == out["coupon"]["audience"]
    with pytest.raises(NotFound):
        await segment_members(svc, "不存在的分层")
    with pytest.raises(InvalidInput):
        await segment_coupon(svc, biggest, "percent", 10, days=90)
    ends = out["coupon"]["ends_at"]
    assert ends.startswith((store.clock() + timedelta(days=7)).date().isoformat()), ends

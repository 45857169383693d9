"""The livestream-commerce definitions and RFM scoring against hand-computed small cases."""

from __future__ import annotations

from datetime import date

from commerce.analytics import metrics, rfm
from commerce.analytics.regions import parse_region
from commerce.analytics.rollup import contribution, split_fen


def test_gmv_counts_unpaid_orders_and_paid_gmv_does_not():
    # three orders: 100.00 paid, 50.00 unpaid, 25.50 paid
    orders = [(10_000, True), (5_000, False), (2_550, True)]
    assert metrics.gmv_fen(orders) == 17_550
    assert metrics.paid_gmv_fen(orders) == 12_550


def test_uv_value_gpm_conversion_and_aov_by_hand():
    # GMV ¥175.50 from 40 visitors and 60 views; 3 of the 40 paid ¥125.50
    assert metrics.uv_value(17_550, 40) == 4.3875  # 175.50 / 40
    assert metrics.gpm(17_550, 60) == 2925.0  # 175.50 / 60 * 1000
    assert metrics.conversion(3, 40) == 0.075
    assert metrics.aov(12_550, 3) == 41.83  # 125.50 / 3
    assert metrics.interaction_rate(10, 40) == 0.25
    assert metrics.avg_watch_seconds(3_600, 60) == 60.0


def test_figures_never_divide_by_zero():
    f = metrics.figures(
        "r",
        online=0,
        peak_online=0,
        views=0,
        uv=0,
        viewer_seconds=0,
        interacting=0,
        gmv=0,
        paid=0,
        orders=0,
        paid_orders=0,
        buyers=0,
    )
    assert (f.uv_value, f.gpm, f.conversion, f.aov, f.avg_watch_s) == (0, 0, 0, 0, 0)


def test_order_contribution_follows_the_status():
    assert contribution("unpaid", 900) == contribution("cancelled", 900)
    assert contribution("cancelled", 900).paid == 0
    assert contribution("shipped", 900).paid == 900 and contribution("shipped", 900).bought == 1
    r = contribution("refunded", 900)
    assert (r.placed, r.paid, r.refund, r.bought) == (900, 900, 900, 0)
    assert split_fen(1000, [1, 1, 1]) == [333, 333, 334]
    assert split_fen(0, [5, 5]) == [0, 0] and split_fen(7, [0, 0]) == [0, 0]


def test_rfm_scores_and_segments_by_hand():
    c = [
        rfm.Customer("a", recency_days=2, frequency=5, monetary_fen=50_000),
        rfm.Customer("b", recency_days=10, frequency=1, monetary_fen=40_000),
        rfm.Customer("c", recency_days=100, frequency=4, monetary_fen=30_000),
        rfm.Customer("d", recency_days=200, frequency=1, monetary_fen=1_000),
        rfm.Customer("e", recency_days=300, frequency=1, monetary_fen=2_000),
    ]
    got = {s.buyer_id: s for s in rfm.score(c)}
    # R ranks -recency: a newest → 5 ... e oldest → 1. F ties (1,1,1) share rank 3 → 3.
    assert [got[x].r for x in "abcde"] == [5, 4, 3, 2, 1]
    assert [got[x].f for x in "abcde"] == [5, 3, 4, 3, 3]
    assert [got[x].m for x in "abcde"] == [5, 4, 3, 1, 2]
    # means: R 3, F 3.6, M 3 → high means strictly above the mean
    assert got["a"].segment == "重要价值客户"
    assert got["b"].segment == "重要发展客户"  # R4 F3 M4
    assert got["c"].segment == "一般保持客户"  # R3 (not > 3) F4 M3 (not > 3)
    assert got["d"].segment == "一般挽留客户"
    assert rfm.score([]) == []


def test_repurchase_interval_and_churn_risk():
    c = rfm.Customer("x", recency_days=90, frequency=4, monetary_fen=1, first_day=date(2026, 1, 1))
    iv = rfm.repurchase_interval(c, date(2026, 1, 31))
    assert iv == 10.0  # 30 days over 3 gaps
    assert rfm.churn_risk(c, iv) == 9.0
    assert rfm.churn_risk(rfm.Customer("y", 20, 4, 1), 5.0) == 0.0  # under 30 days away
    assert (
        rfm.repurchase_interval(rfm.Customer("z", 5, 1, 1, date(2026, 1, 1)), date(2026, 1, 1))
        is None
    )


def test_addresses_parse_to_province_and_city():
    assert parse_region("河北省保定市阜平县城南庄镇1号") == ("河北", "保定")
    assert parse_region("北京市朝阳区幸福路1号") == ("北京", "北京")
    assert parse_region("内蒙古自治区呼和浩特市新城区") == ("内蒙古", "呼和浩特")
    assert parse_region("浙江杭州市西湖区") == ("浙江", "杭州")
    assert parse_region("火星基地") == ("", "")
    assert parse_region("") == ("", "")

"""The dashboard router over real HTTP and WebSocket, on the whole app with a demo history."""

from __future__ import annotations

import asyncio
import json
import re
import time

import httpx
import pytest
import websockets

from testkit.dash import DashServer


@pytest.fixture(scope="module")
def dash(tmp_path_factory):
    with DashServer(tmp_path_factory.mktemp("dash") / "shop.db") as srv:
        yield srv


@pytest.fixture(scope="module")
def bare(tmp_path_factory):
    """A shop with the demo catalog and no orders at all."""
    with DashServer(tmp_path_factory.mktemp("bare") / "shop.db", history=False) as srv:
        yield srv


def get(srv, path: str, **kw) -> httpx.Response:
    """GET as the shop's operator (the figures are staff-only)."""
    return httpx.get(srv.url + path, timeout=60, headers=srv.headers("operator"), **kw)


def test_pages_and_local_plotly_are_served(dash):
    pages = (
        ("/dashboard", "智能仪表板", "/vendor/plotly-basic.min.js"),
        ("/analytics", "数据分析中心", "/vendor/plotly-cartesian.min.js"),
    )
    for path, title, script in pages:
        r = get(dash, path)
        assert r.status_code == 200 and title in r.text
        assert script in r.text and "cdn" not in r.text.lower()
    full = get(dash, "/vendor/plotly.min.js")
    assert full.status_code == 200 and len(full.content) > 4_000_000
    assert full.headers["content-type"].startswith("text/javascript")
    basic = get(dash, "/vendor/plotly-basic.min.js")
    assert 1_000_000 < len(basic.content) < 1_500_000  # bars and lines: the dashboard's traces
    version = re.search(rb"plotly\.js v(\S+)", full.content[:200])[1]  # the package's own
    assert b"plotly.js (basic - minified) v" + version in basic.content[:200]
    cartesian = get(dash, "/vendor/plotly-cartesian.min.js")  # the analysis centre's
    assert 1_000_000 < len(cartesian.content) < 1_700_000
    assert b"plotly.js (cartesian - minified) v" + version in cartesian.content[:200]
    assert cartesian.headers["content-encoding"] == "gzip"
    # on the wire: gzip to a browser that takes it (httpx decodes it back), a day's cache
    assert basic.headers["content-encoding"] == "gzip"
    assert int(basic.headers["content-length"]) < 450_000
    assert "max-age=86400" in basic.headers["cache-control"]
    plain = httpx.get(
        dash.url + "/vendor/plotly-basic.min.js", headers={"Accept-Encoding": "identity"}
    )
    assert "content-encoding" not in plain.headers and plain.content == basic.content


def test_summary_has_figures_and_first_screen_warnings(dash):
    s = get(dash, "/api/dashboard/summary").json()
    assert s["kpis_30d"]["orders"] > 0 and s["kpis_30d"]["gmv"] >= s["kpis_30d"]["paid_gmv"] > 0
    assert len(s["trend"]["rows"]) == 90
    assert {"stock", "near_expiry", "abnormal_orders", "churn"} <= set(s["warnings"])
    assert s["live"]["type"] == "live" and "total" in s["live"]


def test_reports_answer_for_every_grain_and_drill_down(dash):
    for grain in ("day", "week", "month", "year"):
        rows = get(dash, f"/api/analytics/series?grain={grain}").json()["rows"]
        assert rows and all({"gmv", "paid_gmv", "yoy", "mom"} <= set(r) for r in rows)
    years = get(dash, "/api/analytics/drill").json()
    assert years["level"] == "year" and years["rows"]
    y = int(years["rows"][-1]["period"])
    months = get(dash, f"/api/analytics/drill?year={y}").json()
    assert months["level"] == "month" and len(months["rows"]) == 12
    m = next(int(r["period"][5:]) for r in months["rows"] if r["orders"])
    days = get(dash, f"/api/analytics/drill?year={y}&month={m}").json()
    assert days["level"] == "day" and sum(r["orders"] for r in days["rows"]) == next(
        r["orders"] for r in months["rows"] if int(r["period"][5:]) == m
    )
    regions = get(dash, "/api/analytics/regions").json()
    assert regions["rows"] and regions["heat"]["provinces"]
    prov = regions["rows"][0]["name"]
    cities = get(dash, "/api/analytics/regions", params={"province": prov}).json()["rows"]
    assert (
        cities and abs(sum(c["paid_gmv"] for c in cities) - regions["rows"][0]["paid_gmv"]) < 0.05
    )
    funnel = get(dash, "/api/analytics/funnel").json()["stages"]
    assert [s["stage"] for s in funnel] == ["观看人次", "商品点击", "下单", "支付"]
    assert funnel[0]["value"] >= funnel[1]["value"] >= funnel[2]["value"] >= funnel[3]["value"] > 0


def test_customers_forecast_prices_rules_and_also_bought(dash):
    c = get(dash, "/api/analytics/customers").json()
    assert c["customers"] > 0 and sum(s["customers"] for s in c["segments"]) == c["customers"]
    f = get(dash, "/api/analytics/forecast/fp-jujube-500g?horizon=7").json()
    assert f["found"] and len(f["forecast"]["mean"]) == 7
    assert all(
        lo <= m <= hi
        for lo, m, hi in zip(*(f["forecast"][k] for k in ("lower", "mean", "upper")), strict=True)
    )
    assert f["backtest"]["model"]["mase"] > 0
    prices = get(dash, "/api/analytics/prices").json()["items"]
    assert {p["sku"] for p in prices} >= {"fp-jujube-500g"}
    rules = get(dash, "/api/analytics/rules").json()
    assert any(r["antecedent_name"] == "大枣" and r["consequent_name"] == "核桃" for r in rules)
    also = get(dash, "/api/shop/products/fp-jujube-500g/also-bought?k=3").json()
    assert also and also[0]["name"] == "核桃" and len(also) <= 3


def test_empty_reversed_and_unknown_give_empty_states(dash, bare):
    rev = get(dash, "/api/analytics/kpis?start=2026-05-01&end=2026-04-01").json()
    assert rev["range"]["empty"] and rev["empty"]
    assert get(dash, "/api/analytics/series?start=2026-05-01&end=2026-04-01").json()["rows"] == []
    assert get(dash, "/api/analytics/products?start=1990-01-01&end=1990-01-31").json()["rows"] == []
    unknown = get(dash, "/api/analytics/forecast/no-such-sku").json()
    assert unknown == {"sku": "no-such-sku", "empty": True, "found": False, "reason": "商品不存在"}
    assert get(dash, "/api/shop/products/no-such-sku/also-bought").json() == []
    for path in (
        "/api/analytics/kpis",
        "/api/analytics/series?grain=month",
        "/api/analytics/drill",
        "/api/analytics/regions",
        "/api/analytics/rooms",
        "/api/analytics/funnel",
        "/api/analytics/orders",
        "/api/analytics/customers",
        "/api/analytics/stock",
        "/api/analytics/prices",
        "/api/analytics/rules",
        "/api/analytics/forecast/fp-jujube-500g",
        "/api/dashboard/summary",
        "/dashboard",
        "/analytics",
    ):
        assert get(bare, path).status_code == 200, path
    assert get(bare, "/api/analytics/forecast/fp-jujube-500g").json()["empty"] is True


@pytest.mark.parametrize(
    "path",
    [
        "/api/analytics/kpis?start=yesterday",
        "/api/analytics/kpis?start=2026-13-01",
        "/api/analytics/kpis?end=" + "9" * 5000,
        "/api/analytics/series?grain=hour",
        "/api/analytics/series?start=1900-01-01&end=2026-01-01",
        "/api/analytics/drill?month=3",
        "/api/analytics/drill?year=abc",
        "/api/analytics/orders?limit=100001",
        "/api/analytics/forecast/fp-jujube-500g?horizon=365",
        "/api/shop/products/fp-jujube-500g/also-bought?k=0",
    ],
)
def test_malformed_parameters_get_a_reason(dash, path):
    r = get(dash, path)
    assert r.status_code == 422, r.text
    assert r.json()["detail"]


def test_one_click_promotion_creates_the_suggested_coupon(dash):
    stock = get(dash, "/api/analytics/stock").json()
    assert stock["items"]
    missing = httpx.post(
        dash.url + "/api/analytics/promotions/no-such-batch/apply",
        timeout=30,
        headers=dash.headers("operator"),
    )
    assert missing.status_code == 404 and missing.json()["detail"]


def test_live_websocket_pushes_figures_every_few_seconds(dash):
    async def run() -> list[dict]:
        uri = dash.url.replace("http", "ws") + "/api/dashboard/live"
        got = []
        async with websockets.connect(uri, additional_headers=dash.headers("operator")) as ws:
            t0 = time.monotonic()
            for _ in range(2):
                got.append(json.loads(await asyncio.wait_for(ws.recv(), 10)))
            got.append({"elapsed": time.monotonic() - t0})
        return got

    a, b, t = asyncio.run(run())
    assert a["type"] == b["type"] == "live"
    assert t["elapsed"] <= 5.5
    total = b["total"]
    for key in ("online", "peak_online", "avg_watch_s", "interaction_rate", "gmv", "paid_gmv"):
        assert key in total
    for key in ("conversion", "uv_value", "gpm", "aov", "by_segment"):
        assert key in total


def test_live_figures_follow_a_real_room(tmp_path):
    async def first(url: str, headers: dict) -> dict:
        uri = url.replace("http", "ws") + "/api/dashboard/live"
        async with websockets.connect(uri, additional_headers=headers) as ws:
            return json.loads(await asyncio.wait_for(ws.recv(), 10))

    with DashServer(tmp_path / "room.db", history=False, demo_room=True) as srv:
        snap = asyncio.run(first(srv.url, srv.headers("operator")))
    rooms = {r["room_id"]: r for r in snap["rooms"]}
    assert "demo" in rooms and rooms["demo"]["online"] == 0
    assert snap["total"]["room_id"] == "全部直播间"


def test_a_segment_exports_as_csv_and_gets_its_own_coupon(dash):
    from urllib.parse import quote

    segments = get(dash, "/api/analytics/customers").json()["segments"]
    seg = max(segments, key=lambda s: s["customers"])
    path = f"/api/analytics/segments/{quote(seg['segment'])}"
    csv_r = get(dash, path + "/members.csv")
    assert csv_r.status_code == 200 and csv_r.headers["content-type"].startswith("text/csv")
    lines = csv_r.content.decode("utf-8-sig").strip().splitlines()
    assert lines[0].startswith("买家编号") and len(lines) == seg["customers"] + 1
    assert "attachment" in csv_r.headers["content-disposition"]
    post = lambda body, who="operator": httpx.post(  # noqa: E731
        dash.url + path + "/coupon", json=body, timeout=60, headers=dash.headers(who)
    )
    made = post({"kind": "fixed", "value": 5, "days": 7, "min_spend": 30})
    assert made.status_code == 200, made.text
    assert made.json()["buyers"] == seg["customers"] == made.json()["coupon"]["audience"]
    assert post({"kind": "fixed", "value": 5}, who="ops").status_code == 403  # read-only role
    for bad in (
        {"kind": "free", "value": 5},
        {"kind": "fixed", "value": -1},
        {"kind": "percent", "value": 10, "days": 365},
        {"kind": "fixed", "value": 5, "extra": "<script>"},
    ):
        assert post(bad).status_code == 422, bad
    unknown = httpx.post(
        dash.url + "/api/analytics/segments/nobody/coupon",
        json={"kind": "fixed", "value": 5},
        timeout=30,
        headers=dash.headers("operator"),
    )
    assert unknown.status_code == 404 and unknown.json()["detail"]


def test_order_bins_count_every_order_of_the_range(dash):
    b = get(dash, "/api/analytics/orders/bins").json()
    pts = get(dash, "/api/analytics/orders?limit=100000").json()
    assert b["total"] == pts["total"] == sum(map(sum, b["counts"])) > 0
    assert len(b["counts"]) == len(b["bands"]) and all(
        len(c) == len(b["days"]) for c in b["counts"]
    )
    day = b["days"][-1]
    one = get(dash, f"/api/analytics/orders/bins?start={day}&end={day}").json()
    assert one["days"] == [day]
    assert [c[0] for c in one["counts"]] == [c[-1] for c in b["counts"]]
    assert len(get(dash, "/api/analytics/orders/bins").content) < 100_000  # kB, not MB
    rev = get(dash, "/api/analytics/orders/bins?start=2026-05-01&end=2026-04-01").json()
    assert rev["total"] == 0 and rev["range"]["empty"]
    for bad in ("start=2026-13-01", "end=" + "9" * 5000, "start=1900-01-01&end=2026-01-01"):
        r = get(dash, "/api/analytics/orders/bins?" + bad)
        assert r.status_code == 422 and r.json()["detail"]
    assert httpx.get(dash.url + "/api/analytics/orders/bins", timeout=30).status_code == 401
    ops = httpx.get(
        dash.url + "/api/analytics/orders/bins", headers=dash.headers("ops"), timeout=30
    )
    assert ops.status_code == 403

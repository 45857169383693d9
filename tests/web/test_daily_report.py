"""The daily report (日报): over HTTP (JSON and email-ready HTML) against the same day's KPIs,
hostile dates, permissions, the `yunlian shop daily-report` command, and the dashboard card in
Chromium."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta

import httpx
import pytest

from commerce.analytics.daily import render_html
from testkit.dash import DashServer
from tests.web.test_cli import cli
from tests.web.test_dashboard_api import get


@pytest.fixture(scope="module")
def dash(tmp_path_factory):
    with DashServer(tmp_path_factory.mktemp("daily") / "shop.db") as srv:
        yield srv


def test_report_matches_the_days_kpis_and_compares_with_the_day_before(dash):
    r = get(dash, "/api/analytics/daily-report").json()
    today = date.fromisoformat(get(dash, "/api/dashboard/summary").json()["today"])
    day = date.fromisoformat(r["day"])
    assert day == today - timedelta(days=1)  # yesterday by default
    k = get(dash, f"/api/analytics/kpis?start={day}&end={day}").json()
    prev = day - timedelta(days=1)
    kp = get(dash, f"/api/analytics/kpis?start={prev}&end={prev}").json()
    f = r["figures"]
    assert f["paid_gmv"]["value"] == k["paid_gmv"] and f["orders"]["value"] == k["orders"]
    assert f["refund"]["value"] == k["refund"]
    if kp["paid_gmv"]:
        want = round((k["paid_gmv"] - kp["paid_gmv"]) / kp["paid_gmv"], 4)
        assert f["paid_gmv"]["vs_prev_day"] == pytest.approx(want, abs=1e-4)
    products = get(dash, f"/api/analytics/products?start={day}&end={day}").json()["rows"]
    best = max(products, key=lambda p: p["paid_gmv"]) if products else None
    if best and best["paid_gmv"]:
        assert r["top_products"][0]["paid_gmv"] == best["paid_gmv"]
    assert isinstance(r["actions"], list) and r["weekday"] in "一二三四五六日"
    older = get(dash, f"/api/analytics/daily-report?day={day - timedelta(days=3)}").json()
    assert older["day"] == str(day - timedelta(days=3))


def test_html_is_an_email_body_without_scripts(dash):
    res = get(dash, "/api/analytics/daily-report.html")
    assert res.status_code == 200 and res.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in res.headers["content-security-policy"]
    assert res.headers["cache-control"] == "no-store"
    body = res.text
    assert "经营日报" in body and "<script" not in body.lower()
    assert not re.search(r"<link|src=|@import", body)  # nothing fetched: it is mailed as is


def test_html_escapes_what_the_shop_typed():
    evil = "<script>alert(1)</script><img src=x onerror=alert(2)>"
    rep = {
        "day": "2026-12-01",
        "weekday": "二",
        "empty": False,
        "figures": {"paid_gmv": {"value": 1.5, "vs_prev_day": None, "vs_last_week": -0.5}},
        "top_products": [{"sku": "s", "name": evil, "paid_units": 1, "paid_gmv": 1.5}],
        "refunds": [{"sku": "s", "name": evil, "refund": 2.0}],
        "sessions": [
            {
                "id": "x",
                "room_id": "r",
                "title": evil,
                "persona": evil,
                "started": "08:00",
                "ended": "09:00",
                "minutes": 60,
                "peak_viewers": 3,
                "entries": 5,
                "orders": 1,
                "gmv": 1.5,
            }
        ],
        "actions": [evil],
    }
    html = render_html(rep)
    assert "<script>" not in html and "<img" not in html and "&lt;script&gt;" in html


@pytest.mark.parametrize(
    "day",
    [
        "2026-13-01",
        "x" * 11,
        "'; drop table orders; --",
        "2999-01-01",
        "1900-01-01",
        "20261201",
        "2026-02-30",
    ],
)
def test_bad_days_are_422_with_a_reason(dash, day):
    for path in ("/api/analytics/daily-report", "/api/analytics/daily-report.html"):
        res = get(dash, path, params={"day": day})
        assert res.status_code == 422, (day, res.text)
        assert res.json()["detail"]


def test_permissions_fail_closed(dash):
    for path in ("/api/analytics/daily-report", "/api/analytics/daily-report.html"):
        assert httpx.get(dash.url + path, timeout=30).status_code == 401
        for role in ("cs", "ops"):
            assert (
                httpx.get(dash.url + path, timeout=30, headers=dash.headers(role)).status_code
                == 403
            )
        other = httpx.get(dash.url + path, timeout=30, headers=dash.headers("operator", "shop-2"))
        assert other.status_code == 403
        bad = httpx.get(dash.url + path, timeout=30, headers={"Authorization": "Bearer x"})
        assert bad.status_code == 401


def test_cli_prints_json_writes_html_and_refuses_bad_input(tmp_path):
    url = f"sqlite:///{tmp_path}/shop.db"
    key = ("--secret-key", "daily-report-test")
    made = cli("demo-data", "--db", url, *key, "--years", "0.1", "--customers", "300")
    assert made.returncode == 0, made.stderr
    res = cli("shop", "daily-report", "--db", url, *key)
    assert res.returncode == 0, res.stderr
    rep = json.loads(res.stdout)
    assert rep["figures"]["orders"]["value"] >= 0 and "actions" in rep
    out = tmp_path / "daily.html"
    res = cli("shop", "daily-report", "--db", url, *key, "--day", rep["day"], "--html", str(out))
    assert res.returncode == 0, res.stderr
    assert "经营日报" in out.read_text(encoding="utf-8")
    for bad in (("--day", "2026-99-01"), ("--day", "2999-01-01")):
        res = cli("shop", "daily-report", "--db", url, *key, *bad)
        assert res.returncode == 2 and "错误" in res.stderr and "Traceback" not in res.stderr
    res = cli("shop", "daily-report", "--db", url, *key, "--html", str(tmp_path / "no" / "x.html"))
    assert res.returncode == 2 and "无法写入" in res.stderr and "Traceback" not in res.stderr
    res = cli("shop", "daily-report", "--db", f"sqlite:///{tmp_path}/missing.db", *key)
    assert res.returncode == 2 and "找不到数据库" in res.stderr


async def test_dashboard_card_in_chromium(dash):
    from tests.web.test_dashboard_chromium import browser_page

    async with browser_page(dash) as page:
        await page.goto(dash.url + "/dashboard")
        await page.wait_for_function("window.__dashReady === true", timeout=30_000)
        await page.wait_for_function("window.__dailyShown !== undefined", timeout=30_000)
        shown = await page.evaluate("window.__dailyShown")
        head = await page.locator("#daily-head").text_content()
        href = await page.locator("#daily-html").get_attribute("href")
        items = await page.locator("#daily-top li").count()
        await page.wait_for_function("window.__churnShown === true", timeout=60_000)
        churn = await page.locator("#w-churn").text_content()
    assert "正在计算" not in churn and churn
    assert shown != "error" and re.fullmatch(r"\d{4}-\d\d-\d\d", shown)
    assert head and "加载中" not in head and href.endswith("day=" + shown) and items >= 1
    assert page.errors == [] and page.outside == []


async def test_analytics_forecast_says_where_the_gain_comes_from(dash):
    from tests.web.test_dashboard_chromium import browser_page

    async with browser_page(dash) as page:
        await page.goto(dash.url + "/analytics?points=2000")
        await page.wait_for_function("window.__dashReady === true", timeout=90_000)
        text = await page.locator("#fc-metrics").text_content()
    sku = get(dash, "/api/shop/products").json()[0]["sku"]  # the page's first choice
    bt = get(dash, f"/api/analytics/forecast/{sku}").json()["backtest"]
    assert "季节性朴素法" in text
    g = bt["gain"]
    if g["holiday"]["weeks"]:
        assert (
            f"{g['holiday']['weeks']}个节假日周" in text
            or f"节假日周（{g['holiday']['weeks']}周）" in text
        )
    else:
        assert "没有节假日周" in text
    assert page.errors == [] and page.outside == []

"""Headless Chromium loads the dashboard pages: no console errors, nothing leaves loopback,
and the order cloud draws 100,000 points with WebGL."""

from __future__ import annotations

import time
from contextlib import asynccontextmanager
from urllib.parse import urlparse

import pytest
from playwright.async_api import async_playwright

from testkit.chromium import FLAGS
from testkit.dash import DashServer

LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    """The demo catalog with a 110,000-order history (over 100,000 in the last 365 days)."""
    with DashServer(tmp_path_factory.mktemp("big") / "shop.db", history_orders=110_000) as srv:
        yield srv


@asynccontextmanager
async def browser_page(srv, width: int = 1280, height: int = 900):
    """A page signed in as the shop's operator that records console errors and refuses
    (and records) any non-loopback request."""
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
        try:
            page = await browser.new_page(viewport={"width": width, "height": height})
            page.errors, page.outside = [], []
            page.on("console", lambda m: page.errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: page.errors.append(str(e)))

            async def guard(route):
                url = route.request.url
                host = urlparse(url).hostname or ""
                if url.startswith(("data:", "blob:")) or host in LOOPBACK:
                    await route.continue_()
                else:
                    page.outside.append(url)
                    await route.abort()

            await page.route("**/*", guard)
            name, password = srv.user("operator")
            res = await page.request.post(
                srv.url + "/api/auth/login", data={"username": name, "password": password}
            )
            assert res.ok, await res.text()
            yield page
        finally:
            await browser.close()


async def test_dashboard_first_screen_loads_offline_without_errors(big):
    async with browser_page(big) as page:
        t0 = time.monotonic()
        await page.goto(big.url + "/dashboard")
        await page.wait_for_function("window.__dashReady === true", timeout=30_000)
        load_s = time.monotonic() - t0
        await page.wait_for_function("(window.__liveUpdates || 0) >= 1", timeout=15_000)
        stock_items = await page.locator("#w-stock li").count()
        kpis = await page.locator("#kpis .kpi").count()
        trend = await page.evaluate("document.getElementById('c-trend').data.length")
        live_rows = await page.locator("#live-rooms tr").count()
    assert page.errors == []
    assert page.outside == []
    assert stock_items >= 1 and kpis == 8 and trend >= 2 and live_rows >= 1
    assert load_s < 15  # the benchmark measures it; this only catches a hang


async def test_analytics_center_draws_every_order_as_bins_after_the_first_screen(big):
    async with browser_page(big) as page:
        await page.goto(big.url + "/analytics")
        await page.wait_for_function("window.__dashReady === true", timeout=90_000)
        await page.wait_for_function("window.__cloudReady === true", timeout=90_000)
        points = await page.evaluate("window.__ordersPlotted")
        trace = await page.evaluate(
            "(() => { const d = document.getElementById('c-orders').data[0];"
            " return [d.type, d.z.flat().reduce((a, b) => a + b, 0)]; })()"
        )
        heat = await page.evaluate("document.getElementById('c-heat').data[0].type")
        funnel = await page.evaluate("document.getElementById('c-funnel').data[0]")
        label = await page.text_content("#orders-n")
        full = await page.evaluate("typeof Plotly.register === 'function' && !!window.Plotly")
        segments = await page.locator("#crm-seg option").count()
        await page.click("#crm button[type=submit]")  # a coupon for the first segment
        await page.wait_for_function(
            "document.getElementById('crm-msg').textContent.length > 0", timeout=30_000
        )
        crm = await page.text_content("#crm-msg")
        bins = await (await page.request.get(big.url + "/api/analytics/orders/bins")).json()
    assert page.errors == []
    assert page.outside == []
    # every order of the last 365 days (over 100,000), not the newest 100,000
    assert points == bins["total"] > 100_000 and trace == ["heatmap", bins["total"]]
    assert f"共 {bins['total']:,} 单" in label, label
    assert segments >= 2 and crm.startswith("已给"), crm
    assert heat == "heatmap" and funnel["type"] == "bar" and "上一步的" in funnel["text"][1]
    assert full


async def test_phone_width_and_reversed_range_show_empty_states(big):
    async with browser_page(big, 390, 844) as page:
        await page.goto(big.url + "/analytics")
        await page.wait_for_function("window.__dashReady === true", timeout=90_000)
        await page.fill("#f-start", "2026-05-01")
        await page.fill("#f-end", "2026-04-01")
        await page.click("#filters button[type=submit]")
        await page.wait_for_function(
            "document.getElementById('f-msg').textContent.includes('没有数据')", timeout=30_000
        )
        empty_text = await page.text_content("#c-series")
        overflow = await page.evaluate(
            "document.documentElement.scrollWidth <= window.innerWidth + 1"
        )
    assert page.errors == []
    assert "没有订单" in empty_text
    assert overflow


async def test_kpi_cards_fit_say_their_days_and_the_trend_leaves_out_today(big):
    """At 1366 px the cards cut numbers off and did not say which days they added up; the
    trend ended in today's partial-day cliff."""
    async with browser_page(big, 1366, 768) as page:
        await page.goto(big.url + "/dashboard")
        await page.wait_for_function("window.__dashReady === true", timeout=30_000)
        clipped = await page.evaluate(
            "[...document.querySelectorAll('#kpis .kpi .v')]"
            ".filter((v) => v.scrollWidth > v.clientWidth + 1).map((v) => v.textContent)"
        )
        caption = await page.text_content("#kpi-range")
        last = await page.evaluate(
            "(() => { const x = document.getElementById('c-trend').data[0].x;"
            " return x[x.length - 1]; })()"
        )
        today = await page.evaluate("chinaToday()")
    assert page.errors == []
    assert clipped == []
    assert caption and ("今天" in caption or "近30天" in caption), caption
    assert last != today

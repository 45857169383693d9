"""The farmer's workbench: first contentful paint of home, products and orders in headless
Chromium on loopback (median of 5 loads each), and the orders page's filter + page latency
with 100,000 orders (p50/p95 of the page's real GET, server-rendered).

The live console and the ticket desk are measured on their own live server
(`benchmarks.bench_console`): FCP, load, and the console's first figures and first video frame.

The orders come from the demo-history generator (`commerce.analytics.history.generate`,
the tool behind `yunlian` demo data): 100,000 orders over two years, with their lines and
analytics rows (so the province filter has data). The server runs without a live room.
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from testkit.chromium import FLAGS, sign_in

ORDERS = 100_000
LOADS = 5
FILTER_SAMPLES = 200
SECRET = "bench-workbench"
PAGES = {"home": "/workbench", "products": "/workbench/products", "orders": "/workbench/orders"}


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))]


async def _generate(url: str) -> dict:
    from commerce import open_store
    from commerce.analytics import history

    store = await open_store(url, secret_key=SECRET, background=False)
    try:
        t0 = time.perf_counter()
        gen = await history.generate(store, years=2, customers=20_000, orders=ORDERS, seed=3)
        return {"orders": gen.orders, "generate_s": round(time.perf_counter() - t0, 1)}
    finally:
        await store.close()


async def _paint(srv) -> dict:
    from playwright.async_api import async_playwright

    name, password = srv.user("operator")
    out: dict = {}
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
        try:
            ctx = await browser.new_context()
            page = await ctx.new_page()
            page.set_default_timeout(60_000)
            await sign_in(page, srv.url, name, password, "/workbench")
            for key, path in PAGES.items():
                fcp, interactive = [], []
                for _ in range(LOADS + 1):  # the first load warms caches and is not counted
                    await page.goto(f"{srv.url}/static/style.css")  # leave the page first
                    await page.goto(f"{srv.url}{path}", wait_until="load")
                    await page.wait_for_function(
                        "performance.getEntriesByName('first-contentful-paint').length > 0"
                    )
                    t = await page.evaluate(
                        "[performance.getEntriesByName('first-contentful-paint')[0].startTime,"
                        " performance.getEntriesByType('navigation')[0].domInteractive,"
                        " performance.getEntriesByType('navigation')[0].loadEventEnd]"
                    )
                    fcp.append(t[0])
                    interactive.append(t[2])
                out[key] = {
                    "fcp_ms_median": round(statistics.median(fcp[1:]), 1),
                    "load_ms_median": round(statistics.median(interactive[1:]), 1),
                    "fcp_ms_all": [round(x, 1) for x in fcp[1:]],
                }
        finally:
            await browser.close()
    return out


def _filters(srv) -> dict:
    from commerce.order_list import filter_choices

    choices = srv.call(filter_choices(srv.store))
    rng = random.Random(5)
    statuses = ["", "paid", "shipped", "completed", "refunded", "cancelled"]
    times: list[float] = []
    totals: list[int] = []
    by_kind: dict[str, list[float]] = {}
    with httpx.Client(base_url=srv.url, headers=srv.headers("operator"), timeout=60) as http:
        http.get("/workbench/orders")
        for _ in range(FILTER_SAMPLES):
            q: dict[str, str] = {"page": str(rng.randint(1, 50))}
            kind = rng.choice(["status", "sku", "province", "day", "room", "mixed", "none"])
            if kind in ("status", "mixed"):
                q["status"] = rng.choice(statuses[1:])
            if kind in ("sku", "mixed"):
                q["sku"] = rng.choice(choices["skus"])
            if kind in ("province", "mixed") and choices["provinces"]:
                q["province"] = rng.choice(choices["provinces"])
            if kind == "room" and choices["rooms"]:
                q["room"] = rng.choice(choices["rooms"])
            if kind in ("day", "mixed"):
                q["from"], q["to"] = "2025-10-01", "2026-03-31"
            t0 = time.perf_counter()
            res = http.get("/workbench/orders", params=q)
            times.append((time.perf_counter() - t0) * 1000)
            by_kind.setdefault(kind, []).append(times[-1])
            res.raise_for_status()
            totals.append(res.text.count('<tr data-order="'))
    return {
        "samples": FILTER_SAMPLES,
        "p50_ms": round(pct(times, 0.5), 1),
        "p95_ms": round(pct(times, 0.95), 1),
        "max_ms": round(max(times), 1),
        "rows_shown_mean": round(statistics.mean(totals), 1),
        "p95_ms_by_filter": {k: round(pct(v, 0.95), 1) for k, v in sorted(by_kind.items())},
    }


def run() -> dict:
    from testkit.livesrv import LiveServer

    old = os.environ.get("YUNLIAN_SECRET_KEY")
    os.environ["YUNLIAN_SECRET_KEY"] = SECRET  # the server reads the generated buyers' PII
    try:
        with tempfile.TemporaryDirectory() as tmp:
            db = Path(tmp) / "bench.db"
            gen = asyncio.run(_generate(f"sqlite+aiosqlite:///{db}"))
            with LiveServer(
                db, stamp=False, demo_room=False, media_dir=str(Path(tmp) / "m")
            ) as srv:
                paint = asyncio.run(_paint(srv))
                orders = _filters(srv)
    finally:
        if old is None:
            os.environ.pop("YUNLIAN_SECRET_KEY", None)
        else:
            os.environ["YUNLIAN_SECRET_KEY"] = old
    from benchmarks import bench_console  # the live console and the ticket desk

    console = bench_console.run()
    return {
        "data": {**gen, "source": "commerce.analytics.history.generate", "db": "SQLite"},
        "paint": paint,
        "orders_filter_page": orders,
        "console_and_tickets": console,
        "cpu_count": os.cpu_count(),
        "load_avg_at_end": [round(x, 2) for x in os.getloadavg()],
    }

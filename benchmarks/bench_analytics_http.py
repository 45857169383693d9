"""What the analytics pages actually call, measured on their real calls.

`python -m benchmarks.run analytics_http` (1,000,000 orders by default; set
YUNLIAN_BENCH_ORDERS for a quicker run, and YUNLIAN_BENCH_PG=1 to repeat it on PostgreSQL;
YUNLIAN_BENCH_DB_CACHE=DIR reuses a SQLite history generated earlier the same day).

1. Headless Chromium, signed in as the shop's operator, loads `/dashboard` and `/analytics` on
   loopback: the first load after the server starts (cold), then 5 loads (median). "Ready" is
   the page's own flag once its first screen is drawn; `/analytics` also reports when the
   order cloud, drawn after the first screen, is done. Every `/api/` request each page makes
   is recorded, with its time as the browser saw it.
2. Those same URLs over HTTP: warm (20 calls each, after the pages loaded) and cold (the first
   call of each after a fresh server start, 3 starts), p50 and p95.

`python -m benchmarks.bench_analytics_http --forecast-gain` measures where the forecast's gain
over seasonal naive comes from (52 weekly origins per product, several minutes).
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse

SECRET = "bench-analytics"
USER, PASSWORD = "bench-operator", "压测密码-operator-0123456789"
CUSTOMERS = 100_000
LOADS = 5
WARM = 20
COLD_STARTS = 3
PAGES = ("/dashboard", "/analytics")


def _p(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))]


def _stats(ms: list[float]) -> dict:
    return {"p50_ms": round(_p(ms, 0.5), 1), "p95_ms": round(_p(ms, 0.95), 1), "n": len(ms)}


async def _generate(url: str, orders: int) -> dict:
    from commerce import open_store
    from commerce.analytics import history
    from commerce.analytics.service import Analytics

    store = await open_store(url, secret_key=SECRET, background=False)
    try:
        t = time.perf_counter()
        gen = await history.generate(
            store, years=2, customers=min(CUSTOMERS, orders), orders=orders, seed=1
        )
        await Analytics(store).rollups.sync(force=True)
        gen_s = time.perf_counter() - t
        await store.accounts.create_user(USER, PASSWORD, "operator")
        user = await store.accounts.get_user(USER)
        token = await store.accounts.create_token(user, "operator", "bench")
        return {"orders": gen.orders, "generate_s": round(gen_s, 1), "_token": token}
    finally:
        await store.close()


def _code_key() -> str:
    """What a cached database depends on: the generator and the schema (migrations)."""
    import hashlib

    root = Path(__file__).resolve().parent.parent
    h = hashlib.sha256()
    files = sorted((root / "commerce" / "migrations" / "versions").glob("*.py"))
    files += sorted((root / "commerce" / "analytics").glob("history*.py"))
    for f in files:
        h.update(f.name.encode() + f.read_bytes())
    return h.hexdigest()[:12]


def sqlite_db(d: str, orders: int) -> tuple[str, dict]:
    """A SQLite file in directory `d` with `orders` generated orders and the bench operator:
    (url, what `_generate` returned, its token included). With YUNLIAN_BENCH_DB_CACHE=DIR a
    file generated today (China day) by the same generator and schema is copied from DIR
    instead of generated again (about 100 s at 1M orders), and a new one is left there."""
    import shutil
    from datetime import UTC, datetime, timedelta

    url = f"sqlite+aiosqlite:///{d}/big.db"
    cache = os.environ.get("YUNLIAN_BENCH_DB_CACHE")
    if not cache:
        return url, asyncio.run(_generate(url, orders))
    day = (datetime.now(UTC) + timedelta(hours=8)).date().isoformat()
    stem = Path(cache) / f"analytics-{orders}-{day}-{_code_key()}"
    db, meta = stem.with_suffix(".db"), stem.with_suffix(".json")
    if db.exists() and meta.exists():
        for suffix in ("-wal", ""):
            if Path(f"{db}{suffix}").exists():
                shutil.copyfile(f"{db}{suffix}", f"{d}/big.db{suffix}")
        return url, json.loads(meta.read_text()) | {"cached": True}
    gen = asyncio.run(_generate(url, orders))
    Path(cache).mkdir(parents=True, exist_ok=True)
    for suffix in ("-wal", ""):  # the store is closed, so the WAL is normally folded in
        if Path(f"{d}/big.db{suffix}").exists():
            shutil.copyfile(f"{d}/big.db{suffix}", f"{db}{suffix}")
    meta.write_text(json.dumps(gen))
    return url, gen


def _server(db_url: str):
    """The whole app (`web.app.create_app`, dashboard included) on loopback, on `db_url`."""
    import threading

    import uvicorn

    from testkit.dash import DashServer
    from testkit.livesrv import free_port
    from web.app import Settings, create_app

    class Server(DashServer):
        def __init__(self) -> None:
            self.port = free_port()
            self.url = f"http://127.0.0.1:{self.port}"
            self.app = create_app(Settings(db_url=db_url, demo_room=False))
            config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning")
            self.server = uvicorn.Server(config)
            self.thread = threading.Thread(target=self.server.run, daemon=True)
            self._users, self._tokens = {}, {}

    return Server()


def _browser(srv, api_calls: dict[str, list]) -> dict:
    """Chromium loads of both pages; fills `api_calls[page]` with the /api/ URLs requested."""
    from playwright.sync_api import sync_playwright

    from testkit.chromium import FLAGS

    out: dict = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
        try:
            context = browser.new_context()  # signed in, as the farmer opening it would be
            res = context.request.post(
                srv.url + "/api/auth/login", data={"username": USER, "password": PASSWORD}
            )
            assert res.ok, res.text()
            for path in PAGES:
                loads, complete, seen = [], [], []
                for i in range(LOADS + 1):
                    if i == 1 and "warm_up_s" not in out:
                        out["warm_up_s"] = _warmed(srv)
                    page = context.new_page()
                    requests: list = []
                    page.on("requestfinished", lambda r, acc=requests: acc.append(r))
                    t = time.perf_counter()
                    page.goto(srv.url + path)
                    page.wait_for_function("window.__dashReady === true", timeout=120_000)
                    ready = time.perf_counter() - t
                    if path == "/analytics":
                        page.wait_for_function(
                            "window.__cloudReady === true || window.__ordersPlotted > 0",
                            timeout=120_000,
                        )
                    done = time.perf_counter() - t
                    if path == "/dashboard":  # its daily-report card, after the first screen
                        page.wait_for_function(
                            "window.__dailyShown !== undefined || !document.getElementById('daily')",
                            timeout=120_000,
                        )
                    err = page.evaluate("window.__dashError || null")
                    assert err is None, err
                    if i == 0:
                        out[path] = {"cold_ready_s": round(ready, 3)}
                    else:
                        loads.append(ready)
                        complete.append(done)
                    if i == LOADS:
                        for r in requests:
                            u = urlparse(r.url)
                            if u.path.startswith("/api/") or u.path.startswith("/vendor/"):
                                timing = r.timing
                                seen.append(
                                    {
                                        "url": u.path + (f"?{u.query}" if u.query else ""),
                                        "browser_ms": round(
                                            timing["responseEnd"] - timing["requestStart"], 1
                                        ),
                                        "bytes": (r.sizes() or {}).get("responseBodySize"),
                                    }
                                )
                    page.close()
                out[path] |= {
                    "ready_median_s": round(statistics.median(loads), 3),
                    "ready_max_s": round(max(loads), 3),
                    "loads": LOADS,
                }
                if path == "/analytics":
                    out[path]["with_order_cloud_median_s"] = round(statistics.median(complete), 3)
                out[path]["calls"] = seen
                api_calls[path] = [c["url"] for c in seen if c["url"].startswith("/api/")]
        finally:
            browser.close()
    return out


def _warmed(srv, bound: float = 300.0) -> float | None:
    """Wait (bounded) for the server's start-up warm-up (RFM, forecasts, order bins) to end:
    the median loads are measured after it, the first (cold) load during it."""
    svc = getattr(srv.app.state, "analytics", None)
    if svc is None or not hasattr(svc, "warmed_in"):
        return None  # a server without a warm-up (the code before it)
    deadline = time.monotonic() + bound
    while svc.warmed_in is None and time.monotonic() < deadline:
        time.sleep(0.2)
    return svc.warmed_in


def _http(srv, token: str, urls: list[str], n: int) -> dict[str, list[float]]:
    import httpx

    times: dict[str, list[float]] = {u: [] for u in urls}
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=srv.url, headers=headers, timeout=120) as c:
        for _ in range(n):
            for u in urls:
                t = time.perf_counter()
                r = c.get(u)
                times[u].append((time.perf_counter() - t) * 1000)
                assert r.status_code == 200, (u, r.status_code, r.text[:200])
    return times


def _measure(db_url: str, token: str) -> dict:
    calls: dict[str, list] = {}
    with _server(db_url) as srv:
        pages = _browser(srv, calls)
        warm_up_s = pages.pop("warm_up_s", None)
        urls = list(dict.fromkeys(u for p in PAGES for u in calls.get(p, [])))
        warm = _http(srv, token, urls, WARM)
    cold: dict[str, list[float]] = {u: [] for u in urls}
    for _ in range(COLD_STARTS):
        with _server(db_url) as srv:
            for u, ms in _http(srv, token, urls, 1).items():
                cold[u] += ms
    endpoints = {u: {"warm": _stats(warm[u]), "cold": _stats(cold[u])} for u in urls}
    return {
        "warm_up_s": warm_up_s,  # start to RFM, bins and every forecast computed
        "pages": pages,
        "endpoints": endpoints,
        "worst_warm_p95_ms": max(v["warm"]["p95_ms"] for v in endpoints.values()),
        "worst_cold_p95_ms": max(v["cold"]["p95_ms"] for v in endpoints.values()),
        "targets": {"warm_p95_ms": 300, "cold_p95_ms": 2000, "first_load_s": 1.5},
    }


def run() -> dict:
    orders = int(os.environ.get("YUNLIAN_BENCH_ORDERS", "1000000"))
    out: dict = {"orders_target": orders}
    with tempfile.TemporaryDirectory() as d:
        url, out["sqlite_generate"] = sqlite_db(d, orders)
        out["sqlite"] = _measure(url, out["sqlite_generate"].pop("_token"))
    if os.environ.get("YUNLIAN_BENCH_PG"):
        from testkit.pg import create_database, postgres_server

        with postgres_server(durable=True) as admin:
            url = create_database(admin)
            out["postgresql_generate"] = asyncio.run(_generate(url, orders))
            out["postgresql"] = _measure(url, out["postgresql_generate"].pop("_token"))
    return out


async def _forecast_gain(orders: int = 100_000, origins: int = 52) -> dict:
    from datetime import timedelta

    from sqlalchemy import select

    from commerce import open_store
    from commerce.analytics import forecast
    from commerce.analytics.service import Analytics
    from commerce.models import Sku

    with tempfile.TemporaryDirectory() as d:
        url = f"sqlite+aiosqlite:///{d}/fc.db"
        await _generate(url, orders)
        store = await open_store(url, secret_key=SECRET, background=False)
        try:
            today = Analytics(store).today()
            per = {}
            async with store.db.read() as s:
                for code in list((await s.execute(select(Sku.code))).scalars()):
                    y = await forecast.daily_units(s, code, today - timedelta(days=1))
                    bt = await asyncio.to_thread(forecast.backtest, y, 7, origins)
                    per[code] = {"model": bt["model"], "naive": bt["naive"], "gain": bt["gain"]}
        finally:
            await store.close()
    shares = [v["gain"]["holiday_share"] for v in per.values() if v["gain"]["holiday_share"]]
    weeks = next(iter(per.values()))["gain"]
    return {
        "orders": orders,
        "origins": origins,
        "holiday_weeks": weeks["holiday"]["weeks"],
        "ordinary_weeks": weeks["ordinary"]["weeks"],
        "holiday_share_of_gain": [round(min(shares), 3), round(max(shares), 3)],
        "per_sku": per,
    }


if __name__ == "__main__":
    import sys

    if "--forecast-gain" in sys.argv:
        result = asyncio.run(_forecast_gain())
        path = Path(__file__).with_name("results.json")
        data = json.loads(path.read_text()) if path.exists() else {}
        data.setdefault("analytics_http", {})["forecast_gain"] = result
        path.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")
    else:
        result = run()
    print(json.dumps(result, indent=2, ensure_ascii=False))

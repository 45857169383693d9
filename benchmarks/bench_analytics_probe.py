"""The KPI cards probed for minutes while the rollup refresh runs and orders keep arriving.

`python -m benchmarks.run analytics_probe` (5 minutes at 1,000,000 orders on SQLite by default):
- the whole app (`web.app.create_app`, as `benchmarks.bench_analytics_http` serves it) on a
  generated history, its own background rollup refresh running as in production;
- a writer placing an order through the shop API (`POST /api/shop/orders`) every ~0.5 s, so
  each refresh has new orders to fold in;
- a prober, signed in as the shop's operator, asking about once a second (random jitter) for
  the analysis page's KPI cards (`GET /api/analytics/kpis`) and the dashboard's
  (`GET /api/dashboard/summary`, which its cards re-read every 30 s).

Reported per URL: p50 / p95 / p99 / max, how many answers took over 100 ms and how many of
those overlapped a refresh run; and the refresh's own runs (read from the server's
`RollupSync.runs`). Environment: YUNLIAN_PROBE_SECONDS (default 300), YUNLIAN_BENCH_ORDERS
(default 1,000,000), YUNLIAN_BENCH_PG=1 repeats it on PostgreSQL, YUNLIAN_BENCH_DB_CACHE=DIR
reuses a SQLite history generated earlier the same day.
"""

from __future__ import annotations

import asyncio
import os
import random
import tempfile
import threading
import time

from benchmarks import bench_analytics_http as http

URLS = ("/api/analytics/kpis", "/api/dashboard/summary")
SLOW_MS = 100.0
ORDER_EVERY = 0.5
SKUS = ("fp-jujube-500g", "fp-walnut-500g", "fp-millet-2500g", "fp-honey-500g")


def _stats(ms: list[float]) -> dict:
    if not ms:
        return {"n": 0}
    return {
        "n": len(ms),
        "p50_ms": round(http._p(ms, 0.5), 1),
        "p95_ms": round(http._p(ms, 0.95), 1),
        "p99_ms": round(http._p(ms, 0.99), 1),
        "max_ms": round(max(ms), 1),
    }


def _writer(url: str, stop: threading.Event, out: dict) -> None:
    """An order every ~0.5 s through the shop API, each from a new buyer."""
    import httpx

    lat: list[float] = []
    errors: dict[str, int] = {}
    i = 0
    with httpx.Client(base_url=url, timeout=60) as c:
        while not stop.wait(random.uniform(0.5, 1.5) * ORDER_EVERY):
            i += 1
            body = {
                "buyer": {
                    "id": f"probe-{i}",
                    "name": "李四",
                    "phone": f"139{i % 10**8:08d}",
                    "address": "河北省保定市阜平县1号",
                },
                "items": [{"sku": random.choice(SKUS), "quantity": 1}],
                "room_id": "demo",
            }
            t = time.perf_counter()
            try:
                r = c.post("/api/shop/orders", json=body, headers={"Idempotency-Key": f"probe-{i}"})
                status = str(r.status_code)
            except httpx.HTTPError as e:
                status = type(e).__name__
            lat.append((time.perf_counter() - t) * 1000)
            if status != "201":
                errors[status] = errors.get(status, 0) + 1
    out |= {"orders_placed": len(lat) - sum(errors.values()), "errors": errors, **_stats(lat)}


def _probe(db_url: str, token: str, seconds: float) -> dict:
    import httpx

    with http._server(db_url) as srv:
        warm_up_s = http._warmed(srv)  # the start-up warm-up is not what is measured
        rollups = srv.app.state.analytics.rollups
        runs_before = len(rollups.runs)
        headers = {"Authorization": f"Bearer {token}"}
        times: dict[str, list[tuple[float, float]]] = {u: [] for u in URLS}
        failures: dict[str, int] = {}
        stop, written = threading.Event(), {}
        writer = threading.Thread(target=_writer, args=(srv.url, stop, written), daemon=True)
        writer.start()
        t_start = time.monotonic()
        try:
            with httpx.Client(base_url=srv.url, headers=headers, timeout=60) as c:
                while time.monotonic() - t_start < seconds:
                    time.sleep(random.uniform(0.5, 1.5))
                    for u in URLS:
                        t0 = time.monotonic()
                        r = c.get(u)
                        times[u].append((t0, (time.monotonic() - t0) * 1000))
                        if r.status_code != 200:
                            key = f"{u} {r.status_code}"
                            failures[key] = failures.get(key, 0) + 1
        finally:
            stop.set()
            writer.join(70)
        runs = [r for r in list(rollups.runs)[runs_before:] if r[0] >= t_start]

    def overlaps(t0: float, ms: float) -> bool:
        return any(s < t0 + ms / 1000 and t0 < s + d for s, d, _n in runs)

    probes = {}
    for u, rows in times.items():
        slow = [(t0, ms) for t0, ms in rows if ms > SLOW_MS]
        probes[u] = _stats([ms for _t, ms in rows]) | {
            "over_100ms": len(slow),
            "over_100ms_during_refresh": sum(overlaps(t0, ms) for t0, ms in slow),
        }
    refresh_ms = [d * 1000 for _s, d, _n in runs]
    return {
        "seconds": seconds,
        "warm_up_s": warm_up_s,
        "probes": probes,
        "failures": failures,
        "writer": written,
        "refresh": _stats(refresh_ms)
        | {
            "orders_folded": sum(n for _s, _d, n in runs),
            "busy_share": round(sum(refresh_ms) / 1000 / seconds, 4),
        },
        "target_p95_ms": SLOW_MS,
    }


def run() -> dict:
    seconds = float(os.environ.get("YUNLIAN_PROBE_SECONDS", "300"))
    orders = int(os.environ.get("YUNLIAN_BENCH_ORDERS", "1000000"))
    out: dict = {"orders_target": orders}
    with tempfile.TemporaryDirectory() as d:
        url, gen = http.sqlite_db(d, orders)
        token = gen.pop("_token")
        out["sqlite_generate"] = gen
        out["sqlite"] = _probe(url, token, seconds)
    if os.environ.get("YUNLIAN_BENCH_PG"):
        from testkit.pg import create_database, postgres_server

        with postgres_server(durable=True) as admin:
            url = create_database(admin)
            gen = asyncio.run(http._generate(url, orders))
            token = gen.pop("_token")
            out["postgresql_generate"] = gen
            out["postgresql"] = _probe(url, token, seconds)
    return out


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2, ensure_ascii=False))

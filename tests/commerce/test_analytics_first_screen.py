"""The dashboard's first screen while orders keep arriving: the abnormal-order count (a
group-by over a week of orders, the summary's slowest read at 1M orders) is served from a
short cache and counted again in the background, never on every request; the explicit
warnings call still counts at once. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import time

from commerce.analytics import service
from commerce.analytics.service import ABNORMAL_DAILY_ORDERS, Analytics
from tests.commerce.conftest import add_product
from tests.commerce.test_store import req


def _flagged(warnings: dict) -> bool:
    return any(a["kind"] == "疑似刷单" for a in warnings["abnormal_orders"])


async def test_first_screen_abnormal_orders_come_from_a_short_cache(store, monkeypatch):
    await add_product(store, "sku-a", 100)
    svc = Analytics(store)
    counted: list[int] = []
    real = svc._abnormal_now

    async def counting(days: int) -> list[dict]:
        counted.append(days)
        return await real(days)

    monkeypatch.setattr(svc, "_abnormal_now", counting)
    for _ in range(5):  # the summary, asked again and again
        assert not _flagged(await svc.warnings(wait=False))
    assert len(counted) == 1  # counted once, then served (it was counted on every request)

    for i in range(ABNORMAL_DAILY_ORDERS):  # one buyer, many orders today: 疑似刷单
        await store.orders.create(req("sku-a", 1, buyer="busy-buyer"), f"k-{i}")
    await svc.rollups.sync(force=True)
    assert not _flagged(await svc.warnings(wait=False))  # within the TTL: the last answer
    monkeypatch.setattr(service, "ABNORMAL_TTL", 0.0)
    assert not _flagged(await svc.warnings(wait=False))  # stale: served, recounted behind
    deadline = time.monotonic() + 30
    while not _flagged(await svc.warnings(wait=False)):
        assert time.monotonic() < deadline, "the background recount never landed"
        await asyncio.sleep(0.05)
    # the warnings endpoint (wait=True) counts at once
    await store.orders.create(req("sku-a", 1, buyer="busy-2"), "k-x")
    assert _flagged(await svc.warnings())
    await svc.close()


async def test_a_report_does_not_queue_behind_a_running_refresh(store):
    """A report reads the rollups as the last refresh left them rather than waiting for the
    refresh that is running (the background one, every 2 s); a forced sync still waits."""
    from commerce.analytics.reports import parse_range

    svc = Analytics(store)
    await svc.rollups.sync(force=True)
    r = parse_range(None, None, svc.today(), 30)
    async with svc.rollups._lock:  # a refresh is running
        svc.rollups._last = 0.0  # and the last one is old enough to run another
        kpis = await asyncio.wait_for(svc.report("kpis", r), 10)  # it waited forever before
        assert "gmv" in kpis
        forced = asyncio.ensure_future(svc.rollups.sync(force=True))
        await asyncio.sleep(0.1)
        assert not forced.done()  # a forced sync queues for its turn
    assert await asyncio.wait_for(forced, 10) == 0
    await svc.close()

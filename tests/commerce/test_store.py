"""Store behaviour without HTTP: expiry, FEFO, events, encryption, refunds, limits."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import text

from commerce import InsufficientStock, InvalidTransition
from commerce.catalog import BatchSpec
from commerce.demo import DEMO_PRODUCTS
from commerce.errors import PurchaseLimitExceeded
from commerce.orders import LineRequest, OrderRequest
from tests.commerce.conftest import add_product, farm_product, reserved_mismatches


def req(sku: str, qty: int = 1, buyer: str = "b1", **kw) -> OrderRequest:
    return OrderRequest(
        buyer, "张三", "13800001111", "河北省保定市阜平县1号", (LineRequest(sku, qty),), **kw
    )


async def paid_order(store, sku: str, qty: int = 1, key: str = "k", **kw) -> str:
    order, _ = await store.orders.create(req(sku, qty, **kw), key)
    pay = await store.payments.start(order["id"])
    await store.payments.confirm(pay["payment_id"])
    return order["id"]


async def test_fact_sheets_are_live(store):
    sheets = {f.sku: f for f in await store.fact_sheets()}
    assert set(sheets) == {p.sku for p in DEMO_PRODUCTS}
    jujube = sheets["fp-jujube-500g"]
    seed = next(p for p in DEMO_PRODUCTS if p.sku == "fp-jujube-500g")
    assert (jujube.price, jujube.stock, jujube.harvest_date) == (
        seed.price,
        seed.stock,
        seed.harvest_date,
    )
    await store.orders.create(req("fp-jujube-500g", 3), "k1")
    assert (await store.fact_sheet("fp-jujube-500g")).stock == seed.stock - 3
    assert await store.fact_sheet("nope") is None


async def test_unpaid_order_expires_and_stock_comes_back(store, clock):
    await add_product(store, "exp", 10)
    events = []
    store.add_listener(events.append)
    order, _ = await store.orders.create(req("exp", 4), "k1")
    assert await store.available("exp") == 6
    clock.advance(minutes=store.reservation_minutes - 1)
    assert await store.orders.expire_unpaid() == 0
    clock.advance(minutes=2)
    # The hold lapses on its own; the sweep then cancels the order.
    assert await store.available("exp") == 10
    assert await store.orders.expire_unpaid() == 1
    got = await store.orders.get(order["id"])
    assert got["status"] == "cancelled" and got["cancel_reason"] == "expired"
    assert await store.available("exp") == 10
    assert [e.data["available"] for e in events if e.kind == "stock_changed"] == [6, 10]
    assert await reserved_mismatches(store) == []


async def test_payment_after_expiry_is_refunded_not_oversold(store, clock):
    await add_product(store, "late", 1)
    order, _ = await store.orders.create(req("late", 1), "k1")
    pay = await store.payments.start(order["id"])
    clock.advance(minutes=store.reservation_minutes + 1)
    other, _ = await store.orders.create(req("late", 1, buyer="b2"), "k2")
    await store.payments.confirm(pay["payment_id"])
    got = await store.orders.get(order["id"])
    assert got["status"] == "cancelled" and got["payments"][0]["status"] == "refunded"
    assert (await store.orders.get(other["id"]))["status"] == "unpaid"
    assert await store.available("late") == 0
    assert await reserved_mismatches(store) == []


async def test_batches_sell_first_expiring_first_and_near_expiry_is_flagged(store, clock):
    today = clock().date()
    await store.add_product(
        farm_product("fefo", 10),
        [
            BatchSpec("fefo-late", today, 5, "地块B", expiry_date=today + timedelta(days=90)),
            BatchSpec(
                "fefo-soon",
                today - timedelta(days=20),
                3,
                "地块A",
                expiry_date=today + timedelta(days=5),
            ),
            BatchSpec(
                "fefo-dead",
                today - timedelta(days=60),
                7,
                "地块C",
                expiry_date=today - timedelta(days=1),
            ),
        ],
    )
    assert await store.available("fefo") == 8  # the expired batch is not for sale
    flagged = [b["batch_id"] for b in await store.near_expiry()]
    assert "fefo-soon" in flagged and "fefo-late" not in flagged
    order, _ = await store.orders.create(req("fefo", 4), "k1")
    assert order["batches"] == ["fefo-late", "fefo-soon"]
    first, _ = await store.orders.create(req("fefo", 1, buyer="b2"), "k2")
    assert first["batches"] == ["fefo-late"]
    with pytest.raises(InsufficientStock):
        await store.orders.create(req("fefo", 4, buyer="b3"), "k3")


async def test_concurrent_orders_never_oversell(store):
    await add_product(store, "race", 30)

    async def attempt(i: int):
        try:
            await store.orders.create(req("race", 1 + i % 3, buyer=f"b{i}"), f"k{i}")
            return 1 + i % 3
        except InsufficientStock:
            return 0

    sold = await asyncio.gather(*(attempt(i) for i in range(60)))
    assert sum(sold) <= 30 and await store.available("race") == 30 - sum(sold)
    assert await store.available("race") < 3
    assert await reserved_mismatches(store) == []


async def test_customer_data_is_encrypted_at_rest_and_masked(store):
    await add_product(store, "pii", 5)
    order, _ = await store.orders.create(req("pii", 1), "k1")
    async with store.db.read() as s:
        raw = (
            await s.execute(text("SELECT buyer_name_enc, phone_enc, address_enc FROM orders"))
        ).one()
    assert all(v.startswith("v1:") for v in raw)
    assert "13800001111" not in "".join(raw) and "阜平" not in "".join(raw)
    # the buyer is keyed on a keyed hash of the phone, not on the id the client sent ("b1")
    assert order["buyer"]["id"].startswith("ph_") and "1111" not in order["buyer"]["id"]
    assert order["buyer"] == {
        "id": order["buyer"]["id"],
        "name": "张**",
        "phone": "138****1111",
        "address": "河北省保定市****",
    }
    assert (await store.orders.reveal(order["id"]))["buyer"]["phone"] == "13800001111"


async def test_refund_before_shipping_returns_stock(store):
    await add_product(store, "ref", 5)
    oid = await paid_order(store, "ref", 2)
    assert await store.available("ref") == 3
    await store.orders.transition(oid, "request_refund")
    await store.orders.transition(oid, "reject_refund")
    assert (await store.orders.get(oid))["status"] == "paid"
    await store.orders.transition(oid, "request_refund")
    got = await store.orders.transition(oid, "approve_refund")
    assert got["status"] == "refunded" and got["payments"][0]["status"] == "refunded"
    assert await store.available("ref") == 5
    with pytest.raises(InvalidTransition):
        await store.orders.transition(oid, "ship")


async def test_purchase_limit_and_events(store, clock):
    await add_product(store, "lim", 50, price="30", per_user_limit=3)
    events = []
    store.add_listener(events.append)
    await store.promotions.pin("room1", "lim")
    await store.promotions.issue_coupon(
        "room1", "SAVE3", "fixed", 300, min_spend_fen=2000, sku="lim"
    )
    await store.promotions.start_flash_sale(
        "room1", "lim", 1990, 5, starts_at=clock() + timedelta(seconds=30), duration_s=60
    )
    assert "秒杀" not in ((await store.fact_sheet("lim", "room1")).promo or "")
    clock.advance(seconds=31)
    await store.tick()
    sheet = await store.fact_sheet("lim", "room1")
    assert str(sheet.price) == "19.9" and "秒杀价19.9元" in sheet.promo and "SAVE3" in sheet.promo
    await paid_order(store, "lim", 2, room_id="room1", key="a")
    with pytest.raises(PurchaseLimitExceeded):
        await store.orders.create(req("lim", 2, room_id="room1"), "b")
    clock.advance(seconds=60)
    await store.tick()
    kinds = [e.kind for e in events]
    for k in (
        "product_pinned",
        "coupon_issued",
        "flash_sale_started",
        "stock_changed",
        "order_paid",
        "flash_sale_ended",
    ):
        assert k in kinds, k
    paid = next(e for e in events if e.kind == "order_paid")
    assert paid.room_id == "room1" and paid.data["buyer"] == "张**" and paid.data["quantity"] == 2
    assert paid.data["unit"] == "箱"
    assert str((await store.fact_sheet("lim", "room1")).price) == "30"


async def test_sold_out_event(store):
    await add_product(store, "last", 2)
    events = []
    store.add_listener(events.append)
    await store.orders.create(req("last", 2), "k")
    assert [e.kind for e in events] == ["stock_changed", "sold_out"]
    assert (await store.fact_sheet("last")).sold_out


async def test_reopening_keeps_data_and_does_not_reseed(db_url, clock):
    from commerce import open_store

    s1 = await open_store(db_url, secret_key="k", clock=clock, background=False)
    await s1.orders.create(req("fp-honey-500g", 1), "k1")
    await s1.close()
    s2 = await open_store(db_url, secret_key="k", clock=clock, background=False)
    try:
        assert (await s2.fact_sheet("fp-honey-500g")).stock == 119
        assert len(await s2.fact_sheets()) == len(DEMO_PRODUCTS)
    finally:
        await s2.close()


async def test_cancelled_order_request_keeps_the_writer_locked_until_it_commits(tmp_path, clock):
    """A buyer who drops mid-order: the transaction still ends before the next writer starts,
    and retrying with the same key returns the one order it placed."""
    import threading

    from commerce import open_store
    from tests.commerce.conftest import SECRET

    store = await open_store(
        f"sqlite+aiosqlite:///{tmp_path}/shop.db",
        secret_key=SECRET,
        clock=clock,
        background=False,
        seed_demo=False,
    )
    try:
        await add_product(store, "drop", 5)
        gate = threading.Event()
        # Hold the writer thread so the order's transaction is queued behind it.
        blocker = asyncio.get_running_loop().run_in_executor(store.db._lite_thread, gate.wait, 10)
        task = asyncio.create_task(store.orders.create(req("drop", 2), "k-drop"))
        await asyncio.sleep(0.05)
        task.cancel()
        await asyncio.sleep(0.05)
        assert store.db._write_lock.locked()
        gate.set()
        await blocker
        with pytest.raises(asyncio.CancelledError):
            await task
        assert not store.db._write_lock.locked()
        again, created = await store.orders.create(req("drop", 2), "k-drop")
        assert not created and again["status"] == "unpaid"
        assert await store.available("drop") == 3
        assert await reserved_mismatches(store) == []
    finally:
        await store.close()

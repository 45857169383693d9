"""Orders and payments over real HTTP: flash sale, idempotency, webhooks, bad input."""

from __future__ import annotations

import asyncio
import json

import httpx
from sqlalchemy import func, select

from commerce.models import Payment, Stock
from tests.commerce.conftest import add_product, order_body, reserved_mismatches

ACT_AS_SHOP = True  # these tests run the shop: staff calls carry an admin token


TOKENS: dict[str, str] = {}  # order id -> the token its buyer got back


async def buy(http, body: dict, key: str):
    r = await http.post("/api/shop/orders", json=body, headers={"Idempotency-Key": key})
    if r.status_code in (200, 201):
        TOKENS[r.json()["id"]] = r.json()["order_token"]
    return r


async def pay(http, order_id: str):
    """Pay as the buyer does, with the order's token."""
    r = await http.post(
        f"/api/shop/orders/{order_id}/payments", headers={"X-Order-Token": TOKENS[order_id]}
    )
    assert r.status_code == 201, r.text
    return await http.post(f"/api/shop/payments/{r.json()['payment_id']}/confirm")


async def buyer_session(http, body: dict, key: str):
    """One viewer's own connection, as 500 phones would have."""
    async with httpx.AsyncClient(base_url=http.base_url, timeout=120, verify=False) as own:
        return await buy(own, body, key)


async def pay_session(http, order_id: str):
    async with httpx.AsyncClient(base_url=http.base_url, timeout=120, verify=False) as own:
        return await pay(own, order_id)


async def test_flash_sale_500_buyers_never_oversell(store, http):
    await add_product(store, "flash-box", 100, price="39.9")
    r = await http.post(
        "/api/shop/rooms/r1/flash-sales",
        json={
            "sku": "flash-box",
            "price": "9.9",
            "quantity": 100,
            "duration_s": 600,
            "per_user_limit": 1,
        },
    )
    assert r.status_code == 201, r.text
    bodies = [order_body("flash-box", i=i, room_id="r1") for i in range(500)]
    for b in bodies:
        b["items"][0]["unit_price"] = "9.9"
    results = await asyncio.gather(*(buyer_session(http, b, f"k{i}") for i, b in enumerate(bodies)))
    codes = [r.status_code for r in results]
    assert codes.count(201) == 100
    assert set(codes) == {201, 409}
    assert all(
        "库存不足" in r.json()["detail"] or "秒杀" in r.json()["detail"]
        for r in results
        if r.status_code == 409
    )
    orders = [r.json()["id"] for r in results if r.status_code == 201]
    paid = await asyncio.gather(*(pay_session(http, oid) for oid in orders))
    assert all(p.status_code == 200 and p.json()["order"]["status"] == "paid" for p in paid)
    # Paying again changes nothing.
    again = await asyncio.gather(
        *(http.post(f"/api/shop/orders/{oid}/payments") for oid in orders[:10])
    )
    assert all(a.status_code == 409 for a in again)
    async with store.db.read() as s:
        stocks = list((await s.execute(select(Stock))).scalars())
        succeeded = (
            await s.execute(select(func.count()).where(Payment.status == "succeeded"))
        ).scalar_one()
        per_order = (
            await s.execute(
                select(Payment.order_id, func.count())
                .where(Payment.status == "succeeded")
                .group_by(Payment.order_id)
            )
        ).all()
    assert succeeded == 100 and all(n == 1 for _, n in per_order) and len(per_order) == 100
    assert all(st.quantity - st.allocated >= 0 for st in stocks)
    assert await store.available("flash-box") == 0
    assert await reserved_mismatches(store) == []
    promos = (await http.get("/api/shop/rooms/r1/promotions")).json()
    assert promos["flash_sales"][0]["sold"] == 100
    sold_ratio = sum(1 for p in paid if p.json()["order"]["status"] == "paid") / 100
    assert sold_ratio == 1.0


async def test_duplicate_idempotency_key_returns_same_order(store, http):
    await add_product(store, "idem", 10)
    body = order_body("idem", 2)
    first = await buy(http, body, "same-key")
    second = await buy(http, body, "same-key")
    assert first.status_code == 201 and second.status_code == 200
    assert second.headers["Idempotent-Replayed"] == "true"
    assert first.json()["id"] == second.json()["id"]
    racing = await asyncio.gather(
        *(buy(http, order_body("idem", 1, i=9), "race-key") for _ in range(20))
    )
    assert len({r.json()["id"] for r in racing}) == 1
    assert await store.available("idem") == 7


async def test_same_key_different_body_is_rejected(store, http):
    await add_product(store, "idem2", 10)
    assert (await buy(http, order_body("idem2", 1), "k")).status_code == 201
    r = await buy(http, order_body("idem2", 3), "k")
    assert r.status_code == 422 and "Idempotency-Key" in r.json()["detail"]


async def test_webhooks_twice_and_out_of_order_apply_one_payment(store, http):
    await add_product(store, "hook", 5)
    order = (await buy(http, order_body("hook", 1), "h1")).json()
    pay_id = (await http.post(f"/api/shop/orders/{order['id']}/payments")).json()["payment_id"]
    prov = store.provider
    ok_body, ok_sig = prov.event(pay_id, order["id"], "payment.succeeded", order["total_fen"])
    fail_body, fail_sig = prov.event(pay_id, order["id"], "payment.failed", order["total_fen"])
    seen = []
    store.add_listener(lambda e: seen.append(e) if e.kind == "order_paid" else None)
    deliveries = [
        (ok_body, ok_sig),
        (ok_body, ok_sig),
        (fail_body, fail_sig),
        (ok_body, prov.sign(ok_body)),
    ]
    results = []
    for body, sig in deliveries:
        r = await http.post(
            "/api/shop/payments/webhook", content=body, headers={"X-Sim-Signature": sig}
        )
        assert r.status_code == 200, r.text
        results.append(r.json()["applied"])
    assert results == [True, False, False, False]
    got = (await http.get(f"/api/shop/orders/{order['id']}")).json()
    assert got["status"] == "paid"
    assert [p["status"] for p in got["payments"]] == ["succeeded"]
    assert len(seen) == 1 and seen[0].data["buyer"] == "李**"


async def test_concurrent_duplicate_webhooks_apply_once(store, http):
    await add_product(store, "hook2", 5)
    order = (await buy(http, order_body("hook2", 1), "h2")).json()
    pay_id = (await http.post(f"/api/shop/orders/{order['id']}/payments")).json()["payment_id"]
    body, sig = store.provider.event(pay_id, order["id"], "payment.succeeded", order["total_fen"])
    rs = await asyncio.gather(
        *(
            http.post("/api/shop/payments/webhook", content=body, headers={"X-Sim-Signature": sig})
            for _ in range(20)
        )
    )
    assert [r.json()["applied"] for r in rs].count(True) == 1
    assert await store.available("hook2") == 4


async def test_bad_webhook_signature_is_rejected(store, http):
    await add_product(store, "hook3", 5)
    order = (await buy(http, order_body("hook3", 1), "h3")).json()
    pay_id = (await http.post(f"/api/shop/orders/{order['id']}/payments")).json()["payment_id"]
    body, sig = store.provider.event(pay_id, order["id"], "payment.succeeded", order["total_fen"])
    forged = body.replace(b"payment.succeeded", b"payment.succeeded ")
    for b, s in [(forged, sig), (body, "t=1,v1=00"), (body, "garbage"), (body, "")]:
        r = await http.post("/api/shop/payments/webhook", content=b, headers={"X-Sim-Signature": s})
        assert r.status_code == 400 and r.json()["detail"]
    assert (await http.get(f"/api/shop/orders/{order['id']}")).json()["status"] == "unpaid"


async def test_second_payment_of_a_paid_order_is_refunded(store, http):
    await add_product(store, "twice", 5)
    order = (await buy(http, order_body("twice", 1), "t1")).json()
    p1 = (await http.post(f"/api/shop/orders/{order['id']}/payments")).json()["payment_id"]
    # A second attempt the buyer started on another device before the first succeeded.
    from commerce.models import Payment as P

    async with store.db.write() as s:
        s.add(
            P(
                id="pay_second",
                order_id=order["id"],
                provider="sim",
                amount_fen=order["total_fen"],
                status="pending",
                provider_version=0,
                created_at=store.clock(),
            )
        )
    for pid in (p1, "pay_second"):
        body, sig = store.provider.event(pid, order["id"], "payment.succeeded", order["total_fen"])
        r = await http.post(
            "/api/shop/payments/webhook", content=body, headers={"X-Sim-Signature": sig}
        )
        assert r.status_code == 200
    got = (await http.get(f"/api/shop/orders/{order['id']}")).json()
    assert sorted(p["status"] for p in got["payments"]) == ["refunded", "succeeded"]
    assert ("pay_second", order["total_fen"]) in store.provider.refunds


async def test_bad_input_gets_4xx_with_reason(store, http):
    await add_product(store, "bad", 10, price="10")
    cases = [
        (order_body("bad", 0), 422, "数量"),
        (order_body("bad", -3), 422, "数量"),
        (order_body("nope", 1), 422, "商品不存在"),
        (order_body("bad", 11), 409, "库存不足"),
        (
            {
                **order_body("bad", 1),
                "items": [{"sku": "bad", "quantity": 1, "unit_price": "9.99"}],
            },
            409,
            "价格",
        ),
        ({**order_body("bad", 1), "items": [{"sku": "bad", "quantity": "1"}]}, 422, "quantity"),
        ({**order_body("bad", 1), "coupon": "NOPE"}, 422, "优惠券"),
        ({**order_body("bad", 1), "items": []}, 422, "items"),
        ({"buyer": {"id": "x"}, "items": [{"sku": "bad", "quantity": 1}]}, 422, "buyer"),
        ({**order_body("bad", 1), "evil": 1}, 422, "evil"),
    ]
    for i, (body, status, word) in enumerate(cases):
        r = await buy(http, body, f"bad-{i}")
        assert r.status_code == status, (body, r.text)
        assert isinstance(r.json()["detail"], str) and word in r.json()["detail"], r.text
    r = await http.post("/api/shop/orders", content=b"{not json", headers={"Idempotency-Key": "x"})
    assert r.status_code == 422
    r = await http.post("/api/shop/orders", json=order_body("bad", 1))
    assert r.status_code == 400 and "Idempotency-Key" in r.json()["detail"]
    huge = json.dumps({**order_body("bad", 1), "segment": "x" * 200_000})
    r = await http.post("/api/shop/orders", content=huge, headers={"Idempotency-Key": "huge"})
    assert r.status_code == 413
    assert await store.available("bad") == 10


async def test_coupon_rules_over_http(store, http):
    await add_product(store, "cp", 50, price="20")
    r = await http.post(
        "/api/shop/rooms/r2/coupons",
        json={"code": "MAN50", "kind": "fixed", "value": "5", "min_spend": "50"},
    )
    assert r.status_code == 201, r.text
    r = await http.post(
        "/api/shop/rooms/r2/coupons", json={"code": "ZHE10", "kind": "percent", "value": 10}
    )
    assert r.status_code == 201
    small = await buy(http, {**order_body("cp", 2, room_id="r2"), "coupon": "MAN50"}, "c1")
    assert small.status_code == 422 and "最低消费" in small.json()["detail"]
    ok = await buy(http, {**order_body("cp", 3, room_id="r2"), "coupon": "MAN50"}, "c2")
    assert ok.status_code == 201 and ok.json()["total"] == "55.00"
    again = await buy(http, {**order_body("cp", 3, room_id="r2"), "coupon": "MAN50"}, "c3")
    assert again.status_code == 422 and "限用" in again.json()["detail"]
    other_room = await buy(
        http, {**order_body("cp", 1, i=2, room_id="r9"), "coupon": "ZHE10"}, "c4"
    )
    assert other_room.status_code == 422 and "直播间" in other_room.json()["detail"]
    pct = await buy(http, {**order_body("cp", 1, i=2, room_id="r2"), "coupon": "ZHE10"}, "c5")
    assert pct.json()["total"] == "18.00"


async def test_shipping_an_unpaid_order_is_409(store, http):
    await add_product(store, "ship", 5)
    order = (await buy(http, order_body("ship", 1), "s1")).json()
    for t in ("ship", "deliver", "complete", "approve_refund", "request_refund"):
        r = await http.post(f"/api/shop/orders/{order['id']}/{t}")
        assert r.status_code == 409 and "unpaid" in r.json()["detail"]
    assert (await http.post(f"/api/shop/orders/{order['id']}/teleport")).status_code == 404
    assert (await http.post("/api/shop/orders/NOPE/ship")).status_code == 404
    assert (await pay(http, order["id"])).json()["order"]["status"] == "paid"
    for t, want in [("ship", "shipped"), ("deliver", "delivered"), ("complete", "completed")]:
        r = await http.post(f"/api/shop/orders/{order['id']}/{t}")
        assert r.status_code == 200 and r.json()["status"] == want
    assert (await http.post(f"/api/shop/orders/{order['id']}/cancel")).status_code == 409


async def test_buy_and_pay_flow_for_the_viewer_page(store, http):
    products = (await http.get("/api/shop/products")).json()
    jujube = next(p for p in products if p["sku"] == "fp-jujube-500g")
    body = {
        "buyer": {
            "id": "viewer-42",
            "name": "王小明",
            "phone": "13912345678",
            "address": "北京市海淀区中关村大街1号",
        },
        "items": [{"sku": "fp-jujube-500g", "quantity": 1, "unit_price": jujube["price"]}],
        "room_id": "demo",
        "persona": "xiaoman",
        "segment": "intro",
    }
    r = await buy(http, body, "viewer-42-1")
    assert r.status_code == 201, r.text
    order = r.json()
    assert order["buyer"]["phone"] == "139****5678" and order["buyer"]["name"] == "王**"
    assert order["attribution"] == {"room_id": "demo", "persona": "xiaoman", "segment": "intro"}
    p = (await http.post(f"/api/shop/orders/{order['id']}/payments")).json()
    cashier = await http.get(p["redirect_url"])
    assert cashier.status_code == 200 and "模拟收银台" in cashier.text
    done = (await http.post(p["confirm_url"])).json()
    assert done["status"] == "succeeded" and done["order"]["status"] == "paid"
    fact = (await http.get("/api/shop/products/fp-jujube-500g")).json()
    assert fact["stock"] == jujube["stock"] - 1

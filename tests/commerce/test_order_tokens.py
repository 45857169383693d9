"""Buyers own their orders: only the order token (X-Order-Token) or staff reads, pays, cancels
or asks a refund; and what every viewer of a room hears about a sale names no order or buyer."""

from __future__ import annotations

import json

import pytest

from tests.commerce.conftest import add_product, order_body

STAFF: dict[str, str] = {}  # a real admin token, filled per test


@pytest.fixture(autouse=True)
def merchant_token(staff_headers):
    """Staff is a signed-in admin, through the app's permission layer."""
    STAFF.clear()
    STAFF.update(staff_headers)


async def place(http, i: int = 1, key: str | None = None, **kw) -> dict:
    r = await http.post(
        "/api/shop/orders",
        json=order_body("tok-box", i=i, **kw),
        headers={"Idempotency-Key": key or f"key-{i}"},
    )
    assert r.status_code in (200, 201), r.text
    return r.json()


def owner(order: dict) -> dict:
    return {"X-Order-Token": order["order_token"]}


async def test_placing_an_order_returns_an_unguessable_token_only_once(store, http):
    await add_product(store, "tok-box", 10)
    a, b = await place(http, 1), await place(http, 2)
    assert len(a["order_token"]) >= 40 and a["order_token"] != b["order_token"]
    again = await place(http, 1)  # an idempotent retry after a lost answer gets it back
    assert again["id"] == a["id"] and again["order_token"] == a["order_token"]
    got = await http.get(f"/api/shop/orders/{a['id']}", headers=owner(a))
    assert got.status_code == 200 and "order_token" not in got.json()
    # the database holds no token
    async with store.db.read() as s:
        from sqlalchemy import text

        rows = (await s.execute(text("SELECT * FROM orders"))).all()
    assert a["order_token"] not in json.dumps([list(map(str, r)) for r in rows])


async def test_only_the_token_or_staff_reads_an_order(store, http):
    await add_product(store, "tok-box", 10)
    a, b = await place(http, 1), await place(http, 2)
    url = f"/api/shop/orders/{a['id']}"
    assert (await http.get(url)).status_code == 401
    assert (await http.get(url, headers={"X-Order-Token": "guess"})).status_code == 403
    assert (await http.get(url, headers=owner(b))).status_code == 403  # someone else's token
    assert (await http.get(url, headers={"X-Admin-Token": "nope"})).status_code == 401
    r = await http.get(url, headers=owner(a))
    assert r.status_code == 200 and r.json()["buyer"]["phone"] == "138****1234"
    assert (await http.get(url, headers=STAFF)).status_code == 200
    # an unknown order answers like a known one: ids cannot be probed
    assert (await http.get("/api/shop/orders/YL0", headers=owner(a))).status_code == 403


async def test_the_viewer_flow_pays_with_the_token(store, http):
    await add_product(store, "tok-box", 10)
    order = await place(http, 1, room_id="r1")
    url = f"/api/shop/orders/{order['id']}/payments"
    assert (await http.post(url)).status_code == 401
    assert (await http.post(url, headers={"X-Order-Token": "x" * 43})).status_code == 403
    pay = await http.post(url, headers=owner(order))
    assert pay.status_code == 201, pay.text
    done = await http.post(pay.json()["confirm_url"])
    assert done.status_code == 200 and done.json()["order"]["status"] == "paid"


async def test_strangers_cannot_cancel_or_refund_someone_elses_order(store, http):
    await add_product(store, "tok-box", 10)
    unpaid, paid = await place(http, 1), await place(http, 2)
    pay = await http.post(f"/api/shop/orders/{paid['id']}/payments", headers=owner(paid))
    await http.post(pay.json()["confirm_url"])
    for oid, step in ((unpaid["id"], "cancel"), (paid["id"], "request_refund")):
        assert (await http.post(f"/api/shop/orders/{oid}/{step}")).status_code == 401
        wrong = {"X-Order-Token": unpaid["order_token"] if oid == paid["id"] else "bad"}
        assert (await http.post(f"/api/shop/orders/{oid}/{step}", headers=wrong)).status_code == 403
    r = await http.post(f"/api/shop/orders/{unpaid['id']}/cancel", headers=owner(unpaid))
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    r = await http.post(f"/api/shop/orders/{paid['id']}/request_refund", headers=owner(paid))
    assert r.status_code == 200 and r.json()["status"] == "refund_requested"
    # approving stays with staff, token or not
    r = await http.post(f"/api/shop/orders/{paid['id']}/approve_refund", headers=owner(paid))
    assert r.status_code == 403
    r = await http.post(f"/api/shop/orders/{paid['id']}/approve_refund", headers=STAFF)
    assert r.status_code == 200 and r.json()["status"] == "refunded"


async def test_shop_events_carry_no_order_id_or_personal_data(store, http):
    await add_product(store, "tok-box", 10)
    events = []
    store.add_listener(events.append)
    body = order_body("tok-box", 2, room_id="r1", persona="xiaoman", segment="s1")
    body["buyer"] |= {
        "name": "欧阳娜娜",
        "phone": "13712345678",
        "address": "河北省保定市阜平县天生桥镇8号",
    }
    r = await http.post("/api/shop/orders", json=body, headers={"Idempotency-Key": "ev"})
    order = r.json()
    pay = (await http.post(f"/api/shop/orders/{order['id']}/payments", headers=owner(order))).json()
    await http.post(pay["confirm_url"])
    await http.post(f"/api/shop/orders/{order['id']}/request_refund", headers=owner(order))
    await http.post(f"/api/shop/orders/{order['id']}/approve_refund", headers=STAFF)
    other = await place(http, 3)
    await http.post(f"/api/shop/orders/{other['id']}/cancel", headers=owner(other))
    paid = [e for e in events if e.kind == "order_paid"]
    assert paid and paid[0].to_json()["data"] == {"buyer": "欧**", "quantity": 2, "unit": "箱"}
    sent = json.dumps([e.to_json() for e in events], ensure_ascii=False)
    for secret in (
        order["id"],
        other["id"],
        pay["payment_id"],
        order["order_token"],
        "13712345678",
        "137****5678",
        "天生桥",
        "欧阳娜娜",
        "娜娜",
    ):
        assert secret not in sent, secret

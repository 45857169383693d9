"""Shop walls (issue 16, failure 1), replayed as the attacker did it: an operator and a cs of
another shop (`farm2`) against this server's shop, through rooms that are not live.

Every rule that names a room decides by the shop that owns the room on record, live or not;
an id no shop has registered is refused; orders are handled only by this shop's staff.
"""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest

from testkit.livesrv import LiveServer

HONEY = "fp-honey-500g"
GHOST = "ghost2"
PROMOTIONS = (
    ("flash-sales", {"sku": HONEY, "price": "0.01", "quantity": 20, "duration_s": 600}),
    ("coupons", {"code": "FARM2-99", "kind": "percent", "value": 99, "duration_s": 600}),
    ("pin", {"sku": HONEY}),
)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    path = tmp_path_factory.mktemp("walls") / "y.db"
    with LiveServer(path, stamp=False, demo_room=False, demo_payments=True) as s:
        yield s


def client(server, role: str | None = None, shop: str | None = None) -> httpx.AsyncClient:
    headers = server.headers(role, shop) if role else {}
    return httpx.AsyncClient(base_url=server.url, headers=headers, timeout=60)


async def catalog_price(http: httpx.AsyncClient, sku: str) -> Decimal:
    return Decimal(str((await http.get(f"/api/shop/products/{sku}")).json()["price"]))


def unit_price(order: dict) -> Decimal:
    return Decimal(order["items"][0]["unit_price"])


async def buy(http: httpx.AsyncClient, key: str, qty: int = 1, **extra) -> dict:
    body = {
        "buyer": {
            "id": f"buyer-{key}",
            "name": "李四",
            "phone": f"139{abs(hash(key)) % 10**8:08d}",
            "address": "河北省保定市阜平县城南庄镇1号",
        },
        "items": [{"sku": HONEY, "quantity": qty}],
        **extra,
    }
    res = await http.post("/api/shop/orders", json=body, headers={"Idempotency-Key": key})
    assert res.status_code == 201, res.text
    return res.json()


async def promotions_of(http: httpx.AsyncClient, room_id: str) -> dict:
    res = await http.get(f"/api/shop/rooms/{room_id}/promotions")
    assert res.status_code == 200, res.text
    return res.json()


def has_promotions(state: dict) -> bool:
    codes = {c["code"] for c in state["coupons"]}
    return bool(state["flash_sales"] or state["pinned"] or "FARM2-99" in codes)


async def test_another_shops_operator_cannot_promote_in_a_room_that_is_not_live(server):
    async with client(server, "operator", "farm2") as op2, client(server) as anon:
        for kind, body in PROMOTIONS:
            res = await op2.post(f"/api/shop/rooms/{GHOST}/{kind}", json=body)
            assert res.status_code in (403, 404), (kind, res.status_code, res.text)
            assert "shop" in res.json()["detail"] or "room" in res.json()["detail"]
        assert not has_promotions(await promotions_of(anon, GHOST))
        # and the anonymous buyer the attack set up pays the catalog price through ghost2
        order = await buy(anon, "ghost-buyer", 20, room_id=GHOST)
        price = await catalog_price(anon, HONEY)
        assert unit_price(order) == price and order["items"][0]["flash_sale_id"] is None
        assert order["total"] != "0.20"


async def test_this_shops_operator_cannot_promote_in_a_room_no_shop_has(server):
    async with client(server, "operator") as op, client(server) as anon:
        for kind, body in PROMOTIONS:
            res = await op.post(f"/api/shop/rooms/unknown-room/{kind}", json=body)
            assert res.status_code == 404 and "(no such room)" in res.json()["detail"], res.text
        assert not has_promotions(await promotions_of(anon, "unknown-room"))


async def test_a_room_keeps_its_shop_after_it_stops(server):
    async with client(server, "operator") as op, client(server, "operator", "farm2") as op2:
        res = await op.post("/api/rooms", json={"room_id": "farm-live", "title": "阜平蜂蜜"})
        assert res.status_code == 201, res.text
        assert (await op.post("/api/rooms/farm-live/stop")).status_code == 200
        assert "farm-live" not in server.engine.rooms
        # not live any more: the other shop is still refused, this shop schedules a sale
        starts = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
        ends = (datetime.now(UTC) + timedelta(hours=3)).isoformat()
        sale = {"sku": HONEY, "price": "0.01", "quantity": 5, "starts_at": starts, "ends_at": ends}
        res = await op2.post("/api/shop/rooms/farm-live/flash-sales", json=sale)
        assert res.status_code == 403, res.text
        res = await op.post("/api/shop/rooms/farm-live/flash-sales", json=sale)
        assert res.status_code == 201, res.text
        # scheduled, not running: an order through that room still pays the catalog price
        order = await buy(op, "early-bird", room_id="farm-live")
        assert unit_price(order) == await catalog_price(op, HONEY)


async def test_a_room_id_of_another_shop_is_refused_to_this_shop(server):
    assert server.call(server.store.rooms.claim("farm2-stage", "farm2", live=False)) == "farm2"
    async with client(server, "operator") as op, client(server, "cs") as cs:
        res = await op.post("/api/rooms", json={"room_id": "farm2-stage"})
        assert res.status_code == 403 and "not your shop" in res.json()["detail"], res.text
        assert "farm2-stage" not in server.engine.rooms
        for kind, body in PROMOTIONS:
            res = await op.post(f"/api/shop/rooms/farm2-stage/{kind}", json=body)
            assert res.status_code == 403 and "(not your shop" in res.json()["detail"], res.text
        res = await cs.get("/api/shop/rooms/farm2-stage/sales")
        assert res.status_code == 403, res.text


async def test_a_flash_sale_price_reaches_only_orders_through_its_own_room(server):
    server.call(server.store.rooms.claim("price-room", "default", live=False))
    async with client(server, "operator") as op, client(server) as anon:
        price = await catalog_price(anon, HONEY)
        sale = {"sku": HONEY, "price": "1.00", "quantity": 50, "duration_s": 600}
        res = await op.post("/api/shop/rooms/price-room/flash-sales", json=sale)
        assert res.status_code == 201, res.text
        inside = await buy(anon, "inside", room_id="price-room")
        elsewhere = await buy(anon, "elsewhere", room_id=GHOST)
        nowhere = await buy(anon, "nowhere")
    assert unit_price(inside) == Decimal("1.00")
    assert unit_price(elsewhere) == price
    assert unit_price(nowhere) == price


async def paid_refund_request(anon: httpx.AsyncClient, key: str) -> tuple[str, str]:
    order = await buy(anon, key)
    oid, token = order["id"], order["order_token"]
    res = await anon.post(f"/api/shop/orders/{oid}/payments", headers={"X-Order-Token": token})
    assert res.status_code == 201, res.text
    res = await anon.post(f"/api/shop/payments/{res.json()['payment_id']}/confirm")
    assert res.status_code == 200, res.text
    res = await anon.post(
        f"/api/shop/orders/{oid}/request_refund", headers={"X-Order-Token": token}
    )
    assert res.status_code == 200 and res.json()["status"] == "refund_requested", res.text
    return oid, token


async def test_another_shops_cs_cannot_read_or_refund_this_shops_orders(server):
    async with (
        client(server) as anon,
        client(server, "cs", "farm2") as cs2,
        client(server, "operator", "farm2") as op2,
        client(server, "cs") as cs,
    ):
        oid, token = await paid_refund_request(anon, "refund-me")
        for http in (cs2, op2):
            res = await http.post(f"/api/shop/orders/{oid}/approve_refund")
            assert res.status_code == 403 and "not your shop" in res.json()["detail"], res.text
            res = await http.get(f"/api/shop/orders/{oid}")
            assert res.status_code == 403 and "buyer" not in res.json(), res.text
            for path in ("/api/tickets", "/api/analytics/orders", "/api/dashboard/summary"):
                res = await http.get(path)
                assert res.status_code == 403, (path, res.text)
        res = await anon.get(f"/api/shop/orders/{oid}", headers={"X-Order-Token": token})
        assert res.json()["status"] == "refund_requested"
        # this shop's cs still does the job
        res = await cs.post(f"/api/shop/orders/{oid}/approve_refund")
        assert res.status_code == 200 and res.json()["status"] == "refunded", res.text


async def test_a_scheduled_room_takes_promotions_before_it_first_goes_live(server):
    async with client(server, "operator") as op, client(server, "operator", "farm2") as op2:
        for bad in ({"room_id": "../demo"}, {"room_id": "x" * 65}, {"room_id": "ok", "t": 1}):
            assert (await op.post("/api/shop/rooms", json=bad)).status_code == 422, bad
        res = await op2.post("/api/shop/rooms", json={"room_id": "tomorrow"})
        assert res.status_code == 403, res.text
        res = await op.post("/api/shop/rooms", json={"room_id": "tomorrow", "title": "明晚开播"})
        assert res.status_code == 201 and res.json()["shop_id"] == "default", res.text
        starts = (datetime.now(UTC) + timedelta(days=1)).isoformat()
        ends = (datetime.now(UTC) + timedelta(days=1, hours=1)).isoformat()
        sale = {"sku": HONEY, "price": "9.90", "quantity": 5, "starts_at": starts, "ends_at": ends}
        res = await op.post("/api/shop/rooms/tomorrow/flash-sales", json=sale)
        assert res.status_code == 201, res.text
        listed = {r["room_id"]: r for r in (await op.get("/api/shop/rooms")).json()}
        assert listed["tomorrow"]["title"] == "明晚开播"
        assert listed["tomorrow"]["last_live_at"] is None
        assert GHOST not in listed

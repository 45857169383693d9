"""Faults an outside check found (issue 12): each used to give a 500, store something
dangerous, or trust what the client chose. Each now gets a clear 4xx with a reason."""

from __future__ import annotations

import json

import pytest

from commerce.errors import PurchaseLimitExceeded
from commerce.orders import LineRequest, OrderRequest
from tests.commerce.conftest import add_product, order_body

ACT_AS_SHOP = True  # these tests run the shop: staff calls carry an admin token


@pytest.mark.parametrize("days", ["3000000", "-1", "99999999999999999999"])
async def test_near_expiry_with_absurd_days_is_refused_not_a_500(http, days):
    r = await http.get("/api/shop/near-expiry", params={"days": days})
    assert r.status_code == 422, r.text
    assert isinstance(r.json()["detail"], (str, list))


async def test_near_expiry_still_answers_a_sane_window(http):
    r = await http.get("/api/shop/near-expiry", params={"days": 3650})
    assert r.status_code == 200 and isinstance(r.json(), list)


@pytest.mark.parametrize(
    "window, reason",
    [
        ({"starts_at": "9999-12-31T23:59:59"}, "90天"),
        ({"starts_at": "9999-12-31T23:59:59-14:00"}, "超出范围"),
        ({"starts_at": "2020-01-01T00:00:00", "ends_at": "9999-12-31T23:59:59"}, "7天"),
        ({"starts_at": "2020-01-01T00:00:00", "duration_s": 60}, "已过"),
        ({"starts_at": "0001-01-01T00:00:00", "ends_at": "0001-01-02T00:00:00"}, "已过"),
    ],
)
async def test_flash_sale_at_the_end_of_time_is_refused_with_a_reason(store, http, window, reason):
    await add_product(store, "far-box", 10, price="20")
    r = await http.post(
        "/api/shop/rooms/r1/flash-sales",
        json={"sku": "far-box", "price": "9.9", "quantity": 5, **window},
    )
    assert r.status_code == 422, r.text
    assert reason in r.json()["detail"]


def _signed(store, data: dict) -> tuple[bytes, str]:
    evt = {"id": "evt_x1", "type": "payment.succeeded", "created": 0, "data": data}
    body = json.dumps(evt).encode()
    return body, store.provider.sign(body)


@pytest.mark.parametrize(
    "data, field",
    [
        ({"payment_id": ["a"], "order_id": "o", "amount_fen": 100}, "payment_id"),
        ({"payment_id": {"$ne": 1}, "amount_fen": 100}, "payment_id"),
        ({"payment_id": "p" * 41, "amount_fen": 100}, "payment_id"),
        ({"payment_id": "pay_1", "order_id": ["o"], "amount_fen": 100}, "order_id"),
        ({"payment_id": "pay_1", "amount_fen": "100"}, "amount_fen"),
        ({"payment_id": "pay_1", "amount_fen": True}, "amount_fen"),
        ({"payment_id": "pay_1", "amount_fen": 1e300}, "amount_fen"),
    ],
)
async def test_signed_webhook_with_wrong_types_is_a_422(store, http, data, field):
    body, sig = _signed(store, data)
    r = await http.post(
        "/api/shop/payments/webhook", content=body, headers={"X-Sim-Signature": sig}
    )
    assert r.status_code == 422, r.text
    assert field in r.json()["detail"]


async def test_signed_webhook_with_a_non_string_event_id_or_type_is_a_422(store, http):
    for evt in ({"id": ["x"], "type": "payment.succeeded"}, {"id": "e", "type": ["a"]}):
        body = json.dumps({**evt, "data": {}}).encode()
        sig = store.provider.sign(body)
        r = await http.post(
            "/api/shop/payments/webhook", content=body, headers={"X-Sim-Signature": sig}
        )
        assert r.status_code == 422, r.text


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JavaScript:alert(1)",
        " javascript:alert(1)",
        "java\tscript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "vbscript:msgbox(1)",
        "//evil.example/x.jpg",
        "/\\evil.example/x.jpg",
        "http://",
        "http://[::1/x.jpg",
        "ftp://example.com/x.jpg",
        "x.jpg",
    ],
)
async def test_media_url_must_be_http_or_a_site_path(store, http, url):
    await add_product(store, "media-box", 10)
    r = await http.post("/api/shop/products/media-box/media", json={"kind": "image", "url": url})
    assert r.status_code == 422, (url, r.text)
    detail = await http.get("/api/shop/products/media-box/detail")
    assert detail.json()["media"] == []


@pytest.mark.parametrize(
    "url", ["https://cdn.example.cn/a.jpg", "http://127.0.0.1:8000/x.mp4", "/static/a.png"]
)
async def test_media_url_accepts_http_and_site_paths(store, http, url):
    await add_product(store, "media-ok", 10)
    r = await http.post("/api/shop/products/media-ok/media", json={"kind": "image", "url": url})
    assert r.status_code == 201, r.text


async def test_flash_sale_limit_counts_per_phone_not_per_buyer_id(store, http):
    await add_product(store, "lim-box", 50, price="20")
    r = await http.post(
        "/api/shop/rooms/r1/flash-sales",
        json={"sku": "lim-box", "price": "9.9", "quantity": 20, "per_user_limit": 1},
    )
    assert r.status_code == 201, r.text

    async def buy(buyer_id: str, phone: str, key: str):
        body = order_body("lim-box", room_id="r1")
        body["buyer"] |= {"id": buyer_id, "phone": phone}
        return await http.post("/api/shop/orders", json=body, headers={"Idempotency-Key": key})

    assert (await buy("viewer-1", "13900001111", "k1")).status_code == 201
    again = await buy("viewer-2-made-up", "139 0000 1111", "k2")  # same phone, other id
    assert again.status_code == 409 and "限购" in again.json()["detail"]
    assert (await buy("viewer-3", "+86 139-0000-1111", "k3")).status_code == 409
    assert (await buy("viewer-1", "13900002222", "k4")).status_code == 201  # another buyer


async def test_purchase_limit_ignores_the_buyer_id_in_the_domain_too(store):
    await add_product(store, "lim-dom", 50, price="20", per_user_limit=2)

    def req(buyer_id: str) -> OrderRequest:
        return OrderRequest(
            buyer_id, "张三", "13800001111", "河北阜平1号", (LineRequest("lim-dom", 2),)
        )

    await store.orders.create(req("a"), "k1")
    with pytest.raises(PurchaseLimitExceeded):
        await store.orders.create(req("b"), "k2")


async def test_room_sales_group_orders_without_persona_under_a_dash(store, http):
    await add_product(store, "sales-box", 50, price="10")
    for i, persona in enumerate(("xiaoman", None, "")):
        body = order_body("sales-box", i=i + 1, room_id="r9")
        if persona is not None:
            body["persona"] = persona
        order = (
            await http.post("/api/shop/orders", json=body, headers={"Idempotency-Key": str(i)})
        ).json()
        pay = await http.post(f"/api/shop/orders/{order['id']}/payments")
        await http.post(pay.json()["confirm_url"])
    sales = (await http.get("/api/shop/rooms/r9/sales")).json()
    assert sales["by_persona"] == {
        "xiaoman": {"orders": 1, "revenue": "10.00"},
        "-": {"orders": 2, "revenue": "20.00"},
    }
    assert "None" not in sales["by_persona"] and "None" not in sales["by_segment"]
    assert sales["by_segment"] == {"-": {"orders": 3, "revenue": "30.00"}}

"""PATCH /api/shop/products/{sku}: a merchant edits price, title, unit, features and promo;
live rooms hear `product_changed` at once, and the change comes back as before/after."""

from __future__ import annotations

from decimal import Decimal

import pytest

from commerce.errors import InvalidInput
from tests.commerce.conftest import add_product

STAFF: dict[str, str] = {}  # a real admin token, filled per test


@pytest.fixture(autouse=True)
def merchant_token(staff_headers):
    """Staff is a signed-in admin, through the app's permission layer."""
    STAFF.clear()
    STAFF.update(staff_headers)


async def test_a_price_edit_reaches_fact_sheets_orders_and_live_rooms(store, http):
    await add_product(store, "edit-box", 20, price="59.9")
    events = []
    store.add_listener(events.append)
    r = await http.patch(
        "/api/shop/products/edit-box",
        json={
            "price": "37.6",
            "list_price": "59.9",
            "title": "阜平苹果 5斤装",
            "promo": "两箱包邮",
        },
        headers=STAFF,
    )
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["before"] == {
        "price": "59.90",
        "list_price": None,
        "title": "测试商品edit-box",
        "promo": None,
    }
    assert got["after"] == {
        "price": "37.60",
        "list_price": "59.90",
        "title": "阜平苹果 5斤装",
        "promo": "两箱包邮",
    }
    assert got["product"]["price"] == "37.6" and got["product"]["promo"] == "两箱包邮"
    sheet = await store.fact_sheet("edit-box", "any-room")
    assert sheet.price == Decimal("37.6") and sheet.title == "阜平苹果 5斤装"
    [ev] = [e for e in events if e.kind == "product_changed"]
    assert ev.room_id is None and ev.sku == "edit-box"  # every room
    assert ev.data["fields"] == ["list_price", "price", "promo", "title"]
    assert ev.data["price"] == "37.60"  # the new values travel with the event (the card takes them)
    body = {
        "buyer": {"name": "李四", "phone": "13812341234", "address": "河北阜平1号"},
        "items": [{"sku": "edit-box", "quantity": 1, "unit_price": "37.6"}],
    }
    order = await http.post("/api/shop/orders", json=body, headers={"Idempotency-Key": "e1"})
    assert order.status_code == 201 and order.json()["total"] == "37.60"


async def test_unit_features_and_clearing_promo(store, http):
    await add_product(store, "edit-2", 5)
    await http.patch("/api/shop/products/edit-2", json={"promo": "满减"}, headers=STAFF)
    r = await http.patch(
        "/api/shop/products/edit-2",
        json={"unit": "袋", "features": ["个大", "皮薄"], "promo": None},
        headers=STAFF,
    )
    assert r.status_code == 200, r.text
    sheet = await store.fact_sheet("edit-2")
    assert sheet.unit == "袋" and sheet.features == ("个大", "皮薄") and sheet.promo is None


async def test_an_edit_that_changes_nothing_announces_nothing(store):
    await add_product(store, "edit-3", 5, price="10")
    events = []
    store.add_listener(events.append)
    diff = await store.update_product("edit-3", {"price": "10.00"})
    assert diff == {"sku": "edit-3", "before": {}, "after": {}}
    assert not [e for e in events if e.kind == "product_changed"]


@pytest.mark.parametrize(
    "body, reason",
    [
        ({"price": "0"}, "价格"),
        ({"price": "-1"}, "金额"),
        ({"price": "1.234"}, "两位小数"),
        ({"price": "abc"}, "金额"),
        ({"price": "NaN"}, "金额"),
        ({"price": "1e12"}, "金额"),
        ({"price": None}, "价格"),
        ({"price": True}, "price"),
        ({"list_price": "5"}, "划线价"),  # below the price (10): a misleading crossed-out price
        ({"title": ""}, "title"),
        ({"title": "长" * 129}, "title"),
        ({"title": "a\x00b"}, "控制字符"),
        ({"unit": "斤" * 17}, "unit"),
        ({"features": ["好"] * 21}, "features"),
        ({"features": ["好" * 65]}, "卖点"),
        ({"promo": "促" * 257}, "promo"),
        ({"stock": 5}, "stock"),
        ({"sku": "other"}, "sku"),
        ({}, "没有要修改"),
    ],
)
async def test_bad_edits_are_refused_with_a_reason(store, http, body, reason):
    await add_product(store, "edit-bad", 5, price="10")
    r = await http.patch("/api/shop/products/edit-bad", json=body, headers=STAFF)
    assert r.status_code == 422, r.text
    assert reason in r.json()["detail"], r.json()
    sheet = await store.fact_sheet("edit-bad")
    assert sheet.price == Decimal("10") and sheet.title == "测试商品edit-bad"


async def test_edit_needs_the_merchant_and_an_existing_product(store, http):
    await add_product(store, "edit-4", 5, price="10")
    r = await http.patch("/api/shop/products/edit-4", json={"price": "0.01"})
    assert r.status_code == 401  # no one signed in
    r = await http.patch("/api/shop/products/nope", json={"price": "1"}, headers=STAFF)
    assert r.status_code == 404
    assert (await store.fact_sheet("edit-4")).price == Decimal("10")


async def test_domain_refuses_unknown_fields_without_the_web_layer(store):
    await add_product(store, "edit-5", 5)
    with pytest.raises(InvalidInput):
        await store.update_product("edit-5", {"price_fen": 1})


async def test_a_unit_cost_is_kept_for_the_advisor_and_never_told_to_rooms(store):
    await add_product(store, "edit-cost", 5, price="10")
    events = []
    store.add_listener(events.append)
    diff = await store.update_product("edit-cost", {"cost": "6.20"})
    assert diff["after"] == {"cost": "6.20"} and diff["before"] == {"cost": None}
    assert not [e for e in events if e.kind == "product_changed"]  # private: no room hears it
    await store.update_product("edit-cost", {"cost": "6.50", "price": "11"})
    [ev] = [e for e in events if e.kind == "product_changed"]
    assert "cost" not in ev.data and "cost" not in ev.data["fields"]
    with pytest.raises(InvalidInput, match="金额|成本"):
        await store.update_product("edit-cost", {"cost": "-1"})
    with pytest.raises(InvalidInput, match="成本"):
        await store.update_product("edit-cost", {"cost": "0"})

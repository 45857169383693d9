"""Pinning a sold-out product for 讲解 is refused: a named domain error, 409 over HTTP."""

from __future__ import annotations

import pytest

from commerce.errors import ProductSoldOut
from commerce.orders import LineRequest, OrderRequest
from tests.commerce.conftest import add_product

ACT_AS_SHOP = True  # staff calls carry an admin token

SKU = "pin-honey"


async def _sell_out(store) -> None:
    req = OrderRequest("", "王小明", "13900000001", "河北省保定市阜平县1号", (LineRequest(SKU, 3),))
    await store.orders.create(req, "all")


async def test_pinning_a_sold_out_product_is_a_domain_error(store):
    await add_product(store, SKU, 3)
    await store.promotions.pin("room-a", SKU)  # in stock: fine
    await _sell_out(store)
    with pytest.raises(ProductSoldOut) as err:
        await store.promotions.pin("room-a", SKU)
    assert "已售罄" in err.value.reason


async def test_pinning_a_sold_out_product_over_http_is_409_with_a_reason(store, http):
    await add_product(store, SKU, 3)
    await _sell_out(store)
    r = await http.post("/api/shop/rooms/room-a/pin", json={"sku": SKU})
    assert r.status_code == 409 and "已售罄" in r.json()["detail"]
    r = await http.post("/api/shop/rooms/room-a/pin", json={"sku": "no-such-sku"})
    assert r.status_code == 404
    r = await http.post("/api/shop/rooms/room-a/pin", json={"sku": 12})
    assert 400 <= r.status_code < 500

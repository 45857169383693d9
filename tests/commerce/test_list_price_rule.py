"""原价 follows the shop's own orders: a list price counts as charged only when paid orders of
the last 7 days were charged it (China's pricing rules for 原价)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from commerce.catalog import BatchSpec
from commerce.orders import LineRequest, OrderRequest
from tests.commerce.conftest import farm_product

SKU = "rule-jujube"


def _order(phone: str) -> OrderRequest:
    return OrderRequest("", "王小明", phone, "河北省保定市阜平县1号", (LineRequest(SKU, 1),))


async def add_product(store, price: str, list_price: str | None = None) -> None:
    facts = farm_product(SKU, 100, price, list_price=Decimal(list_price) if list_price else None)
    await store.add_product(facts, [BatchSpec(f"{SKU}-b1", date.today(), 100, "测试地块")])


async def _paid_order(store, phone: str) -> None:
    order, _ = await store.orders.create(_order(phone), phone)
    pay = await store.payments.start(order["id"])
    await store.payments.confirm(pay["payment_id"])


async def test_a_list_price_never_charged_is_not_an_original_price(store):
    await add_product(store, "29.9", "39.9")
    await _paid_order(store, "13900000001")  # charged 29.9, not 39.9
    facts = await store.fact_sheet(SKU, "room-a")
    assert facts.list_price is not None and not facts.list_price_charged


async def test_a_list_price_charged_this_week_is_an_original_price(store, clock):
    await add_product(store, "39.9")
    await _paid_order(store, "13900000002")  # charged 39.9
    unpaid, _ = await store.orders.create(_order("13900000003"), "unpaid")
    await store.update_product(SKU, {"price": "29.9", "list_price": "39.9"})
    assert (await store.fact_sheet(SKU)).list_price_charged
    clock.advance(days=8)  # the charge falls out of the 7-day window
    assert not (await store.fact_sheet(SKU)).list_price_charged
    assert unpaid["status"] == "unpaid"


def test_shop_events_are_typed_and_round_trip_through_plain_data():
    from commerce.events import (
        CouponIssued,
        FlashSaleStarted,
        OrderPaid,
        ProductChanged,
        shop_event,
    )

    paid = OrderPaid("room-a", "sku-1", "李**", 2, "斤")
    assert paid.kind == "order_paid" and paid.data == {"buyer": "李**", "quantity": 2, "unit": "斤"}
    assert shop_event(paid.kind, paid.room_id, paid.sku, paid.data) == paid
    sale = shop_event("flash_sale_started", "room-a", "sku-1", {"price": "15.5", "cap": 50})
    assert isinstance(sale, FlashSaleStarted) and sale.cap == 50
    coupon = shop_event("coupon_issued", None, None, {"code": "A1", "kind": "fixed", "x": 1})
    assert isinstance(coupon, CouponIssued) and coupon.data["kind"] == "fixed"  # JSON unchanged
    edit = shop_event("product_changed", None, "s", {"fields": ["price"], "price": "27.50"})
    assert isinstance(edit, ProductChanged) and edit.data == {"fields": ["price"], "price": "27.50"}
    for bad in ("no_such_kind", ""):
        with pytest.raises(ValueError):
            shop_event(bad, None, None, {})

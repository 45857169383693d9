"""Property: any order of duplicated payment webhooks applies the payment exactly once."""

from __future__ import annotations

import asyncio
import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from commerce import open_store
from tests.commerce.conftest import SECRET, Clock, add_product
from tests.commerce.test_store import req

SEQ = {"payment.failed": 1, "payment.succeeded": 2, "payment.refunded": 3}
deliveries = st.lists(st.sampled_from(sorted(SEQ)), min_size=1, max_size=8)


def expected(seq: list[str]) -> tuple[str, str, int]:
    """(payment status, order status, order_paid events) under 'newest provider state wins'."""
    version, applied = 0, []
    for kind in seq:
        if SEQ[kind] > version:
            version = SEQ[kind]
            applied.append(kind)
    captured = "payment.succeeded" in applied
    pay = {"payment.failed": "failed", "payment.succeeded": "succeeded"}.get(
        applied[-1], "refunded"
    )
    if not captured:
        return pay, "unpaid", 0
    return pay, "refunded" if applied[-1] == "payment.refunded" else "paid", 1


def test_any_webhook_order_applies_payment_once(db_url):
    loop = asyncio.new_event_loop()
    store = loop.run_until_complete(
        open_store(db_url, secret_key=SECRET, clock=Clock(), background=False, seed_demo=False)
    )
    n = itertools.count()

    @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
    @given(seq=deliveries)
    def check(seq):
        async def scenario():
            sku = f"wh-{next(n)}"
            await add_product(store, sku, 5)
            order, _ = await store.orders.create(req(sku, 2), f"{sku}-k")
            pay = await store.payments.start(order["id"])
            paid_events = []
            store.add_listener(paid_events.append)
            try:
                for kind in seq:
                    body, sig = store.provider.event(
                        pay["payment_id"], order["id"], kind, order["total_fen"]
                    )
                    await store.payments.handle_webhook(body, sig)
            finally:
                store.remove_listener(paid_events.append)
            got = await store.orders.get(order["id"])
            want_pay, want_order, want_events = expected(seq)
            assert [p["status"] for p in got["payments"]] == [want_pay]
            assert got["status"] == want_order
            assert sum(e.kind == "order_paid" for e in paid_events) == want_events
            assert await store.available(sku) == (5 if want_order == "refunded" else 3)

        loop.run_until_complete(scenario())

    try:
        check()
    finally:
        loop.run_until_complete(store.close())
        loop.close()

"""Stateful property test: the order service against an independent model of the spec."""

from __future__ import annotations

import asyncio
import itertools

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from commerce import InsufficientStock, InvalidTransition, open_store
from tests.commerce.conftest import SECRET, Clock, add_product, reserved_mismatches
from tests.commerce.test_store import req

STOCK = 6
# The spec, written out independently of commerce.order_state.
SPEC = {
    "ship": ({"paid"}, "shipped"),
    "deliver": ({"shipped"}, "delivered"),
    "complete": ({"delivered"}, "completed"),
    "cancel": ({"unpaid"}, "cancelled"),
    "request_refund": ({"paid", "shipped", "delivered"}, "refund_requested"),
    "approve_refund": ({"refund_requested"}, "refunded"),
    "reject_refund": ({"refund_requested"}, None),
}
_sku_ids = itertools.count()


class OrderMachine(RuleBasedStateMachine):
    loop: asyncio.AbstractEventLoop
    store = None
    clock: Clock

    def __init__(self) -> None:
        super().__init__()
        self.sku = f"sm-{next(_sku_ids)}"
        self.run(add_product(self.store, self.sku, STOCK))
        # id -> {"status", "qty", "pre"}; a dict keeps creation order, and rules must draw
        # from that, not from sorted ids: ids carry a random part, so a replayed example would
        # otherwise pick other orders and Hypothesis reports its data generation as flaky.
        self.orders: dict[str, dict] = {}
        self.keys = itertools.count()

    def run(self, coro):
        return self.loop.run_until_complete(coro)

    def model_available(self) -> int:
        held = 0
        for o in self.orders.values():
            if o["status"] == "cancelled" or (o["status"] == "refunded" and o["pre"] == "paid"):
                continue
            held += o["qty"]
        return STOCK - held

    @rule(qty=st.integers(1, 3))
    def create(self, qty):
        try:
            order, created = self.run(
                self.store.orders.create(
                    req(self.sku, qty, buyer="sm"), f"{self.sku}-{next(self.keys)}"
                )
            )
        except InsufficientStock:
            assert self.model_available() < qty
            return
        assert created and self.model_available() >= qty
        self.orders[order["id"]] = {"status": "unpaid", "qty": qty, "pre": None}

    @precondition(lambda self: self.orders)
    @rule(data=st.data())
    def pay(self, data):
        oid = data.draw(st.sampled_from(list(self.orders)))
        o = self.orders[oid]
        try:
            pay = self.run(self.store.payments.start(oid))
        except InvalidTransition:
            assert o["status"] != "unpaid"
            return
        assert o["status"] == "unpaid"
        self.run(self.store.payments.confirm(pay["payment_id"]))
        o["status"] = "paid"

    @precondition(lambda self: self.orders)
    @rule(data=st.data(), name=st.sampled_from(sorted(SPEC)))
    def transition(self, data, name):
        oid = data.draw(st.sampled_from(list(self.orders)))
        o = self.orders[oid]
        sources, target = SPEC[name]
        try:
            got = self.run(self.store.orders.transition(oid, name))
        except InvalidTransition:
            assert o["status"] not in sources
            return
        assert o["status"] in sources
        if name == "request_refund":
            o["pre"] = o["status"]
        o["status"] = target or o["pre"]
        assert got["status"] == o["status"]

    @rule()
    def time_passes(self):
        self.clock.advance(minutes=self.store.reservation_minutes + 1)
        self.run(self.store.tick())
        for o in self.orders.values():
            if o["status"] == "unpaid":
                o["status"] = "cancelled"

    @invariant()
    def database_matches_model(self):
        for oid, o in self.orders.items():
            assert self.run(self.store.orders.get(oid))["status"] == o["status"]
        assert self.run(self.store.available(self.sku)) == self.model_available()
        assert self.run(reserved_mismatches(self.store)) == []


def test_order_state_machine_matches_spec(db_url):
    loop = asyncio.new_event_loop()
    clock = Clock()
    store = loop.run_until_complete(
        open_store(db_url, secret_key=SECRET, clock=clock, background=False, seed_demo=False)
    )
    OrderMachine.loop, OrderMachine.store, OrderMachine.clock = loop, store, clock
    try:
        run_state_machine_as_test(
            OrderMachine,
            settings=settings(
                max_examples=20,
                stateful_step_count=20,
                deadline=None,
                suppress_health_check=list(HealthCheck),
            ),
        )
    finally:
        loop.run_until_complete(store.close())
        loop.close()

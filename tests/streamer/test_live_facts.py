"""An honest host: every price, stock and promotion is true when it is said and drawn.

Facts are bound at speech time: prices change, flash sales start and end, stock moves while
the host talks, and every line as it starts, every caption and every card frame shows the
fact sheet current at that instant (one phrase of latency allowed for speech, two frames for
the card). The room runs on a fast media clock with a real Director, template writer and
eSpeak; the shop is a mutable table (testkit/live_shop.py) or a real store.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from commerce import open_store
from commerce.demo import DEMO_PRODUCTS
from commerce.orders import LineRequest, OrderRequest
from scripts_gen.reactions import stock_phrase
from scripts_gen.template import TemplateWriter, spoken_promo
from streamer.live_facts import FactRef, FactSnapshot, Stage, countdown_text, refs_for
from streamer.timeline import SpeechTimeline
from testkit.live_shop import (
    APPLE,
    EPOCH,
    FRAME,
    MILLET,
    LiveRoom,
    Sale,
    Shop,
    Truth,
    demo_shop,
    money_in,
    settle,
)
from tests.commerce.conftest import SECRET, Clock, add_product

PHRASE = 1.5  # one phrase of latency, in media seconds
CARD_LATENCY = 2 * FRAME


# --- the pieces ----------------------------------------------------------------------------


def test_stock_is_said_rounded_and_exact_only_when_small():
    p = DEMO_PRODUCTS[0]
    assert stock_phrase(replace(p, stock=123)) == f"还有一百多{p.unit}"
    assert stock_phrase(replace(p, stock=57)) == "库存不多了"
    assert stock_phrase(replace(p, stock=7)) == f"只剩七{p.unit}了"
    writer = TemplateWriter(seed=3)
    from scripts_gen.base import SegmentContext

    for stock in (119, 120, 57):
        line = writer.render(replace(p, stock=stock), "stock", SegmentContext())
        assert line is not None and "一百一十九" not in line.text and "一百二十" not in line.text
    assert spoken_promo("秒杀价9.9元，限量50份，还剩37份") == "秒杀价9.9元，限量50份，名额不多了"
    assert spoken_promo("秒杀价9.9元，限量50份，还剩7份").endswith("只剩7份")


def test_a_line_is_bound_to_the_facts_it_names():
    p = next(x for x in DEMO_PRODUCTS if x.sku == APPLE)
    from scripts_gen.base import Line

    priced = Line(f"今天直播间{p.price}元一{p.unit}。", product_sku=p.sku)
    plain = Line("吃起来脆甜多汁。", product_sku=p.sku)
    (ref,) = refs_for(priced, p)
    assert ref.price == p.price and ref.stock is None
    assert refs_for(plain, p)[0].price is None
    snap = FactSnapshot()
    snap.publish([p], {}, 0.0)
    assert snap.holds(refs_for(priced, p)) and snap.holds(refs_for(plain, p))
    snap.publish([replace(p, price=p.price + 1)], {}, 1.0)
    assert not snap.holds(refs_for(priced, p))  # the price changed: the priced line is stale
    assert snap.holds(refs_for(plain, p))  # the taste did not
    snap.publish([replace(p, stock=0)], {}, 2.0)
    assert not snap.holds(refs_for(plain, p))  # nothing more is said about a sold-out product
    snap.publish([p], {p.sku: 5.0}, 3.0)
    assert snap.holds((FactRef(p.sku, p.price, p.list_price),), now=4.9)
    assert not snap.holds((FactRef(p.sku, p.price, p.list_price),), now=5.0)  # sale over


def test_the_card_counts_down_every_second_and_follows_new_facts_on_the_same_frame():
    p = next(x for x in DEMO_PRODUCTS if x.sku == APPLE)
    assert countdown_text(299.2) == "05:00" and countdown_text(0) == ""
    snap = FactSnapshot()
    snap.publish([p], {}, 0.0)
    stage = Stage(snap)
    from streamer.director import product_card
    from streamer.timeline import Utterance
    from tests.streamer.test_listening import espeak

    utt = Utterance(espeak("来看苹果。"), product_sku=p.sku, card=product_card(p))
    stage.tick(utt, True, 0.0)
    assert stage.card.price == f"{p.price.normalize():f}" and stage.card.countdown == ""
    flash = replace(p, price=Decimal("9.9"), list_price=p.price)
    snap.publish([flash], {p.sku: 10.0}, 0.5)
    changed, _ = stage.tick(utt, False, 0.54)
    assert changed and stage.card.price == "9.9" and stage.card.countdown == "00:10"
    stage.tick(utt, False, 1.3)
    assert stage.card.countdown == "00:09"
    snap.publish([p], {}, 10.0)
    stage.tick(utt, False, 10.0)
    assert stage.card.price == f"{p.price.normalize():f}" and stage.card.countdown == ""


# --- the property: random shop changes while the host talks --------------------------------

OPS = st.lists(
    st.tuples(
        st.floats(min_value=0.3, max_value=6.0),  # media seconds before the change
        st.sampled_from(["price", "sale", "end_sale", "stock"]),
        st.sampled_from([APPLE, MILLET]),
        st.integers(min_value=0, max_value=10_000),
    ),
    min_size=4,
    max_size=10,
)


def apply_op(shop: Shop, room: LiveRoom, op: str, sku: str, k: int) -> None:
    """Edit the shop table and send the event the real shop sends for that edit."""
    p = shop.base[sku]
    if op == "price":
        shop.base[sku] = replace(p, price=Decimal(19 + k % 60) + Decimal("0.9"))
        room.event("product_changed", sku, {"fields": ["price"]})
    elif op == "sale" and sku not in shop.sales:
        end = room.t + 3 + k % 15
        shop.sales[sku] = sale = Sale(Decimal(5 + k % 10) + Decimal("0.6"), end)
        ends_at = (EPOCH + timedelta(seconds=end)).isoformat()
        data = {"id": k, "price": str(sale.price), "cap": sale.cap, "ends_at": ends_at}
        room.event("flash_sale_started", sku, data)
    elif op == "end_sale" and sku in shop.sales:
        shop.sales[sku].ends = room.t
        room.event("flash_sale_ended", sku, {})
    elif op == "stock":
        stock = (3, 15, 57, 140, 260, 1200)[k % 6]
        shop.base[sku] = replace(p, stock=stock)
        room.event("stock_changed", sku, {"available": stock})


async def run_scenario(ops, seconds_after: float = 20.0) -> tuple[LiveRoom, Truth]:
    shop = demo_shop()
    room = LiveRoom(shop, "room-a", [APPLE, MILLET])
    truth = Truth()
    truth.record(0.0, shop.facts("room-a", 0.0))
    await room.start()
    plan = [(sum(o[0] for o in ops[: i + 1]), *o[1:]) for i, o in enumerate(ops)]
    end = plan[-1][0] + seconds_after
    try:
        while room.t < end:
            while plan and plan[0][0] <= room.t:
                _, op, sku, k = plan.pop(0)
                apply_op(shop, room, op, sku, k)
                truth.record(room.t, shop.facts("room-a", room.t))
                await settle()
            for sku, sale in list(shop.sales.items()):  # the shop's ticker: sales end on time
                if room.t >= sale.ends:
                    del shop.sales[sku]
                    truth.record(sale.ends, shop.facts("room-a", room.t))
                    room.event("flash_sale_ended", sku, {})
                    await settle()
            await room.step()
    finally:
        await room.stop()
    return room, truth


@settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(OPS)
def test_every_line_caption_and_card_shows_the_facts_current_at_its_play_time(ops):
    room, truth = asyncio.run(run_scenario(ops))
    assert room.starts, "the host said nothing"
    for t, utt in room.starts:
        text = utt.speech.text
        assert truth.line_ok(t, utt.product_sku, text, PHRASE), (t, text, truth.at(t, PHRASE))
    for t, card, caption in room.frames:
        sku = next(
            (u.product_sku for _, u in reversed(room.starts) if u.speech.text == caption), None
        )
        assert not caption or truth.line_ok(t, sku, caption, PHRASE), (t, caption)
        assert truth.card_ok(t, card, CARD_LATENCY), (t, card)


# --- a flash sale ends mid-sentence on a real store ----------------------------------------

SKU = "room-apple"


async def _store(tmp_path):
    clock = Clock()
    store = await open_store(
        f"sqlite+aiosqlite:///{tmp_path}/shop.db", secret_key=SECRET, clock=clock, background=False
    )
    await add_product(store, SKU, 100, price="59.9")
    return store, clock


class StoreRoom(LiveRoom):
    """A LiveRoom whose catalog is the real store, events from its bus."""

    def __init__(self, store, clock, room_id: str) -> None:
        super().__init__(Shop({}), room_id, [SKU])
        self.store, self.shop_clock = store, clock
        self.director.catalog = store.fact_sheets
        self.director.shop_clock = clock
        store.add_listener(self._on_event)

    def _on_event(self, ev) -> None:
        if ev.room_id in (None, self.room_id) or ev.kind in ("sold_out", "stock_changed"):
            self.director.on_shop_event(ev.kind, ev.sku, ev.data)


async def test_a_flash_sale_ending_mid_sentence_turns_voice_card_and_charge_to_the_normal_price(
    tmp_path,
):
    store, clock = await _store(tmp_path)
    a, b = StoreRoom(store, clock, "room-a"), StoreRoom(store, clock, "room-b")
    try:
        await store.promotions.start_flash_sale("room-a", SKU, 3760, 20, duration_s=25)
        await a.start()
        await b.start()
        flash, normal = Decimal("37.6"), Decimal("59.9")
        # play until room A is in the middle of a line that says the flash price
        for _ in range(4000):
            a.frame()
            b.frame()
            await asyncio.sleep(0.002)
            u = a.playing.utterance
            if u is not None and flash in money_in(u.speech.text) and a.playing.offset > 0.3:
                break
        else:
            raise AssertionError("room A never said its flash price")
        said_before = len(a.starts)
        clock.advance(seconds=26)  # the sale ends while the host is mid-sentence
        await store.promotions.announce_due()
        await a.settled()
        a.frame()
        assert a.stage.card.price == "59.9" and a.stage.card.countdown == ""  # the next frame
        for _ in range(25 * 20):  # 20 media seconds
            a.frame()
            b.frame()
            await asyncio.sleep(0.002)
        after = [u.speech.text for _, u in a.starts[said_before:]]
        assert after and not any(flash in money_in(text) for text in after), after
        assert any(normal in money_in(text) for text in after), after
        assert all(card.price == "59.9" for _, card, _ in a.frames[-25 * 20 :] if card)
        order = OrderRequest(
            "",
            "王小明",
            "13900000001",
            "河北省保定市阜平县1号",
            (LineRequest(SKU, 1, unit_price_fen=5990),),
            room_id="room-a",
        )
        placed, _ = await store.orders.create(order, "after-sale")
        assert placed["total"] == "59.90"
        # room B never heard of the sale: its voice and card kept the catalog price
        assert b.starts and not any(flash in money_in(u.speech.text) for _, u in b.starts)
        assert {card.price for _, card, _ in b.frames if card} == {"59.9"}
    finally:
        await a.stop()
        await b.stop()
        await store.close()


async def test_a_flash_sale_in_room_a_leaves_room_b_unchanged():
    shop = demo_shop()
    a, b = LiveRoom(shop, "room-a", [APPLE]), LiveRoom(shop, "room-b", [APPLE])
    await a.start()
    await b.start()
    try:
        for _ in range(25 * 5):
            a.frame(), b.frame()
            await asyncio.sleep(0.002)
        b_prices = {c.price for _, c, _ in b.frames if c}
        refreshes = b.director.stats.refreshes
        shop.sales[APPLE] = Sale(Decimal("9.6"), a.t + 30)
        for room in (a, b):
            room.event("flash_sale_started", APPLE, {"price": "9.6", "cap": 20})
        await settle()
        for _ in range(25 * 15):
            a.frame(), b.frame()
            await asyncio.sleep(0.002)
        assert any(Decimal("9.6") in money_in(u.speech.text) for _, u in a.starts)
        assert a.stage.card.price == "9.6"
        assert not any(Decimal("9.6") in money_in(u.speech.text) for _, u in b.starts)
        assert b_prices and {c.price for _, c, _ in b.frames if c} == b_prices
        assert all(c.countdown == "" for _, c, _ in b.frames if c)
        assert b.director.stats.refreshes >= refreshes  # B re-read only its own facts
    finally:
        await a.stop()
        await b.stop()


async def test_after_a_pinned_segment_the_rotation_moves_on():
    shop = demo_shop()
    room = LiveRoom(shop, "room-x", [APPLE, MILLET])
    d = room.director
    await room.start()
    try:
        first = d.current_product.sku
        other = MILLET if first == APPLE else APPLE
        d.on_shop_event("product_pinned", other, {})
        seen = [first]
        for _ in range(25 * 120):
            room.frame()
            await asyncio.sleep(0.001)
            sku = d.current_product.sku
            if sku != seen[-1]:
                seen.append(sku)
            if len(seen) >= 4:
                break
        assert all(x != y for x, y in zip(seen, seen[1:], strict=False)), seen
        assert len(seen) >= 3, seen
    finally:
        await room.stop()


def test_a_stale_line_is_dropped_as_it_would_start():
    from streamer.timeline import Utterance
    from tests.streamer.test_listening import espeak

    p = next(x for x in DEMO_PRODUCTS if x.sku == APPLE)
    snap = FactSnapshot()
    snap.publish([p], {}, 0.0)
    timeline = SpeechTimeline(gate=lambda u: snap.holds(u.facts))
    ref = (FactRef(p.sku, p.price, p.list_price),)
    timeline.enqueue(Utterance(espeak("苹果五十九块九。"), product_sku=p.sku, facts=ref))
    snap.publish([replace(p, price=Decimal("49.9"))], {}, 1.0)
    _, playing = timeline.read(960)
    assert playing.utterance is None and timeline.dropped == 1

"""A flash sale in one room changes the price in that room only: its fact sheet, what its host
says, the card it draws and what its orders are charged. Every other room, and the shop outside
any room, keeps the catalog price."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from avatars.personas import PERSONAS
from avatars.voice import SAMPLE_RATE, ESpeakVoice, VoiceChain
from commerce.orders import LineRequest, OrderRequest
from scripts_gen.numerals import MONEY_UNITS, parse_numbers, speak_price
from scripts_gen.template import TemplateWriter
from streamer.director import Director
from streamer.timeline import SpeechTimeline
from tests.commerce.conftest import add_product, order_body

ACT_AS_SHOP = True  # these tests run the shop: staff calls carry an admin token

SKU = "room-apple"
CATALOG, FLASH = Decimal("39.9"), Decimal("9.9")


async def _flash_in_room_a(store) -> None:
    await add_product(store, SKU, 100, price=str(CATALOG))
    await store.promotions.start_flash_sale("room-a", SKU, 990, 20, duration_s=600)


def _order(room_id: str | None, phone: str) -> OrderRequest:
    return OrderRequest(
        "", "王小明", phone, "河北省保定市阜平县1号", (LineRequest(SKU, 1),), room_id=room_id
    )


async def test_flash_sale_price_shows_only_in_its_own_rooms_fact_sheet(store):
    await _flash_in_room_a(store)
    a = await store.fact_sheet(SKU, "room-a")
    assert a.price == FLASH and a.list_price == CATALOG and "秒杀价9.9元" in a.promo
    for room in ("room-b", None):
        other = await store.fact_sheet(SKU, room)
        assert other.price == CATALOG, room
        assert "秒杀" not in (other.promo or ""), room


async def test_orders_are_charged_their_own_rooms_price(store):
    await _flash_in_room_a(store)
    in_a, _ = await store.orders.create(_order("room-a", "13900000001"), "a")
    in_b, _ = await store.orders.create(_order("room-b", "13900000002"), "b")
    nowhere, _ = await store.orders.create(_order(None, "13900000003"), "c")
    assert in_a["total"] == "9.90" and in_a["items"][0]["flash_sale_id"] is not None
    assert in_b["total"] == "39.90" and in_b["items"][0]["flash_sale_id"] is None
    assert nowhere["total"] == "39.90"


async def test_room_price_is_charged_only_while_the_sale_runs(store, clock):
    await _flash_in_room_a(store)
    clock.advance(seconds=601)
    after, _ = await store.orders.create(_order("room-a", "13900000004"), "late")
    assert after["total"] == "39.90"
    assert (await store.fact_sheet(SKU, "room-a")).price == CATALOG


async def test_http_products_follow_the_room(store, http):
    await _flash_in_room_a(store)
    shop = {p["sku"]: p for p in (await http.get("/api/shop/products")).json()}
    room_a = {p["sku"]: p for p in (await http.get("/api/shop/rooms/room-a/products")).json()}
    room_b = (await http.get(f"/api/shop/products/{SKU}", params={"room_id": "room-b"})).json()
    assert shop[SKU]["price"] == "39.9" and room_b["price"] == "39.9"
    assert room_a[SKU]["price"] == "9.9"
    body = order_body(SKU, room_id="room-a")
    body["items"][0]["unit_price"] = "9.9"
    r = await http.post("/api/shop/orders", json=body, headers={"Idempotency-Key": "h1"})
    assert r.status_code == 201 and r.json()["total"] == "9.90"
    body = order_body(SKU, i=2, room_id="room-b")
    body["items"][0]["unit_price"] = "9.9"  # room A's price asked for in room B
    r = await http.post("/api/shop/orders", json=body, headers={"Idempotency-Key": "h2"})
    assert r.status_code == 409 and "39.90" in r.json()["detail"]


async def _host_of(store, room_id: str, seconds: float = 30.0) -> tuple[list[str], list[str]]:
    """Run a real Director on the store's catalog in `room_id` until its host has said a
    price; returns (spoken line texts, card prices drawn)."""
    timeline = SpeechTimeline()
    spoken: list[str] = []
    director = Director(
        room_id,
        PERSONAS["xiaowang"],
        TemplateWriter(seed=7),
        VoiceChain([ESpeakVoice()]),
        timeline,
        store.fact_sheets,
        lineup=[SKU],
        on_line=lambda line: spoken.append(line.text),
        seed=7,
    )
    task = asyncio.create_task(director.run())
    cards: list[str] = []
    prices = (speak_price(FLASH), speak_price(CATALOG))
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while loop.time() < deadline:
            for _ in range(50):  # play 2 s of the timeline so the Director keeps writing
                _, playing = timeline.read(SAMPLE_RATE // 25)
                if playing.started and playing.utterance.card is not None:
                    cards.append(playing.utterance.card.price)
            if cards and any(p in text for text in spoken for p in prices):
                break
            await asyncio.sleep(0.02)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    return spoken, cards


async def test_hosts_say_and_draw_their_own_rooms_price(store):
    await _flash_in_room_a(store)
    spoken_a, cards_a = await _host_of(store, "room-a")
    spoken_b, cards_b = await _host_of(store, "room-b")
    assert FLASH in _money(spoken_a), spoken_a
    assert cards_a and set(cards_a) == {"9.9"}
    assert CATALOG in _money(spoken_b) and FLASH not in _money(spoken_b), spoken_b
    assert cards_b and set(cards_b) == {"39.9"}


def _money(lines: list[str]) -> set[Decimal]:
    """Every amount of money a host said (三十九块九 is 39.9, never 9.9)."""
    return {n.value for text in lines for n in parse_numbers(text) if n.unit in MONEY_UNITS}

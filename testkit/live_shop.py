"""A live room on a fast media clock over a mutable in-memory shop: the harness shared by the
live-facts tests and `benchmarks/bench_facts.py`.

Nothing is faked on the room's side: a real Director with the template writer and eSpeak,
a real SpeechTimeline read chunk by chunk, the room's real `Stage` for card and caption. The
shop is a plain table the scenario edits, emitting the events the real shop emits.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal

from avatars.personas import PERSONAS
from avatars.voice import SAMPLE_RATE, ESpeakVoice, VoiceChain
from commerce.demo import DEMO_PRODUCTS
from commerce.facts import ProductFacts
from scripts_gen.numerals import MONEY_UNITS, parse_numbers
from scripts_gen.reactions import stock_phrase
from scripts_gen.template import TemplateWriter, stock_said
from streamer.director import LOOKAHEAD_SECONDS, Director
from streamer.live_facts import Stage
from streamer.timeline import SpeechTimeline

FPS = 25
CHUNK = SAMPLE_RATE // FPS
FRAME = 1.0 / FPS
EPOCH = datetime(2026, 10, 8, 9, 0, 0)
SALE_ROOM = "room-a"
_STOCK_SAID = re.compile(
    r"只剩[^，。！？]{1,6}?了|还有[^，。！？]{1,8}?多[^，。！？]|库存不多了|现货充足|已经卖完了"
)


def money_in(text: str) -> set[Decimal]:
    return {n.value for n in parse_numbers(text) if n.unit in MONEY_UNITS}


@dataclass
class Sale:
    price: Decimal
    ends: float  # media time
    cap: int = 20


@dataclass
class Shop:
    """The shop's facts as a table; `facts(room, t)` is what its store would return."""

    base: dict[str, ProductFacts]
    sales: dict[str, Sale] = field(default_factory=dict)
    sale_room: str = SALE_ROOM

    def facts(self, room_id: str | None, t: float) -> dict[str, ProductFacts]:
        out = {}
        for sku, p in self.base.items():
            sale = self.sales.get(sku)
            if sale is not None and room_id == self.sale_room and t < sale.ends:
                p = replace(
                    p,
                    price=sale.price,
                    list_price=p.list_price or p.price,
                    promo=f"秒杀价{sale.price}元，限量{sale.cap}份，还剩{sale.cap}份",
                )
            out[sku] = p
        return out


class LiveRoom:
    """One room: Director + timeline + stage on a media clock `t` the test advances."""

    def __init__(self, shop: Shop, room_id: str, skus: list[str], seed: int = 7) -> None:
        self.shop, self.room_id, self.t = shop, room_id, 0.0
        self.timeline = SpeechTimeline()
        self.director = Director(
            room_id,
            PERSONAS["xiaowang"],
            TemplateWriter(seed=seed),
            VoiceChain([ESpeakVoice()]),
            self.timeline,
            self.catalog,
            lineup=skus,
            seed=seed,
            clock=lambda: self.t,
            shop_clock=lambda: EPOCH + timedelta(seconds=self.t),
        )
        self.stage = Stage(self.director.facts)
        self.task: asyncio.Task | None = None
        self.starts: list[tuple[float, object]] = []  # (media time, utterance) as it starts
        self.frames: list[tuple[float, object, str]] = []  # (media time, card, caption)
        self.playing = None

    async def catalog(self, room_id: str | None) -> list[ProductFacts]:
        return list(self.shop.facts(room_id, self.t).values())

    async def start(self) -> None:
        self.task = asyncio.create_task(self.director.run())
        for _ in range(200):
            if self.timeline.queued_seconds() > 0:
                return
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
        await self.director.aclose()

    async def settled(self) -> None:
        """Wait for the fact refresh a shop event started (a real store read takes a moment)."""
        for _ in range(500):
            task = self.director._refresh_task
            if task is None or task.done():
                return
            await asyncio.sleep(0.002)

    async def step(self) -> None:
        """One frame on the fast clock. Media time only waits for the Director when it is
        behind its lookahead, as a real room never is (eSpeak takes ms, the lookahead 3 s)."""
        for _ in range(100):
            if self.timeline.queued_seconds() >= LOOKAHEAD_SECONDS - 0.5:
                break
            await asyncio.sleep(0.002)
        else:
            await asyncio.sleep(0)
        self.frame()

    def frame(self) -> None:
        """One media frame: 40 ms of audio, then the card and caption for that instant."""
        _, playing = self.timeline.read(CHUNK)
        self.playing = playing
        self.stage.tick(playing.utterance, playing.started, self.t)
        if playing.started:
            self.starts.append((self.t, playing.utterance))
        self.frames.append((self.t, self.stage.card, self.stage.caption))
        self.t += FRAME

    def event(self, kind: str, sku: str, data: dict | None = None) -> None:
        """A shop event as the Engine delivers it (a flash sale only to its own room)."""
        if kind.startswith("flash_sale") and self.room_id != self.shop.sale_room:
            return
        self.director.on_shop_event(kind, sku, data or {})


async def settle() -> None:
    """Let the event loop run what a shop event started (a catalog read is one await)."""
    for _ in range(3):
        await asyncio.sleep(0)


@dataclass
class Truth:
    """The shop's facts over media time, to judge what the room said and drew."""

    changes: list[tuple[float, dict[str, ProductFacts]]] = field(default_factory=list)

    def record(self, t: float, facts: dict[str, ProductFacts]) -> None:
        self.changes.append((t, facts))

    def at(self, t: float, latency: float = 0.0) -> list[dict[str, ProductFacts]]:
        """Every fact sheet current at some instant in [t - latency, t]."""
        out = []
        for i, (since, facts) in enumerate(self.changes):
            until = self.changes[i + 1][0] if i + 1 < len(self.changes) else float("inf")
            if since <= t and until > t - latency:
                out.append(facts)
        return out

    def line_ok(self, t: float, sku: str | None, text: str, latency: float) -> bool:
        money = money_in(text)
        stock_claims = _STOCK_SAID.findall(text)
        if not money and not stock_claims and "秒杀" not in text:
            return True
        if sku is None:
            return False
        for facts in self.at(t, latency):
            p = facts.get(sku)
            if p is None:
                continue
            allowed = {p.price} | ({p.list_price} if p.list_price is not None else set())
            flash = p.promo is not None and "秒杀" in p.promo
            said = (stock_phrase(p), stock_said(p))
            stock_ok = all(any(s in x or x in s for x in said) for s in stock_claims)
            if money <= allowed and stock_ok and (flash or "秒杀" not in text):
                return True
        return False

    def card_ok(self, t: float, card, latency: float) -> bool:
        if card is None:
            return True
        for facts in self.at(t, latency):
            for p in facts.values():
                if p.title == card.title and Decimal(card.price) == p.price:
                    return True
        return False


APPLE, MILLET = "fp-apple-5kg", "fp-millet-2500g"


def demo_shop() -> Shop:
    """The demo catalog's apples and millet, without promotions, as a mutable shop."""
    base = {p.sku: replace(p, promo=None) for p in DEMO_PRODUCTS if p.sku in (APPLE, MILLET)}
    assert len(base) == 2
    return Shop(base)

"""The Director: one per room. It decides what the host says next and keeps the speech
timeline a few seconds ahead of the media clock.

Priority: answer > reaction > script. Higher-priority lines go to the front of the queue
and play at the next sentence boundary. A slow writer never stalls the room: after a
deadline the Director fills with a grounded line built from the fact sheet.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

from avatars.personas import Persona
from avatars.renderer import Card
from avatars.voice import VoiceChain
from commerce.facts import ProductFacts
from scripts_gen import Line, ScriptWriter, SegmentContext
from streamer.timeline import SpeechTimeline, Utterance

log = logging.getLogger(__name__)

PRIORITY = {"answer": 0, "handoff": 0, "reaction": 1, "filler": 2, "script": 2}
LOOKAHEAD_SECONDS = 3.0
WRITER_DEADLINE = 2.5  # seconds a writer may take for one line before a filler is spoken
THANKS_INTERVAL = 8.0  # at most one spoken thank-you per this many seconds


@dataclass
class DirectorStats:
    lines: int = 0
    interruptions: int = 0
    writer_errors: int = 0
    products_skipped: int = 0
    last_line: str = ""
    by_kind: dict[str, int] = field(default_factory=dict)

    @property
    def fillers(self) -> int:
        return self.by_kind.get("filler", 0)


def product_card(p: ProductFacts) -> Card:
    lines = list(p.features[:3])
    if p.promo:
        lines.append(p.promo)
    return Card(title=p.title, price=f"{p.price.normalize():f}", unit=p.unit, lines=tuple(lines))


def filler_line(p: ProductFacts) -> Line:
    """A grounded line from the fact sheet alone, for when the writer is slow."""
    return Line(
        text=f"{p.title}，{p.price.normalize():f}元一{p.unit}，喜欢的朋友点下方购物车。",
        kind="filler",
        product_sku=p.sku,
        sources=(f"catalog:{p.sku}",),
    )


def thanks_line(buyer: str, p: ProductFacts) -> Line:
    """Thank a buyer by masked surname only (李** → 李家朋友)."""
    surname = buyer.strip("*@ ")[:1] or "这位"
    return Line(
        text=f"谢谢{surname}家朋友下单{p.name}，马上给您安排发货！",
        kind="reaction",
        product_sku=p.sku,
        expression="excited",
    )


def flash_sale_line(p: ProductFacts, sale: dict) -> Line:
    """Announce a flash sale with the shop's own price and cap."""
    return Line(
        text=f"秒杀开始啦！{p.title}秒杀价{sale.get('price')}元，限量{sale.get('cap')}{p.unit}，手慢无！",
        kind="reaction",
        product_sku=p.sku,
        expression="excited",
        sources=(f"flash_sale:{sale.get('id')}",),
    )


class Director:
    """Plans and queues the host's speech for one room."""

    def __init__(
        self,
        room_id: str,
        persona: Persona,
        writer: ScriptWriter,
        voice: VoiceChain,
        timeline: SpeechTimeline,
        catalog: Callable[[], Awaitable[list[ProductFacts]]],
        lineup: list[str] | None = None,
        on_line: Callable[[Line], None] | None = None,
    ) -> None:
        self.room_id = room_id
        self.persona = persona
        self.writer = writer
        self.voice = voice
        self.timeline = timeline
        self.catalog = catalog
        self.lineup = lineup  # SKUs in order; None = whole catalog
        self.on_line = on_line
        self.mood = "calm"
        self.live_events: list[str] = []
        self.stats = DirectorStats()
        self._urgent: asyncio.Queue[Line] = asyncio.Queue()
        self._product_index = 0
        self._segment: AsyncIterator[Line] | None = None
        self._product: ProductFacts | None = None
        self._products: dict[str, ProductFacts] = {}
        self._wake = asyncio.Event()
        self._pinned: str | None = None
        self._last_thanks = -THANKS_INTERVAL

    @property
    def current_product(self) -> ProductFacts | None:
        return self._product

    def say(self, line: Line) -> None:
        """Queue a line from outside (answer, reaction); it jumps ahead of the script."""
        self._urgent.put_nowait(line)
        self._wake.set()

    def on_shop_event(self, kind: str, sku: str | None, data: dict) -> None:
        """React to the shop: thank buyers, follow a pinned product, drop a sold-out one."""
        product = self._products.get(sku or "")
        if kind == "order_paid" and product is not None:
            buyer = str(data.get("buyer") or "有位朋友")
            fact = (
                f"刚刚 @{buyer} 拍了{data.get('quantity', '')}{data.get('unit', '')}{product.name}"
            )
            self.live_events = (self.live_events + [fact])[-5:]
            now = time.monotonic()
            if now - self._last_thanks >= THANKS_INTERVAL:
                self._last_thanks = now
                self.say(thanks_line(buyer, product))
        elif kind in ("product_pinned", "flash_sale_started") and sku:
            self._pinned = sku
            self._segment = None
            self.timeline.clear_pending(keep=lambda u: u.kind != "script")
            if kind == "flash_sale_started" and product is not None:
                self.say(flash_sale_line(product, data))
            self._wake.set()
        elif kind == "sold_out" and sku and self._product is not None and self._product.sku == sku:
            self._segment = None
            self.timeline.clear_pending(keep=lambda u: u.kind != "script" or u.product_sku != sku)
            self.say(
                Line(
                    text=f"{self._product.title}已经卖完啦，谢谢大家捧场！",
                    kind="reaction",
                    product_sku=sku,
                    expression="happy",
                )
            )

    async def run(self) -> None:
        while True:
            try:
                await self._fill()
            except asyncio.CancelledError:
                raise
            except Exception:  # never let one bad line kill the room
                log.exception("director %s: line failed", self.room_id)
                await asyncio.sleep(0.5)
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), 0.1)
            except TimeoutError:
                pass

    async def _fill(self) -> None:
        while not self._urgent.empty():
            line = self._urgent.get_nowait()
            self.stats.interruptions += 1
            await self._speak(line)
        if self.timeline.queued_seconds() < LOOKAHEAD_SECONDS:
            line = await self._next_script_line()
            if line is not None:
                await self._speak(line)

    async def _next_script_line(self) -> Line | None:
        # a writer may have nothing to say about a product: try each product once
        for _ in range(len(self._products) + 2):
            if self._segment is None:
                product = await self._next_product()
                if product is None:
                    return None
                self._start_segment(product)
            try:
                return await asyncio.wait_for(anext(self._segment), WRITER_DEADLINE)
            except StopAsyncIteration:
                self._segment = None
            except TimeoutError:
                self._segment = None
                return filler_line(self._product)
            except Exception:
                self.stats.writer_errors += 1
                log.exception("writer failed in room %s", self.room_id)
                self._segment = None
                return filler_line(self._product)
        return None

    def _start_segment(self, product: ProductFacts) -> None:
        self._product = product
        ctx = SegmentContext(
            room_id=self.room_id,
            persona=self.persona.id,
            mood=self.mood,
            live_events=list(self.live_events),
        )
        self.live_events.clear()
        self._segment = aiter(self.writer.segment(product, ctx))

    async def _next_product(self) -> ProductFacts | None:
        products = await self.catalog()
        self._products = {p.sku: p for p in products}
        if self.lineup:
            products = [self._products[s] for s in self.lineup if s in self._products]
        if self._pinned:
            pinned, self._pinned = self._pinned, None
            if pinned in self._products and not self._products[pinned].sold_out:
                return self._products[pinned]
        for _ in range(len(products)):
            p = products[self._product_index % len(products)]
            self._product_index += 1
            if not p.sold_out:
                return p
            self.stats.products_skipped += 1
        return None

    async def _speak(self, line: Line) -> None:
        speech = await self.voice.synthesize(line.text, self.persona, line.rate, line.pitch)
        product = self._products.get(line.product_sku or "") or self._product
        utt = Utterance(
            speech=speech,
            expression=line.expression,
            product_sku=line.product_sku,
            card=product_card(product) if product else None,
            kind=line.kind,
        )
        self.timeline.enqueue(utt, priority=PRIORITY.get(line.kind, 2))
        self.stats.lines += 1
        self.stats.by_kind[line.kind] = self.stats.by_kind.get(line.kind, 0) + 1
        self.stats.last_line = line.text
        if self.on_line:
            self.on_line(line)

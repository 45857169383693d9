"""A room's facts: read from the shop, published to the media thread, checked as lines start.

`RoomFacts` owns the room's `FactSnapshot` (what the card and the gate read), the flash-sale
news the shop announced before its catalog shows it, the reads due as sales end, and the
re-rendering of a line whose facts changed. It never calls the Director: it wakes it through
the shared event and leaves the flash-sale announcements it produced in `announcements`.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from commerce.events import FlashSaleEvent
from commerce.facts import ProductFacts
from scripts_gen import Line, SegmentContext
from streamer.live_facts import FactRef, FactSnapshot, section_for
from streamer.timeline import SpeechTimeline, Utterance

log = logging.getLogger(__name__)

SALE_NEWS_GRACE = 3.0  # seconds a flash sale's event price stands in for a catalog not showing it


def filler_line(p: ProductFacts) -> Line:
    """A grounded line from the fact sheet alone, for when the writer is slow."""
    return Line(
        text=f"{p.title}，{p.price.normalize():f}元一{p.unit}，喜欢的朋友点下方购物车。",
        kind="filler",
        product_sku=p.sku,
        sources=(f"catalog:{p.sku}",),
    )


def flash_sale_line(p: ProductFacts, sale: FlashSaleEvent) -> Line:
    """Announce a flash sale with the room's price from the same fact sheet as the card."""
    return Line(
        text=f"秒杀开始啦！{p.title}秒杀价{p.price.normalize():f}元，限量{sale.cap}{p.unit}，手慢无！",
        kind="reaction",
        product_sku=p.sku,
        expression="excited",
        sources=(f"flash_sale:{sale.id}",),
    )


class RoomFacts:
    """Refresh, apply, rebind and holds for one room's facts."""

    def __init__(
        self,
        room_id: str,
        catalog: Callable[[str | None], Awaitable[list[ProductFacts]]],
        timeline: SpeechTimeline,
        wake: asyncio.Event,
        clock: Callable[[], float],
        shop_clock: Callable[[], datetime],
    ) -> None:
        self.room_id = room_id
        self.catalog = catalog
        self.timeline = timeline
        self.wake = wake
        self.clock = clock  # the room's media clock (seconds)
        self.shop_clock = shop_clock
        self.snapshot = FactSnapshot()
        self.products: dict[str, ProductFacts] = {}
        self.refreshes = 0
        # flash-sale lines to say once the sale's price is read: (line, its fact sheet)
        self.announcements: deque[tuple[Line, ProductFacts]] = deque(maxlen=20)
        self.sale_ends: dict[str, float] = {}
        self._sales_due: list[tuple[str, FlashSaleEvent]] = []
        # a flash sale the shop announced but the catalog does not show yet: sku -> (price,
        # room-clock time heard); the shop's own event is a fact until the catalog catches up
        self._sale_news: dict[str, tuple[Decimal, float]] = {}
        self.refresh_task: asyncio.Task | None = None
        self._refresh_again = False
        self._timers: set[asyncio.TimerHandle] = set()  # fact reads due as flash sales end
        self._closed = False

    # --- checks ---------------------------------------------------------------------
    def holds(self, refs: tuple[FactRef, ...]) -> bool:
        return self.snapshot.holds(refs, self.clock())

    def holds_utterance(self, utt: Utterance) -> bool:
        """The media thread's check as a line starts: a dict lookup per fact, no lock."""
        return self.snapshot.holds(utt.facts, self.clock())

    @property
    def reading(self) -> bool:
        """A read of the shop is under way: what is held now may be about to change."""
        return self.refresh_task is not None and not self.refresh_task.done()

    async def settle(self, timeout: float) -> None:
        """Wait (at most `timeout` s) for a read already under way."""
        task = self.refresh_task
        if task is not None and not task.done():
            await asyncio.wait({task}, timeout=timeout)

    # --- reading --------------------------------------------------------------------
    async def refresh(self) -> list[ProductFacts]:
        """Read the room's facts again, publish them, and retire lines they contradict."""
        products = await self.catalog(self.room_id)
        self.apply(products)
        return products

    def apply(self, products: list[ProductFacts]) -> None:
        now = self.clock()
        products = [self._with_sale_news(p, now) for p in products]
        self.products = {p.sku: p for p in products}
        self.sale_ends = {
            sku: end
            for sku, end in self.sale_ends.items()
            if end > now and sku in self.products and self.products[sku].list_price is not None
        }
        state = self.snapshot.publish(products, self.sale_ends, now)
        self.refreshes += 1
        dropped, cut = self.timeline.revalidate(lambda u: state.holds(u.facts, now))
        if dropped or cut:
            self.wake.set()
        while self._sales_due:
            sku, sale = self._sales_due.pop(0)
            p = self.products.get(sku)
            if p is not None and not p.sold_out and p.list_price is not None:
                self.announcements.append((flash_sale_line(p, sale), p))
                self.wake.set()

    def _with_sale_news(self, p: ProductFacts, now: float) -> ProductFacts:
        news = self._sale_news.get(p.sku)
        if news is None:
            return p
        price, heard = news
        if p.list_price is not None and p.price == price or now - heard > SALE_NEWS_GRACE:
            del self._sale_news[p.sku]  # the catalog shows it (or never did): it decides
            return p
        return replace(p, price=price, list_price=p.list_price or p.price)

    def request_refresh(self) -> None:
        """Read the facts again soon; bursts of shop events coalesce into one read."""
        if self._closed:
            return
        if self.reading:
            self._refresh_again = True
            return
        try:
            self.refresh_task = asyncio.get_running_loop().create_task(self._refresh_loop())
        except RuntimeError:  # no loop (a synchronous caller): the next segment reads them
            pass

    async def _refresh_loop(self) -> None:
        while True:
            self._refresh_again = False
            try:
                await self.refresh()
            except Exception:  # a failed read keeps the old facts; the gate still guards
                log.exception("room %s: fact refresh failed", self.room_id)
            if not self._refresh_again:
                return

    # --- flash sales ----------------------------------------------------------------
    def sale_started(self, sku: str, sale: FlashSaleEvent, announce: bool) -> None:
        """Keep the sale's price until the catalog shows it, and its end on the room's clock:
        the card counts down to it. `announce`: say it once its price is read."""
        if announce:
            self._sales_due.append((sku, sale))
        try:
            self._sale_news[sku] = (Decimal(str(sale.price)), self.clock())
        except (InvalidOperation, ValueError):
            pass
        try:
            ends = datetime.fromisoformat(str(sale.ends_at))
        except ValueError:
            return
        if ends.tzinfo is not None:
            ends = ends.astimezone(UTC).replace(tzinfo=None)
        left = (ends - self.shop_clock()).total_seconds()
        if left <= 0:
            return
        self.sale_ends[sku] = self.clock() + left
        try:  # read again as the sale ends, even if the shop's announcement comes late
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        if self._closed:
            return
        handle: asyncio.TimerHandle

        def due() -> None:
            self._timers.discard(handle)
            self.request_refresh()

        handle = loop.call_later(left + 0.05, due)
        self._timers.add(handle)

    def sale_ended(self, sku: str) -> None:
        self._sale_news.pop(sku, None)
        self.sale_ends.pop(sku, None)

    # --- rebinding ------------------------------------------------------------------
    def rebind(
        self, line: Line, refs: tuple[FactRef, ...], render, context: SegmentContext
    ) -> tuple[Line | None, ProductFacts | None]:
        """A line whose facts changed, said again from the current facts (or None: drop).
        `render` is the writer's (ScriptWriter.render)."""
        p = self.snapshot.state.products.get(line.product_sku or "")
        if p is None or p.sold_out:
            return None, p
        section = section_for(refs, p)
        fresh = None
        try:
            fresh = render(p, section, context)
        except Exception:
            log.exception("room %s: re-render failed", self.room_id)
        if fresh is None and section != "stock":
            fresh = filler_line(p)
        if fresh is None:
            return None, p
        kind = line.kind if line.kind != "script" else fresh.kind
        return replace(fresh, kind=kind), p

    # --- stopping -------------------------------------------------------------------
    def close(self) -> asyncio.Task | None:
        """No more reads: timers dropped, the read in flight cancelled (returned to await)."""
        self._closed = True
        for handle in self._timers:
            handle.cancel()
        self._timers.clear()
        if self.refresh_task is not None:
            self.refresh_task.cancel()
        return self.refresh_task

"""The Store: one object the engine and the web layer hold; owns the database and events."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from commerce import analytics, catalog, promotions
from commerce.crypto import Keys, load_secret
from commerce.db import CLOSE_TIMEOUT, DEFAULT_URL, Database, make_engine, upgrade_to_head
from commerce.demo import DEMO_COSTS, DEMO_PRODUCTS
from commerce.errors import Conflict
from commerce.events import EventBus, ShopEvent
from commerce.facts import ProductFacts
from commerce.models import Sku
from commerce.money import to_fen

log = logging.getLogger(__name__)


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class Store:
    """Catalog, stock, orders, payments, promotions and the trace log behind one facade."""

    def __init__(
        self,
        db: Database,
        keys: Keys,
        *,
        clock: Callable[[], datetime] = utcnow,
        reservation_minutes: float = 15.0,
    ) -> None:
        self.db = db
        self.keys = keys
        self.clock = clock
        self.reservation_minutes = reservation_minutes
        self.bus = EventBus()
        self._ticker: asyncio.Task | None = None
        # Imported here: these modules need the Store type only at runtime.
        from commerce.accounts import AccountService
        from commerce.audit import AuditService
        from commerce.danmaku_labels import LabelService
        from commerce.orders import OrderService
        from commerce.payments import PaymentService, SimulatedProvider
        from commerce.promo_service import PromotionService
        from commerce.room_outputs import RoomOutputs
        from commerce.rooms import RoomRegistry
        from commerce.schedule import ScheduleService
        from commerce.tickets import TicketService
        from commerce.trace.service import TraceService

        self.orders = OrderService(self)
        self.provider = SimulatedProvider(keys.webhook)
        self.payments = PaymentService(self, self.provider)
        self.promotions = PromotionService(self)
        self.trace = TraceService(self)
        self.tickets = TicketService(self)
        self.accounts = AccountService(self)
        self.audit = AuditService(self)
        self.rooms = RoomRegistry(self)
        self.schedule = ScheduleService(self)
        self.danmaku_labels = LabelService(self)
        self.room_outputs = RoomOutputs(self)

    @property
    def url(self) -> str:
        return self.db.engine.url.render_as_string(hide_password=False)

    # -- events ------------------------------------------------------------------------------
    def add_listener(self, fn: Callable[[ShopEvent], None]) -> None:
        """Register a sync callback; it is called on the event loop after each commit."""
        self.bus.add(fn)

    def remove_listener(self, fn: Callable[[ShopEvent], None]) -> None:
        self.bus.remove(fn)

    def emit(self, events: list[ShopEvent]) -> None:
        self.bus.emit(events)

    # -- catalog -----------------------------------------------------------------------------
    async def fact_sheets(self, room_id: str | None = None) -> list[ProductFacts]:
        """Live fact sheets: available stock now and the promotions of `room_id`.

        A flash sale's price and its room's coupons show only in that room; room_id None (no
        room: the shop page, the CLI) shows catalog prices and shop-wide coupons, which is
        exactly what an order placed with that room_id is charged."""
        now = self.clock()
        async with self.db.read() as s:
            promos = await promotions.promo_texts(s, now, room_id)
            charged = frozenset(await promotions.list_prices_charged(s, now))
            return await catalog.fact_sheets(s, now, promos, charged)

    async def fact_sheet(self, sku: str, room_id: str | None = None) -> ProductFacts | None:
        for f in await self.fact_sheets(room_id):
            if f.sku == sku:
                return f
        return None

    async def available(self, sku: str) -> int:
        async with self.db.read() as s:
            row = await catalog.sku_by_code(s, sku)
            return (await catalog.available_by_sku(s, self.clock())).get(row.id, 0)

    async def near_expiry(self, days: int = catalog.NEAR_EXPIRY_DAYS) -> list[dict]:
        async with self.db.read() as s:
            return await catalog.near_expiry(s, self.clock(), days)

    async def add_product(
        self,
        facts: ProductFacts,
        batches: list[catalog.BatchSpec],
        *,
        per_user_limit: int | None = None,
        history: str = "harvest",
    ) -> None:
        """Create a product with its batches. `history` says what enters the trace log:
        "harvest" (the harvest and any inspection reports: facts we hold), "demo" (a
        plausible sowing-to-packing story for demo data) or "none"."""
        async with self.db.write() as s:
            await catalog.add_product(s, facts, batches, per_user_limit=per_user_limit)
        for b in batches:
            if history == "demo":
                await self.trace.seed_batch(b.id, facts, b)
            elif history == "harvest":
                await self._record_harvest(b)

    async def _record_harvest(self, batch: catalog.BatchSpec) -> None:
        at = datetime.combine(batch.harvest_date, datetime.min.time())
        events = [(batch.id, "harvest", at, {"plot": batch.origin_plot, "units": batch.quantity})]
        for report in batch.inspection_reports:
            events.append((batch.id, "inspection", at, dict(report)))
        await self.trace.append(events)

    async def add_batch(self, sku: str, batch: catalog.BatchSpec) -> None:
        """Stock a new harvest lot and record its harvest in the trace log."""
        async with self.db.write() as s:
            await catalog.add_batch(s, sku, batch)
        await self._record_harvest(batch)

    async def update_product(self, sku: str, changes: dict) -> dict:
        """Edit price, list_price, title, unit, features or promo of a SKU. Returns {"sku",
        "before", "after"} of the fields that changed (for the audit log) and emits
        `product_changed` to every live room. Raises InvalidInput / NotFound."""
        from commerce.product_edit import update_product

        return await update_product(self, sku, changes)

    async def add_media(self, sku: str, kind: str, url: str, caption: str = "") -> dict:
        async with self.db.write() as s:
            return await catalog.add_media(s, sku, kind, url, caption)

    async def product_detail(self, sku: str) -> dict:
        async with self.db.read() as s:
            return await catalog.product_detail(s, sku, self.clock())

    async def room_sales(self, room_id: str) -> dict:
        """Paid sales of a live room, split by persona, segment and SKU."""
        async with self.db.read() as s:
            return await analytics.room_sales(s, room_id)

    async def seed_demo(self) -> bool:
        async with self.db.read() as s:
            if not await catalog.is_empty(s):
                return False
        for facts in DEMO_PRODUCTS:
            try:
                await self.add_product(facts, catalog.demo_batches(facts), history="demo")
            except (Conflict, IntegrityError):
                return False  # another worker is seeding the same empty store
        async with self.db.write() as s:
            for code, cost in DEMO_COSTS.items():
                await s.execute(update(Sku).where(Sku.code == code).values(cost_fen=to_fen(cost)))
        return True

    # -- housekeeping ------------------------------------------------------------------------
    async def tick(self) -> None:
        """Expire unpaid orders and announce flash sales whose start or end has passed."""
        await self.orders.expire_unpaid()
        await self.promotions.announce_due()

    def start_background(self, interval: float = 1.0) -> None:
        if self._ticker is None:
            self._ticker = asyncio.get_running_loop().create_task(self._tick_loop(interval))

    async def _tick_loop(self, interval: float) -> None:
        while True:
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("commerce tick failed")
            await asyncio.sleep(interval)

    async def close(self) -> None:
        """Stop the tick, then close the database (each wait bounded; see Database.close)."""
        if self._ticker is not None:
            ticker, self._ticker = self._ticker, None
            ticker.cancel()
            # a tick inside a write ends with its transaction, which SQLite's busy timeout bounds
            _, pending = await asyncio.wait({ticker}, timeout=CLOSE_TIMEOUT)
            if pending:
                log.error("commerce tick did not end within %.0f s of close", CLOSE_TIMEOUT)
        await self.db.close()


async def open_store(
    url: str | None = None,
    *,
    seed_demo: bool = True,
    secret_key: str | None = None,
    clock: Callable[[], datetime] = utcnow,
    reservation_minutes: float = 15.0,
    background: bool = True,
) -> Store:
    """Open (and migrate to head) the shop database; seed the demo catalog into an empty one."""
    engine = make_engine(url or DEFAULT_URL)
    db = Database(engine)
    try:
        await upgrade_to_head(engine)
        await db.open()
        store = Store(
            db,
            Keys(load_secret(secret_key)),
            clock=clock,
            reservation_minutes=reservation_minutes,
        )
        if seed_demo:
            await store.seed_demo()
    except BaseException:
        await db.close()
        raise
    if background:
        store.start_background()
    return store

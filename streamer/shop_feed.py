"""What a room needs from the shop, built from a `Store`: its fact sheets in the order the
sales suggest, a ticket desk, and the saved state a restored room starts from. The web
process and every room worker build these from their own `Store` on the same database."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

from commerce.analytics import recommended_lineup
from commerce.facts import ProductFacts
from commerce.store import Store
from streamer.director import TicketRequest

log = logging.getLogger(__name__)

LINEUP_REFRESH = 60.0  # seconds between re-ranking a room's products from sales


def shop_catalog(store: Store) -> Callable[[str | None], Awaitable[list[ProductFacts]]]:
    """The room's fact sheets in the order the shop's sales suggest (in-season sellers
    first, each followed by what its buyers also buy), re-ranked each minute."""
    lineup: dict = {"at": -1e9, "rank": {}}

    async def catalog(room_id: str | None = None) -> list[ProductFacts]:
        facts = await store.fact_sheets(room_id)
        now = time.monotonic()
        if now - lineup["at"] > LINEUP_REFRESH:
            lineup["at"] = now
            try:
                order = await recommended_lineup(store, [f.sku for f in facts], store.clock())
                lineup["rank"] = {sku: i for i, sku in enumerate(order)}
            except Exception:  # figures are advice: the room keeps the catalog order
                log.exception("lineup recommendation failed")
        rank = lineup["rank"]
        return sorted(facts, key=lambda f: rank.get(f.sku, len(rank)))

    return catalog


def ticket_desk(store: Store) -> Callable[[TicketRequest], Awaitable[object]]:
    async def open_ticket(t: TicketRequest) -> object:
        return await store.tickets.open(
            t.room_id, t.user_id, t.nickname, t.kind, t.text[:500], t.product_sku, t.reason
        )

    return open_ticket


async def pinned_sku(store: Store, room_id: str) -> str | None:
    """The product the farmer pinned for 讲解 in this room, as the shop database says."""
    return (await store.promotions.room_state(room_id))["pinned"]

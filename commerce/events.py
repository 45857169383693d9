"""Shop events for the director and the viewer page."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

log = logging.getLogger(__name__)

EVENT_KINDS = (
    "order_paid",
    "stock_changed",
    "product_pinned",
    "flash_sale_started",
    "flash_sale_ended",
    "coupon_issued",
    "sold_out",
    "product_changed",
)


@dataclass(frozen=True)
class ShopEvent:
    """Something a live room should react to. `data` is plain JSON-able."""

    kind: str
    room_id: str | None
    sku: str | None
    data: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return asdict(self)


Listener = Callable[[ShopEvent], None]


def stock_events(room_id: str | None, sku: str, available: int) -> list[ShopEvent]:
    """What a stock change tells the rooms: the new level, and `sold_out` when it hits 0."""
    events = [ShopEvent("stock_changed", room_id, sku, {"available": available})]
    if available == 0:
        events.append(ShopEvent("sold_out", room_id, sku, {"available": 0}))
    return events


class EventBus:
    """Synchronous fan-out on the event loop; one bad listener never breaks a sale."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []

    def add(self, fn: Listener) -> None:
        self._listeners.append(fn)

    def remove(self, fn: Listener) -> None:
        if fn in self._listeners:
            self._listeners.remove(fn)

    def emit(self, events: list[ShopEvent]) -> None:
        for ev in events:
            for fn in list(self._listeners):
                try:
                    fn(ev)
                except Exception:
                    log.exception("shop event listener failed for %s", ev.kind)

"""Shop events for the director and the viewer page."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import ClassVar

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
    """Something a live room should react to: one frozen dataclass per kind (below).

    `data` is the event's own fields as plain JSON (what the viewer page receives and what
    crosses the Engine boundary); `shop_event()` builds the typed event back from it."""

    room_id: str | None
    sku: str | None
    kind: ClassVar[str] = ""
    _renamed: ClassVar[dict[str, str]] = {}  # field -> JSON key, where the key is taken

    @property
    def data(self) -> dict:
        out = {}
        for f in fields(self):
            if f.name in ("room_id", "sku"):
                continue
            value = getattr(self, f.name)
            out[self._renamed.get(f.name, f.name)] = (
                list(value) if isinstance(value, tuple) else value
            )
        return out

    def to_json(self) -> dict:
        return {"kind": self.kind, "room_id": self.room_id, "sku": self.sku, "data": self.data}


@dataclass(frozen=True)
class OrderPaid(ShopEvent):
    """A paid order line: a masked surname and the quantity only (every viewer sees it)."""

    kind: ClassVar[str] = "order_paid"
    buyer: str = ""
    quantity: int = 0
    unit: str = ""


@dataclass(frozen=True)
class StockChanged(ShopEvent):
    kind: ClassVar[str] = "stock_changed"
    available: int = 0


@dataclass(frozen=True)
class SoldOut(ShopEvent):
    kind: ClassVar[str] = "sold_out"
    available: int = 0


@dataclass(frozen=True)
class ProductPinned(ShopEvent):
    kind: ClassVar[str] = "product_pinned"
    label: str = "讲解中"
    pinned_at: str = ""


@dataclass(frozen=True)
class FlashSaleEvent(ShopEvent):
    """A room's flash sale, as promotions.flash_sale_json describes it."""

    id: int | None = None
    price: str = ""
    cap: int = 0
    sold: int = 0
    remaining: int = 0
    per_user_limit: int | None = None
    starts_at: str = ""
    ends_at: str = ""


@dataclass(frozen=True)
class FlashSaleStarted(FlashSaleEvent):
    kind: ClassVar[str] = "flash_sale_started"


@dataclass(frozen=True)
class FlashSaleEnded(FlashSaleEvent):
    kind: ClassVar[str] = "flash_sale_ended"


@dataclass(frozen=True)
class CouponIssued(ShopEvent):
    """A coupon, as promotions.coupon_json describes it (its kind is fixed or percent)."""

    kind: ClassVar[str] = "coupon_issued"
    _renamed: ClassVar[dict[str, str]] = {"coupon_kind": "kind"}
    code: str = ""
    coupon_kind: str = ""
    value: int | str = 0
    min_spend: str = ""
    per_user_limit: int | None = None
    total_limit: int | None = None
    used: int = 0
    starts_at: str = ""
    ends_at: str = ""
    text: str = ""


@dataclass(frozen=True)
class ProductChanged(ShopEvent):
    """An edit: the fields that changed and their new values (money as yuan strings)."""

    kind: ClassVar[str] = "product_changed"
    fields: tuple[str, ...] = ()
    price: str | None = None
    list_price: str | None = None
    title: str | None = None
    unit: str | None = None
    features: tuple[str, ...] | None = None
    promo: str | None = None

    @property
    def data(self) -> dict:  # only what changed
        changed = set(self.fields)
        out = {"fields": list(self.fields)}
        for name in ("price", "list_price", "title", "unit", "features", "promo"):
            if name in changed:
                value = getattr(self, name)
                out[name] = list(value) if isinstance(value, tuple) else value
        return out


EVENT_TYPES: dict[str, type[ShopEvent]] = {
    cls.kind: cls
    for cls in (
        OrderPaid,
        StockChanged,
        ProductPinned,
        FlashSaleStarted,
        FlashSaleEnded,
        CouponIssued,
        SoldOut,
        ProductChanged,
    )
}


Listener = Callable[[ShopEvent], None]


def shop_event(kind: str, room_id: str | None, sku: str | None, data: dict | None) -> ShopEvent:
    """The typed event for plain data (an event that crossed a process or the Engine):
    unknown keys are ignored, a tuple field takes a list. Raises ValueError on an unknown
    kind."""
    cls = EVENT_TYPES.get(kind)
    if cls is None:
        raise ValueError(f"unknown shop event kind {kind!r}")
    names = {cls._renamed.get(f.name, f.name): f.name for f in fields(cls)}
    values = {}
    for key, value in (data or {}).items():
        name = names.get(key)
        if name is None or name in ("room_id", "sku"):
            continue
        values[name] = tuple(value) if isinstance(value, list) else value
    return cls(room_id, sku, **values)


def stock_events(room_id: str | None, sku: str, available: int) -> list[ShopEvent]:
    """What a stock change tells the rooms: the new level, and `sold_out` when it hits 0."""
    events: list[ShopEvent] = [StockChanged(room_id, sku, available)]
    if available == 0:
        events.append(SoldOut(room_id, sku, 0))
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

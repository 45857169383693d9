"""Product fact sheets: the plain data every other package reads about a product.

A fact sheet is what the host is allowed to say. Everything numeric the host speaks
(price, stock, harvest date) must come from one of these.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal


@dataclass(frozen=True)
class ProductFacts:
    """One sellable product (SKU) as the host and the viewer page see it."""

    sku: str  # stable id, e.g. "fp-jujube-500g"
    name: str  # short name, e.g. "大枣"
    title: str  # display title, e.g. "阜平大枣"
    price: Decimal  # price per unit in yuan, e.g. Decimal("29.9")
    unit: str  # e.g. "斤", "盒", "瓶"
    stock: int
    origin: str  # e.g. "河北保定阜平县龙泉关镇"
    harvest_date: date
    category: str = ""  # e.g. "干果"
    certifications: tuple[str, ...] = ()  # only what is on file, e.g. ("地理标志",)
    features: tuple[str, ...] = ()  # e.g. ("个大肉厚", "皮薄核小")
    taste: str = ""
    nutrition: str = ""
    storage: str = ""
    shipping: str = "顺丰包邮，48小时内发货"
    promo: str | None = None  # e.g. "两斤立减5元"
    list_price: Decimal | None = None  # crossed-out price, if any
    tags: tuple[str, ...] = field(default_factory=tuple)
    batch_id: str | None = None  # the lot the next unit ships from (trace page /trace/{batch_id})
    near_expiry: bool = False  # that lot expires soon: a candidate for a promotion
    # 原价 may be said only for a price the shop charged in the last 7 days (China's pricing
    # rules): True when its own orders show `list_price` charged in that window
    list_price_charged: bool = False
    sale_ends: datetime | None = None  # the room's flash sale on this SKU ends then (shop time)
    sale_left: int | None = None  # units left in that flash sale (not the product's stock)
    sale_cap: int | None = None  # units that flash sale offered
    regular_price: Decimal | None = None  # the SKU's own price while a flash sale overrides it

    @property
    def sold_out(self) -> bool:
        return self.stock <= 0

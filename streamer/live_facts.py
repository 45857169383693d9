"""Facts bound at speech time: what a line claims, and whether the shop still holds it.

A line keeps `FactRef`s to the facts it names (price, stock, promotion) as they were when it
was written. The room's `FactSnapshot` is replaced whole on the event loop whenever the
catalog is re-read; the media thread reads it without a lock (one attribute read) to veto a
stale line at the instant it would start, and `Stage` draws the card and caption from it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal

from avatars.gestures import category_of
from avatars.renderer import Card
from commerce.facts import ProductFacts
from scripts_gen.base import Line
from scripts_gen.numerals import MONEY_UNITS, parse_numbers
from scripts_gen.reactions import stock_phrase
from scripts_gen.template import spoken_promo, stock_said

STOCK_WORDS = ("库存", "剩", "卖完", "现货", "还有一", "还有二", "还有三")
PROMO_WORDS = ("秒杀", "活动", "优惠", "福利", "立减", "券", "实惠")


@dataclass(frozen=True)
class FactRef:
    """The facts of one product a line names, as they were when it was written.

    A field is None when the line does not name that fact; `promo` "" names "no promotion"."""

    sku: str
    price: Decimal | None = None
    list_price: Decimal | None = None
    promo: str | None = None
    stock: str | None = None  # the stock as said: stock_phrase (reactions) + stock_said
    sale_left: int | None = None  # a flash sale's units left, as an answer said them

    def holds(self, p: ProductFacts | None) -> bool:
        """True when the product still has every fact this line names."""
        if p is None:
            return False
        if p.sold_out and self.stock != _stock(p):
            return False  # nothing is said about a sold-out product but that it sold out
        if self.price is not None and (p.price, p.list_price) != (self.price, self.list_price):
            return False
        if self.promo is not None and (spoken_promo(p.promo) or "") != self.promo:
            return False
        if self.sale_left is not None and p.sale_left != self.sale_left:
            return False
        return self.stock is None or _stock(p) == self.stock


def _stock(p: ProductFacts) -> str:
    """Both ways a line may say stock, as one comparable value."""
    return f"{stock_phrase(p)}|{stock_said(p)}"


def refs_for(line: Line, product: ProductFacts | None) -> tuple[FactRef, ...]:
    """The facts `line` names about `product` (the fact sheet it was written from)."""
    if product is None or line.product_sku != product.sku:
        return ()
    text = line.text
    if line.kind in ("answer", "handoff"):
        return answer_refs(text, product)
    money = any(n.unit in MONEY_UNITS for n in parse_numbers(text))
    promo_said = spoken_promo(product.promo)
    names_promo = bool(promo_said and promo_said in text) or any(w in text for w in PROMO_WORDS)
    return (
        FactRef(
            product.sku,
            price=product.price if money or "秒杀" in text else None,
            list_price=product.list_price if money or "秒杀" in text else None,
            promo=(promo_said or "") if names_promo else None,
            stock=_stock(product) if any(w in text for w in STOCK_WORDS) else None,
        ),
    )


def answer_refs(text: str, product: ProductFacts) -> tuple[FactRef, ...]:
    """The facts an answer names. An answer that names none (safety advice, how to store it)
    holds whatever the shop does, even once the product sells out: it is never dropped."""
    money = any(n.unit in MONEY_UNITS for n in parse_numbers(text))
    flash = "秒杀" in text or "flash" in text
    promo_said = product.promo or ""
    names_promo = bool(promo_said and promo_said in text) or any(w in text for w in PROMO_WORDS)
    stock = any(w in text for w in STOCK_WORDS) or "sold out" in text or "in stock" in text
    price = money or flash or "yuan" in text
    if not (price or names_promo or stock):
        return ()
    return (
        FactRef(
            product.sku,
            price=product.price if price else None,
            list_price=product.list_price if price else None,
            promo=(spoken_promo(product.promo) or "") if names_promo else None,
            stock=_stock(product) if stock else None,
            sale_left=product.sale_left if flash and ("剩" in text or "left" in text) else None,
        ),
    )


def section_for(refs: tuple[FactRef, ...], product: ProductFacts) -> str:
    """The template section that says again what a stale line said, from new facts."""
    ref = refs[0] if refs else FactRef(product.sku)
    if ref.stock is not None:
        return "stock"
    if ref.promo is not None and product.promo:
        return "promo"
    if ref.list_price is not None and product.list_price:
        return "list_price" if product.list_price_charged else "list_price_ref"
    return "price"


SOLD_OUT = "已售罄"


def product_card(p: ProductFacts, countdown: str = "") -> Card:
    """The card beside the host. A sold-out product shows 已售罄 in place of badge and
    price: nothing on it invites a purchase that cannot be made."""
    lines = list(p.features[:3])
    if p.promo and not p.sold_out:
        lines.append(p.promo)
    return Card(
        title=p.title,
        price=SOLD_OUT if p.sold_out else f"{p.price.normalize():f}",
        unit=p.unit,
        lines=tuple(lines),
        badge=SOLD_OUT if p.sold_out else "讲解中",
        category=category_of(f"{p.title}{p.name}"),
        countdown="" if p.sold_out else countdown,
    )


def countdown_text(seconds: float) -> str:
    """Remaining time as the card shows it: "04:59", "1:02:03"; "" once it is over."""
    if seconds <= 0:
        return ""
    s = math.ceil(seconds)
    h, rest = divmod(s, 3600)
    m, sec = divmod(rest, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m:02d}:{sec:02d}"


@dataclass(frozen=True)
class FactState:
    """One version of a room's facts. Immutable: readers on any thread share it safely."""

    version: int = 0
    products: Mapping[str, ProductFacts] = field(default_factory=dict)
    sale_ends: Mapping[str, float] = field(default_factory=dict)  # sku -> room-clock deadline
    read_at: float = 0.0  # room-clock time the catalog was read

    def holds(self, refs: tuple[FactRef, ...], now: float | None = None) -> bool:
        if self.version == 0:
            return True  # nothing read yet: nothing to contradict
        for ref in refs:
            if not ref.holds(self.products.get(ref.sku)):
                return False
            end = self.sale_ends.get(ref.sku)
            # a flash price is over at its end time, even before the shop says so
            if now is not None and end is not None and now >= end and ref.price is not None:
                return False
        return True


class FactSnapshot:
    """A room's current facts: replaced on the event loop, read lock-free by the media thread."""

    def __init__(self) -> None:
        self.state = FactState()

    def publish(
        self,
        products: list[ProductFacts],
        sale_ends: Mapping[str, float],
        now: float,
    ) -> FactState:
        state = FactState(
            self.state.version + 1, {p.sku: p for p in products}, dict(sale_ends), now
        )
        self.state = state  # one attribute store: atomic for readers on other threads
        return state

    def holds(self, refs: tuple[FactRef, ...], now: float | None = None) -> bool:
        return self.state.holds(refs, now)


class Stage:
    """The card and caption beside the host, always drawn from the room's current facts.

    `tick` runs on the media thread every frame; it is a version compare and, while a flash
    sale runs, one countdown string. The card changes on the frame the new facts are applied."""

    def __init__(self, snapshot: FactSnapshot) -> None:
        self.snapshot = snapshot
        self.card: Card | None = None
        self.caption = ""
        self._sku: str | None = None
        self._utt = None
        self._version = -1
        self._base: Card | None = None

    def tick(self, utterance, started: bool, now: float) -> tuple[bool, bool]:
        """Update for the frame at room-clock `now`; returns (card changed, caption changed)."""
        state = self.snapshot.state
        old_card, old_caption = self.card, self.caption
        if started and utterance is not None:
            self._utt = utterance
            self.caption = utterance.speech.text
            if utterance.card is not None:
                self._sku, self._base, self._version = utterance.product_sku, utterance.card, -1
        if state.version != self._version:
            self._version = state.version
            p = state.products.get(self._sku or "")
            if p is not None:
                self._base = product_card(p)
            if self._utt is not None and not state.holds(getattr(self._utt, "facts", ()), now):
                self.caption = ""  # the line says what is no longer true: no caption for it
        card = self._base
        end = state.sale_ends.get(self._sku or "")
        if card is not None and end is not None:
            card = replace(card, countdown=countdown_text(end - now))
        self.card = card
        return card != old_card, self.caption != old_caption

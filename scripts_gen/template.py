"""The embedded template writer: a per-persona grammar over the fact sheet, no model needed.

It is the default backend and the fallback of every other one: a line a model gets wrong is
rewritten here. No sentence is repeated within 10 minutes in one room (one writer per room).
"""

from __future__ import annotations

import random
import re
import string
from collections.abc import AsyncIterator, Iterable
from datetime import datetime

from commerce.facts import ProductFacts
from scripts_gen.base import Answer, AnswerContext, Line, SegmentContext
from scripts_gen.desk import ServiceDesk
from scripts_gen.dialect import apply_dialect
from scripts_gen.grammar import grammar
from scripts_gen.grounding import FactSheet, check_line
from scripts_gen.memory import RecentLines
from scripts_gen.numerals import speak_date, speak_price
from scripts_gen.reactions import stock_phrase
from scripts_gen.style import prosody, style_for

MAX_LINES = 12
# Sections a rewrite may use in place of a model's failed line, in order of preference.
REWRITE_SECTIONS = ("feature", "taste", "origin", "harvest", "nutrition", "storage", "cta")


def slots_for(product: ProductFacts) -> dict[str, str]:
    """Every slot a template may use, numbers already spoken the way a host says them."""
    return {
        "name": product.name,
        "title": product.title,
        "category": product.category or "农产品",
        "price": speak_price(product.price),
        "list_price": speak_price(product.list_price) if product.list_price else "",
        "unit": product.unit,
        "origin": product.origin,
        "harvest": speak_date(product.harvest_date),
        "taste": product.taste,
        "nutrition": product.nutrition,
        "storage": product.storage,
        "shipping": product.shipping,
        "promo": spoken_promo(product.promo) or "",
        "stock": stock_said(product),  # 现货充足 / 库存不多了: a count goes stale
    }


def stock_said(product: ProductFacts) -> str:
    """Stock as a script line says it: exact only when small (reactions.stock_phrase),
    "现货充足" from a hundred up (a rounded count would be a number the sheet does not hold)."""
    return "现货充足" if product.stock >= 100 else stock_phrase(product)


_LEFT = re.compile(r"还剩(\d+)份")


def spoken_promo(promo: str | None) -> str | None:
    """A promotion as the host says it: a flash sale's "还剩37份" goes stale with every order,
    so only a small remainder is said exactly (只剩5份), a larger one is 名额不多了."""
    if not promo:
        return promo
    return _LEFT.sub(lambda m: f"只剩{m[1]}份" if int(m[1]) <= 20 else "名额不多了", promo)


def spoken_facts(product: ProductFacts) -> list[str]:
    """Texts a line may state besides the fact sheet: the safe stock and promo phrasings
    (passed as live events so their numbers count as stock)."""
    return [f"库存{stock_said(product)}", spoken_promo(product.promo) or ""]


_CJK = re.compile(r"[\u4e00-\u9fff]")
_MASKED_HANDLE = re.compile(r"@([\u4e00-\u9fff]{1,2})[*＊]+")  # "@李**", "@欧阳**"
_MASKED_NAME = re.compile(r"([\u4e00-\u9fff])[*＊]+")  # "李**" without "@"
_OPAQUE_HANDLE = re.compile(r"@?用户[0-9*＊]+|@[A-Za-z0-9_\-.]+[*＊]*|@?[*＊]+")
_CJK_GAP = re.compile(r"(?<=[\u4e00-\u9fff，。！？])\s+|\s+(?=[\u4e00-\u9fff，。！？])")


def speakable_event(event: str) -> str:
    """A live event as the host can say it aloud (the text goes to TTS).

    "刚刚 @李** 拍了两箱" -> "刚刚姓李的朋友拍了两箱": no "@", masked names become
    "姓李的朋友", handles that cannot be read ("@abc_12", "@用户9527", "@***") become
    "一位朋友", unmasked names lose only the "@". Numbers and products are left as they are.
    """
    text = _MASKED_HANDLE.sub(lambda m: f"姓{m.group(1)}的朋友", event or "")
    text = _MASKED_NAME.sub(lambda m: f"姓{m.group(1)}的朋友", text)
    text = _OPAQUE_HANDLE.sub("一位朋友", text)
    text = text.replace("@", "").replace("＠", "")
    return _CJK_GAP.sub("", text).strip()


def fill(template: str, values: dict[str, str]) -> str:
    """`template.format(**values)`, without a doubled character where a slot joins the text.

    "讲究一个" + "个大肉厚" would read "一个个"; the join keeps one "个". Only Chinese characters
    at the seam count; punctuation between them (",") is a real boundary.
    """
    out = ""
    for literal, field, spec, conv in string.Formatter().parse(template):
        out = _join(out, literal)
        if field is not None:
            value = format(values[field], spec or "") if not conv else str(values[field])
            out = _join(out, value)
    return out


def _join(left: str, right: str) -> str:
    if left and right and left[-1] == right[0] and _CJK.match(right[0]):
        return left + right[1:]
    return left + right


def now_of(moment: datetime | None) -> datetime:
    return moment or datetime.now()


class TemplateWriter:
    """Grounded grammar writer. `seed` makes its choices reproducible."""

    name = "template"

    def __init__(self, seed: int | None = None, desk=None):
        self.rng = random.Random(seed)
        self.recent = RecentLines()
        self.desk = desk if desk is not None else ServiceDesk()
        self._counts = {"calls": 0, "lines": 0, "answers": 0, "handoffs": 0, "dropped": 0}

    # -- segments ---------------------------------------------------------------------------
    def plan(self, product: ProductFacts, context: SegmentContext) -> list[str]:
        """The sections of one segment, ~6-12 lines, optional parts dropped past MAX_LINES."""
        middle = ["origin", "harvest"] if self.rng.random() < 0.5 else ["harvest", "origin"]
        extra = self.rng.sample(["nutrition", "storage", "shipping"], 2)
        plan = ["opening", "feature", "feature", "taste", *middle, *extra, "price"]
        if product.list_price:  # 原价 only for a price charged in the last 7 days
            plan.append("list_price" if product.list_price_charged else "list_price_ref")
        if product.promo:
            plan.append("promo")
        if not FactSheet.build((), context.live_events).stock:
            plan.append("stock")  # a live stock event ("只剩 20 箱了") says it instead
        plan += ["event"] * min(2, len(context.live_events))
        plan += ["cta", "closing"]
        for optional in (
            "shipping",
            "storage",
            "nutrition",
            "origin",
            "list_price",
            "list_price_ref",
        ):
            if len(plan) > MAX_LINES and optional in plan:
                plan.remove(optional)
        return plan

    async def segment(self, product: ProductFacts, context: SegmentContext) -> AsyncIterator[Line]:
        """Stream one product's segment. A sold-out product yields nothing (it is skipped)."""
        self._counts["calls"] += 1
        if product.sold_out:
            return
        events = [speakable_event(e) for e in context.live_events]
        sheet = FactSheet.build([product], [*events, *spoken_facts(product)])
        used: set[str] = set()
        for section in self.plan(product, context):
            event = events.pop(0) if section == "event" and events else None
            line = self.render(product, section, context, sheet, used, event)
            if line is not None:
                yield line

    def render(
        self,
        product: ProductFacts,
        section: str,
        context: SegmentContext,
        sheet: FactSheet | None = None,
        used: set[str] | None = None,
        event: str | None = None,
    ) -> Line | None:
        """One fresh line of `section`, or None when every variant was said recently."""
        if sheet is None:
            events = [speakable_event(e) for e in context.live_events]
            sheet = FactSheet.build([product], [*events, *spoken_facts(product)])
        used = used if used is not None else set()
        now = now_of(context.now)
        persona = style_for(context.persona)
        templates = grammar()["personas"][persona.id].get(section, [])
        prefixes = grammar()["prefixes"][persona.id]
        slots = slots_for(product)
        fills = self._fills(product, section, used, event)
        candidates = [(p, t, f) for t in templates for p in prefixes for f in fills]
        self.rng.shuffle(candidates)
        for prefix, template, values in candidates:
            if section != "opening" and prefix and prefix.rstrip("，") in template:
                continue
            text = prefix + fill(template, {**slots, **values})
            verdict = check_line(text, sheet)
            if not verdict.ok:
                continue
            spoken = apply_dialect(verdict.text, persona.dialect, sheet.protected)
            if not self.recent.fresh(spoken, now):
                continue
            self.recent.remember(spoken, now)
            if "feature" in values:
                used.add(values["feature"])
            self._counts["lines"] += 1
            expression, rate, pitch = prosody(persona.id, context.mood, section)
            sources = (f"catalog:{product.sku}",) + (("live",) if event else ())
            return Line(spoken, "script", product.sku, expression, rate, pitch, sources)
        self._counts["dropped"] += 1
        return None

    def _fills(
        self, product: ProductFacts, section: str, used: set[str], event: str | None
    ) -> list[dict[str, str]]:
        if section == "feature":
            fresh = [f for f in product.features if f not in used] or list(product.features)
            return [{"feature": f} for f in fresh]
        if section == "event":
            return [{"event": speakable_event(event)}] if event else []
        empty_if_missing = {
            "promo": product.promo,
            "list_price": product.list_price if product.list_price_charged else None,
            "list_price_ref": product.list_price,
        }
        if section in empty_if_missing and not empty_if_missing[section]:
            return []
        needed = {"taste": product.taste, "nutrition": product.nutrition}
        needed["storage"] = product.storage
        if section in needed and not needed[section]:
            return []
        return [{}]

    def rewrite(
        self,
        product: ProductFacts,
        context: SegmentContext,
        sheet: FactSheet | None = None,
        prefer: Iterable[str] = REWRITE_SECTIONS,
    ) -> Line | None:
        """A grounded template line to speak in place of a line that failed the checker."""
        for section in prefer:
            line = self.render(product, section, context, sheet)
            if line is not None:
                return line
        return None

    # -- answers ----------------------------------------------------------------------------
    async def answer(self, question: str, context: AnswerContext) -> Answer:
        self._counts["answers"] += 1
        result = self.desk.answer(question, context, self.rng)
        if result.handed_off:
            self._counts["handoffs"] += 1
        return result

    def stats(self) -> dict:
        return {"backend": self.name, **self._counts, "remembered": len(self.recent)}

"""The customer-service desk: answer a viewer's question from the catalog or the knowledge base.

Catalog questions (price, stock, promo, harvest date, origin) are answered from the live fact
sheet; everything else is retrieved from the KB. Below the confidence threshold the host says
a human will follow up and the question goes to the hand-off queue. Each viewer's last product
is remembered for 5 minutes, so "那它怎么保存" follows "核桃多少钱".

Safety before fluency: a question in the safety class (`scripts_gen.safety.classify`: health,
allergy, infant, child, choking, pregnancy, chronic illness, spoilage, medicine) is answered
only from a reviewed entry tagged for its topic, checked against the safety rules with the
question as context; otherwise it goes to a human. Catalog shortcuts do not apply to it.
"""

from __future__ import annotations

import itertools
import random
import re
from collections import deque
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from commerce.facts import ProductFacts
from scripts_gen.base import Answer, AnswerContext, Line
from scripts_gen.dialect import apply_dialect
from scripts_gen.grounding import FactSheet, check_line
from scripts_gen.numerals import speak_date, speak_int, speak_price
from scripts_gen.safety import SafetyTopic, classify, safety_index_for
from scripts_gen.style import prosody, style_for

VIEWER_TTL = timedelta(minutes=5)
MAX_QUESTION_CHARS = 200  # longer questions are cut before retrieval
CONFIDENCE_THRESHOLD = 0.3
# Lower than the general threshold: candidates are already only reviewed entries tagged for
# every safety kind the question touches, on the product asked about.
SAFETY_THRESHOLD = 0.1
# said when a safety question has no reviewed answer: a human (and a doctor) decides
SAFETY_HANDOFF = "这个关系到身体健康，我不乱说，已经请人工客服跟进，拿不准的请先问问医生。"
INCIDENT_HANDOFF = "要是已经出现不舒服，请马上去医院或者打急救电话，人工客服也马上联系你。"

# intent -> pattern; checked in order, the first that matches a catalog question wins
_CATALOG_INTENTS = (
    ("stock", re.compile(r"还有货|有货吗|有没有货|库存|还剩|还有多少|卖完|断货|没货")),
    ("promo", re.compile(r"优惠|活动|便宜点|打折|满减|立减|赠品|送什么|买.送")),
    ("price", re.compile(r"多少钱|价格|价钱|几块|怎么卖|啥价|什么价|贵不贵|多钱")),
    (
        "harvest",
        re.compile(r"什么时候(采|摘|收)|哪天(采|摘|收)|采收|几月(采|摘|收)|新货吗|是新的吗"),
    ),
    ("origin", re.compile(r"哪里产|哪儿产|产地|哪里的|哪儿的|从哪(里|儿)?发")),
)
_CATALOG_ANSWERS = {
    "price": "{title}现在{price}一{unit}。",
    "stock": "{title}现在还有{stock}{unit}。",
    "promo": "{title}现在的活动是{promo}。",
    "no_promo": "{title}现在没有额外活动，直播间价{price}一{unit}。",
    "harvest": "这批{name}是{harvest}采收的。",
    "origin": "{title}产自{origin}。",
    "sold_out": "{title}这会儿卖完了，补了货马上告诉大家。",
}


@dataclass(frozen=True)
class Ticket:
    """A question handed to a human in the customer-service queue."""

    id: str
    room_id: str
    viewer_id: str
    question: str
    product_sku: str | None
    created: datetime
    safety: str | None = None  # the safety kind, when the question is in the safety class


class HandoffQueue:
    """Questions the host could not answer with confidence, oldest first."""

    def __init__(self, maxlen: int = 1000):
        self._tickets: deque[Ticket] = deque(maxlen=maxlen)
        self._ids = itertools.count(1)

    def put(
        self,
        room_id: str,
        viewer_id: str,
        question: str,
        sku: str | None,
        now: datetime,
        safety: str | None = None,
    ) -> Ticket:
        ticket = Ticket(f"cs-{next(self._ids)}", room_id, viewer_id, question, sku, now, safety)
        self._tickets.append(ticket)
        return ticket

    def pending(self) -> list[Ticket]:
        return list(self._tickets)

    def take(self) -> Ticket | None:
        return self._tickets.popleft() if self._tickets else None

    def __len__(self) -> int:
        return len(self._tickets)


def clean_question(question: str) -> str:
    return re.sub(r"\s+", " ", question or "").strip()[:MAX_QUESTION_CHARS]


def find_product(text: str, products, kb=None) -> ProductFacts | None:
    """The product a text names: title or name, else any name the KB knows for it ("枣", "栗子")."""
    for p in products:
        if p.title in text or p.name in text:
            return p
    if kb is not None:
        named = kb.tokenize.products_in(kb.tokenize.normalise(text))
        for p in products:
            if p.name in named:
                return p
    return None


class ServiceDesk:
    """Answers questions for one room; owns the viewer memory and the hand-off queue."""

    def __init__(self, kb=None, threshold: float = CONFIDENCE_THRESHOLD):
        if kb is None:
            from scripts_gen.kb import default_kb

            kb = default_kb()
        self.kb = kb
        self.threshold = threshold
        self.safety_threshold = SAFETY_THRESHOLD
        self.safety_index = safety_index_for(kb)
        self.queue = HandoffQueue()
        self._viewers: dict[tuple[str, str], tuple[str, datetime]] = {}

    def _recall(self, key: tuple[str, str], now: datetime) -> str | None:
        sku, when = self._viewers.get(key, (None, now))
        if sku is None or now - when > VIEWER_TTL:
            self._viewers.pop(key, None)
            return None
        return sku

    def answer(self, question: str, ctx: AnswerContext, rng: random.Random | None = None) -> Answer:
        rng = rng or random.Random()
        now = ctx.now or datetime.now()
        text = clean_question(question)
        phrases = _phrases(ctx.persona)
        if not text or not re.search(r"[\u4e00-\u9fffA-Za-z]", text):
            return self._reply(ctx, rng.choice(phrases["empty"]), (), 0.0, None, "answer")
        key = (ctx.room_id, ctx.viewer_id)
        by_sku = {p.sku: p for p in ctx.products}
        product = find_product(text, ctx.products, self.kb)
        remembered = self._recall(key, now)
        if product is None:
            product = by_sku.get(remembered or "") or by_sku.get(ctx.current_sku or "")
        if product is not None:
            self._viewers[key] = (product.sku, now)

        topic = classify(text)
        if topic is not None:
            return self._safety_answer(text, topic, product, ctx, rng, now)
        intent = next((name for name, rx in _CATALOG_INTENTS if rx.search(text)), None)
        if intent and product is not None:
            body = _catalog_answer(intent, product)
            lead = rng.choice(phrases["lead"])
            return self._reply(
                ctx, lead + body, (f"catalog:{product.sku}",), 1.0, product, "answer"
            )

        query = text if product is None or product.name in text else f"{product.name} {text}"
        hits = self.kb.search(query, k=3) if self.kb is not None else []
        if hits and hits[0].confidence >= self.threshold:
            hit = hits[0]
            sheet = FactSheet.build([product] if product else ctx.products, (), [hit.entry.answer])
            verdict = check_line(hit.entry.answer, sheet, context=text)
            if verdict.ok:
                lead = rng.choice(phrases["lead"])
                hit_product = by_sku.get(hit.entry.sku or "") or product
                sources = (hit.entry.id,)
                return self._reply(
                    ctx, lead + verdict.text, sources, hit.confidence, hit_product, "answer"
                )
        confidence = hits[0].confidence if hits else 0.0
        ticket = self.queue.put(ctx.room_id, ctx.viewer_id, text, product and product.sku, now)
        handoff = self._reply(
            ctx, rng.choice(phrases["handoff"]), (), confidence, product, "handoff"
        )
        return Answer(
            handoff.text,
            (),
            confidence,
            True,
            handoff.product_sku,
            handoff.line,
            ticket.id,
        )

    def _safety_answer(
        self,
        text: str,
        topic: SafetyTopic,
        product: ProductFacts | None,
        ctx: AnswerContext,
        rng: random.Random,
        now: datetime,
    ) -> Answer:
        """A reviewed answer for a safety question, or a hand-off. Never a generic entry."""
        query = text if product is None or product.name in text else f"{product.name} {text}"
        hits = self.safety_index.search(query, topic, k=1)
        hit = hits[0] if hits else None
        confidence = hit.confidence if hit else 0.0
        if hit is not None and confidence >= self.safety_threshold:
            entry = hit.entry
            on_product = product is None or entry.sku in (None, product.sku)
            sheet = FactSheet.build([product] if product else ctx.products, (), [entry.answer])
            verdict = check_line(entry.answer, sheet, context=text)
            if on_product and verdict.ok and not verdict.problems:
                by_sku = {p.sku: p for p in ctx.products}
                about = by_sku.get(entry.sku or "") or product
                lead = rng.choice(_phrases(ctx.persona)["lead"])
                reply = self._reply(
                    ctx, lead + verdict.text, (entry.id,), confidence, about, "answer"
                )
                return replace(reply, safety=topic.kind)
        sku = product.sku if product else None
        ticket = self.queue.put(ctx.room_id, ctx.viewer_id, text, sku, now, topic.kind)
        say = INCIDENT_HANDOFF if topic.kind == "incident" else SAFETY_HANDOFF
        handoff = self._reply(ctx, say, (), confidence, product, "handoff")
        return replace(handoff, handed_off=True, ticket_id=ticket.id, safety=topic.kind)

    def _reply(
        self,
        ctx: AnswerContext,
        text: str,
        sources: tuple[str, ...],
        confidence: float,
        product: ProductFacts | None,
        kind: str,
    ) -> Answer:
        style = style_for(ctx.persona)
        protected = (product.title, product.name) if product else ()
        spoken = apply_dialect(text, style.dialect, protected)
        expression, rate, pitch = prosody(style.id, ctx.mood, kind)
        if kind == "answer" and expression == "neutral":
            expression = "happy" if sources else "thinking"
        sku = product.sku if product else None
        line = Line(spoken, kind, sku, expression, rate, pitch, sources)
        return Answer(spoken, sources, round(confidence, 3), kind == "handoff", sku, line)


def _phrases(persona: str) -> dict[str, list[str]]:
    from scripts_gen.template import grammar

    return grammar()["answer"][style_for(persona).id]


def _catalog_answer(intent: str, product: ProductFacts) -> str:
    slots = {
        "name": product.name,
        "title": product.title,
        "price": speak_price(product.price),
        "unit": product.unit,
        "stock": speak_int(product.stock),
        "promo": product.promo or "",
        "harvest": speak_date(product.harvest_date),
        "origin": product.origin,
    }
    if product.sold_out and intent in ("stock", "price", "promo"):
        intent = "sold_out"
    elif intent == "promo" and not product.promo:
        intent = "no_promo"
    return _CATALOG_ANSWERS[intent].format(**slots)

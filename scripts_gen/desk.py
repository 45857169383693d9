"""The customer-service desk: answer a viewer's question from the catalog or the knowledge base.

Questions the shop's own facts answer (price, deals for a quantity, flash sale, stock, shipping,
returns, origin, harvest, storage, taste: `scripts_gen.understand` + `scripts_gen.shop_answers`)
are answered from the live fact sheet and policy; everything else is retrieved from the KB.
Below the confidence threshold the host says a human will follow up (the room files the
ticket). Each viewer's last product and intents are remembered for 5 minutes, so
"那它怎么保存" follows "核桃多少钱" and "那核桃呢" follows "大枣多少钱". English gets English.

Safety before fluency: a question in the safety class (`scripts_gen.safety.classify`: health,
allergy, infant, child, choking, pregnancy, chronic illness, spoilage, medicine) is answered
only from a reviewed entry tagged for its topic, checked against the safety rules with the
question as context; otherwise it goes to a human. Catalog shortcuts do not apply to it.
"""

from __future__ import annotations

import random
import re
from collections import OrderedDict
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from commerce.facts import ProductFacts
from scripts_gen.base import Answer, AnswerContext, Line
from scripts_gen.dialect import apply_dialect
from scripts_gen.faq_routes import Routed, by_name, route, route_en
from scripts_gen.grammar import grammar
from scripts_gen.grounding import FactSheet, check_line, number_problems
from scripts_gen.numerals import parse_numbers
from scripts_gen.safety import SafetyTopic, classify, safety_index_for, violations
from scripts_gen.shop_answers import Composed, compose
from scripts_gen.shop_answers import policy as shop_policy
from scripts_gen.style import prosody, style_for
from scripts_gen.understand import Ask, not_sold, understand

VIEWER_TTL = timedelta(minutes=5)
# questions only about care and taste: a confident reviewed KB entry says more than the sheet
SOFT_INTENTS = {"storage", "taste", "returns"}
KB_FIRST = 0.5
MAX_VIEWERS = 10_000  # conversations remembered per desk (oldest forgotten first)
MAX_QUESTION_CHARS = 200  # longer questions are cut before retrieval
CONFIDENCE_THRESHOLD = 0.3
# Lower than the general threshold: candidates are already only reviewed entries tagged for
# every safety kind the question touches, on the product asked about.
SAFETY_THRESHOLD = 0.1
# said when a safety question has no reviewed answer: a human (and a doctor) decides
SAFETY_HANDOFF = "这个关系到身体健康，我不乱说，已经请人工客服跟进，拿不准的请先问问医生。"
_RECEIVED = re.compile(r"收到|到了|烂了|坏了|发霉|霉了|怎么办|咋办|咋整|赔")
_AFTER_SALES = re.compile(r"少发|漏发|发错|补发|退款|退货|换货|售后|客服")
ENGLISH_HANDOFF = "I've passed your question to our customer service team; they will reply soon."
INCIDENT_HANDOFF = "要是已经出现不舒服，请马上去医院或者打急救电话，人工客服也马上联系你。"
CONTACT_HANDOFF = "直播间不方便留私人联系方式，已经请人工客服联系你，也可以点屏幕下方的客服按钮。"
# after-sales intents a routed FAQ entry answers in full
AFTER_SALES_INTENTS = {"returns", "refund_days", "return_fee"}
# what a safety answer may be followed by: the facts asked in the same question
AFTER_SAFETY = ("price", "spec", "promo", "stock", "ship_time", "delivery_days", "free_ship")
ROUTED = "route:"  # a remembered "intent" that is a FAQ route ("route:packing")
# claims about how goods are grown and handled (pesticide, wax, sulphur, additives, tests):
# only a reviewed entry may make one; an unreviewed one goes to a person, who checks
UNREVIEWED_CLAIMS = ("-additive", "-pesticide", "-sulfur", "-wax", "-gmo", "-inspect", "-fert")
_SHORT_FOLLOW_UP = re.compile(r"^(那|要是|如果)|怎么办|怎么弄|怎么操作|咋办|呢[?？。]*$")


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
    """Answers questions for one room; owns the viewer memory (5 minutes a viewer)."""

    def __init__(self, kb=None, threshold: float = CONFIDENCE_THRESHOLD):
        if kb is None:
            from scripts_gen.kb import default_kb

            kb = default_kb()
        self.kb = kb
        self.threshold = threshold
        self.safety_threshold = SAFETY_THRESHOLD
        self.safety_index = safety_index_for(kb)
        self._last_confidence = 0.0
        self._claim_held = False  # the last KB answer was an unreviewed claim, held back
        self._slugs: dict[str, str | None] = {}  # sku -> the KB's name for its entries
        self._tickets = 0  # hand-offs so far; the room files the real ticket
        # (room, viewer) -> (last product, last intents, when): 5 minutes of conversation
        self._viewers: OrderedDict[tuple[str, str], tuple[str | None, tuple[str, ...], datetime]]
        self._viewers = OrderedDict()

    def _recall(self, key: tuple[str, str], now: datetime) -> tuple[str | None, tuple[str, ...]]:
        sku, intents, when = self._viewers.get(key, (None, (), now))
        if now - when > VIEWER_TTL:
            self._viewers.pop(key, None)
            return None, ()
        return sku, intents

    def _remember(
        self, key: tuple[str, str], sku: str | None, intents: tuple[str, ...], now: datetime
    ) -> None:
        before = self._viewers.get(key, (None, (), now))[1]
        self._viewers[key] = (sku, intents or before, now)
        self._viewers.move_to_end(key)
        while len(self._viewers) > MAX_VIEWERS:
            self._viewers.popitem(last=False)

    def answer(self, question: str, ctx: AnswerContext, rng: random.Random | None = None) -> Answer:
        rng = rng or random.Random()
        now = ctx.now or datetime.now(UTC).replace(tzinfo=None)  # the store keeps naive UTC
        text = clean_question(question)
        phrases = _phrases(ctx.persona)
        if not text or not re.search(r"[\u4e00-\u9fffA-Za-z]", text):
            return self._reply(ctx, rng.choice(phrases["empty"]), (), 0.0, None, "answer")
        key = (ctx.room_id, ctx.viewer_id)
        by_sku = {p.sku: p for p in ctx.products}
        ask = understand(text, ctx.products, self.kb)
        remembered, before = self._recall(key, now)
        recalled = not ask.intents and bool(before) and (ask.follow_up or bool(ask.products))
        if (
            not recalled
            and not ask.intents
            and any(b.startswith(ROUTED) for b in before)
            and len(ask.text) <= 12
            and _SHORT_FOLLOW_UP.search(ask.text)
            and route(ask.text) is None
        ):
            recalled = True  # "能改地址吗" -> "已经发货了怎么办": the same entry goes on
        if recalled:
            ask = replace(ask, intents=before)  # "那核桃呢" asks what the last question asked
        elif ask.intents == ("free_ship",) and "returns" in before and "谁" in ask.text:
            ask = replace(ask, intents=("return_fee",))  # 退货怎么退 -> 那运费谁出
        product = ask.products[0] if ask.products else find_product(text, ctx.products, self.kb)
        if product is None and ask.intents:
            product = _priced_at(text, ctx.products)  # "划线价39.9是原价吗": 大枣's 39.9
            if product is not None:
                ask = replace(ask, products=(product,))
        fallback = by_sku.get(remembered or "") or by_sku.get(ctx.current_sku or "")
        if product is None:
            product = fallback
        if product is not None or ask.intents:
            self._remember(key, product.sku if product else remembered, ask.intents, now)

        topic = classify(text)
        if topic is not None:
            answer = self._safety_answer(text, topic, product, ctx, rng, now)
            if topic.kind == "spoilage" and not answer.handed_off and _RECEIVED.search(text):
                # goods that arrived bad: what to do about them, after whether to eat them
                remedy = shop_policy()["damaged"]
                answer = replace(answer, text=f"{answer.text.rstrip('。')}。{remedy}。")
                answer = replace(answer, line=replace(answer.line, text=answer.text))
            answer = self._with_sheet(answer, ask, product, ctx)  # "咋放，会不会哈喇了"
            return self._after_safety(answer, ask, fallback, ctx, now)
        good = None if ask.english else not_sold(ask.text, ctx.products)
        if good is not None:
            names = "、".join(p.name for p in ctx.products[:7])
            say = f"{good}咱家暂时没有卖，直播间卖的是{names}。"
            for p in ask.products:  # "香菇跟木耳有没有": what the shop sells is answered too
                say += f"{p.name}这会儿已经卖完了。" if p.sold_out else f"{p.name}有现货。"
            return self._reply(ctx, say, ("catalog:not_sold",), 1.0, None, "answer")
        said_en = route_en(ask.text) if ask.english else None
        if said_en is not None:
            return self._reply(ctx, said_en, ("faq:en",), 1.0, None, "answer", english=True)
        named = next((i[len(ROUTED) :] for i in ask.intents if i.startswith(ROUTED)), None)
        if named is not None:  # a follow-up of a routed question: the same route
            routed = by_name(named, self._slug(product))
            ask = replace(ask, intents=tuple(i for i in ask.intents if not i.startswith(ROUTED)))
        else:
            routed = None if ask.english else route(ask.text, self._slug(product))
        if routed is not None:
            reply = self._routed(routed, ask, product, fallback, ctx, rng, now, text, phrases)
            if reply is not None:
                if not reply.handed_off:
                    self._remember(
                        key, product.sku if product else remembered, (ROUTED + routed.name,), now
                    )
                return reply
        soft = (
            bool(ask.intents)
            and set(ask.intents) <= SOFT_INTENTS
            and not ask.english
            and not recalled  # a follow-up's own words ("苹果呢") are no query for the KB
        )
        reviewed = self._kb_answer(text, product, ctx, rng, KB_FIRST) if soft else None
        if reviewed is not None:  # the KB says more on care and taste than the sheet's line
            return self._with_sheet(reviewed, ask, product, ctx)
        if soft and set(ask.intents) == {"returns"}:  # 怎么申请售后, 能取消吗: the KB's own
            reviewed = self._kb_answer(text, product, ctx, rng, self.threshold)  # entry first
            if reviewed is not None:
                return reviewed
        composed = compose(ask, fallback, ctx.products, now)
        if composed is not None and composed.missing:  # asked, and the shop holds no fact
            say = ENGLISH_HANDOFF if ask.english else rng.choice(phrases["handoff"])
            return self._handoff(ctx, text, product, 0.0, now, say, "no_fact")
        if composed is not None:
            reply = self._composed(composed, ask, ctx, rng, text)
            if reply is not None:
                return reply
        if ask.english:
            return self._handoff(ctx, text, product, 0.0, now, ENGLISH_HANDOFF)

        reply = self._kb_answer(text, product, ctx, rng, self.threshold)
        if reply is not None:
            return reply
        confidence = self._last_confidence
        reason = "no_fact" if self._claim_held else None
        return self._handoff(
            ctx, text, product, confidence, now, rng.choice(phrases["handoff"]), reason
        )

    def _after_safety(
        self,
        answer: Answer,
        ask: Ask,
        fallback: ProductFacts | None,
        ctx: AnswerContext,
        now: datetime,
    ) -> Answer:
        """A reviewed safety answer, then the facts the same question asked ("孩子天天喝蜂蜜水…
        你们这蜂蜜多少钱一瓶")."""
        rest = tuple(i for i in ask.intents if i in AFTER_SAFETY)
        if answer.handed_off or not rest:
            return answer
        extra = compose(replace(ask, intents=rest), fallback, ctx.products, now)
        if extra is None or extra.missing or not extra.text:
            return answer
        about = [p for p in ctx.products if f"catalog:{p.sku}" in extra.sources]
        sheet = FactSheet.build(about or ctx.products, extra.derived, [answer.text])
        said = f"{answer.text.rstrip('。')}。{extra.text}"
        return _extended(answer, said, sheet, ask.text, ctx.persona, about)

    def _with_sheet(
        self, answer: Answer, ask: Ask, product: ProductFacts | None, ctx: AnswerContext
    ) -> Answer:
        """A KB answer on storage or taste, with the sheet's own line when it says something
        the entry does not ("不需要冷藏" + "常温避光保存")."""
        if product is None or answer.handed_off:
            return answer
        said = answer.text
        for intent, fact in (("storage", product.storage), ("taste", product.taste)):
            if intent in ask.intents and fact and fact not in said:
                said = f"{said.rstrip('。')}。{product.name}{fact}。"
        if said == answer.text:
            return answer
        sheet = FactSheet.build([product], (), [answer.text])
        return _extended(answer, said, sheet, ask.text, ctx.persona, [product])

    def _slug(self, product: ProductFacts | None) -> str | None:
        """The KB's name for a product's own entries (kb-jujube-pack -> "jujube")."""
        if product is None or self.kb is None:
            return None
        if product.sku not in self._slugs:
            self._slugs[product.sku] = next(
                (e.id.split("-")[1] for e in self.kb.entries if e.sku == product.sku), None
            )
        return self._slugs[product.sku]

    def _routed(
        self,
        routed: Routed,
        ask: Ask,
        product: ProductFacts | None,
        fallback: ProductFacts | None,
        ctx: AnswerContext,
        rng: random.Random,
        now: datetime,
        text: str,
        phrases: dict[str, list[str]],
    ) -> Answer | None:
        """A shop question with its answer on file (`scripts_gen.faq_routes`), or a person."""
        rest = tuple(i for i in ask.intents if i not in AFTER_SALES_INTENTS)
        if routed.name == "restock_when":
            if product is None or not product.sold_out:
                return None  # "核桃什么时候到货" while it is in stock: the catalog says so
            say = f"{product.name}这会儿已经卖完了，补货时间我这还没有准信，已经请客服跟进，补了货马上告诉大家。"
            return self._handoff(ctx, text, product, 0.0, now, say, "no_fact")
        if not routed.wins and rest:
            return None  # "满减有吗，大枣两斤多少": the catalog answers
        if routed.name in ("bad_goods", "no_reason") and {"return_fee", "refund_days"} & set(
            ask.intents
        ):
            return None  # "退货邮费谁出，是质量问题": the policy's own clause
        if routed.entry is None:
            say = CONTACT_HANDOFF if routed.name == "contact" else rng.choice(phrases["handoff"])
            return self._handoff(ctx, text, product, 0.0, now, say, "no_fact")
        entry = self.kb.by_id.get(routed.entry) if self.kb is not None else None
        if entry is None:
            return None
        by_sku = {p.sku: p for p in ctx.products}
        about = by_sku.get(entry.sku or "") or product
        extra = compose(replace(ask, intents=rest), fallback, ctx.products, now) if rest else None
        said = entry.answer
        derived: tuple[str, ...] = ()
        if extra is not None and not extra.missing and extra.text:
            said = f"{said.rstrip('。')}；{extra.text}"
            derived = extra.derived
        sheet = FactSheet.build([about] if about else ctx.products, derived, [entry.answer])
        verdict = check_line(said, sheet, context=text)
        if not verdict.ok or verdict.problems:
            return None
        lead = rng.choice(phrases["lead"])
        return self._reply(ctx, lead + verdict.text, (entry.id,), 1.0, about, "answer")

    def _kb_answer(
        self,
        text: str,
        product: ProductFacts | None,
        ctx: AnswerContext,
        rng: random.Random,
        threshold: float,
    ) -> Answer | None:
        """The best KB entry's answer when it is confident enough and passes the checker."""
        after_sales = bool(_AFTER_SALES.search(text))  # 少发了一袋小米: about the order
        query = text if product is None or product.name in text else f"{product.name} {text}"
        if after_sales and product is not None:  # the order, not the product: no product boost
            query = text.replace(product.name, "")
        self._claim_held = False
        hits = self.kb.search(query, k=3) if self.kb is not None else []
        self._last_confidence = hits[0].confidence if hits else 0.0
        if not hits or hits[0].confidence < threshold:
            return None
        hit = hits[0]
        if not hit.entry.reviewed and hit.entry.id.endswith(UNREVIEWED_CLAIMS):
            self._last_confidence = 0.0
            self._claim_held = True
            return None  # "打没打农药": the shop confirms, the host does not vouch
        sheet = FactSheet.build([product] if product else ctx.products, (), [hit.entry.answer])
        verdict = check_line(hit.entry.answer, sheet, context=text)
        if not verdict.ok:
            return None
        lead = rng.choice(_phrases(ctx.persona)["lead"])
        by_sku = {p.sku: p for p in ctx.products}
        hit_product = by_sku.get(hit.entry.sku or "") or product
        return self._reply(
            ctx, lead + verdict.text, (hit.entry.id,), hit.confidence, hit_product, "answer"
        )

    def _composed(
        self, composed: Composed, ask: Ask, ctx: AnswerContext, rng: random.Random, question: str
    ) -> Answer | None:
        """A fact-built answer, checked like any line; None when the checker refuses it."""
        about = [p for p in ctx.products if f"catalog:{p.sku}" in composed.sources]
        sheet = FactSheet.build(about or ctx.products, composed.derived)
        if ask.english:
            problems = number_problems(composed.text, sheet) + violations(composed.text, question)
            if problems:
                return None
            return self._reply(
                ctx, composed.text, composed.sources, 1.0, composed.product, "answer", english=True
            )
        verdict = check_line(composed.text, sheet, context=question)
        if not verdict.ok or verdict.problems:
            return None
        lead = rng.choice(_phrases(ctx.persona)["lead"])
        return self._reply(
            ctx, lead + verdict.text, composed.sources, 1.0, composed.product, "answer"
        )

    def _handoff(
        self,
        ctx: AnswerContext,
        text: str,
        product: ProductFacts | None,
        confidence: float,
        now: datetime,
        say: str,
        reason: str | None = None,
    ) -> Answer:
        self._tickets += 1
        handoff = self._reply(
            ctx, say, (), confidence, product, "handoff", english=say == ENGLISH_HANDOFF
        )
        return replace(
            handoff, handed_off=True, ticket_id=f"cs-{self._tickets}", handoff_reason=reason
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
        say = INCIDENT_HANDOFF if topic.kind == "incident" else SAFETY_HANDOFF
        handoff = self._handoff(ctx, text, product, confidence, now, say)
        return replace(handoff, safety=topic.kind)

    def _reply(
        self,
        ctx: AnswerContext,
        text: str,
        sources: tuple[str, ...],
        confidence: float,
        product: ProductFacts | None,
        kind: str,
        english: bool = False,
    ) -> Answer:
        style = style_for(ctx.persona)
        if kind == "answer" and product is not None and product.sold_out:
            text = _say_sold_out(text, product, english)
        protected = (product.title, product.name) if product else ()
        spoken = text if english else apply_dialect(text, style.dialect, protected)
        expression, rate, pitch = prosody(style.id, ctx.mood, kind)
        if kind == "answer" and expression == "neutral":
            expression = "happy" if sources else "thinking"
        sku = product.sku if product else None
        line = Line(spoken, kind, sku, expression, rate, pitch, sources)
        return Answer(spoken, sources, round(confidence, 3), kind == "handoff", sku, line)


def _phrases(persona: str) -> dict[str, list[str]]:
    return grammar()["answer"][style_for(persona).id]


def _extended(
    answer: Answer, said: str, sheet: FactSheet, question: str, persona: str, about
) -> Answer:
    """`answer` with more said after it, checked like any line and spoken in the persona's
    dialect; the answer unchanged when the checker refuses the addition."""
    verdict = check_line(said, sheet, context=question)
    if not verdict.ok or verdict.problems:
        return answer
    protected = tuple(w for p in about for w in (p.title, p.name))
    spoken = apply_dialect(verdict.text, style_for(persona).dialect, protected)
    return replace(answer, text=spoken, line=replace(answer.line, text=spoken))


def _priced_at(text: str, products) -> ProductFacts | None:
    """The one product whose price or list price a question quotes ("39.9是原价吗")."""
    said = {n.value for n in parse_numbers(text) if n.value > 0}
    held = [
        (len(said & {v for v in (p.price, p.list_price, p.regular_price) if v is not None}), p)
        for p in products
    ]
    best = max((n for n, _ in held), default=0)
    hits = [p for n, p in held if n == best and n > 0]
    return hits[0] if len(hits) == 1 else None  # 29.9 and 39.9: 大枣 holds both


def _say_sold_out(text: str, product: ProductFacts, english: bool) -> str:
    """An answer about a sold-out product says so (once), whatever it was asked."""
    if english:
        return text if "sold out" in text else f"{text} It is sold out right now."
    if "卖完" in text or "售罄" in text:
        return text
    return f"{text.rstrip('。')}。{product.title}这会儿已经卖完了，补了货马上告诉大家。"

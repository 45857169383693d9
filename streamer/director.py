"""The Director: one per room. It decides what the host says next and keeps the speech
timeline a few seconds ahead of the media clock.

Priority: answer > reaction > script. Higher-priority lines go to the front of the queue
and play at the next sentence boundary. A slow writer never stalls the room: after a
deadline the Director fills with a grounded line built from the fact sheet.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from avatars.gestures import plan_gestures
from avatars.personas import Persona
from avatars.voice import VoiceChain
from commerce.facts import ProductFacts
from danmaku.messages import Analysis, Comment, Enter, Follow, Gift, RoomMessage
from danmaku.mood import Delivery, Mood, RoomMood, delivery_for
from danmaku.topics import complaint_topic
from scripts_gen import Answer, AnswerContext, Line, ScriptWriter, SegmentContext, reactions
from scripts_gen.style import style_for
from streamer.events import Answered, MoodChanged, Reply, RoomEvent
from streamer.live_facts import FactRef, FactSnapshot, product_card, refs_for, section_for
from streamer.questions import Asker, Question, QuestionInbox
from streamer.timeline import SpeechTimeline, Utterance

log = logging.getLogger(__name__)

PRIORITY = {"answer": 0, "handoff": 0, "reaction": 1, "filler": 2, "script": 2}
LOOKAHEAD_SECONDS = 3.0
WRITER_DEADLINE = 2.5  # seconds a writer may take for one line before a filler is spoken
ANSWER_DEADLINE = 1.5  # seconds a model backend may take to answer before the desk does
SPOKEN_LATE = 5.0  # an answer is never spoken more than this many seconds after the question
FOLLOW_WAIT = 2.5  # waiting longer than this behind other answers: say only the first sentence
FACTS_SETTLE = 1.0  # seconds an answer waits for a fact read already under way
THANKS_INTERVAL = 8.0  # at most one spoken thank-you per this many seconds
# the host hears everyone but speaks to the room sparingly: per-kind cooldowns in seconds
COOLDOWN = {"greet": 20.0, "gift": 8.0, "follow": 15.0, "apology": 10.0, "value": 45.0, "cta": 30.0}
MAX_NAMES = 20  # names remembered for the next greeting / thanks (bounded)
MAX_TICKET_TASKS = 50
PRICE_TREND = 0.15  # complaint share rising by this much (fast vs slow window) re-explains value
PURCHASE_TREND = 0.15
CLOSE_GRACE = 5.0  # seconds the director's background work gets to end when the room stops
SALE_NEWS_GRACE = 3.0  # seconds a flash sale's event price stands in for a catalog not showing it
# shop events after which the room's facts are read again (stock_changed covers every order)
FACT_EVENTS = {
    "flash_sale_started",
    "flash_sale_ended",
    "product_changed",
    "stock_changed",
    "sold_out",
    "coupon_issued",
}
__all__ = ["Director", "TicketRequest", "filler_line", "product_card", "thanks_line"]


@dataclass(frozen=True)
class TicketRequest:
    """A complaint or an unanswered question for a person to follow up."""

    room_id: str
    user_id: str
    nickname: str
    kind: str  # "complaint" | "question"
    text: str
    product_sku: str | None
    reason: (
        str  # "quality", "shipping", "service"; questions: "safety", "incident", "low_confidence"
    )


@dataclass
class DirectorStats:
    lines: int = 0
    interruptions: int = 0
    writer_errors: int = 0
    products_skipped: int = 0
    heard: dict[str, int] = field(default_factory=dict)  # by intent / message kind
    reactions_skipped: int = 0  # reactions folded into a cooldown
    tickets: int = 0
    tickets_dropped: int = 0
    stale_rebound: int = 0  # lines re-rendered because their facts changed before speech
    stale_dropped: int = 0  # lines dropped for the same reason
    refreshes: int = 0
    answer_timeouts: int = 0  # the writer's answer missed ANSWER_DEADLINE: the desk answered
    answer_errors: int = 0
    answer_fallbacks: int = 0
    # spoken answers: said whole, cut to the first sentence, or left as the text reply
    spoken: dict[str, int] = field(
        default_factory=lambda: {"full": 0, "shortened": 0, "text_only": 0}
    )
    last_line: str = ""
    by_kind: dict[str, int] = field(default_factory=dict)

    @property
    def fillers(self) -> int:
        return self.by_kind.get("filler", 0)


def first_sentence(text: str) -> str:
    """The text up to its first full stop (or 。-like mark); whole numbers stay whole."""
    for i, ch in enumerate(text):
        if ch in "。！？!?；" and i + 1 < len(text) and i >= 6:
            return text[: i + 1]
    return text


def filler_line(p: ProductFacts) -> Line:
    """A grounded line from the fact sheet alone, for when the writer is slow."""
    return Line(
        text=f"{p.title}，{p.price.normalize():f}元一{p.unit}，喜欢的朋友点下方购物车。",
        kind="filler",
        product_sku=p.sku,
        sources=(f"catalog:{p.sku}",),
    )


def thanks_line(buyer: str, p: ProductFacts) -> Line:
    """Thank a buyer by masked surname only (李** → 李家朋友)."""
    surname = buyer.strip("*@ ")[:1] or "这位"
    return Line(
        text=f"谢谢{surname}家朋友下单{p.name}，马上给您安排发货！",
        kind="reaction",
        product_sku=p.sku,
        expression="excited",
    )


def flash_sale_line(p: ProductFacts, sale: dict) -> Line:
    """Announce a flash sale with the room's price from the same fact sheet as the card."""
    return Line(
        text=f"秒杀开始啦！{p.title}秒杀价{p.price.normalize():f}元，限量{sale.get('cap')}{p.unit}，手慢无！",
        kind="reaction",
        product_sku=p.sku,
        expression="excited",
        sources=(f"flash_sale:{sale.get('id')}",),
    )


class Director:
    """Plans and queues the host's speech for one room."""

    def __init__(
        self,
        room_id: str,
        persona: Persona,
        writer: ScriptWriter,
        voice: VoiceChain,
        timeline: SpeechTimeline,
        catalog: Callable[[str | None], Awaitable[list[ProductFacts]]],  # room id -> facts
        lineup: list[str] | None = None,
        on_line: Callable[[Line], None] | None = None,
        desk=None,
        publish: Callable[[RoomEvent], None] | None = None,
        open_ticket: Callable[[TicketRequest], Awaitable[object]] | None = None,
        seed: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        shop_clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.room_id = room_id
        self.persona = persona
        self.writer = writer
        self.voice = voice
        self.timeline = timeline
        self.catalog = catalog
        self.lineup = lineup  # SKUs in order; None = whole catalog
        self.on_line = on_line
        self.desk = desk if desk is not None else getattr(writer, "desk", None)
        self.publish = publish or (lambda event: None)
        self.open_ticket = open_ticket
        self.rng = random.Random(seed)
        self.room_mood = RoomMood()
        self.mood = "calm"
        self.delivery: Delivery = delivery_for(self.room_mood.snapshot())
        self.questions = QuestionInbox()
        self.interrupt_answers = True  # False: answers wait for the line to end (the old way)
        self._names: dict[str, deque[str]] = {k: deque(maxlen=MAX_NAMES) for k in COOLDOWN}
        self._gift = "礼物"
        self._last: dict[str, float] = {k: -v for k, v in COOLDOWN.items()}
        self._complainers: deque[tuple[str, str | None]] = deque(maxlen=MAX_NAMES)
        self._ticket_tasks: set[asyncio.Task] = set()
        self.live_events: list[str] = []
        self.stats = DirectorStats()
        self._urgent: asyncio.Queue[Line] = asyncio.Queue()
        self._product_index = 0
        self._segment: AsyncIterator[Line] | None = None
        self._product: ProductFacts | None = None
        self._products: dict[str, ProductFacts] = {}
        self._wake = asyncio.Event()
        self._pinned: str | None = None
        self._last_thanks = -THANKS_INTERVAL
        # facts bound at speech time: the room's snapshot, checked again as each line starts
        self.clock = clock  # the room's media clock (seconds)
        self.shop_clock = shop_clock or (lambda: datetime.now(UTC).replace(tzinfo=None))
        self.facts = FactSnapshot()
        self.timeline.gate = self._holds
        self._sale_ends: dict[str, float] = {}
        self._segment_product: ProductFacts | None = None
        self._refresh_task: asyncio.Task | None = None
        self._refresh_again = False
        self._timers: set[asyncio.TimerHandle] = set()  # fact reads due as flash sales end
        self._closed = False
        self._sales_due: list[tuple[str, dict]] = []  # flash sales to announce once read
        # a flash sale the shop announced but the catalog does not show yet: sku -> (price,
        # room-clock time heard); the shop's own event is a fact until the catalog catches up
        self._sale_news: dict[str, tuple[Decimal, float]] = {}

    @property
    def current_product(self) -> ProductFacts | None:
        return self._product

    def say(self, line: Line) -> None:
        """Queue a line from outside (answer, reaction); it jumps ahead of the script.
        Its facts are bound to the fact sheet it was written from: the one held now."""
        self._urgent.put_nowait((line, self._products.get(line.product_sku or "")))
        self._wake.set()

    # --- facts ----------------------------------------------------------------------
    def _holds(self, utt: Utterance) -> bool:
        """The media thread's check as a line starts: a dict lookup per fact, no lock."""
        return self.facts.holds(utt.facts, self.clock())

    async def refresh(self) -> list[ProductFacts]:
        """Read the room's facts again, publish them, and retire lines they contradict."""
        products = await self.catalog(self.room_id)
        self._apply(products)
        return products

    def _apply(self, products: list[ProductFacts]) -> None:
        now = self.clock()
        products = [self._with_sale_news(p, now) for p in products]
        self._products = {p.sku: p for p in products}
        self._sale_ends = {
            sku: end
            for sku, end in self._sale_ends.items()
            if end > now and sku in self._products and self._products[sku].list_price is not None
        }
        state = self.facts.publish(products, self._sale_ends, now)
        self.stats.refreshes += 1
        if self._product is not None:
            self._product = self._products.get(self._product.sku, self._product)
        dropped, cut = self.timeline.revalidate(lambda u: state.holds(u.facts, now))
        if dropped or cut:
            self._wake.set()
        while self._sales_due:
            sku, sale = self._sales_due.pop(0)
            p = self._products.get(sku)
            if p is not None and not p.sold_out and p.list_price is not None:
                self.say(flash_sale_line(p, sale))

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
        if self._refresh_task is not None and not self._refresh_task.done():
            self._refresh_again = True
            return
        try:
            self._refresh_task = asyncio.get_running_loop().create_task(self._refresh_loop())
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

    def _note_sale(self, sku: str, sale: dict) -> None:
        """Keep the sale's price until the catalog shows it, and its end on the room's clock:
        the card counts down to it."""
        try:
            self._sale_news[sku] = (Decimal(str(sale.get("price"))), self.clock())
        except (InvalidOperation, ValueError):
            pass
        try:
            ends = datetime.fromisoformat(str(sale.get("ends_at")))
        except ValueError:
            return
        if ends.tzinfo is not None:
            ends = ends.astimezone(UTC).replace(tzinfo=None)
        left = (ends - self.shop_clock()).total_seconds()
        if left <= 0:
            return
        self._sale_ends[sku] = self.clock() + left
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

    async def aclose(self) -> None:
        """End the director's background work as the room stops, before the shop closes, so
        no read outlives the store it reads: the fact read in flight is cancelled, the reads
        due as sales end are dropped, and tickets being stored get CLOSE_GRACE seconds to
        land (a complaint is not lost to a stop). Whatever is still running then is
        cancelled and logged by name."""
        self._closed = True
        for handle in self._timers:
            handle.cancel()
        self._timers.clear()
        refresh = self._refresh_task
        if refresh is not None:
            refresh.cancel()
        tasks = [t for t in (refresh, *self._ticket_tasks) if t is not None]
        if not tasks:
            return
        _, pending = await asyncio.wait(tasks, timeout=CLOSE_GRACE)
        for t in pending:
            log.error("room %s: %r did not end within %.0f s of stop", self.room_id, t, CLOSE_GRACE)
            t.cancel()
        if pending:
            await asyncio.wait(pending, timeout=1.0)

    def _rebind(self, line: Line, refs: tuple[FactRef, ...]) -> tuple[Line | None, ProductFacts]:
        """A line whose facts changed, said again from the current facts (or None: drop)."""
        p = self.facts.state.products.get(line.product_sku or "")
        if p is None or p.sold_out:
            return None, p
        section = section_for(refs, p)
        fresh = None
        ctx = SegmentContext(room_id=self.room_id, persona=self.persona.id, mood=self.mood)
        try:
            fresh = self.writer.render(p, section, ctx)
        except Exception:
            log.exception("room %s: re-render failed", self.room_id)
        if fresh is None and section != "stock":
            fresh = filler_line(p)
        if fresh is None:
            return None, p
        kind = line.kind if line.kind != "script" else fresh.kind
        return replace(fresh, kind=kind), p

    # --- listening ------------------------------------------------------------------
    def hear(self, message: RoomMessage, analysis: Analysis | None = None) -> str:
        """Take in one message that passed moderation; returns what the host will do with it:
        "answer", "merged", "ticket", "react" or "noted". Never blocks, never grows unbounded."""
        kind = type(message).__name__.lower()
        if isinstance(message, Comment) and analysis is not None:
            kind = analysis.intent
            self._update_mood(analysis)
        self.stats.heard[kind] = self.stats.heard.get(kind, 0) + 1
        action = "noted"
        if isinstance(message, Comment) and analysis is not None:
            action = self._hear_comment(message, analysis)
        elif isinstance(message, Gift):
            self._names["gift"].append(message.nickname)
            self._gift = message.gift or self._gift
            action = "react"
        elif isinstance(message, Follow):
            self._names["follow"].append(message.nickname)
            action = "react"
        elif isinstance(message, Enter):
            self._names["greet"].append(message.nickname)
        self._wake.set()
        return action

    def _hear_comment(self, c: Comment, a: Analysis) -> str:
        if a.intent == "question":
            status, recent = self.questions.add(
                c.text, Asker(c.user_id, c.nickname, c.dedup_id), self._still_true
            )
            if recent is not None:  # just answered: the asker gets the same text at once
                self.publish(
                    Reply(self.room_id, (c.dedup_id,), c.text, recent[0], recent[1], (c.user_id,))
                )
            return "answer" if status == "queued" else "merged"
        if a.intent == "complaint":
            topic = complaint_topic(c.text)
            if topic == "price":
                return "react"
            self._complainers.append((c.nickname, None))
            self._file_ticket(
                TicketRequest(
                    self.room_id, c.user_id, c.nickname, "complaint", c.text, self._sku(), topic
                )
            )
            return "ticket"
        if a.intent == "greeting":
            self._names["greet"].append(c.nickname)
            return "react"
        if a.intent == "purchase":
            return "react"
        return "noted"

    def _still_true(self, refs: tuple) -> bool:
        """A recent answer may be sent again: its facts hold and none are being re-read."""
        reading = self._refresh_task is not None and not self._refresh_task.done()
        return not reading and self.facts.holds(refs, self.clock())

    def _sku(self) -> str | None:
        return self._product.sku if self._product else None

    def _update_mood(self, analysis: Analysis) -> None:
        self.room_mood.update(analysis)
        mood = self.room_mood.snapshot()
        if mood.label != self.mood:
            self._set_mood(mood)

    def _set_mood(self, mood: Mood) -> None:
        """A new mood changes the delivery now and the script from the next line on."""
        self.mood = mood.label
        self.delivery = delivery_for(mood)
        if self._product is not None:  # re-plan the same product in the new mood
            self._pinned = self._product.sku
            self._segment = None
            self.timeline.clear_pending(keep=lambda u: u.kind != "script")
        self.publish(
            MoodChanged(
                self.room_id,
                mood.label,
                round(mood.score, 3),
                {k: round(v, 3) for k, v in mood.intents.items()},
                {
                    "expression": self.delivery.expression,
                    "rate": self.delivery.rate,
                    "pitch": self.delivery.pitch,
                },
            )
        )

    def mood_info(self) -> dict:
        mood = self.room_mood.snapshot()
        if mood.label != self.mood:
            self._set_mood(mood)  # decay alone can bring a room back to calm
        return {
            "mood": {
                "score": round(mood.score, 3),
                "label": mood.label,
                "intents": {k: round(v, 3) for k, v in mood.intents.items()},
            },
            "delivery": {
                "expression": self.delivery.expression,
                "rate": self.delivery.rate,
                "pitch": self.delivery.pitch,
            },
        }

    def _file_ticket(self, request: TicketRequest) -> None:
        if self.open_ticket is None or self._closed:
            return
        if len(self._ticket_tasks) >= MAX_TICKET_TASKS:
            self.stats.tickets_dropped += 1
            return
        task = asyncio.ensure_future(self._ticket(request))
        self._ticket_tasks.add(task)
        task.add_done_callback(self._ticket_tasks.discard)

    async def _ticket(self, request: TicketRequest) -> None:
        try:
            await self.open_ticket(request)
            self.stats.tickets += 1
        except Exception:  # a ticket that cannot be stored must not stop the room
            self.stats.tickets_dropped += 1
            log.exception("room %s: ticket not stored", self.room_id)

    async def _answer_next(self) -> bool:
        q = self.questions.take()
        if q is None:
            return False
        await self._answer(q)
        return True

    async def _answer(self, q: Question) -> None:
        if self.desk is None:
            return
        first = q.askers[0]
        await self._settle_facts()  # a price change or a sale's end being read: wait for it
        products = list(self._products.values()) or await self.catalog(self.room_id)
        ctx = AnswerContext(
            room_id=self.room_id,
            persona=self.persona.id,
            viewer_id=first.user_id,
            products=products,
            current_sku=self._sku(),
            mood=self.mood,
            now=self.shop_clock(),
        )
        answer = await self._ask_writer(q.text, ctx)
        source = {p.sku: p for p in products}.get(answer.product_sku or "")
        refs = refs_for(answer.line, source) if answer.line is not None and source else ()
        self.questions.answered(q, answer.text, answer.handed_off, refs)
        self.publish(
            Reply(
                self.room_id,
                tuple(a.question_id for a in q.askers),
                q.text,
                answer.text,
                answer.handed_off,
                tuple(dict.fromkeys(a.user_id for a in q.askers)),
            )
        )
        self.publish(Answered(self.room_id, q.text, answer.text, answer.handed_off))
        if answer.handed_off:
            reason = {"incident": "incident"}.get(answer.safety or "", "safety")
            self._file_ticket(
                TicketRequest(
                    self.room_id,
                    first.user_id,
                    first.nickname,
                    "question",
                    q.text,
                    answer.product_sku,
                    reason if answer.safety else "low_confidence",
                )
            )
        if answer.line is not None:
            names = [a.nickname for a in q.askers]

            def spoken(line: Line) -> Line:
                return replace(line, text=reactions.answer_to(self.persona.id, names, line.text))

            def again() -> tuple[Line | None, ProductFacts | None]:
                """The same question answered from the facts held now (the template desk: a
                rebind must not wait on a model)."""
                fresh_products = list(self.facts.state.products.values()) or products
                fresh = self.desk.answer(q.text, replace(ctx, products=fresh_products), self.rng)
                about = {p.sku: p for p in fresh_products}.get(fresh.product_sku or "")
                return (spoken(fresh.line) if fresh.line else None), about

            line = self._fit_to_wait(spoken(answer.line), q.received)
            if line is None:
                return  # the text reply stands alone: said now it would come too late
            await self._speak(
                line,
                interrupt=self.interrupt_answers,
                source=source,
                again=again,
                not_after=q.received + SPOKEN_LATE,
            )

    def _fit_to_wait(self, line: Line, received: float) -> Line | None:
        """An answer that would start late is shortened to its first sentence; one that
        would start more than SPOKEN_LATE seconds after it was asked is left as text."""
        wait = self.timeline.seconds_before(PRIORITY["answer"])
        late = time.monotonic() - received + wait
        if late > SPOKEN_LATE - 0.5:
            self.stats.spoken["text_only"] += 1
            return None
        if wait > FOLLOW_WAIT:
            short = first_sentence(line.text)
            if short != line.text:
                self.stats.spoken["shortened"] += 1
                return replace(line, text=short)
        self.stats.spoken["full"] += 1
        return line

    async def _settle_facts(self) -> None:
        task = self._refresh_task
        if task is not None and not task.done():
            await asyncio.wait({task}, timeout=FACTS_SETTLE)

    async def _ask_writer(self, question: str, ctx: AnswerContext) -> Answer:
        """The room's writer answers (a model backend rephrases, grounded and checked) within
        ANSWER_DEADLINE; past it, or on any error, the template desk answers, counted."""
        if self.writer is None or getattr(self.writer, "desk", None) is None:
            return self.desk.answer(question, ctx, self.rng)
        if self.writer.desk is self.desk and getattr(self.writer, "name", "") == "template":
            return self.desk.answer(question, ctx, self.rng)  # no model: no deadline needed
        try:
            return await asyncio.wait_for(self.writer.answer(question, ctx), ANSWER_DEADLINE)
        except asyncio.CancelledError:
            raise
        except TimeoutError:
            self.stats.answer_timeouts += 1
        except Exception:  # a failing backend must not cost the viewer an answer
            self.stats.answer_errors += 1
            log.exception("room %s: writer answer failed", self.room_id)
        self.stats.answer_fallbacks += 1
        return self.desk.answer(question, ctx, self.rng)

    def _due(self, kind: str) -> bool:
        return time.monotonic() - self._last[kind] >= COOLDOWN[kind]

    def _react_line(self) -> tuple[str, Line | None] | None:
        """The one reaction most worth saying now, if its cooldown allows."""
        pid, rng = self.persona.id, self.rng
        if self._complainers and self._due("apology"):
            names = [n for n, _ in self._complainers]
            self._complainers.clear()
            return "apology", reactions.apologize(pid, names, self._product)
        product = self._product
        if (
            product is not None
            and self._due("value")
            and self.room_mood.trend("complaint") > PRICE_TREND
        ):
            return "value", reactions.reexplain_value(pid, product, rng)
        if (
            product is not None
            and not product.sold_out
            and self._due("cta")
            and self.room_mood.trend("purchase") > PURCHASE_TREND
        ):
            return "cta", reactions.call_to_action(pid, product, rng)
        for kind, make in (
            ("gift", lambda names: reactions.thank_gift(pid, names, self._gift, rng)),
            ("follow", lambda names: reactions.thank_follow(pid, names, rng)),
            ("greet", lambda names: reactions.greet(pid, names, rng)),
        ):
            if self._names[kind] and self._due(kind):
                names = list(self._names[kind])
                self._names[kind].clear()
                return kind, make(names)
        return None

    async def _react(self) -> None:
        picked = self._react_line()
        if picked is None:
            return
        kind, line = picked
        self._last[kind] = time.monotonic()
        if line is None:
            self.stats.reactions_skipped += 1
            return
        await self._speak(line, interrupt=kind == "apology")

    def on_shop_event(self, kind: str, sku: str | None, data: dict) -> None:
        """React to the shop: thank buyers, follow a pinned product, drop a sold-out one."""
        product = self._products.get(sku or "")
        if kind in FACT_EVENTS:
            if kind == "flash_sale_started" and sku:
                self._note_sale(sku, data)
            elif kind == "flash_sale_ended" and sku:
                self._sale_news.pop(sku, None)
                self._sale_ends.pop(sku, None)
            self.request_refresh()
        if kind == "order_paid" and product is not None:
            buyer = str(data.get("buyer") or "有位朋友")
            fact = (
                f"刚刚 @{buyer} 拍了{data.get('quantity', '')}{data.get('unit', '')}{product.name}"
            )
            self.live_events = (self.live_events + [fact])[-5:]
            now = time.monotonic()
            if now - self._last_thanks >= THANKS_INTERVAL:
                self._last_thanks = now
                self.say(thanks_line(buyer, product))
        elif kind in ("product_pinned", "flash_sale_started") and sku:
            self._pinned = sku
            self._segment = None
            self.timeline.clear_pending(keep=lambda u: u.kind != "script")
            if kind == "flash_sale_started" and product is not None:
                self._sales_due.append((sku, data))  # said once the sale's price is read
            self._wake.set()
        elif kind == "sold_out" and sku and self._product is not None and self._product.sku == sku:
            self._segment = None
            self.timeline.clear_pending(keep=lambda u: u.kind != "script" or u.product_sku != sku)
            self._urgent.put_nowait(
                (
                    Line(
                        text=f"{self._product.title}已经卖完啦，谢谢大家捧场！",
                        kind="reaction",
                        product_sku=sku,
                        expression="happy",
                    ),
                    None,  # true from now on: bound to no changing fact
                )
            )
            self._wake.set()

    async def run(self) -> None:
        while True:
            try:
                await self._fill()
            except asyncio.CancelledError:
                raise
            except Exception:  # never let one bad line kill the room
                log.exception("director %s: line failed", self.room_id)
                await asyncio.sleep(0.5)
            self._wake.clear()
            try:  # asyncio.timeout, not wait_for: 3.11's wait_for can swallow a stop's cancel
                async with asyncio.timeout(0.1):
                    await self._wake.wait()
            except TimeoutError:
                pass
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise asyncio.CancelledError

    async def _fill(self) -> None:
        while await self._answer_next():
            pass
        while not self._urgent.empty():
            line, source = self._urgent.get_nowait()
            self.stats.interruptions += 1
            await self._speak(line, source=source)
        await self._react()
        if self.timeline.queued_seconds() < LOOKAHEAD_SECONDS:
            line = await self._next_script_line()
            if line is not None:
                await self._speak(line, source=self._segment_product)

    async def _next_script_line(self) -> Line | None:
        # a writer may have nothing to say about a product: try each product once
        for _ in range(len(self._products) + 2):
            if self._segment is None:
                product = await self._next_product()
                if product is None:
                    return None
                self._start_segment(product)
            try:
                return await asyncio.wait_for(anext(self._segment), WRITER_DEADLINE)
            except StopAsyncIteration:
                self._segment = None
            except TimeoutError:
                self._segment = None
                return self._filler()
            except Exception:
                self.stats.writer_errors += 1
                log.exception("writer failed in room %s", self.room_id)
                self._segment = None
                return self._filler()
        return None

    def _filler(self) -> Line:
        self._segment_product = self._products.get(self._product.sku, self._product)
        return filler_line(self._segment_product)

    def _start_segment(self, product: ProductFacts) -> None:
        self._product = self._segment_product = product
        ctx = SegmentContext(
            room_id=self.room_id,
            persona=self.persona.id,
            mood=self.mood,
            live_events=list(self.live_events),
        )
        self.live_events.clear()
        self._segment = aiter(self.writer.segment(product, ctx))

    async def _next_product(self) -> ProductFacts | None:
        products = await self.refresh()
        last = self._product.sku if self._product else None
        if self.lineup:
            products = [self._products[s] for s in self.lineup if s in self._products]
        if self._pinned:
            pinned, self._pinned = self._pinned, None
            if pinned in self._products and not self._products[pinned].sold_out:
                return self._products[pinned]
        available = sum(1 for p in products if not p.sold_out)
        for _ in range(len(products)):
            p = products[self._product_index % len(products)]
            self._product_index += 1
            if p.sold_out:
                self.stats.products_skipped += 1
            elif p.sku != last or available == 1:  # never the product just presented again
                return p
        return None

    def _delivered(self, line: Line) -> Line:
        """Script lines take the room's current delivery; reactions keep their own."""
        if line.kind not in ("script", "filler"):
            return line
        style, d = style_for(self.persona.id), self.delivery
        expression = d.expression if d.expression != "neutral" else line.expression
        if self.mood != "upset" and line.expression == "excited":
            expression = "excited"
        return replace(
            line,
            expression=expression,
            rate=round(style.rate * d.rate, 3),
            pitch=round(style.pitch * d.pitch, 3),
        )

    async def _speak(
        self,
        line: Line,
        interrupt: bool = False,
        source: ProductFacts | None | bool = True,
        again: Callable[[], tuple[Line | None, ProductFacts | None]] | None = None,
        not_after: float | None = None,
    ) -> None:
        """Synthesise and queue `line`, bound to the facts it was written from (`source`;
        True: the room's current ones, None: it names no changing fact). A line whose facts
        changed is re-rendered from the new ones before and after synthesis (an answer is
        answered again: `again`), or dropped."""
        if source is True:
            source = self._products.get(line.product_sku or "")
        refs = refs_for(line, source) if isinstance(source, ProductFacts) else ()
        for attempt in range(4):  # facts or the room's mood may change during synthesis
            if not self.facts.holds(refs, self.clock()):
                if attempt == 3:
                    self.stats.stale_dropped += 1
                    return
                line, product = again() if again is not None else self._rebind(line, refs)
                if line is None:
                    self.stats.stale_dropped += 1
                    return
                self.stats.stale_rebound += 1
                source, refs = product, refs_for(line, product)
            mood = self.mood
            said = self._delivered(line)
            speech = await self.voice.synthesize(said.text, self.persona, said.rate, said.pitch)
            if mood == self.mood and self.facts.holds(refs, self.clock()):
                break
        line = said
        # the card comes from the very fact sheet the line was checked against
        product = source if isinstance(source, ProductFacts) else None
        product = product or self._products.get(line.product_sku or "") or self._product
        card = product_card(product) if product else None
        utt = Utterance(
            speech=speech,
            expression=line.expression,
            product_sku=line.product_sku,
            card=card,
            gestures=plan_gestures(speech.text, speech.duration, card.category if card else None),
            kind=line.kind,
            facts=refs,
            not_after=not_after,
        )
        self.timeline.enqueue(utt, priority=PRIORITY.get(line.kind, 2), interrupt=interrupt)
        self.stats.lines += 1
        self.stats.by_kind[line.kind] = self.stats.by_kind.get(line.kind, 0) + 1
        self.stats.last_line = line.text
        if self.on_line:
            self.on_line(line)
